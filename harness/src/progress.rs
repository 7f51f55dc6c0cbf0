//! Progress on stderr for anything that takes more than a second (indicatif), silent when
//! quiet or when stderr is not a terminal-friendly sink.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A spinner with a message, or nothing when quiet.
pub struct Progress {
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Starts a spinner showing `message`; finish it with `done`.
    pub fn step(&self, message: impl Into<String>) -> Step {
        if self.quiet {
            return Step(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}").expect("valid template"),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(120));
        Step(Some(bar))
    }

    /// A bar of `len` units.
    pub fn bar(&self, len: u64, message: impl Into<String>) -> Step {
        if self.quiet {
            return Step(None);
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed:>3}] {msg}")
                .expect("valid template"),
        );
        bar.set_message(message.into());
        Step(Some(bar))
    }

    /// Prints a line without breaking any bar (stderr).
    pub fn println(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// One spinner or bar; clears itself when dropped.
pub struct Step(Option<ProgressBar>);

impl Step {
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Replaces the spinner with a final line.
    pub fn done(self, line: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
            eprintln!("{}", line.into());
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

//! Progress on stderr for anything that takes more than a second: indicatif spinners and
//! bars on a terminal, one plain line per step and message otherwise (CI logs, pipes, and
//! the tests that wait for a phase to begin), nothing when quiet.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    /// stderr is not a terminal: each step's start and messages are printed as lines.
    Plain,
    Terminal,
}

/// Spinners and bars on a terminal, plain lines elsewhere, or nothing when quiet.
pub struct Progress {
    mode: Mode,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        Self { mode }
    }

    /// Starts a spinner showing `message`; finish it with `done`.
    pub fn step(&self, message: impl Into<String>) -> Step {
        self.start(message.into(), None)
    }

    /// A bar of `len` units.
    pub fn bar(&self, len: u64, message: impl Into<String>) -> Step {
        self.start(message.into(), Some(len))
    }

    fn start(&self, message: String, len: Option<u64>) -> Step {
        match self.mode {
            Mode::Quiet => Step::none(),
            Mode::Plain => {
                eprintln!("{message}");
                Step {
                    bar: None,
                    plain: true,
                }
            }
            Mode::Terminal => {
                let (bar, template) = match len {
                    Some(len) => (
                        ProgressBar::new(len),
                        "{bar:30} {pos}/{len} [{elapsed:>3}] {msg}",
                    ),
                    None => (ProgressBar::new_spinner(), "{spinner} [{elapsed:>3}] {msg}"),
                };
                bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
                bar.set_message(message);
                if len.is_none() {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                Step {
                    bar: Some(bar),
                    plain: false,
                }
            }
        }
    }

    /// Prints a line without breaking any bar (stderr).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.mode != Mode::Quiet {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// One spinner or bar (or plain-line step); clears itself when dropped.
pub struct Step {
    bar: Option<ProgressBar>,
    plain: bool,
}

impl Step {
    fn none() -> Self {
        Step {
            bar: None,
            plain: false,
        }
    }

    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        } else if self.plain {
            eprintln!("{}", message.into());
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Replaces the spinner with a final line.
    pub fn done(self, line: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.plain {
            eprintln!("{}", line.into());
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

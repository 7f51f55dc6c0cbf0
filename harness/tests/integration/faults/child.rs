//! A `harness run` (or `profile`) child process the fault tests can watch and signal: its stderr lines
//! (plain progress lines, since stderr is a pipe), its run id and results file, and the
//! containers that carry its run id.

use harness::results::RunResults;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running (or finished) `harness` child with a results directory of its own.
pub struct HarnessRun {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    pub out: tempfile::TempDir,
}

impl HarnessRun {
    /// Starts `harness run ARGS --out <temp dir>` with `env` added.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> HarnessRun {
        HarnessRun::start_command("run", args, env)
    }

    /// Starts `harness COMMAND ARGS --out <temp dir>` with `env` added.
    pub fn start_command(command: &str, args: &[&str], env: &[(&str, &str)]) -> HarnessRun {
        let out = tempfile::tempdir().unwrap();
        let mut child = crate::support::harness_command()
            .arg(command)
            .args(args)
            .arg("--out")
            .arg(out.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the harness binary starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        HarnessRun {
            child,
            lines,
            seen: Vec::new(),
            out,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle`; panics with everything seen if none
    /// comes within `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line with {needle:?} within {timeout:?}; stderr so far:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// Sends `signal` to the harness process (only it, not a process group).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed");
    }

    /// Sends `signal` and checks what every interrupted run owes: exit 128 + `signal`
    /// within 5 s, the line that says so, and a results file that loads and is not
    /// finished, which it returns.
    pub fn interrupt_and_check(&mut self, signal: i32) -> RunResults {
        let sent = Instant::now();
        self.signal(signal);
        let code = self.wait_exit(Duration::from_secs(20));
        let took = sent.elapsed();
        let stderr = self.stderr();
        assert_eq!(code, 128 + signal, "stderr:\n{stderr}");
        assert!(
            took < Duration::from_secs(5),
            "exit took {took:?} after the signal"
        );
        assert!(stderr.contains("interrupted by SIG"), "{stderr}");
        let results = self.results();
        assert!(
            results.finished_at.is_none(),
            "an interrupted run is not finished"
        );
        results
    }

    /// Waits for the exit; returns the exit code (128 + n when killed by signal n).
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain();
                return status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            if Instant::now() > deadline {
                let threads = thread_states(self.child.id());
                let _ = self.child.kill();
                panic!(
                    "the harness did not exit within {timeout:?}; its threads (state, waiting in): {threads}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything read from stderr so far.
    pub fn stderr(&mut self) -> String {
        self.drain();
        self.seen.join("\n")
    }

    fn drain(&mut self) {
        // The reader thread ends at EOF; give it a moment to pass on the last lines.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
    }

    /// The run id: the stem of the results file, which a run writes before building.
    pub fn run_id(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(path) = crate::support::results_file(self.out.path()) {
                return path.file_stem().unwrap().to_string_lossy().into_owned();
            }
            assert!(Instant::now() < deadline, "no results file appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The results file, which must parse.
    pub fn results(&self) -> RunResults {
        let path = self.out.path().join(format!("{}.json", self.run_id()));
        RunResults::load(&path).unwrap_or_else(|e| panic!("results file does not load: {e}"))
    }

    /// A guard that removes this run's containers and images, even if the test fails.
    pub fn cleanup(&self) -> crate::support::RunCleanup {
        crate::support::RunCleanup {
            out: Some(self.out.path().to_path_buf()),
            ids: Vec::new(),
        }
    }
}

/// Each thread of `pid` as `name state wchan`, to tell a lost signal from a slow exit.
fn thread_states(pid: u32) -> String {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let states: Vec<String> = tasks
        .flatten()
        .map(|task| {
            let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
            let state = read("status")
                .lines()
                .find_map(|l| l.strip_prefix("State:"))
                .unwrap_or("?")
                .trim()
                .to_string();
            format!("{} {state} {}", read("comm").trim(), read("wchan"))
        })
        .collect();
    states.join("; ")
}

impl Drop for HarnessRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Ids of this test's containers (of its namespace: a run id is the app and the second, and
/// a test beside this one, in a namespace of its own, may have a run of the same id) with
/// all of `labels` (`key=value`); running ones only unless `all`.
pub fn containers(labels: &[String], all: bool) -> Vec<String> {
    let mut command = Command::new("docker");
    command.args(["ps", "-q", "--no-trunc"]);
    if all {
        command.arg("-a");
    }
    let namespace = format!(
        "{}={}",
        harness::labels::NAMESPACE,
        crate::support::test_namespace()
    );
    for label in labels.iter().chain([&namespace]) {
        command.arg("--filter").arg(format!("label={label}"));
    }
    let output = command.output().expect("the docker CLI runs");
    assert!(output.status.success(), "docker ps failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The label selecting a run's containers.
pub fn run_label(run_id: &str) -> String {
    format!("{}={run_id}", harness::labels::RUN_ID)
}

/// Polls until a run has a running container (optionally of one variant); returns its id.
pub fn wait_for_container(run_id: &str, variant: Option<&str>, timeout: Duration) -> String {
    let mut labels = vec![run_label(run_id)];
    if let Some(v) = variant {
        labels.push(format!("{}={v}", harness::labels::VARIANT));
    }
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(id) = containers(&labels, false).into_iter().next() {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} started no container within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Asserts that no container of the run exists within `timeout`.
pub fn assert_no_containers_within(run_id: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = containers(&[run_label(run_id)], true);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} left containers after {timeout:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the docker CLI (observing, decoys, killing a server from outside); panics on failure.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

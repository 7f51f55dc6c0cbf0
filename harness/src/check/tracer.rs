//! The tracer behind `harness trace`: runs a program under ptrace and writes every path its
//! processes and threads reach for, and every address they connect or send to, as `trace`
//! lines. It is this binary, built static for musl (the agent's build), bind-mounted
//! read-only into the app's own image, where it is the container's first process: a
//! scratch image has no tracer of its own, and a path is only "missing" if it is missing
//! where the app runs.
//!
//! It stops the tracee at every system call (x86_64 numbers; other architectures say they
//! cannot be traced), forwards the signals it is sent (a `docker stop`) to the app, and
//! exits as the app did. When ptrace is refused it says so in the trace and runs the app
//! untraced, so the check still sees the app's failures and never reports a path it did
//! not see.

use super::syscalls::{arch, Pending};
use super::trace::{Outcome, TraceLine};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The app's pid, for the signal handler.
static MAIN_PID: AtomicI32 = AtomicI32::new(0);

/// Runs `argv` traced, writing the trace to `out`, and exits with its status.
pub fn main(out: &Path, argv: &[OsString]) -> ! {
    if argv.is_empty() {
        eprintln!("harness trace: no program given (harness trace --out FILE -- PROGRAM ARGS…)");
        std::process::exit(2);
    }
    let args: Vec<CString> = match argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
    {
        Ok(args) => args,
        Err(_) => {
            eprintln!("harness trace: an argument holds a NUL byte");
            std::process::exit(2);
        }
    };
    let writer = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
    {
        Ok(file) => Some(Writer::new(file)),
        Err(e) => {
            // Still run the app: the check sees its failures, and says the trace is absent.
            eprintln!("harness trace: cannot write {}: {e}", out.display());
            None
        }
    };
    let code = run(writer, &args);
    std::process::exit(code)
}

/// Writes each distinct line once.
struct Writer {
    file: std::fs::File,
    seen: HashSet<String>,
}

impl Writer {
    fn new(file: std::fs::File) -> Writer {
        Writer {
            file,
            seen: HashSet::new(),
        }
    }

    fn line(&mut self, line: &TraceLine) {
        let Ok(text) = serde_json::to_string(line) else {
            return;
        };
        if self.seen.insert(text.clone()) {
            let _ = writeln!(self.file, "{text}");
        }
    }
}

extern "C" fn forward(signal: libc::c_int) {
    let pid = MAIN_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Installs `forward` for the signals a container's first process is sent.
fn forward_signals() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction with a handler and SA_RESTART is a valid one.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Forks, traces the child (or runs it untraced when ptrace is refused) and returns the
/// exit code to exit with.
fn run(mut writer: Option<Writer>, args: &[CString]) -> i32 {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        eprintln!("harness trace: pipe: {}", std::io::Error::last_os_error());
        return 125;
    }
    let traceable = writer.is_some() && cfg!(target_arch = "x86_64");
    // SAFETY: the child only makes async-signal-safe calls before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        eprintln!("harness trace: fork: {}", std::io::Error::last_os_error());
        return 125;
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls on prepared buffers only.
        unsafe { child(fds[1], traceable, &argv) }
    }
    MAIN_PID.store(pid, Ordering::SeqCst);
    forward_signals();
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut status = [0u8; 4];
    // SAFETY: reading 4 bytes into a 4-byte buffer.
    let read = unsafe { libc::read(fds[0], status.as_mut_ptr().cast(), 4) };
    let errno = if read == 4 {
        i32::from_ne_bytes(status)
    } else {
        libc::EIO
    };
    if let Some(writer) = writer.as_mut() {
        if !cfg!(target_arch = "x86_64") {
            writer.line(&TraceLine::Untraceable {
                reason: format!(
                    "the tracer decodes x86_64 system calls only, and this is {}",
                    std::env::consts::ARCH
                ),
            });
        } else if errno != 0 {
            writer.line(&TraceLine::Untraceable {
                reason: format!(
                    "ptrace(PTRACE_TRACEME) was refused: {} (a seccomp profile or security module that forbids ptrace)",
                    std::io::Error::from_raw_os_error(errno)
                ),
            });
        }
    }
    match (writer, traceable && errno == 0) {
        (Some(writer), true) => Tracer::new(writer, pid).run(),
        (writer, _) => wait_untraced(writer, pid),
    }
}

/// The child: asks to be traced (and says whether it may), stops until the tracer is ready,
/// then execs the app.
unsafe fn child(status_fd: i32, traceable: bool, argv: &[*const libc::c_char]) -> ! {
    let mut errno: i32 = 0;
    if traceable
        && libc::ptrace(
            libc::PTRACE_TRACEME,
            0,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        ) != 0
    {
        errno = *libc::__errno_location();
    }
    let bytes = errno.to_ne_bytes();
    libc::write(status_fd, bytes.as_ptr().cast(), 4);
    if traceable && errno == 0 {
        libc::raise(libc::SIGSTOP);
    }
    libc::execvp(argv[0], argv.as_ptr());
    let message = b"harness trace: cannot exec the program\n";
    libc::write(2, message.as_ptr().cast(), message.len());
    libc::_exit(127)
}

/// The exit code of a wait status: the code, or 128 + the signal.
fn exit_code(status: i32) -> (i32, TraceLine) {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (
            code,
            TraceLine::Exit {
                code: Some(code),
                signal: None,
            },
        )
    } else {
        let signal = libc::WTERMSIG(status);
        (
            128 + signal,
            TraceLine::Exit {
                code: None,
                signal: Some(signal),
            },
        )
    }
}

/// Waits for an untraced app (reaping orphans meanwhile, as a first process must).
fn wait_untraced(mut writer: Option<Writer>, main: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return 125;
        }
        if pid == main && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
            let (code, line) = exit_code(status);
            if let Some(writer) = writer.as_mut() {
                writer.line(&line);
            }
            return code;
        }
    }
}

/// A traced thread: whether it is inside a system call, and what that call is about.
#[derive(Default)]
struct Thread {
    inside: bool,
    pending: Option<Pending>,
}

struct Tracer {
    writer: Writer,
    main: i32,
    threads: HashMap<i32, Thread>,
}

impl Tracer {
    fn new(mut writer: Writer, main: i32) -> Tracer {
        writer.line(&TraceLine::Traced { pid: main as u32 });
        Tracer {
            writer,
            main,
            threads: HashMap::new(),
        }
    }

    fn run(mut self) -> i32 {
        let mut status = 0;
        // The child's SIGSTOP: set the options, then let it exec.
        // SAFETY: plain waitpid on our child.
        unsafe { libc::waitpid(self.main, &mut status, libc::__WALL) };
        let options = libc::PTRACE_O_TRACESYSGOOD
            | libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACEEXEC
            | libc::PTRACE_O_EXITKILL;
        // SAFETY: the child is stopped and traced by us.
        unsafe {
            libc::ptrace(
                libc::PTRACE_SETOPTIONS,
                self.main,
                std::ptr::null_mut::<libc::c_void>(),
                options as usize as *mut libc::c_void,
            );
        }
        self.threads.insert(self.main, Thread::default());
        resume(self.main, 0);
        loop {
            // SAFETY: status is a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
            if pid < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    _ => return 125,
                }
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.threads.remove(&pid);
                if pid == self.main {
                    let (code, line) = exit_code(status);
                    self.writer.line(&line);
                    return code;
                }
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let signal = libc::WSTOPSIG(status);
            if signal == libc::SIGTRAP | 0x80 {
                self.syscall_stop(pid);
                resume(pid, 0);
            } else if signal == libc::SIGTRAP && status >> 16 != 0 {
                // A clone, fork or exec event: the call's exit stop comes next.
                resume(pid, 0);
            } else if signal == libc::SIGSTOP && !self.threads.contains_key(&pid) {
                // A new thread or child starts with a SIGSTOP of the tracer's own.
                self.threads.insert(pid, Thread::default());
                resume(pid, 0);
            } else {
                self.threads.entry(pid).or_default();
                resume(pid, signal);
            }
        }
    }

    /// A system call's entry (decode what it is about) or exit (record what it found).
    fn syscall_stop(&mut self, pid: i32) {
        let Some(regs) = arch::registers(pid) else {
            return;
        };
        let thread = self.threads.entry(pid).or_default();
        // At an entry the return register still holds -ENOSYS: a thread whose entry was
        // missed (attached mid-call) is put right at its next exit.
        if !thread.inside && arch::at_entry(&regs) {
            thread.inside = true;
            thread.pending = arch::decode_entry(pid, &regs);
            return;
        }
        thread.inside = false;
        if let Some(pending) = thread.pending.take() {
            self.exit_of(pending, arch::return_value(&regs));
        }
    }

    fn exit_of(&mut self, pending: Pending, ret: i64) {
        let (outcome, errno) = Outcome::of_return(ret);
        let line = match pending {
            Pending::Path {
                op,
                path,
                directory,
            } => TraceLine::Path {
                op,
                path,
                outcome,
                errno,
                directory,
            },
            Pending::Address { call, address } => TraceLine::Address {
                call: call.into(),
                address,
                outcome,
                errno,
            },
        };
        self.writer.line(&line);
    }
}

/// Resumes a stopped tracee until its next system call, delivering `signal` (0: none).
fn resume(pid: i32, signal: i32) {
    // SAFETY: pid is a stopped tracee of ours (a vanished one makes this fail harmlessly).
    unsafe {
        libc::ptrace(
            libc::PTRACE_SYSCALL,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            signal as usize as *mut libc::c_void,
        );
    }
}

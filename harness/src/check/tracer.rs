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

use super::trace::{Op, Outcome, TraceLine};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The longest path read from a tracee.
const PATH_MAX: usize = 4096;

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

/// A system call of interest, decoded at its entry.
enum Pending {
    Path {
        op: Op,
        path: String,
        directory: bool,
    },
    Address {
        call: &'static str,
        address: String,
    },
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

/// Reads `len` bytes (or up to the first NUL, with `until_nul`) from a tracee's memory.
fn peek(pid: i32, addr: u64, len: usize, until_nul: bool) -> Option<Vec<u8>> {
    let word = std::mem::size_of::<libc::c_long>() as u64;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < len {
        // SAFETY: PEEKDATA reads the tracee's memory; errors come back through errno.
        let value = unsafe {
            *libc::__errno_location() = 0;
            libc::ptrace(
                libc::PTRACE_PEEKDATA,
                pid,
                at as *mut libc::c_void,
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        // SAFETY: reading errno.
        if value == -1 && unsafe { *libc::__errno_location() } != 0 {
            return (!out.is_empty()).then_some(out);
        }
        for byte in value.to_ne_bytes() {
            if until_nul && byte == 0 {
                return Some(out);
            }
            out.push(byte);
            if out.len() == len {
                break;
            }
        }
        at += word;
    }
    Some(out)
}

/// The NUL-terminated path at `addr`, made absolute against `dirfd` (the directory it is
/// relative to, `AT_FDCWD` for the working directory) as the tracee's /proc shows it.
fn path_at(pid: i32, dirfd: Option<i64>, addr: u64) -> Option<String> {
    let bytes = peek(pid, addr, PATH_MAX, true)?;
    let path = String::from_utf8_lossy(&bytes).into_owned();
    if path.is_empty() || path.starts_with('/') {
        return Some(path);
    }
    let base = match dirfd {
        Some(fd) if fd != libc::AT_FDCWD as i64 => format!("/proc/{pid}/fd/{fd}"),
        _ => format!("/proc/{pid}/cwd"),
    };
    match std::fs::read_link(&base) {
        Ok(dir) => Some(dir.join(&path).to_string_lossy().into_owned()),
        Err(_) => Some(path),
    }
}

/// A socket address as the trace spells it, from its bytes.
fn socket_address(bytes: &[u8]) -> Option<String> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]) as i32;
    let port = || u16::from_be_bytes([bytes[2], bytes[3]]);
    match family {
        libc::AF_INET if bytes.len() >= 8 => {
            let ip = std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            Some(format!("inet {ip}:{}", port()))
        }
        libc::AF_INET6 if bytes.len() >= 24 => {
            let octets: [u8; 16] = bytes[8..24].try_into().ok()?;
            let ip = std::net::Ipv6Addr::from(octets);
            Some(format!("inet6 [{ip}]:{}", port()))
        }
        libc::AF_UNIX => {
            let path = &bytes[2..];
            let (prefix, path) = match path.first() {
                Some(0) => ("@", &path[1..]),
                _ => ("", path),
            };
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            Some(format!(
                "unix {prefix}{}",
                String::from_utf8_lossy(&path[..end])
            ))
        }
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use super::{path_at, peek, socket_address, Pending};
    use crate::check::trace::Op;

    pub fn registers(pid: i32) -> Option<libc::user_regs_struct> {
        // SAFETY: a zeroed register set is valid, and GETREGS fills it.
        unsafe {
            let mut regs: libc::user_regs_struct = std::mem::zeroed();
            let ok = libc::ptrace(
                libc::PTRACE_GETREGS,
                pid,
                std::ptr::null_mut::<libc::c_void>(),
                &mut regs as *mut _ as *mut libc::c_void,
            ) == 0;
            ok.then_some(regs)
        }
    }

    pub fn at_entry(regs: &libc::user_regs_struct) -> bool {
        regs.rax as i64 == -(libc::ENOSYS as i64)
    }

    pub fn return_value(regs: &libc::user_regs_struct) -> i64 {
        regs.rax as i64
    }

    /// What a system call is about, at its entry: the calls that name a path or an address.
    pub fn decode_entry(pid: i32, regs: &libc::user_regs_struct) -> Option<Pending> {
        let (a0, a1, a2) = (regs.rdi, regs.rsi, regs.rdx);
        let directory = |flags: u64| flags & libc::O_DIRECTORY as u64 != 0;
        let path = |dirfd: Option<u64>, addr: u64, op: Op, directory: bool| {
            let path = path_at(pid, dirfd.map(|fd| fd as i32 as i64), addr)?;
            // An empty path with AT_EMPTY_PATH is an fstat of a descriptor, not a lookup.
            (!path.is_empty()).then_some(Pending::Path {
                op,
                path,
                directory,
            })
        };
        match regs.orig_rax as i64 {
            libc::SYS_open => path(None, a0, Op::Open, directory(a1)),
            libc::SYS_openat => path(Some(a0), a1, Op::Open, directory(a2)),
            libc::SYS_openat2 => {
                let flags = peek(pid, a2, 8, false)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_ne_bytes);
                path(Some(a0), a1, Op::Open, directory(flags))
            }
            libc::SYS_stat | libc::SYS_lstat => path(None, a0, Op::Stat, false),
            libc::SYS_newfstatat | libc::SYS_statx => path(Some(a0), a1, Op::Stat, false),
            libc::SYS_access => path(None, a0, Op::Access, false),
            libc::SYS_faccessat | libc::SYS_faccessat2 => path(Some(a0), a1, Op::Access, false),
            libc::SYS_execve => path(None, a0, Op::Exec, false),
            libc::SYS_execveat => path(Some(a0), a1, Op::Exec, false),
            libc::SYS_readlink => path(None, a0, Op::Readlink, false),
            libc::SYS_readlinkat => path(Some(a0), a1, Op::Readlink, false),
            libc::SYS_connect => address(pid, "connect", a1, a2),
            libc::SYS_sendto if regs.r8 != 0 => address(pid, "sendto", regs.r8, regs.r9),
            libc::SYS_sendmsg => {
                // struct msghdr starts with msg_name and msg_namelen.
                let header = peek(pid, a1, 16, false)?;
                let name = u64::from_ne_bytes(header[..8].try_into().ok()?);
                let len = u32::from_ne_bytes(header[8..12].try_into().ok()?) as u64;
                (name != 0).then_some(())?;
                address(pid, "sendmsg", name, len)
            }
            _ => None,
        }
    }

    fn address(pid: i32, call: &'static str, addr: u64, len: u64) -> Option<Pending> {
        let bytes = peek(pid, addr, (len as usize).min(128), false)?;
        Some(Pending::Address {
            call,
            address: socket_address(&bytes)?,
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    //! Never reached: `run` does not trace on other architectures, and says so.
    use super::Pending;

    pub struct Registers;

    pub fn registers(_pid: i32) -> Option<Registers> {
        None
    }
    pub fn at_entry(_regs: &Registers) -> bool {
        false
    }
    pub fn return_value(_regs: &Registers) -> i64 {
        0
    }
    pub fn decode_entry(_pid: i32, _regs: &Registers) -> Option<Pending> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::socket_address;

    #[test]
    fn socket_addresses_read_as_the_trace_spells_them() {
        let mut inet = vec![0u8; 16];
        inet[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        inet[2..4].copy_from_slice(&53u16.to_be_bytes());
        inet[4..8].copy_from_slice(&[127, 0, 0, 53]);
        assert_eq!(socket_address(&inet).unwrap(), "inet 127.0.0.53:53");
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/var/run/nscd/socket\0junk");
        assert_eq!(socket_address(&unix).unwrap(), "unix /var/run/nscd/socket");
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(socket_address(&v6).unwrap(), "inet6 [::1]:443");
        assert_eq!(socket_address(&[1]), None);
    }
}

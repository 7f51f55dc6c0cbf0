//! The tracer's view of one system call: which calls name a path or an address, how to read
//! their arguments out of a stopped tracee (`PTRACE_GETREGS`, `PTRACE_PEEKDATA`, the
//! tracee's /proc for relative paths), and how a socket address is spelled in the trace.
//! x86_64 numbers only (`arch`); elsewhere nothing is decoded, and `tracer` says so.

use super::trace::Op;

/// The longest path read from a tracee.
const PATH_MAX: usize = 4096;

/// A system call of interest, decoded at its entry.
pub enum Pending {
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

/// Reads `len` bytes (or up to the first NUL, with `until_nul`) from a tracee's memory.
pub fn peek(pid: i32, addr: u64, len: usize, until_nul: bool) -> Option<Vec<u8>> {
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
pub fn path_at(pid: i32, dirfd: Option<i64>, addr: u64) -> Option<String> {
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
pub fn socket_address(bytes: &[u8]) -> Option<String> {
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
pub mod arch {
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
pub mod arch {
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

//! The TCP addresses a process (and its children) listens on, read from /proc: its socket
//! inodes from `/proc/<pid>/fd`, matched against the listening sockets of its network
//! namespace in `/proc/<pid>/net/tcp` and `tcp6`.
//!
//! Reading through the process's own `/proc/<pid>/net` sees its namespace (the host's, for a
//! host-network container), and matching inodes keeps only its own sockets among everything
//! else listening there. This module reads; saying what the addresses mean is the caller's.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The state column of a listening socket.
const LISTEN: &str = "0A";

/// The addresses `pid` and its descendants listen on, sorted.
pub fn listening(pid: u32) -> Result<Vec<SocketAddr>, String> {
    let mut inodes = BTreeSet::new();
    for p in with_descendants(pid) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{p}/fd")) else {
            if p == pid {
                return Err(format!("cannot read /proc/{pid}/fd (not permitted here)"));
            }
            continue;
        };
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            {
                inodes.insert(inode);
            }
        }
    }
    let mut found = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        // A kernel without IPv6 has no tcp6: that is not an error.
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
            found.extend(
                parse_table(&text)
                    .into_iter()
                    .filter(|(_, inode)| inodes.contains(inode))
                    .map(|(addr, _)| addr),
            );
        }
    }
    Ok(found.into_iter().collect())
}

/// `pid` and every process below it (a launcher script's server is its child).
fn with_descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() && all.len() < 256 {
        let p = all[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// The listening sockets of one `/proc/net/tcp{,6}` table: address and inode.
pub fn parse_table(text: &str) -> Vec<(SocketAddr, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(3) != Some(&LISTEN) {
                return None;
            }
            let addr = parse_addr(cols.get(1)?)?;
            let inode = cols.get(9)?.parse().ok()?;
            Some((addr, inode))
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): the kernel prints each 32-bit
/// word of the address in host byte order, and the port in network order.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if ip.len() % 8 != 0 || !ip.is_ascii() {
        return None;
    }
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    // This harness runs on x86_64 (little-endian): the word's bytes are the address's.
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    match bytes.len() {
        4 => Some(SocketAddr::from((
            Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]),
            port,
        ))),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(SocketAddr::from((Ipv6Addr::from(octets), port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_tables_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            parse_table(tcp),
            [("127.0.0.1:8080".parse().unwrap(), 4242)],
            "only the listening socket"
        );
        let tcp6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1\n";
        assert_eq!(parse_table(tcp6), [("[::1]:80".parse().unwrap(), 77)]);
    }

    #[test]
    fn this_process_listening_is_found_and_nothing_else() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let other = std::net::TcpStream::connect(addr).unwrap();
        let found = listening(std::process::id()).unwrap();
        assert!(found.contains(&addr), "{found:?} lacks {addr}");
        assert!(!found.contains(&other.local_addr().unwrap()));
    }
}

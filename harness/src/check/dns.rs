//! Name resolution as deployed: a stub DNS server the check runs on loopback, with a
//! resolver configuration like a Kubernetes pod's, and a log of every query it answered.
//!
//! Two nameservers on two loopback addresses, port 53 (a resolver configuration names no
//! port), UDP and TCP:
//! - `ns1`, listed first, the cluster's DNS: knows `*.svc.cluster.local` and the public test
//!   names, and answers after `CLUSTER_DELAY`, as a real cluster DNS a hop away does;
//! - `ns2`, listed second, a node's external resolver: answers NXDOMAIN at once for cluster
//!   names (it does not know them) and the public test names like ns1.
//!
//! A libc that asks its nameservers in order (glibc) gets ns1's answer; one that asks them
//! all at once and takes the first reply (musl) gets ns2's NXDOMAIN (kubernetes#16534).
//! The search list and `ndots:5` are a pod's, so a short name walks the search domains
//! (kubernetes#64924), and one public name's answer is over 512 bytes: over UDP it comes
//! back truncated, and only a resolver that retries over TCP gets it.
//!
//! Only loopback addresses; nothing leaves the machine. The DNS messages are read and
//! written here (a header, one question, A records): that is all a stub needs.

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// How long the cluster DNS (ns1) takes to answer.
pub const CLUSTER_DELAY: Duration = Duration::from_millis(50);
/// The pod's namespace, as its search list names it.
const NAMESPACE: &str = "default";
/// The largest DNS message over UDP without EDNS.
const UDP_MAX: usize = 512;

/// One lookup the check asks the app to make, and the addresses that are right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    /// What it tests, in a few words.
    pub name: String,
    /// The name the app is asked to resolve.
    pub lookup: String,
    /// The right addresses.
    pub expect: Vec<String>,
}

/// The cases, in the order they are asked.
pub fn cases() -> Vec<Case> {
    let big: Vec<String> = (1..=BIG_ANSWERS).map(|i| format!("127.0.1.{i}")).collect();
    vec![
        Case {
            name: "a public name, one answer".into(),
            lookup: "api.example.test.".into(),
            expect: vec![API.to_string()],
        },
        Case {
            name: "a service by its short name: search domains, ndots:5, two nameservers".into(),
            lookup: "upstream".into(),
            expect: vec![UPSTREAM.to_string()],
        },
        Case {
            name: "a service by its full name (4 dots, fewer than ndots:5)".into(),
            lookup: format!("upstream.{NAMESPACE}.svc.cluster.local"),
            expect: vec![UPSTREAM.to_string()],
        },
        Case {
            name: format!("an answer over {UDP_MAX} bytes (truncated over UDP: needs TCP)"),
            lookup: "big.example.test.".into(),
            expect: big,
        },
    ]
}

const UPSTREAM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
const API: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Enough A records to pass 512 bytes.
const BIG_ANSWERS: u8 = 40;

/// The A records of `name` as `server` knows it: `None` for NXDOMAIN.
fn records(server: Server, name: &str) -> Option<Vec<Ipv4Addr>> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let cluster = name == "cluster.local" || name.ends_with(".cluster.local");
    if cluster && server == Server::External {
        return None;
    }
    match name.as_str() {
        "api.example.test" => Some(vec![API]),
        "big.example.test" => Some(
            (1..=BIG_ANSWERS)
                .map(|i| Ipv4Addr::new(127, 0, 1, i))
                .collect(),
        ),
        n if n == format!("upstream.{NAMESPACE}.svc.cluster.local") => Some(vec![UPSTREAM]),
        _ => None,
    }
}

/// Which of the two nameservers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// ns1: the cluster's DNS, listed first, slower.
    Cluster,
    /// ns2: the node's external resolver, listed second: NXDOMAIN at once for cluster names.
    External,
}

/// One query the stub answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Query {
    /// When it arrived, in milliseconds since the stub started.
    pub at_ms: f64,
    pub server: Server,
    /// `udp` or `tcp`.
    pub transport: String,
    pub name: String,
    /// `A`, `AAAA`, or the type's number.
    pub qtype: String,
    /// `NOERROR` or `NXDOMAIN`.
    pub rcode: String,
    /// Sent truncated (TC): the answer did not fit in a UDP message.
    pub truncated: bool,
    /// A records sent.
    pub answers: usize,
}

/// The running stub: its two addresses and its log. Dropping it stops it.
pub struct Stub {
    pub cluster: Ipv4Addr,
    pub external: Ipv4Addr,
    started: Instant,
    log: Arc<Mutex<Vec<Query>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Stub {
    /// Starts both nameservers on a free pair of loopback addresses (127.53.N.1 and .2);
    /// the reason when port 53 cannot be bound (it takes root, or
    /// `net.ipv4.ip_unprivileged_port_start` at most 53).
    pub async fn start() -> Result<Stub, String> {
        let mut last = String::new();
        let seed = std::process::id() as u8;
        for attempt in 0..16u8 {
            let n = seed.wrapping_add(attempt.wrapping_mul(17)).max(1);
            let cluster = Ipv4Addr::new(127, 53, n, 1);
            let external = Ipv4Addr::new(127, 53, n, 2);
            match Stub::bind(cluster, external).await {
                Ok(stub) => return Ok(stub),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = e.to_string(),
                Err(e) => {
                    return Err(format!(
                        "cannot bind the stub DNS server to {cluster}:53: {e} (binding port 53 takes root, or `sysctl net.ipv4.ip_unprivileged_port_start=53`)"
                    ))
                }
            }
        }
        Err(format!(
            "no free loopback address pair for the stub DNS server: {last}"
        ))
    }

    async fn bind(cluster: Ipv4Addr, external: Ipv4Addr) -> std::io::Result<Stub> {
        let started = Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (ip, server) in [(cluster, Server::Cluster), (external, Server::External)] {
            let addr = SocketAddr::from((ip, 53));
            let udp = UdpSocket::bind(addr).await?;
            let tcp = TcpListener::bind(addr).await?;
            let answerer = Answerer {
                server,
                started,
                log: log.clone(),
            };
            tasks.push(tokio::spawn(answerer.clone().udp(udp)));
            tasks.push(tokio::spawn(answerer.tcp(tcp)));
        }
        Ok(Stub {
            cluster,
            external,
            started,
            log,
            tasks,
        })
    }

    /// A pod's resolver configuration pointing at the stub.
    pub fn resolv_conf(&self) -> String {
        format!(
            "# written by harness check: a Kubernetes pod's resolver settings, on a stub DNS\nnameserver {}\nnameserver {}\nsearch {NAMESPACE}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
            self.cluster, self.external
        )
    }

    /// Milliseconds since the stub started (the log's clock).
    pub fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    /// The queries that arrived from `since_ms` on, in the order they arrived.
    pub fn queries_since(&self, since_ms: f64) -> Vec<Query> {
        let mut queries: Vec<Query> = self
            .log
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|q| q.at_ms >= since_ms)
            .cloned()
            .collect();
        queries.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        queries
    }
}

#[derive(Clone)]
struct Answerer {
    server: Server,
    started: Instant,
    log: Arc<Mutex<Vec<Query>>>,
}

impl Answerer {
    async fn udp(self, socket: UdpSocket) {
        let socket = Arc::new(socket);
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let request = buf[..n].to_vec();
            let (this, socket) = (self.clone(), socket.clone());
            // Each answer in its own task, so a delayed one holds up no other.
            tokio::spawn(async move {
                if let Some(reply) = this.answer(&request, "udp").await {
                    let _ = socket.send_to(&reply, peer).await;
                }
            });
        }
    }

    async fn tcp(self, listener: TcpListener) {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let this = self.clone();
            tokio::spawn(async move {
                loop {
                    let mut len = [0u8; 2];
                    if stream.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut request = vec![0u8; u16::from_be_bytes(len) as usize];
                    if stream.read_exact(&mut request).await.is_err() {
                        return;
                    }
                    let Some(reply) = this.answer(&request, "tcp").await else {
                        return;
                    };
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&reply);
                    if stream.write_all(&framed).await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    /// The reply to one query, logged; `None` for what is not a query.
    async fn answer(&self, request: &[u8], transport: &str) -> Option<Vec<u8>> {
        let question = parse_question(request)?;
        let at_ms = self.started.elapsed().as_secs_f64() * 1e3;
        let found = records(self.server, &question.name);
        let addresses = match (&found, question.qtype) {
            (Some(a), TYPE_A) => a.clone(),
            _ => Vec::new(),
        };
        let mut reply = reply(request, &question, found.is_none(), &addresses);
        let truncated = transport == "udp" && reply.len() > UDP_MAX;
        if truncated {
            // Header and question only, with TC set: the client is to ask again over TCP.
            reply = truncate(request, &question);
        }
        self.log.lock().expect("not poisoned").push(Query {
            at_ms,
            server: self.server,
            transport: transport.into(),
            name: question.name.clone(),
            qtype: match question.qtype {
                TYPE_A => "A".into(),
                TYPE_AAAA => "AAAA".into(),
                other => other.to_string(),
            },
            rcode: if found.is_none() {
                "NXDOMAIN"
            } else {
                "NOERROR"
            }
            .into(),
            truncated,
            answers: if truncated { 0 } else { addresses.len() },
        });
        // Logged on arrival, answered after the delay: a lookup that ends on the other
        // server's answer still shows this query.
        if self.server == Server::Cluster {
            tokio::time::sleep(CLUSTER_DELAY).await;
        }
        Some(reply)
    }
}

/// What a lookup's queries show the libc did, in a sentence: whether it asked the
/// nameservers in turn or at once, which names it tried, and whether it went to TCP.
pub fn behaviour(queries: &[Query]) -> String {
    let Some(first) = queries.first() else {
        return "sent no query (answered from a file or a cache, or never asked)".into();
    };
    let mut parts = Vec::new();
    let both = queries.iter().any(|q| {
        q.server != first.server
            && q.name == first.name
            && q.qtype == first.qtype
            && (q.at_ms - first.at_ms).abs() < CLUSTER_DELAY.as_secs_f64() * 1e3 / 2.0
    });
    parts.push(match both {
        true => "asked both nameservers at once".to_string(),
        false => format!(
            "asked {} first",
            match first.server {
                Server::Cluster => "the cluster DNS (ns1)",
                Server::External => "the external resolver (ns2)",
            }
        ),
    });
    let mut names: Vec<&str> = Vec::new();
    for q in queries {
        if !names.contains(&q.name.as_str()) {
            names.push(&q.name);
        }
    }
    parts.push(match names.as_slice() {
        [one] => format!("for {one}"),
        many => format!("for {} names in turn: {}", many.len(), many.join(" → ")),
    });
    let truncated = queries.iter().any(|q| q.truncated);
    let tcp = queries.iter().any(|q| q.transport == "tcp");
    match (truncated, tcp) {
        (true, true) => parts.push("retried over TCP after a truncated answer".into()),
        (true, false) => parts.push("did not retry over TCP after a truncated answer".into()),
        _ => {}
    }
    parts.join(", ")
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const HEADER: usize = 12;

/// A query's question: its name, type, and where it ends in the message.
#[derive(Debug, Clone, PartialEq)]
struct Question {
    name: String,
    qtype: u16,
    end: usize,
}

/// The first question of a query message (QR clear, one question).
fn parse_question(message: &[u8]) -> Option<Question> {
    if message.len() < HEADER || message[2] & 0x80 != 0 {
        return None;
    }
    if u16::from_be_bytes([message[4], message[5]]) != 1 {
        return None;
    }
    let mut at = HEADER;
    let mut labels = Vec::new();
    loop {
        let len = *message.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        // A query's name is never compressed.
        if len & 0xC0 != 0 {
            return None;
        }
        labels.push(String::from_utf8_lossy(message.get(at..at + len)?).into_owned());
        at += len;
    }
    let qtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
    Some(Question {
        name: labels.join(".") + ".",
        qtype,
        end: at + 4,
    })
}

/// The header of a reply to `request`: its id, RD copied, QR, AA and RA set, `rcode`.
fn header(request: &[u8], rcode: u8, truncated: bool, answers: u16) -> Vec<u8> {
    let rd = request[2] & 0x01;
    let mut out = vec![
        request[0],
        request[1],
        0x80 | 0x04 | if truncated { 0x02 } else { 0 } | rd,
        0x80 | rcode,
    ];
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

fn reply(request: &[u8], question: &Question, nxdomain: bool, addresses: &[Ipv4Addr]) -> Vec<u8> {
    let rcode = if nxdomain { 3 } else { 0 };
    let mut out = header(request, rcode, false, addresses.len() as u16);
    out.extend_from_slice(&request[HEADER..question.end]);
    for address in addresses {
        // The name as a pointer to the question's (offset 12), type A, class IN, TTL 30.
        out.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
        out.extend_from_slice(&address.octets());
    }
    out
}

fn truncate(request: &[u8], question: &Question) -> Vec<u8> {
    let mut out = header(request, 0, true, 0);
    out.extend_from_slice(&request[HEADER..question.end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` (type `qtype`) as a resolver sends it.
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.trim_end_matches('.').split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, qtype as u8, 0, 1]);
        q
    }

    #[test]
    fn the_two_servers_disagree_only_on_cluster_names() {
        let full = format!("upstream.{NAMESPACE}.svc.cluster.local");
        assert_eq!(records(Server::Cluster, &full), Some(vec![UPSTREAM]));
        assert_eq!(records(Server::External, &full), None);
        assert_eq!(records(Server::Cluster, "upstream"), None);
        assert_eq!(
            records(Server::External, "api.example.test."),
            Some(vec![API])
        );
    }

    #[test]
    fn a_big_answer_is_truncated_over_udp_and_whole_over_tcp() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let answerer = Answerer {
            server: Server::External,
            started: Instant::now(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        let request = query("big.example.test", TYPE_A);
        let udp = rt.block_on(answerer.answer(&request, "udp")).unwrap();
        assert!(udp.len() <= UDP_MAX);
        assert_eq!(udp[2] & 0x02, 0x02, "TC set");
        assert_eq!((udp[0], udp[1]), (0x12, 0x34), "the query's id");
        let tcp = rt.block_on(answerer.answer(&request, "tcp")).unwrap();
        assert!(tcp.len() > UDP_MAX);
        assert_eq!(u16::from_be_bytes([tcp[6], tcp[7]]), BIG_ANSWERS as u16);
        let log = answerer.log.lock().unwrap();
        assert_eq!(
            (
                log[0].truncated,
                log[0].answers,
                log[1].truncated,
                log[1].answers
            ),
            (true, 0, false, BIG_ANSWERS as usize)
        );
        assert_eq!(log[0].name, "big.example.test.");
        drop(log);
        let nx = rt
            .block_on(answerer.answer(
                &query("upstream.default.svc.cluster.local", TYPE_AAAA),
                "udp",
            ))
            .unwrap();
        assert_eq!(nx[3] & 0x0F, 3, "NXDOMAIN");
    }

    fn logged(at_ms: f64, server: Server, transport: &str, name: &str, truncated: bool) -> Query {
        Query {
            at_ms,
            server,
            transport: transport.into(),
            name: name.into(),
            qtype: "A".into(),
            rcode: "NOERROR".into(),
            truncated,
            answers: 0,
        }
    }

    #[test]
    fn the_log_says_how_the_libc_asked() {
        let in_order = [logged(1.0, Server::Cluster, "udp", "a.", false)];
        assert_eq!(
            behaviour(&in_order),
            "asked the cluster DNS (ns1) first, for a."
        );
        let at_once = [
            logged(1.0, Server::Cluster, "udp", "a.b.", false),
            logged(1.2, Server::External, "udp", "a.b.", false),
            logged(2.0, Server::External, "udp", "a.", false),
        ];
        assert_eq!(
            behaviour(&at_once),
            "asked both nameservers at once, for 2 names in turn: a.b. → a."
        );
        let tcp = [
            logged(1.0, Server::Cluster, "udp", "big.", true),
            logged(9.0, Server::Cluster, "tcp", "big.", false),
        ];
        assert!(behaviour(&tcp).ends_with("retried over TCP after a truncated answer"));
        assert!(behaviour(&tcp[..1]).ends_with("did not retry over TCP after a truncated answer"));
        assert!(behaviour(&[]).starts_with("sent no query"));
    }

    #[test]
    fn replies_are_not_questions() {
        let mut reply = query("api.example.test", TYPE_A);
        reply[2] |= 0x80;
        assert_eq!(parse_question(&reply), None);
        assert_eq!(parse_question(&[0; 5]), None);
    }
}

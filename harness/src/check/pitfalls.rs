//! What a path is for, and what to do when an image lacks it: the pitfalls teams meet when a
//! service moves to a static binary in a scratch image (CA roots, time zones, resolver
//! files, the user database, locales, shared libraries), each with its fix.
//!
//! This module only reads a trace: it says, per pitfall, whether the app found what it
//! reached for. It never guesses from the binary what the app might reach for; a pitfall
//! the app never reached under its workload is "not reached", not "works".

use super::trace::{Op, Outcome, Trace};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A kind of file an app reaches for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Pitfall {
    /// TLS trust roots: a CA bundle or certificate directory.
    CaCertificates,
    /// The time zone database and the local zone.
    TimeZone,
    /// How names resolve: resolv.conf, hosts, nsswitch.conf, gai.conf.
    ResolverConfig,
    /// passwd, group, shadow: names of users and groups.
    UserDatabase,
    /// Locale data and character-set converters.
    Locale,
    /// Shared libraries and the dynamic loader's cache.
    SharedLibrary,
    /// Programs the app runs (a shell, a tool).
    Programs,
    /// OpenSSL's configuration.
    OpensslConfig,
    /// services, protocols, mime.types.
    NetworkDatabase,
    /// Random and other devices under /dev.
    Devices,
    /// /proc and /sys, which the engine mounts.
    KernelFiles,
    /// Anything else.
    Other,
}

/// Every pitfall, in the order tables list them.
pub const ALL: [Pitfall; 12] = [
    Pitfall::CaCertificates,
    Pitfall::TimeZone,
    Pitfall::ResolverConfig,
    Pitfall::UserDatabase,
    Pitfall::Locale,
    Pitfall::SharedLibrary,
    Pitfall::Programs,
    Pitfall::OpensslConfig,
    Pitfall::NetworkDatabase,
    Pitfall::Devices,
    Pitfall::KernelFiles,
    Pitfall::Other,
];

/// Files a libc looks for and does without: their absence is the normal case.
const OPTIONAL: [&str; 6] = [
    "/",
    "/etc/ld.so.preload",
    "/etc/ld.so.cache",
    "/etc/ld.so.nohwcap",
    "/etc/suid-debug",
    "/etc/malloc.conf",
];

/// File names a CA bundle goes by (openssl-probe's list and the distributions').
const CA_FILES: [&str; 10] = [
    "cert.pem",
    "certs.pem",
    "ca-bundle.pem",
    "cacert.pem",
    "ca-certificates.crt",
    "ca-root-nss.crt",
    "ca-bundle.crt",
    "CARootCertificates.pem",
    "tls-ca-bundle.pem",
    "ca-bundle.trust.crt",
];

impl Pitfall {
    /// The pitfall of a path reached for by `op`: what is exec'd is a program, wherever
    /// it lies.
    pub fn of(op: Op, path: &str) -> Pitfall {
        match op {
            Op::Exec => Pitfall::Programs,
            _ => Pitfall::of_path(path),
        }
    }

    /// The pitfall a path belongs to.
    pub fn of_path(path: &str) -> Pitfall {
        let name = path.rsplit('/').next().unwrap_or(path);
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if name == "openssl.cnf" {
            Pitfall::OpensslConfig
        } else if CA_FILES.contains(&name)
            || under("/etc/ssl/certs")
            || under("/etc/pki")
            || under("/etc/ca-certificates")
            || under("/usr/share/ca-certificates")
            || under("/etc/certs")
            || under("/etc/security/certificates")
            || (["/ssl", "/openssl"].iter().any(|d| path.contains(d))
                && (name == "certs" || name.ends_with(".pem") || name.ends_with(".crt")))
        {
            Pitfall::CaCertificates
        } else if path.contains("/zoneinfo")
            || name == "tzdata"
            || name == "tzdata.zi"
            || path == "/etc/localtime"
            || path == "/etc/timezone"
        {
            Pitfall::TimeZone
        } else if [
            "/etc/resolv.conf",
            "/etc/hosts",
            "/etc/nsswitch.conf",
            "/etc/host.conf",
            "/etc/gai.conf",
            "/etc/svc.conf",
        ]
        .contains(&path)
            || under("/var/run/nscd")
            || under("/run/nscd")
        {
            Pitfall::ResolverConfig
        } else if ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"].contains(&path) {
            Pitfall::UserDatabase
        } else if under("/usr/lib/locale")
            || under("/usr/share/locale")
            || under("/usr/share/i18n")
            || path.contains("/gconv")
            || path == "/etc/locale.alias"
        {
            Pitfall::Locale
        } else if name.contains(".so")
            || path.starts_with("/etc/ld.so")
            || path.starts_with("/etc/ld-musl")
            || ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib"]
                .iter()
                .any(|d| under(d))
        {
            Pitfall::SharedLibrary
        } else if ["/etc/services", "/etc/protocols", "/etc/mime.types"].contains(&path) {
            Pitfall::NetworkDatabase
        } else if under("/dev") {
            Pitfall::Devices
        } else if under("/proc") || under("/sys") {
            Pitfall::KernelFiles
        } else {
            Pitfall::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pitfall::CaCertificates => "CA certificates",
            Pitfall::TimeZone => "time zone data",
            Pitfall::ResolverConfig => "resolver configuration",
            Pitfall::UserDatabase => "user database",
            Pitfall::Locale => "locale data",
            Pitfall::SharedLibrary => "shared libraries",
            Pitfall::Programs => "programs it runs",
            Pitfall::OpensslConfig => "OpenSSL configuration",
            Pitfall::NetworkDatabase => "network databases",
            Pitfall::Devices => "devices",
            Pitfall::KernelFiles => "/proc and /sys",
            Pitfall::Other => "other files",
        }
    }

    /// What to do when the image lacks it.
    pub fn fix(self) -> &'static str {
        match self {
            Pitfall::CaCertificates => "copy /etc/ssl/certs/ca-certificates.crt (Debian's `ca-certificates` package) into the image, or bundle the roots in the binary: the `webpki-roots` crate (reqwest's `rustls-tls-webpki-roots` feature)",
            Pitfall::TimeZone => "copy /usr/share/zoneinfo (Debian's `tzdata` package) into the image, or bundle the database in the binary: `chrono-tz`, or jiff's `tzdb-bundle-always` feature",
            Pitfall::ResolverConfig => "the engine mounts /etc/resolv.conf and /etc/hosts at run time; copy /etc/nsswitch.conf (Debian's `base-files`) where glibc looks it up",
            Pitfall::UserDatabase => "copy a /etc/passwd and /etc/group that name the user the image runs as (nobody, 65534), or stop looking users up by name",
            Pitfall::Locale => "use the C.UTF-8 locale (built into both libcs), or copy the locale from Debian's `locales` package",
            Pitfall::SharedLibrary => "link the library statically, or copy it (and the dynamic loader) from the package that ships it: a static binary cannot dlopen",
            Pitfall::Programs => "a scratch image has no shell and no tools: copy the program (and what it needs) into the image, or do the work in-process",
            Pitfall::OpensslConfig => "usually harmless (OpenSSL falls back to its defaults); copy /etc/ssl/openssl.cnf (Debian's `openssl`) if the app relies on it",
            Pitfall::NetworkDatabase => "copy /etc/services and /etc/protocols (Debian's `netbase`), or use port numbers",
            Pitfall::Devices => "the engine provides /dev; a sandbox that does not can be met with getrandom(2), which needs no file",
            Pitfall::KernelFiles => "the engine mounts /proc and /sys; a missing entry is the kernel's or the cgroup version's (the app falls back)",
            Pitfall::Other => "copy the file into the image, from the package that ships it (`dpkg -S PATH` on Debian)",
        }
    }

    /// Whether a miss is worth a verdict at all: probes of /proc, /sys and /dev are how
    /// apps find their limits and fall back when a file is absent.
    pub fn is_probe(self) -> bool {
        matches!(self, Pitfall::KernelFiles | Pitfall::Devices)
    }
}

/// What the app found of one pitfall's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It reached for them and found what it needed.
    Works,
    /// It reached for them and found none (or, for libraries, not one of them).
    Breaks,
    /// Files the check has no rule for were not there: whether the app needs them is not
    /// known (it may go on without them).
    Missing,
    /// It never reached for them under this workload.
    NotReached,
    /// The app ran untraced: nothing is known.
    Unobserved,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Works => "works",
            Status::Breaks => "breaks",
            Status::Missing => "missing",
            Status::NotReached => "not reached",
            Status::Unobserved => "not observed",
        }
    }
}

/// One pitfall's verdict in one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    pub pitfall: Pitfall,
    pub status: Status,
    /// One sentence: what was found or missed.
    pub why: String,
    /// What to do, when it breaks.
    pub fix: Option<String>,
    /// The paths it reached for and did not find (missing or denied).
    pub missing: Vec<String>,
    /// The paths it found.
    pub found: Vec<String>,
}

/// Paths grouped per pitfall: found and not found, each sorted and distinct.
#[derive(Default)]
struct Reached {
    found: Vec<String>,
    missed: Vec<String>,
    /// Shared libraries and programs: per file name, whether any copy was found.
    by_name: BTreeMap<String, bool>,
}

/// The verdict of every pitfall the app reached for in `trace` (untraced: every pitfall is
/// `Unobserved`; not reached: left out).
pub fn verdicts(trace: &Trace) -> Vec<Verdict> {
    if !trace.traced() {
        return Vec::new();
    }
    let mut reached: BTreeMap<Pitfall, Reached> = BTreeMap::new();
    let app = app_path(trace);
    for (op, path, outcome, _) in trace.paths() {
        // The exec of the app itself says nothing about the image's files.
        if (op == Op::Exec && Some(path) == app) || OPTIONAL.contains(&path) {
            continue;
        }
        let pitfall = Pitfall::of(op, path);
        let entry = reached.entry(pitfall).or_default();
        let found = outcome == Outcome::Found;
        let list = if found {
            &mut entry.found
        } else {
            &mut entry.missed
        };
        if !list.iter().any(|p| p == path) {
            list.push(path.to_string());
        }
        // Libraries by file name (the loader's probes of search directories are not
        // libraries); programs by name, wherever the PATH search looked.
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let counted = match pitfall {
            Pitfall::SharedLibrary => name.contains(".so") && !path.starts_with("/etc/"),
            Pitfall::Programs => true,
            _ => false,
        };
        if counted {
            *entry.by_name.entry(name).or_default() |= found;
        }
    }
    reached
        .into_iter()
        .map(|(pitfall, mut r)| {
            r.found.sort();
            r.missed.sort();
            verdict(pitfall, r)
        })
        .collect()
}

/// The path of the app itself: the first program the trace saw exec'd.
pub fn app_path(trace: &Trace) -> Option<&str> {
    trace
        .paths()
        .find(|(op, _, outcome, _)| *op == Op::Exec && *outcome == Outcome::Found)
        .map(|(_, path, _, _)| path)
}

fn verdict(pitfall: Pitfall, r: Reached) -> Verdict {
    let lacking: Vec<&String> = r
        .by_name
        .iter()
        .filter(|(_, f)| !**f)
        .map(|(n, _)| n)
        .collect();
    let breaks = match pitfall {
        Pitfall::SharedLibrary | Pitfall::Programs => !lacking.is_empty(),
        // A probe that misses is how the app learns; it falls back.
        p if p.is_probe() => false,
        // Files without a rule: a miss is reported, not judged.
        Pitfall::Other => false,
        _ => r.found.is_empty(),
    };
    if pitfall == Pitfall::Other && !r.missed.is_empty() {
        return Verdict {
            pitfall,
            status: Status::Missing,
            why: format!(
                "looked for {} the check has no rule for, and found {}: {}",
                count_paths(r.missed.len()),
                match r.found.len() {
                    0 => "none".to_string(),
                    n => format!("{n} other"),
                },
                first_and_count(&r.missed)
            ),
            fix: Some(pitfall.fix().to_string()),
            missing: r.missed,
            found: r.found,
        };
    }
    let why = match (pitfall, breaks) {
        (Pitfall::SharedLibrary | Pitfall::Programs, true) => format!(
            "no copy of {} anywhere it looked",
            lacking
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (_, true) => format!(
            "looked for {} and found {}",
            count_paths(r.missed.len()),
            match r.found.len() {
                0 => "none".to_string(),
                n => format!("{n} other"),
            }
        ),
        (_, false) if r.found.is_empty() => format!(
            "looked for {} and found none; the app goes on without them",
            count_paths(r.missed.len())
        ),
        (_, false) => format!("found {}", first_and_count(&r.found)),
    };
    Verdict {
        pitfall,
        status: if breaks {
            Status::Breaks
        } else {
            Status::Works
        },
        why,
        fix: breaks.then(|| pitfall.fix().to_string()),
        missing: r.missed,
        found: r.found,
    }
}

fn count_paths(n: usize) -> String {
    match n {
        1 => "1 path".into(),
        n => format!("{n} paths"),
    }
}

fn first_and_count(paths: &[String]) -> String {
    match paths {
        [] => "nothing".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::trace::TraceLine;

    fn trace(paths: &[(Op, &str, Outcome)]) -> Trace {
        let mut lines = vec![TraceLine::Traced { pid: 1 }];
        lines.extend(paths.iter().map(|(op, path, outcome)| TraceLine::Path {
            op: *op,
            path: path.to_string(),
            outcome: *outcome,
            errno: None,
            directory: false,
        }));
        Trace {
            lines,
            unreadable: 0,
        }
    }

    #[test]
    fn paths_are_put_with_their_pitfall() {
        for (path, pitfall) in [
            (
                "/etc/ssl/certs/ca-certificates.crt",
                Pitfall::CaCertificates,
            ),
            ("/usr/local/ssl/cert.pem", Pitfall::CaCertificates),
            ("/etc/pki/tls/certs/ca-bundle.crt", Pitfall::CaCertificates),
            ("/usr/lib/ssl/certs", Pitfall::CaCertificates),
            ("/etc/ssl/openssl.cnf", Pitfall::OpensslConfig),
            ("/usr/share/zoneinfo/Europe/Paris", Pitfall::TimeZone),
            ("/etc/localtime", Pitfall::TimeZone),
            ("/etc/zoneinfo", Pitfall::TimeZone),
            ("/data/misc/zoneinfo/current/tzdata", Pitfall::TimeZone),
            ("/etc/resolv.conf", Pitfall::ResolverConfig),
            ("/etc/nsswitch.conf", Pitfall::ResolverConfig),
            ("/etc/passwd", Pitfall::UserDatabase),
            ("/usr/lib/locale/C.utf8/LC_CTYPE", Pitfall::Locale),
            ("/lib/x86_64-linux-gnu/libc.so.6", Pitfall::SharedLibrary),
            ("/etc/ld.so.cache", Pitfall::SharedLibrary),
            (
                "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3",
                Pitfall::SharedLibrary,
            ),
            ("/dev/urandom", Pitfall::Devices),
            ("/sys/fs/cgroup/cpu.max", Pitfall::KernelFiles),
            ("/proc/self/cgroup", Pitfall::KernelFiles),
            ("/etc/services", Pitfall::NetworkDatabase),
            ("/data/input.json", Pitfall::Other),
        ] {
            assert_eq!(Pitfall::of_path(path), pitfall, "{path}");
        }
    }

    #[test]
    fn a_pitfall_breaks_only_when_nothing_it_looked_for_was_there() {
        let scratch = trace(&[
            (Op::Exec, "/app", Outcome::Found),
            (Op::Stat, "/usr/local/ssl/cert.pem", Outcome::Missing),
            (
                Op::Stat,
                "/etc/ssl/certs/ca-certificates.crt",
                Outcome::Missing,
            ),
            (Op::Open, "/sys/fs/cgroup/cpu.max", Outcome::Missing),
        ]);
        let v = verdicts(&scratch);
        assert_eq!(v.len(), 2, "the exec of the app is not a pitfall: {v:?}");
        assert_eq!(v[0].pitfall, Pitfall::CaCertificates);
        assert_eq!(v[0].status, Status::Breaks);
        assert!(v.iter().all(|v| v.pitfall != Pitfall::Programs));
        assert_eq!(v[0].missing.len(), 2);
        assert!(v[0].fix.as_deref().unwrap().contains("webpki-roots"));
        assert_eq!(v[1].pitfall, Pitfall::KernelFiles);
        assert_eq!(v[1].status, Status::Works, "a missed probe is a fallback");

        let debian = trace(&[
            (Op::Stat, "/usr/local/ssl/cert.pem", Outcome::Missing),
            (
                Op::Open,
                "/etc/ssl/certs/ca-certificates.crt",
                Outcome::Found,
            ),
        ]);
        let v = verdicts(&debian);
        assert_eq!(v[0].status, Status::Works);
        assert_eq!(v[0].fix, None);
    }

    #[test]
    fn a_library_breaks_when_no_copy_of_it_was_found() {
        let probed = trace(&[
            (
                Op::Open,
                "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libc.so.6",
                Outcome::Missing,
            ),
            (Op::Open, "/lib/x86_64-linux-gnu/libc.so.6", Outcome::Found),
        ]);
        assert_eq!(verdicts(&probed)[0].status, Status::Works);
        let lacking = trace(&[
            (Op::Access, "/etc/ld.so.preload", Outcome::Missing),
            (Op::Open, "/etc/ld.so.cache", Outcome::Missing),
            (Op::Stat, "/lib/x86_64-linux-gnu/tls", Outcome::Missing),
            (Op::Open, "/lib/x86_64-linux-gnu/libc.so.6", Outcome::Found),
            (Op::Open, "/usr/lib/libssl.so.3", Outcome::Missing),
        ]);
        let v = verdicts(&lacking);
        assert_eq!(v[0].status, Status::Breaks);
        assert!(v[0].why.contains("libssl.so.3"), "{}", v[0].why);
    }

    #[test]
    fn a_program_breaks_when_no_directory_of_the_path_has_it() {
        let shell = trace(&[
            (Op::Exec, "/app", Outcome::Found),
            (Op::Exec, "/usr/local/bin/sh", Outcome::Missing),
            (Op::Exec, "/bin/sh", Outcome::Missing),
        ]);
        let v = verdicts(&shell);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].pitfall, v[0].status),
            (Pitfall::Programs, Status::Breaks)
        );
        assert!(v[0].why.contains("sh"), "{}", v[0].why);
    }

    #[test]
    fn a_file_without_a_rule_is_reported_missing_not_judged() {
        let v = verdicts(&trace(&[(
            Op::Stat,
            "/etc/myapp/config.toml",
            Outcome::Missing,
        )]));
        assert_eq!(
            (v[0].pitfall, v[0].status),
            (Pitfall::Other, Status::Missing)
        );
        assert!(v[0].why.contains("/etc/myapp/config.toml"), "{}", v[0].why);
    }

    #[test]
    fn an_untraced_run_has_no_verdicts() {
        let untraced = Trace {
            lines: vec![TraceLine::Untraceable {
                reason: "refused".into(),
            }],
            unreadable: 0,
        };
        assert!(verdicts(&untraced).is_empty());
    }
}

//! `harness check --dockerfile PATH`: the runtime stage of one variant that copies in
//! exactly the files its check found missing, taken from this machine (each named with the
//! Debian package that ships it), with a build context beside it: the binary as `app` and
//! the files under `check-rootfs/`. Built with `docker build -f PATH DIR`, its image passes
//! the same check.
//!
//! The user database is the exception: this machine's passwd and group name its own users,
//! so a minimal pair naming root and nobody (the user the image runs as) is written instead.

use super::pitfalls::{Pitfall, Status};
use super::VariantCheck;
use std::path::{Path, PathBuf};

/// The context directory holding the copied files.
pub const ROOTFS: &str = "check-rootfs";
/// The CA bundle path every TLS stack probes, preferred over the other names it goes by.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// A file the Dockerfile copies in.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    /// Where the image has it.
    pub path: String,
    /// Where its bytes come from: a file here, or written by the check.
    pub source: Source,
    pub pitfall: Pitfall,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Host { package: Option<String> },
    Written(&'static str),
}

/// The files to copy in for the pitfalls that break in `checked`, and the missing paths no
/// copy can be made of (not on this machine).
pub fn plan(checked: &VariantCheck) -> (Vec<Copied>, Vec<String>) {
    let mut copies = Vec::new();
    let mut absent = Vec::new();
    for verdict in checked
        .pitfalls
        .iter()
        .filter(|v| v.status == Status::Breaks)
    {
        let pitfall = verdict.pitfall;
        // Missing paths in the order the app reached for them.
        let missing: Vec<&str> = checked
            .paths
            .iter()
            .filter(|p| p.pitfall == pitfall && p.outcome != "found")
            .map(|p| p.path.as_str())
            .fold(Vec::new(), |mut acc, p| {
                if !acc.contains(&p) {
                    acc.push(p);
                }
                acc
            });
        let on_host = |p: &&str| Path::new(p).is_file();
        // A database the app lists before it opens a file of it is copied whole.
        let whole_dirs = matches!(pitfall, Pitfall::TimeZone | Pitfall::Locale);
        let on_host_or_dir = |p: &&str| on_host(p) || (whole_dirs && Path::new(p).is_dir());
        let chosen: Vec<&str> = match pitfall {
            Pitfall::UserDatabase => {
                for (path, text) in [("/etc/passwd", PASSWD), ("/etc/group", GROUP)] {
                    copies.push(Copied {
                        path: path.into(),
                        source: Source::Written(text),
                        pitfall,
                    });
                }
                continue;
            }
            // One bundle is enough: the canonical one, else the first the app probed.
            Pitfall::CaCertificates => match missing.contains(&CA_BUNDLE) && on_host(&CA_BUNDLE) {
                true => vec![CA_BUNDLE],
                false => missing.iter().copied().filter(on_host).take(1).collect(),
            },
            // A directory copied covers the paths under it.
            _ => missing.iter().copied().filter(on_host_or_dir).fold(
                Vec::new(),
                |mut kept: Vec<&str>, p| {
                    if !kept.iter().any(|k| p.starts_with(&format!("{k}/"))) {
                        kept.push(p);
                    }
                    kept
                },
            ),
        };
        if chosen.is_empty() {
            absent.extend(missing.iter().map(|p| p.to_string()));
        }
        for path in chosen {
            copies.push(Copied {
                path: path.to_string(),
                source: Source::Host {
                    package: package_of(path),
                },
                pitfall,
            });
        }
    }
    (copies, absent)
}

/// The Debian package that ships `path` (its symlinks resolved), by `dpkg -S`; the CA
/// bundle, which `update-ca-certificates` writes, is `ca-certificates`'.
fn package_of(path: &str) -> Option<String> {
    if path == CA_BUNDLE {
        return Some("ca-certificates".into());
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    for candidate in [real.as_path(), Path::new(path)] {
        let output = std::process::Command::new("dpkg")
            .arg("-S")
            .arg(candidate)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        if output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout);
            if let Some((package, _)) = text.lines().next().and_then(|l| l.split_once(':')) {
                return Some(package.trim().to_string());
            }
        }
    }
    None
}

/// The Dockerfile: `base` (the variant's own, ending `COPY app`, `USER`, `ENTRYPOINT`)
/// with a COPY of every file before its `USER` line.
pub fn render(base: &str, variant: &str, copies: &[Copied], absent: &[String]) -> String {
    let mut lines = vec![
        format!("# The runtime stage of {variant}, written by `harness check --dockerfile`."),
        "# It copies in the files the check found missing, taken from the machine that ran it."
            .into(),
    ];
    for path in absent {
        lines.push(format!(
            "# missing, and not on that machine either: {path} ({})",
            Pitfall::of_path(path).fix()
        ));
    }
    let mut copy_lines = Vec::new();
    for copy in copies {
        let from = match &copy.source {
            Source::Host { package: Some(p) } => format!("from Debian's `{p}`"),
            Source::Host { package: None } => "from that machine".into(),
            Source::Written(_) => "written by the check".into(),
        };
        copy_lines.push(format!("# {}: {from}", copy.pitfall.name()));
        copy_lines.push(format!("COPY {ROOTFS}{} {}", copy.path, copy.path));
    }
    for line in base.lines() {
        if line.starts_with("USER ") {
            lines.append(&mut copy_lines);
        }
        lines.push(line.to_string());
    }
    lines.join("\n") + "\n"
}

/// Copies a file, or a directory with its symbolic links kept as links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if !from.is_dir() {
        return std::fs::copy(from, to).map(|_| ());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            copy_tree(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Writes the Dockerfile at `path` and its context beside it (`app`, `check-rootfs/`).
pub fn write(
    path: &Path,
    base: &str,
    binary: &Path,
    checked: &VariantCheck,
) -> anyhow::Result<Vec<Copied>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (copies, absent) = plan(checked);
    let rootfs = dir.join(ROOTFS);
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    for copy in &copies {
        let target = rootfs.join(copy.path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("under rootfs"))?;
        match &copy.source {
            Source::Host { .. } => copy_tree(Path::new(&copy.path), &target),
            Source::Written(text) => std::fs::write(&target, text),
        }
        .map_err(|e| anyhow::anyhow!("cannot copy {} into {}: {e}", copy.path, rootfs.display()))?;
    }
    std::fs::copy(binary, dir.join("app"))
        .map_err(|e| anyhow::anyhow!("cannot copy the binary into {}: {e}", dir.display()))?;
    let text = render(base, &checked.variant, &copies, &absent);
    crate::results::write_atomically(path, text.as_bytes())?;
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copies_go_in_before_the_user_line() {
        let base = "FROM scratch\nCOPY app /app\nUSER 65534:65534\nENTRYPOINT [\"/app\"]\n";
        let copies = [Copied {
            path: CA_BUNDLE.into(),
            source: Source::Host {
                package: Some("ca-certificates".into()),
            },
            pitfall: Pitfall::CaCertificates,
        }];
        let text = render(base, "musl-system-scratch", &copies, &[]);
        let copy = text
            .find("COPY check-rootfs/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/")
            .unwrap();
        assert!(copy > text.find("COPY app /app").unwrap());
        assert!(copy < text.find("USER 65534").unwrap());
        assert!(text.contains("# CA certificates: from Debian's `ca-certificates`"));
    }
}

//! The security posture of a built image, measured from the image itself: the user it runs
//! as, the shells, regular files, Debian packages and setuid/setgid files in its flattened
//! filesystem.
//!
//! The filesystem comes from a created (never started) container's export, which is the
//! image's layers already merged with whiteouts applied; `docker save` would give the
//! layers unmerged. Docker adds a few per-container files on create (`/.dockerenv`,
//! `/etc/hosts`, …); they are not the image's and are not counted. This module reads
//! images; it does not decide how containers run (see `runtime::docker`).

use crate::build::image::USER;
use crate::results::Posture;
use anyhow::Context;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use bollard::Docker;
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::Read;

/// Files Docker writes into every container on create; not part of the image.
const CONTAINER_INIT_FILES: [&str; 6] = [
    ".dockerenv",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/mtab",
    "dev/console",
];
/// Where a shell would be found on `PATH`.
const SHELL_DIRS: [&str; 5] = ["bin", "usr/bin", "sbin", "usr/sbin", "usr/local/bin"];
/// Programs that give an attacker an interactive shell.
const SHELL_NAMES: [&str; 9] = [
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "rbash", "busybox",
];
/// The dpkg database: one paragraph per package.
const DPKG_STATUS: &str = "var/lib/dpkg/status";

/// What walking a filesystem tar found; `Posture` without the users.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FsFacts {
    pub shells: Vec<String>,
    pub file_count: u64,
    pub package_count: u64,
    pub setuid_files: Vec<String>,
    pub setgid_files: Vec<String>,
}

/// Walks a flattened filesystem tar (a container export) and collects its facts.
pub fn walk(reader: impl Read) -> anyhow::Result<FsFacts> {
    let mut facts = FsFacts::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().context("not a tar stream")? {
        let mut entry = entry.context("a corrupt tar entry")?;
        let path = normalize(&entry.path()?.to_string_lossy());
        if path.is_empty() || CONTAINER_INIT_FILES.contains(&path.as_str()) {
            continue;
        }
        let kind = entry.header().entry_type();
        let is_file = kind.is_file() || kind.is_hard_link();
        if is_file || kind.is_symlink() {
            if let Some((dir, name)) = path.rsplit_once('/') {
                if SHELL_DIRS.contains(&dir) && SHELL_NAMES.contains(&name) {
                    facts.shells.push(format!("/{path}"));
                }
            }
        }
        if !is_file {
            continue;
        }
        facts.file_count += 1;
        let mode = entry.header().mode().unwrap_or(0);
        if mode & 0o4000 != 0 {
            facts.setuid_files.push(format!("/{path}"));
        }
        if mode & 0o2000 != 0 {
            facts.setgid_files.push(format!("/{path}"));
        }
        if path == DPKG_STATUS && kind.is_file() {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .context("cannot read /var/lib/dpkg/status")?;
            facts.package_count = installed_packages(&text);
        }
    }
    for list in [
        &mut facts.shells,
        &mut facts.setuid_files,
        &mut facts.setgid_files,
    ] {
        list.sort();
    }
    Ok(facts)
}

/// Packages dpkg lists as `install ok installed`.
pub fn installed_packages(status: &str) -> u64 {
    status
        .lines()
        .filter(|l| l.trim_end() == "Status: install ok installed")
        .count() as u64
}

/// `./usr/bin/sh`, `/usr/bin/sh/` → `usr/bin/sh`.
fn normalize(path: &str) -> String {
    let p = path.strip_prefix("./").unwrap_or(path);
    p.trim_matches('/').to_string()
}

/// Measures `tag`'s posture: its configured user, and the facts of its filesystem, read
/// through a created container labelled with `labels` (so a sweep finds it if we die) and
/// removed afterwards.
pub async fn measure(
    docker: &Docker,
    tag: &str,
    labels: HashMap<String, String>,
) -> anyhow::Result<Posture> {
    let inspect = docker
        .inspect_image(tag)
        .await
        .with_context(|| format!("cannot inspect {tag}"))?;
    let image_user = inspect.config.and_then(|c| c.user).unwrap_or_default();
    let body = ContainerCreateBody {
        image: Some(tag.to_string()),
        labels: Some(labels),
        network_disabled: Some(true),
        ..Default::default()
    };
    let id = docker
        .create_container(None, body)
        .await
        .with_context(|| format!("cannot create a container of {tag} to read its files"))?
        .id;
    let facts = export_facts(docker, &id).await;
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let removed = docker.remove_container(&id, Some(options)).await;
    let facts = facts.with_context(|| format!("cannot read the filesystem of {tag}"))?;
    removed.with_context(|| format!("cannot remove container {id}"))?;
    Ok(Posture {
        image_user,
        runtime_user: USER.to_string(),
        shells: facts.shells,
        file_count: facts.file_count,
        package_count: facts.package_count,
        setuid_files: facts.setuid_files,
        setgid_files: facts.setgid_files,
    })
}

/// Streams the container's export into `walk` on a blocking thread, chunk by chunk, so a
/// large image is never held in memory whole.
async fn export_facts(docker: &Docker, id: &str) -> anyhow::Result<FsFacts> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    let walker = tokio::task::spawn_blocking(move || {
        walk(ChannelReader {
            rx,
            chunk: Bytes::new(),
        })
    });
    let mut stream = docker.export_container(id);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other);
        let failed = chunk.is_err();
        // The walker stops early only on a corrupt stream; its error says why.
        if tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    walker.await.context("the tar walker panicked")?
}

/// A blocking `Read` over chunks sent from an async stream.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::{EntryType, Header};

    fn add(tar: &mut tar::Builder<Vec<u8>>, path: &str, kind: EntryType, mode: u32, data: &[u8]) {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        if kind.is_symlink() {
            h.set_link_name("dash").unwrap();
        }
        h.set_cksum();
        tar.append_data(&mut h, path, data).unwrap();
    }

    const STATUS: &str = "Package: dash\nStatus: install ok installed\n\n\
        Package: login\nStatus: install ok installed\n\n\
        Package: gone\nStatus: deinstall ok config-files\n";

    fn debian_like() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        add(&mut tar, ".dockerenv", EntryType::Regular, 0o755, b"");
        add(
            &mut tar,
            "etc/hosts",
            EntryType::Regular,
            0o644,
            b"127.0.0.1 x",
        );
        add(&mut tar, "usr/bin/", EntryType::Directory, 0o755, b"");
        add(&mut tar, "usr/bin/dash", EntryType::Regular, 0o755, b"ELF");
        add(&mut tar, "usr/bin/sh", EntryType::Symlink, 0o777, b"");
        add(&mut tar, "usr/bin/su", EntryType::Regular, 0o4755, b"ELF");
        add(
            &mut tar,
            "usr/bin/chage",
            EntryType::Regular,
            0o2755,
            b"ELF",
        );
        add(&mut tar, "usr/share/doc/sh", EntryType::Regular, 0o644, b"");
        add(
            &mut tar,
            "var/lib/dpkg/status",
            EntryType::Regular,
            0o644,
            STATUS.as_bytes(),
        );
        add(&mut tar, "app", EntryType::Regular, 0o755, b"ELF");
        tar.into_inner().unwrap()
    }

    #[test]
    fn walk_finds_shells_packages_and_privileged_files() {
        let facts = walk(&debian_like()[..]).unwrap();
        assert_eq!(facts.shells, ["/usr/bin/dash", "/usr/bin/sh"]);
        assert_eq!(facts.setuid_files, ["/usr/bin/su"]);
        assert_eq!(facts.setgid_files, ["/usr/bin/chage"]);
        assert_eq!(facts.package_count, 2);
        // dash, su, chage, doc/sh, status, app; not the symlink, the directory or Docker's files.
        assert_eq!(facts.file_count, 6);
    }

    #[test]
    fn a_scratch_image_is_one_file_and_nothing_else() {
        let mut tar = tar::Builder::new(Vec::new());
        add(&mut tar, "./app", EntryType::Regular, 0o755, b"ELF");
        add(&mut tar, "etc/resolv.conf", EntryType::Regular, 0o644, b"");
        add(&mut tar, "proc/", EntryType::Directory, 0o755, b"");
        let facts = walk(&tar.into_inner().unwrap()[..]).unwrap();
        assert_eq!(
            facts,
            FsFacts {
                file_count: 1,
                ..FsFacts::default()
            }
        );
    }

    #[test]
    fn a_truncated_stream_is_an_error_not_a_partial_count() {
        let tar = debian_like();
        let cut = &tar[..tar.len() / 2 + 7];
        assert!(walk(cut).is_err());
    }
}

//! Packaging a binary into a variant's image: a generated Dockerfile and an in-memory tar
//! context holding only the binary, built through bollard.
//!
//! Nothing is written to disk: the context is the Dockerfile and the binary, and nothing
//! else can leak into it. This module owns the Dockerfile per base and the variant tag's
//! history: a rebuild that moves the tag away from an older harness image removes that
//! image when nothing else holds it, so rebuilds leave no dangling images. The debian base
//! image itself comes from `base`.

use crate::build::elf::ElfFacts;
use crate::labels;
use crate::matrix::{Base, Variant};
use crate::runtime::retry::{self, Call};
use anyhow::Context;
use bollard::query_parameters::{
    BuildImageOptions, BuildImageOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// The user every image runs as (nobody), as the runtime starts it.
pub use crate::runtime::USER;
/// Where the multiarch libraries live in the debian base (merged /usr).
const LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// A built image.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub tag: String,
    pub id: String,
    pub image_build_s: f64,
    pub image_bytes: u64,
}

/// The Dockerfile for `variant`, given the binary's ELF facts and the debian base tag.
pub fn dockerfile(variant: Variant, elf: &ElfFacts, debian_tag: &str) -> anyhow::Result<String> {
    let tail = format!("COPY app /app\nUSER {USER}\nENTRYPOINT [\"/app\"]\n");
    Ok(match variant.base {
        Base::Scratch => {
            anyhow::ensure!(
                elf.is_static,
                "{variant}: the binary is dynamically linked and cannot run on scratch"
            );
            format!("FROM scratch\n{tail}")
        }
        Base::Debian => format!("FROM {debian_tag}\n{tail}"),
        Base::Distroless => {
            let interpreter = elf
                .interpreter
                .as_deref()
                .context("distroless needs a dynamic binary with an ELF interpreter")?;
            let interpreter_name = Path::new(interpreter)
                .file_name()
                .and_then(|n| n.to_str())
                .context("bad interpreter path")?;
            let mut out = format!("FROM {debian_tag} AS libs\nFROM scratch\n");
            out += &format!("COPY --from=libs {LIB_DIR}/{interpreter_name} {interpreter}\n");
            for lib in &elf.needed {
                out += &format!("COPY --from=libs {LIB_DIR}/{lib} /lib/x86_64-linux-gnu/{lib}\n");
            }
            out + &tail
        }
    })
}

/// The build context: the Dockerfile and the binary as `app`, nothing else.
pub fn context_tar(dockerfile: &str, binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("app", binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    Ok(tar.into_inner()?)
}

/// Builds `tag` from a Dockerfile and binary, labelled with `labels`.
pub async fn build(
    docker: &Docker,
    tag: &str,
    dockerfile: &str,
    binary: &[u8],
    labels: std::collections::HashMap<String, String>,
) -> anyhow::Result<BuiltImage> {
    build_with(docker, tag, dockerfile, binary, labels, false).await
}

/// `build`, with the daemon's layer cache left unused when `nocache`.
pub async fn build_with(
    docker: &Docker,
    tag: &str,
    dockerfile: &str,
    binary: &[u8],
    labels: std::collections::HashMap<String, String>,
    nocache: bool,
) -> anyhow::Result<BuiltImage> {
    let context = context_tar(&labelled(dockerfile, &labels), binary)?;
    let previous = harness_image_at(docker, tag).await;
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .nocache(nocache)
        .build();
    let context = bytes::Bytes::from(context);
    let start = Instant::now();
    // A connection lost mid-build is the daemon's fault, not the image's: the whole build
    // is tried again (it is idempotent), and a daemon that stays away ends the run.
    let built = retry::run_call(format!("build {tag}"), Call::Write, || {
        stream_build(docker, options.clone(), context.clone())
    })
    .await?;
    if let Some(e) = built.failed {
        anyhow::bail!("image build of {tag} failed: {e}{}", last_lines(&built.log));
    }
    let image_build_s = start.elapsed().as_secs_f64();
    let inspect = retry::run_call("inspect an image", Call::Read, || docker.inspect_image(tag))
        .await
        .with_context(|| format!("built {tag} but cannot inspect it"))?;
    if let Some(old) = previous.filter(|old| Some(old) != inspect.id.as_ref()) {
        remove_if_dangling(docker, &old).await;
    }
    Ok(BuiltImage {
        tag: tag.to_string(),
        id: inspect.id.unwrap_or_default(),
        image_build_s,
        image_bytes: inspect.size.unwrap_or(0).max(0) as u64,
    })
}

/// What one try of an image build printed, and the daemon's verdict when the build failed.
struct BuildOutput {
    log: Vec<String>,
    failed: Option<bollard::errors::Error>,
}

/// Sends the context and reads the build's output to its end. `Err` only for a connection
/// fault worth another try; a step that fails, or a build that times out, is the daemon's
/// verdict (in `failed`, with the log so far).
async fn stream_build(
    docker: &Docker,
    options: BuildImageOptions,
    context: bytes::Bytes,
) -> Result<BuildOutput, bollard::errors::Error> {
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context)));
    let mut log = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => log.extend(info.stream),
            Err(e)
                if retry::is_transient(&e, Call::Write)
                    && !matches!(e, bollard::errors::Error::RequestTimeoutError) =>
            {
                return Err(e)
            }
            Err(e) => {
                return Ok(BuildOutput {
                    log,
                    failed: Some(e),
                })
            }
        }
    }
    Ok(BuildOutput { log, failed: None })
}

/// Checks that `tag` holds the binary with digest `expected` (its `binary-sha256` label):
/// an image rebuilt by another run since must not be measured in this one's place.
pub async fn check_binary(
    docker: &Docker,
    tag: &str,
    variant: Variant,
    expected: &str,
) -> anyhow::Result<()> {
    let inspect = docker
        .inspect_image(tag)
        .await
        .with_context(|| format!("cannot inspect {tag}"))?;
    let found = inspect
        .config
        .and_then(|c| c.labels)
        .and_then(|mut l| l.remove(labels::BINARY_SHA256))
        .unwrap_or_else(|| "(none)".into());
    anyhow::ensure!(
        found == expected,
        "the image {tag} of {variant} holds the binary with sha256 {found}, not this run's {expected} (another run rebuilt it; run again)"
    );
    Ok(())
}

/// Labels for a variant image.
pub fn variant_labels(
    app: &str,
    variant: Variant,
    run_id: &str,
) -> std::collections::HashMap<String, String> {
    labels::with_tool(&[
        (labels::ROLE, "variant"),
        (labels::APP, app),
        (labels::VARIANT, &variant.name()),
        (labels::RUN_ID, run_id),
    ])
}

/// `dockerfile` with one `LABEL` line of all `labels` right after its last `FROM`.
///
/// Not the build's `labels` option: the classic builder applies those as one step per label
/// after the last instruction, so a build cut short (Ctrl-C, a signal) leaves a dangling
/// image with some of them or none, which no label filter finds. Here every layer of the
/// final stage carries them all, so whatever an interrupted build leaves is found by its
/// run id and namespace like any finished image.
pub fn labelled(dockerfile: &str, labels: &HashMap<String, String>) -> String {
    if labels.is_empty() {
        return dockerfile.to_string();
    }
    let quote = |s: &str| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
            .replace('\n', " ");
        format!("\"{escaped}\"")
    };
    let mut pairs: Vec<(&String, &String)> = labels.iter().collect();
    pairs.sort();
    let line: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    let label = format!("LABEL {}\n", line.join(" "));
    let mut lines: Vec<&str> = dockerfile.split_inclusive('\n').collect();
    let after_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .map_or(0, |i| i + 1);
    lines.insert(after_from, &label);
    lines.concat()
}

/// The id of the image `tag` names now, if its labels prove the harness made it.
async fn harness_image_at(docker: &Docker, tag: &str) -> Option<String> {
    let image = docker.inspect_image(tag).await.ok()?;
    let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    let ours = labels.get(labels::TOOL).map(String::as_str) == Some(labels::TOOL_VALUE);
    ours.then_some(image.id).flatten()
}

/// Removes the image `id` if no tag names it any more. Docker itself refuses (409) while a
/// container uses it, and nothing is forced: such an image stays for `harness clean`.
/// Best effort: a rebuild never fails over its predecessor.
async fn remove_if_dangling(docker: &Docker, id: &str) {
    let Ok(image) = docker.inspect_image(id).await else {
        return;
    };
    let tagged = image
        .repo_tags
        .unwrap_or_default()
        .iter()
        .any(|t| t != "<none>:<none>");
    if !tagged {
        let options = RemoveImageOptionsBuilder::default().force(false).build();
        let _ = docker.remove_image(id, Some(options), None).await;
    }
}

fn last_lines(log: &[String]) -> String {
    let tail: Vec<&str> = log
        .iter()
        .rev()
        .take(3)
        .map(|s| s.trim())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (build log: {})", tail.join(" | "))
    }
}

/// Removes image `tag` if the run `run_id` built it (its run label says so): another
/// run's image of the same tag, or a user's, is left alone.
pub async fn remove_if_built_by(docker: &Docker, tag: &str, run_id: &str) {
    let Ok(inspect) = docker.inspect_image(tag).await else {
        return;
    };
    let ours = inspect
        .config
        .and_then(|c| c.labels)
        .is_some_and(|l| l.get(crate::labels::RUN_ID).map(String::as_str) == Some(run_id));
    if ours {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default()
            .force(true)
            .build();
        let _ = docker.remove_image(tag, Some(options), None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic() -> ElfFacts {
        ElfFacts {
            bytes: 1,
            is_static: false,
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".into()),
            needed: vec!["libgcc_s.so.1".into(), "libc.so.6".into()],
        }
    }

    #[test]
    fn distroless_copies_exactly_the_loader_and_needed_libraries() {
        let v: Variant = "glibc-system-distroless".parse().unwrap();
        let df = dockerfile(v, &dynamic(), "base:1").unwrap();
        assert!(df.contains("COPY --from=libs /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2"));
        assert!(df.contains(
            "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /lib/x86_64-linux-gnu/libgcc_s.so.1"
        ));
        assert_eq!(df.matches("COPY --from=libs").count(), 3);
        assert!(df.contains("USER 65534:65534"));
    }

    #[test]
    fn labels_follow_the_last_from_and_are_quoted() {
        let v: Variant = "glibc-system-distroless".parse().unwrap();
        let df = dockerfile(v, &dynamic(), "base:1").unwrap();
        let labels = HashMap::from([
            ("b.key".to_string(), "say \"hi\" $HOME".to_string()),
            ("a.key".to_string(), "plain".to_string()),
        ]);
        let out = labelled(&df, &labels);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "FROM scratch");
        assert_eq!(
            lines[2],
            r#"LABEL "a.key"="plain" "b.key"="say \"hi\" \$HOME""#
        );
        assert_eq!(out.replace(&format!("{}\n", lines[2]), ""), df);
        assert_eq!(labelled(&df, &HashMap::new()), df);
    }

    #[test]
    fn scratch_refuses_a_dynamic_binary() {
        let v: Variant = "musl-system-scratch".parse().unwrap();
        assert!(dockerfile(v, &dynamic(), "b").is_err());
    }

    #[test]
    fn context_holds_only_the_dockerfile_and_the_binary() {
        let tar = context_tar("FROM scratch\n", b"\x7fELF").unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "app"]);
    }
}

//! The "Security posture" table: per variant, what an attacker who got code execution in the
//! container would find, as measured from the image when it was built (see
//! `build::posture`). Variants whose results predate the measurement are left out.

use super::doc::Table;
use crate::results::{Posture, RunResults};

/// The table, or `None` when no variant of the run has a measured posture.
pub fn table(results: &RunResults) -> Option<Table> {
    let mut t = Table::new([
        "variant",
        "runs as",
        "shell",
        "files",
        "packages",
        "setuid/setgid files",
    ]);
    for v in &results.variants {
        let Some(p) = posture_of(v) else { continue };
        t.row([
            v.variant.name(),
            runs_as(p),
            list_or(&p.shells, "none"),
            p.file_count.to_string(),
            p.package_count.to_string(),
            setuid_cell(p),
        ]);
    }
    (!t.rows.is_empty()).then(|| {
        t.note(
            "Measured from each built image's flattened filesystem. \"runs as\": the image's USER, \
             and the uid:gid the docker runtime forces; containers also run with a read-only root \
             filesystem, all capabilities dropped, no-new-privileges and a pids limit. \
             Files: regular files; packages: dpkg's installed packages.",
        )
    })
}

fn posture_of(v: &crate::results::VariantResult) -> Option<&Posture> {
    v.build.as_ref()?.image.as_ref()?.posture.as_ref()
}

fn runs_as(p: &Posture) -> String {
    let image = if p.image_user.is_empty() {
        "root (no USER)"
    } else {
        &p.image_user
    };
    if image == p.runtime_user {
        format!("`{image}`")
    } else {
        format!("image `{image}`, forced to `{}`", p.runtime_user)
    }
}

fn setuid_cell(p: &Posture) -> String {
    let mut all: Vec<String> = p.setuid_files.iter().map(|f| format!("{f} (u)")).collect();
    all.extend(p.setgid_files.iter().map(|f| format!("{f} (g)")));
    list_or(&all, "none")
}

fn list_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

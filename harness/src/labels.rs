//! The labels and names that mark what the harness created, so it can find and remove
//! exactly that and never anything else.
//!
//! Everything the harness makes also carries its image namespace (`glibc-vs-musl` unless
//! `GLIBC_VS_MUSL_IMAGE_NAMESPACE` names another): variant tags live under it, and cleanup
//! and rebuilds act only inside it, so a test suite in a namespace of its own never moves or
//! removes a user's `glibc-vs-musl/<app>:<variant>`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Every image and container the harness creates carries this label with value `harness`.
pub const TOOL: &str = "dev.glibc-vs-musl.tool";
pub const TOOL_VALUE: &str = "harness";
/// `base`, `variant` or `test`.
pub const ROLE: &str = "dev.glibc-vs-musl.role";
pub const APP: &str = "dev.glibc-vs-musl.app";
pub const VARIANT: &str = "dev.glibc-vs-musl.variant";
pub const RUN_ID: &str = "dev.glibc-vs-musl.run-id";
pub const PROVENANCE: &str = "dev.glibc-vs-musl.provenance";
/// On variant images: the SHA-256 of the binary inside, as built.
pub const BINARY_SHA256: &str = "dev.glibc-vs-musl.binary-sha256";
/// On containers: the process that created them (see `owner`).
pub const OWNER: &str = "dev.glibc-vs-musl.owner";
/// The image namespace the creator worked in (see `image_namespace`).
pub const NAMESPACE: &str = "dev.glibc-vs-musl.namespace";

/// The default repository namespace of the variant tags, and the one shared images (the
/// debian base) always use.
pub const IMAGE_NAMESPACE: &str = "glibc-vs-musl";
/// The environment variable that moves variant tags, and what cleanup may touch, to
/// another namespace (the integration tests set one per test process).
pub const NAMESPACE_ENV: &str = "GLIBC_VS_MUSL_IMAGE_NAMESPACE";

/// The image namespace of this process: `GLIBC_VS_MUSL_IMAGE_NAMESPACE` when set and
/// non-empty, else `glibc-vs-musl`. Read once; `check_namespace` says whether Docker will
/// accept it.
pub fn image_namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var(NAMESPACE_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| IMAGE_NAMESPACE.to_string())
    })
}

/// An error line when the namespace is not a Docker repository path (lowercase letters and
/// digits, separated by single `.`, `_`, `-` or `/`, at most 128 characters).
pub fn check_namespace() -> Result<(), String> {
    let namespace = image_namespace();
    if is_repository_path(namespace) {
        Ok(())
    } else {
        Err(format!(
            "{NAMESPACE_ENV}={namespace:?} is not a Docker repository name: expected lowercase letters and digits separated by `.`, `_`, `-` or `/` (at most 128 characters), e.g. `{IMAGE_NAMESPACE}-dev`"
        ))
    }
}

fn is_repository_path(name: &str) -> bool {
    let separator = |c: char| matches!(c, '.' | '_' | '-' | '/');
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = name.chars().collect();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes.iter().all(|&c| alnum(c) || separator(c))
        && alnum(bytes[0])
        && alnum(bytes[bytes.len() - 1])
        && bytes
            .windows(2)
            .all(|w| !(separator(w[0]) && separator(w[1])))
}

/// Whether something with these labels belongs to this process's namespace: its namespace
/// label names it, or it has none (made before namespaces existed) and this is the default.
pub fn in_namespace(labels: &HashMap<String, String>) -> bool {
    match labels.get(NAMESPACE) {
        Some(namespace) => namespace == image_namespace(),
        None => image_namespace() == IMAGE_NAMESPACE,
    }
}

/// The tool and namespace labels plus the given pairs. The shared base gets no namespace:
/// every image built `FROM` it inherits its labels, and would claim the base builder's.
pub fn with_tool(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.insert(TOOL.into(), TOOL_VALUE.into());
    if labels.get(ROLE).map(String::as_str) != Some("base") {
        labels.insert(NAMESPACE.into(), image_namespace().into());
    }
    labels
}

/// A Docker filter selecting what the harness created (optionally one run's), in every
/// namespace: callers keep what `in_namespace` accepts.
pub fn filter(run_id: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut labels = vec![format!("{TOOL}={TOOL_VALUE}")];
    if let Some(id) = run_id {
        labels.push(format!("{RUN_ID}={id}"));
    }
    HashMap::from([("label".to_string(), labels)])
}

/// The image tag of an app's variant: `glibc-vs-musl/http:musl-system-scratch` (under the
/// process's namespace, see `image_namespace`).
pub fn variant_tag(app: &str, variant: &str) -> String {
    format!("{}/{app}:{variant}", image_namespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_are_what_docker_accepts() {
        for good in ["glibc-vs-musl", "glibc-vs-musl-test-4242", "a/b.c_d", "x1"] {
            assert!(is_repository_path(good), "{good}");
        }
        for bad in [
            "",
            "Upper",
            "a--/b",
            "-a",
            "a-",
            "a b",
            "a:b",
            &"a".repeat(129),
        ] {
            assert!(!is_repository_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_this_namespace_and_unlabelled_ones_in_the_default_are_ours() {
        let here = image_namespace();
        let labelled = |ns: &str| HashMap::from([(NAMESPACE.to_string(), ns.to_string())]);
        assert!(in_namespace(&labelled(here)));
        assert!(!in_namespace(&labelled("glibc-vs-musl-test-1")));
        assert_eq!(in_namespace(&HashMap::new()), here == IMAGE_NAMESPACE);
        assert_eq!(
            with_tool(&[]).get(NAMESPACE).map(String::as_str),
            Some(here)
        );
        assert!(variant_tag("http", "musl-system-scratch").starts_with(&format!("{here}/http:")));
    }
}

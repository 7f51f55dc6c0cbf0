//! The labels and names that mark what the harness created, so it can find and remove
//! exactly that and never anything else.

use std::collections::HashMap;

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

/// The repository namespace of every image tag the harness creates.
pub const IMAGE_NAMESPACE: &str = "glibc-vs-musl";

/// The tool label plus the given pairs.
pub fn with_tool(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.insert(TOOL.into(), TOOL_VALUE.into());
    labels
}

/// A Docker filter selecting what the harness created (optionally one run's).
pub fn filter(run_id: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut labels = vec![format!("{TOOL}={TOOL_VALUE}")];
    if let Some(id) = run_id {
        labels.push(format!("{RUN_ID}={id}"));
    }
    HashMap::from([("label".to_string(), labels)])
}

/// The image tag of an app's variant: `glibc-vs-musl/http:musl-system-scratch`.
pub fn variant_tag(app: &str, variant: &str) -> String {
    format!("{IMAGE_NAMESPACE}/{app}:{variant}")
}

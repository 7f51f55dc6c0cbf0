//! The variant matrix: link × allocator × base image, their names, and which are valid.
//!
//! A variant is always spelled `link-allocator-base` (`musl-mimalloc-scratch`). This module
//! owns naming, parsing, validity and the default set; it knows nothing of how a variant is
//! built or run.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How the binary links its C library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// x86_64-unknown-linux-gnu, dynamically linked against glibc.
    Glibc,
    /// x86_64-unknown-linux-gnu with `-C target-feature=+crt-static`.
    GlibcStatic,
    /// x86_64-unknown-linux-musl, static.
    Musl,
}

/// Which malloc the binary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocator {
    /// The libc's own malloc.
    System,
    Mimalloc,
    Jemalloc,
}

/// Where a variant's allocator comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AllocatorSource {
    /// The crate's own cargo feature of that name (`--features mimalloc`).
    Feature,
    /// Linked into the final binary from the allocator's C library, the crate unchanged: its
    /// `malloc` and `free` replace the libc's.
    Injected,
}

/// The image the binary is packaged into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// Nothing but the binary.
    Scratch,
    /// debian:bookworm-slim.
    Debian,
    /// Scratch plus exactly the loader and shared libraries the binary needs, from the debian base.
    Distroless,
}

impl Link {
    pub const ALL: [Link; 3] = [Link::Glibc, Link::GlibcStatic, Link::Musl];

    pub fn name(self) -> &'static str {
        match self {
            Link::Glibc => "glibc",
            Link::GlibcStatic => "glibc-static",
            Link::Musl => "musl",
        }
    }

    pub fn target(self) -> &'static str {
        match self {
            Link::Glibc | Link::GlibcStatic => "x86_64-unknown-linux-gnu",
            Link::Musl => "x86_64-unknown-linux-musl",
        }
    }

    /// Extra RUSTFLAGS this link needs (on top of none).
    pub fn rustflags(self) -> &'static str {
        match self {
            Link::GlibcStatic => "-C target-feature=+crt-static",
            Link::Glibc | Link::Musl => "",
        }
    }

    pub fn is_static(self) -> bool {
        !matches!(self, Link::Glibc)
    }
}

impl Allocator {
    pub const ALL: [Allocator; 3] = [Allocator::System, Allocator::Mimalloc, Allocator::Jemalloc];

    pub fn name(self) -> &'static str {
        match self {
            Allocator::System => "system",
            Allocator::Mimalloc => "mimalloc",
            Allocator::Jemalloc => "jemalloc",
        }
    }

    /// The cargo feature that selects it, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Allocator::System => None,
            other => Some(other.name()),
        }
    }
}

impl AllocatorSource {
    pub fn name(self) -> &'static str {
        match self {
            AllocatorSource::Feature => "feature",
            AllocatorSource::Injected => "injected",
        }
    }
}

impl Base {
    pub const ALL: [Base; 3] = [Base::Scratch, Base::Debian, Base::Distroless];

    pub fn name(self) -> &'static str {
        match self {
            Base::Scratch => "scratch",
            Base::Debian => "debian",
            Base::Distroless => "distroless",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Variant {
    pub link: Link,
    pub allocator: Allocator,
    pub base: Base,
}

/// The variants a run takes when `--variants` is not given.
pub const DEFAULT_SET: [&str; 6] = [
    "glibc-system-debian",
    "glibc-system-distroless",
    "glibc-static-system-scratch",
    "musl-system-scratch",
    "musl-system-debian",
    "musl-mimalloc-scratch",
];

/// The variant every other is compared against.
pub const BASELINE: &str = "glibc-system-debian";

/// Which variants a selection without `--variants` means: `--matrix default|full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixChoice {
    /// The default set.
    Default,
    /// Every valid variant.
    Full,
}

impl std::str::FromStr for MatrixChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(MatrixChoice::Default),
            "full" => Ok(MatrixChoice::Full),
            other => Err(format!(
                "unknown --matrix {other:?}: expected `default` or `full`"
            )),
        }
    }
}

impl Variant {
    pub fn new(link: Link, allocator: Allocator, base: Base) -> Self {
        Self {
            link,
            allocator,
            base,
        }
    }

    /// Every combination, valid or not, in a stable order.
    pub fn all() -> Vec<Variant> {
        let mut out = Vec::new();
        for link in Link::ALL {
            for allocator in Allocator::ALL {
                for base in Base::ALL {
                    out.push(Variant::new(link, allocator, base));
                }
            }
        }
        out
    }

    /// Every variant that can run.
    pub fn all_valid() -> Vec<Variant> {
        Variant::all()
            .into_iter()
            .filter(|v| v.invalid_reason().is_none())
            .collect()
    }

    pub fn default_set() -> Vec<Variant> {
        DEFAULT_SET
            .iter()
            .map(|name| name.parse().expect("default names are valid"))
            .collect()
    }

    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Why this variant cannot run, or `None` if it can.
    pub fn invalid_reason(&self) -> Option<&'static str> {
        match (self.link, self.base) {
            (Link::Glibc, Base::Scratch) => Some(
                "a dynamically linked glibc binary cannot start on bare scratch: it has no loader or libc.so (use distroless or glibc-static)",
            ),
            (link, Base::Distroless) if link.is_static() => Some(
                "a static binary needs no shared libraries, so distroless is identical to scratch (use scratch)",
            ),
            _ => None,
        }
    }

    pub fn is_default(&self) -> bool {
        DEFAULT_SET.contains(&self.name().as_str())
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.link.name(),
            self.allocator.name(),
            self.base.name()
        )
    }
}

/// A name that is not a variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant {0:?}: expected LINK-ALLOCATOR-BASE with LINK glibc|glibc-static|musl, ALLOCATOR system|mimalloc|jemalloc, BASE scratch|debian|distroless (see `harness variants`)")]
pub struct UnknownVariant(pub String);

impl std::str::FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::all()
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_string()))
    }
}

impl Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl schemars::JsonSchema for Variant {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Variant".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<String> = Variant::all().iter().map(Variant::name).collect();
        schemars::json_schema!({
            "type": "string",
            "description": "A variant name, LINK-ALLOCATOR-BASE",
            "enum": names,
        })
    }
}

impl<'de> Deserialize<'de> for Variant {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let all = Variant::all();
        assert_eq!(all.len(), 27);
        for v in &all {
            assert_eq!(v.name().parse::<Variant>().unwrap(), *v);
        }
        let mut names: Vec<_> = all.iter().map(Variant::name).collect();
        names.dedup();
        assert_eq!(names.len(), 27);
    }

    #[test]
    fn glibc_static_parses_despite_the_extra_dash() {
        let v: Variant = "glibc-static-jemalloc-scratch".parse().unwrap();
        assert_eq!(
            v,
            Variant::new(Link::GlibcStatic, Allocator::Jemalloc, Base::Scratch)
        );
    }

    #[test]
    fn dynamic_glibc_on_scratch_is_invalid_with_a_reason() {
        let v: Variant = "glibc-system-scratch".parse().unwrap();
        assert!(v
            .invalid_reason()
            .unwrap()
            .contains("cannot start on bare scratch"));
        assert!(!Variant::all_valid().contains(&v));
        assert!("musl-system-distroless"
            .parse::<Variant>()
            .unwrap()
            .invalid_reason()
            .is_some());
        assert_eq!(Variant::all_valid().len(), 27 - 3 - 6);
    }

    #[test]
    fn default_set_is_valid_and_has_the_baseline() {
        let set = Variant::default_set();
        assert_eq!(set.len(), 6);
        assert!(set
            .iter()
            .all(|v| v.invalid_reason().is_none() && v.is_default()));
        assert!(set.iter().any(|v| v.name() == BASELINE));
    }

    #[test]
    fn unknown_names_are_rejected_with_the_accepted_forms() {
        let err = "musl-tcmalloc-scratch".parse::<Variant>().unwrap_err();
        assert!(err.to_string().contains("mimalloc"));
        assert!("".parse::<Variant>().is_err());
    }
}

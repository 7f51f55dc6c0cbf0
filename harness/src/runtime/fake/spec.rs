//! The fake backend chosen from outside the process: `GLIBC_VS_MUSL_FAKE_BACKEND` set (to
//! scripts, or empty) makes `harness run` build nothing, touch no daemon and run every
//! instance on `FakeRuntime`, so CLI tests of planning, failure handling, interrupts,
//! partial results, exit codes and printed lines run the real binary in milliseconds.
//! Hidden: it is for the project's tests, never a way to measure.
//!
//! The value is `;`-separated items: `hang-from=N` (from the Nth start on, jobs never
//! exit), `journal=PATH` (every start, removal and sweep appended to PATH, a line each, so
//! a test can check from outside that nothing was left), and `VARIANT=KEY:VALUE,…` with
//! `start-error:MESSAGE`, `dies-after-checks:N`, `exit:CODE`, `stdout:TEXT` (`\n` for a
//! newline) and `serves:N` (answers N requests, then dies; `serves:never`: runs, never
//! answers). `VARIANT@RUNTIME=…` scripts the starts of that variant's runtime arm under
//! RUNTIME (`--oci-runtime A,RUNTIME`). `*` scripts every variant that
//! has no script of its own; unscripted servers answer every request.

use super::{FakeRuntime, Script};
use crate::matrix::Variant;
use std::path::PathBuf;

/// The environment variable that selects the fake backend.
pub const BACKEND_ENV: &str = "GLIBC_VS_MUSL_FAKE_BACKEND";

/// The fake backend's scripts when `BACKEND_ENV` is set; `server`: the app is a server, so
/// an unscripted instance answers HTTP. A malformed value is a usage error naming the item.
pub fn from_env(server: bool) -> Result<Option<FakeRuntime>, String> {
    match std::env::var(BACKEND_ENV) {
        Ok(spec) => parse(&spec, server).map(Some),
        Err(_) => Ok(None),
    }
}

/// Whether `BACKEND_ENV` is set.
pub fn selected() -> bool {
    std::env::var_os(BACKEND_ENV).is_some()
}

/// `spec` as a fake runtime (see the module's documentation for the form).
pub fn parse(spec: &str, server: bool) -> Result<FakeRuntime, String> {
    let fallback = Script {
        serves_requests: server.then_some(u64::MAX),
        ..Script::default()
    };
    let mut fake = FakeRuntime::default().with_default(fallback.clone());
    for item in spec.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = |why: &str| format!("{BACKEND_ENV}: {item:?}: {why}");
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE"))?;
        match key {
            "hang-from" => fake = fake.hang_from(value.parse().map_err(|_| bad("not a count"))?),
            "journal" => fake = fake.journal(PathBuf::from(value)),
            "*" => fake = fake.with_default(script(value, fallback.clone()).map_err(|e| bad(&e))?),
            name => {
                let (name, runtime) = match name.split_once('@') {
                    Some((name, runtime)) => (name, Some(runtime)),
                    None => (name, None),
                };
                let variant: Variant = name
                    .parse()
                    .map_err(|e: crate::matrix::UnknownVariant| bad(&e.to_string()))?;
                let script = script(value, fallback.clone()).map_err(|e| bad(&e))?;
                fake = match runtime {
                    Some(runtime) => fake.runtime_script(variant, runtime, script),
                    None => fake.script(variant, script),
                };
            }
        }
    }
    Ok(fake)
}

/// One variant's `KEY:VALUE,…` on top of `script`.
fn script(fields: &str, mut script: Script) -> Result<Script, String> {
    for field in fields.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field
            .split_once(':')
            .ok_or_else(|| format!("{field:?}: expected KEY:VALUE"))?;
        let count = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{key}: {value:?} is not a count"))
        };
        match key {
            "start-error" => script.start_error = Some(value.to_string()),
            "dies-after-checks" => script.dies_after_checks = Some(count()? as u32),
            "exit" => {
                script.exit_code = value
                    .parse()
                    .map_err(|_| format!("exit: {value:?} is not a status"))?
            }
            "stdout" => script.stdout = value.replace("\\n", "\n"),
            "serves" if value == "never" => script.serves_requests = None,
            "serves" => script.serves_requests = Some(count()?),
            other => return Err(format!("unknown key {other:?}")),
        }
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_per_variant_and_by_default() {
        let musl: Variant = "musl-system-scratch".parse().unwrap();
        let glibc: Variant = "glibc-system-debian".parse().unwrap();
        let fake = parse(
            "musl-system-scratch=serves:3,exit:2;*=stdout:a\\nb;hang-from=4",
            true,
        )
        .unwrap();
        let own = fake.script_of(musl);
        assert_eq!((own.serves_requests, own.exit_code), (Some(3), 2));
        let other = fake.script_of(glibc);
        assert_eq!(other.stdout, "a\nb");
        assert_eq!(
            other.serves_requests,
            Some(u64::MAX),
            "a server answers by default"
        );
        assert_eq!(
            parse("", false).unwrap().script_of(glibc).serves_requests,
            None
        );
    }

    #[test]
    fn a_malformed_item_is_named() {
        for (spec, expected) in [
            ("musl-system-scratch", "expected KEY=VALUE"),
            ("no-such-variant=exit:1", "no-such-variant"),
            ("musl-system-scratch=serves:many", "not a count"),
            ("musl-system-scratch=colour:red", "unknown key"),
        ] {
            let error = parse(spec, true).err().expect(spec);
            assert!(
                error.contains(BACKEND_ENV) && error.contains(expected),
                "{error}"
            );
        }
    }
}

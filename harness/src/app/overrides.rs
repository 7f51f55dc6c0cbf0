//! `--set KEY=VALUE`: harness-table fields given on the command line, as a TOML table to lay
//! over the crate's own.
//!
//! VALUE is TOML (`201`, `["--x"]`, `{ ADDR = "127.0.0.1:{port}" }`), or else a plain string
//! (`ready_path=/healthz`). A VALUE in quotes that is not valid TOML is an error, not a string
//! with the quotes in it: `"\(([0-9.]+) MB/s\)"` has escapes TOML refuses, and taking it
//! verbatim would make a regex that silently matches nothing. This module parses the flags;
//! the table's fields are checked in `metadata`.

/// The `--set` flags as one table.
pub fn overrides(sets: &[String]) -> Result<toml::Table, String> {
    let mut table = toml::Table::new();
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(format!(
                "--set {set:?}: expected KEY=VALUE, a field of [package.metadata.harness] such as ready_path=/healthz"
            ));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "--set {set:?}: {key:?} is not a field name of [package.metadata.harness]"
            ));
        }
        table.insert(key.to_string(), value_of(key, value.trim())?);
    }
    Ok(table)
}

/// One VALUE: TOML, or a plain string unless it is quoted.
fn value_of(key: &str, value: &str) -> Result<toml::Value, String> {
    let error = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut parsed) => {
            if let Some(v) = parsed.remove("v").filter(|_| parsed.is_empty()) {
                return Ok(v);
            }
            None
        }
        Err(e) => Some(e.message().trim().to_string()),
    };
    let quoted = value.len() >= 2
        && [('"', '"'), ('\'', '\'')]
            .iter()
            .any(|&(a, b)| value.starts_with(a) && value.ends_with(b));
    if !quoted {
        return Ok(toml::Value::String(value.to_string()));
    }
    let inner = &value[1..value.len() - 1];
    let literal = match inner.contains('\'') {
        false => format!("'{inner}'"),
        true => format!("'''{inner}'''"),
    };
    Err(format!(
        "--set {key}={value}: not a valid TOML string ({}); to keep backslashes as they are, write a literal string in single quotes: {key}={literal} (in a shell: --set \"{key}={literal}\")",
        error.unwrap_or_else(|| "more than one value".into())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(set: &str) -> Result<toml::Value, String> {
        overrides(&[set.to_string()]).map(|t| t.into_iter().next().unwrap().1)
    }

    #[test]
    fn values_are_toml_or_plain_strings() {
        assert_eq!(one("expect=201").unwrap(), toml::Value::Integer(201));
        assert_eq!(
            one("ready_path=/healthz").unwrap(),
            toml::Value::String("/healthz".into())
        );
        let env = one(r#"env={ADDR="127.0.0.1:{port}"}"#).unwrap();
        assert_eq!(env["ADDR"].as_str(), Some("127.0.0.1:{port}"));
        assert_eq!(
            one(r"throughput_regex='\(([0-9.]+) MB/s\)'").unwrap(),
            toml::Value::String(r"\(([0-9.]+) MB/s\)".into())
        );
    }

    #[test]
    fn a_quoted_value_toml_refuses_is_an_error_suggesting_a_literal_string() {
        let e = one(r#"throughput_regex="\(([0-9.]+) MB/s\)""#).unwrap_err();
        assert!(e.contains("not a valid TOML string ("), "{e}");
        assert!(e.contains("escape"), "TOML's own message: {e}");
        assert!(
            e.contains(r"throughput_regex='\(([0-9.]+) MB/s\)'"),
            "suggests the literal string: {e}"
        );
        let e = one(r#"x="it's \d""#).unwrap_err();
        assert!(e.contains(r"x='''it's \d'''"), "{e}");
        assert!(one("x=a=b").is_ok(), "unquoted: a plain string");
        assert!(one("no-equals").is_err());
        assert!(one("bad key=1").is_err());
    }
}

//! How a server is told where to listen: arguments and environment with `{port}` and `{addr}`
//! filled in per start, or a fixed port it binds on its own.
//!
//! The table's `env`, `args` and `port` fields are the general form; `port_env`, `addr_flag`
//! and `port_flag` are shorthands for the usual cases, and a table that passes the port no
//! way at all means `PORT={port}`. This module turns those fields into a `Launch` and fills
//! it in; it does not start anything.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

/// The placeholders a server's `args` and `env` may hold.
pub const SERVER_PLACEHOLDERS: [&str; 2] = ["{port}", "{addr}"];
/// The placeholders a batch job's `args` may hold.
pub const BATCH_PLACEHOLDERS: [&str; 2] = ["{threads}", "{dataset_mb}"];

/// How to start a server so that it listens where the harness probes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// The port it binds on its own (`port = N`); `None`: the harness picks a free one.
    pub fixed_port: Option<u16>,
    /// Its arguments, placeholders unfilled.
    pub args: Vec<String>,
    /// Its environment, placeholders unfilled.
    pub env: Vec<(String, String)>,
}

/// The launch fields of the table, as written.
#[derive(Debug, Default)]
pub struct LaunchFields<'a> {
    pub port: Option<i64>,
    pub env: Option<&'a BTreeMap<String, String>>,
    pub args: Option<&'a [String]>,
    pub port_env: Option<&'a str>,
    pub addr_flag: Option<&'a str>,
    pub port_flag: Option<&'a str>,
}

impl Launch {
    /// Checks the fields and applies the shorthands: `port_env = "P"` is `env = { P =
    /// "{port}" }`, `addr_flag = "--f"` appends `["--f", "{addr}"]` to `args`, `port_flag`
    /// likewise with `{port}`.
    pub fn from_fields(fields: &LaunchFields) -> Result<Launch, String> {
        let shorthands = [
            fields.port_env.is_some(),
            fields.addr_flag.is_some(),
            fields.port_flag.is_some(),
        ];
        if shorthands.iter().filter(|&&set| set).count() > 1 {
            return Err("give at most one of `port_env`, `addr_flag` and `port_flag`".into());
        }
        let fixed_port = match fields.port {
            None => None,
            Some(p) => Some(
                u16::try_from(p)
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| format!("`port` {p}: expected a port from 1 to 65535"))?,
            ),
        };
        let mut args = fields.args.map(<[String]>::to_vec).unwrap_or_default();
        let mut env: Vec<(String, String)> = fields
            .env
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if let Some(name) = fields.port_env {
            env.push((non_empty("port_env", name)?, "{port}".into()));
        }
        if let Some(flag) = fields.addr_flag {
            args.extend([non_empty("addr_flag", flag)?, "{addr}".into()]);
        }
        if let Some(flag) = fields.port_flag {
            args.extend([non_empty("port_flag", flag)?, "{port}".into()]);
        }
        check_env(&env)?;
        check_placeholders("args", args.iter(), &SERVER_PLACEHOLDERS, "servers")?;
        check_placeholders(
            "env",
            env.iter().map(|(_, v)| v),
            &SERVER_PLACEHOLDERS,
            "servers",
        )?;
        let mut launch = Launch {
            fixed_port,
            args,
            env,
        };
        if launch.fixed_port.is_none() && !launch.passes_port() {
            launch.env.push(("PORT".into(), "{port}".into()));
        }
        Ok(launch)
    }

    /// Whether any argument or variable carries `{port}` or `{addr}`.
    pub fn passes_port(&self) -> bool {
        let has = |s: &String| SERVER_PLACEHOLDERS.iter().any(|p| s.contains(p));
        self.args.iter().any(has) || self.env.iter().any(|(_, v)| has(v))
    }

    /// Where to start it: its fixed port, or a free one on the loopback.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        match self.fixed_port {
            Some(port) => Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            None => std::net::TcpListener::bind("127.0.0.1:0")?.local_addr(),
        }
    }

    /// The arguments that make it listen on `addr`.
    pub fn args_for(&self, addr: SocketAddr) -> Vec<String> {
        self.args.iter().map(|a| fill(a, addr)).collect()
    }

    /// The environment that makes it listen on `addr`.
    pub fn env_for(&self, addr: SocketAddr) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), fill(v, addr)))
            .collect()
    }
}

fn fill(text: &str, addr: SocketAddr) -> String {
    text.replace("{port}", &addr.port().to_string())
        .replace("{addr}", &addr.to_string())
}

/// Environment names must be settable: non-empty, no `=` or NUL.
pub fn check_env(env: &[(String, String)]) -> Result<(), String> {
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(format!(
                "`env` {name:?}: expected a variable name without `=`, and a value"
            ));
        }
    }
    Ok(())
}

/// Rejects the other kind's placeholders in `field` (a `{threads}` in a server's args is a
/// mistake, not a literal).
pub fn check_placeholders<'a>(
    field: &str,
    values: impl Iterator<Item = &'a String>,
    allowed: &[&str],
    kind: &str,
) -> Result<(), String> {
    let foreign: Vec<&str> = SERVER_PLACEHOLDERS
        .iter()
        .chain(BATCH_PLACEHOLDERS.iter())
        .copied()
        .filter(|p| !allowed.contains(p))
        .collect();
    for value in values {
        if let Some(p) = foreign.iter().find(|p| value.contains(**p)) {
            let allowed = match allowed {
                [] => "none".to_string(),
                some => some.join(" and "),
            };
            return Err(format!(
                "`{field}` {value:?}: {p} is not filled in for {kind} (they take {allowed})"
            ));
        }
    }
    Ok(())
}

fn non_empty(field: &str, value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(fields: LaunchFields) -> Launch {
        Launch::from_fields(&fields).unwrap()
    }

    #[test]
    fn placeholders_are_filled_per_start() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let env = BTreeMap::from([("ADDR".to_string(), "127.0.0.1:{port}".to_string())]);
        let args = ["serve".to_string(), "--listen={addr}".to_string()];
        let l = launch(LaunchFields {
            env: Some(&env),
            args: Some(&args),
            ..Default::default()
        });
        assert_eq!(l.env_for(addr), [("ADDR".into(), "127.0.0.1:4321".into())]);
        assert_eq!(l.args_for(addr), ["serve", "--listen=127.0.0.1:4321"]);
    }

    #[test]
    fn shorthands_and_the_default() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let l = launch(LaunchFields::default());
        assert_eq!(l.env_for(addr), [("PORT".into(), "4321".into())]);
        assert!(l.args.is_empty() && l.fixed_port.is_none());
        let args = ["serve".to_string()];
        let l = launch(LaunchFields {
            args: Some(&args),
            port_flag: Some("-p"),
            ..Default::default()
        });
        assert_eq!(l.args_for(addr), ["serve", "-p", "4321"]);
        assert!(l.env.is_empty(), "the port is passed: no PORT");
        let l = launch(LaunchFields {
            addr_flag: Some("--addr"),
            ..Default::default()
        });
        assert_eq!(l.args_for(addr), ["--addr", "127.0.0.1:4321"]);
        let l = launch(LaunchFields {
            port_env: Some("HTTP_PORT"),
            ..Default::default()
        });
        assert_eq!(l.env_for(addr), [("HTTP_PORT".into(), "4321".into())]);
    }

    #[test]
    fn a_fixed_port_is_where_it_starts_and_passes_nothing() {
        let l = launch(LaunchFields {
            port: Some(8080),
            ..Default::default()
        });
        assert_eq!(l.addr().unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert!(l.env.is_empty() && l.args.is_empty());
        let free = launch(LaunchFields::default()).addr().unwrap();
        assert!(free.ip().is_loopback() && free.port() != 0);
    }

    #[test]
    fn mistakes_name_the_field() {
        let err = |fields: LaunchFields| Launch::from_fields(&fields).unwrap_err();
        let e = err(LaunchFields {
            port: Some(0),
            ..Default::default()
        });
        assert!(e.contains("`port` 0"), "{e}");
        let e = err(LaunchFields {
            port_env: Some("P"),
            port_flag: Some("-p"),
            ..Default::default()
        });
        assert!(e.contains("at most one"), "{e}");
        let args = ["--threads={threads}".to_string()];
        let e = err(LaunchFields {
            args: Some(&args),
            ..Default::default()
        });
        assert!(e.contains("{threads} is not filled in for servers"), "{e}");
        let env = BTreeMap::from([("A=B".to_string(), "x".to_string())]);
        let e = err(LaunchFields {
            env: Some(&env),
            ..Default::default()
        });
        assert!(e.contains("`env` \"A=B\""), "{e}");
    }
}

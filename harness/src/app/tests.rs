//! Manifest and metadata-table parsing: every field, the defaults, and the errors.

use super::*;
use crate::app::metadata::{last_capture, WALL_TIME_UNIT};

fn parse(table: &str) -> Result<AppSpec, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}").unwrap();
    std::fs::write(dir.path().join("body.json"), b"{\"a\":1}").unwrap();
    let text = format!("[package]\nname = \"svc\"\n{table}");
    parse_manifest(dir.path(), &text, None, toml::Table::new())
}

#[test]
fn sample_apps_resolve_from_their_own_tables() {
    let http = AppSpec::resolve("http", None).unwrap();
    assert_eq!(
        (http.name.as_str(), http.package.as_str()),
        ("http", "http-server")
    );
    let server = http.server().unwrap();
    assert_eq!(server.ready_path, "/plaintext");
    assert_eq!(server.port, PortArg::AddrFlag("--addr".into()));
    let paths: Vec<_> = server
        .requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [("GET", "/plaintext"), ("GET", "/json"), ("POST", "/parse")]
    );
    assert!(http.in_workspace && http.features.contains("mimalloc"));
    assert_eq!(http.version_arg.as_deref(), Some("--version"));
    let json = AppSpec::resolve("json", None).unwrap();
    let batch = json.batch().unwrap();
    assert_eq!(
        (json.bin.as_str(), json.kind),
        ("json-cruncher", AppKind::Batch)
    );
    assert!(batch.args.contains(&"{threads}".to_string()));
    assert_eq!(batch.throughput_unit, "MB/s");
    let line = r#"{"bytes":1,"checksum":"00ff","max_rss_kb":2048,"mb_per_s":12.5}"#;
    assert_eq!(
        last_capture(batch.throughput.as_ref().unwrap(), line),
        Some("12.5")
    );
    assert_eq!(
        last_capture(batch.checksum.as_ref().unwrap(), line),
        Some("00ff")
    );
    assert_eq!(
        last_capture(batch.peak_rss_kb.as_ref().unwrap(), line),
        Some("2048")
    );
}

#[test]
fn the_parse_body_file_is_the_seeded_dataset() {
    use crate::measure::loadgen::{PARSE_BODY_RECORDS, PARSE_BODY_SEED};
    let expected = workloads::dataset::json_array(PARSE_BODY_SEED, PARSE_BODY_RECORDS);
    let path = workspace_root().join("sample-apps/http-server/bodies/parse.json");
    if std::env::var_os("UPDATE_BODIES").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let http = AppSpec::resolve("http", None).unwrap();
    let parse = &http.server().unwrap().requests[2];
    assert_eq!(parse.body, expected, "regenerate with UPDATE_BODIES=1");
}

#[test]
fn no_table_means_a_server_on_port_answering_get_root() {
    let spec = parse("").unwrap();
    assert_eq!((spec.name.as_str(), spec.kind), ("svc", AppKind::Server));
    let server = spec.server().unwrap();
    assert_eq!(server.port, PortArg::Env("PORT".into()));
    assert_eq!(server.ready_path, "/");
    assert_eq!(
        server.requests,
        [RequestSpec {
            name: "/".into(),
            method: "GET".into(),
            path: "/".into(),
            body: Vec::new(),
            expect_status: 200
        }]
    );
    assert!(spec.version_arg.is_none() && spec.features.is_empty());
}

#[test]
fn every_server_field_is_read() {
    let spec = parse(
        "[package.metadata.harness]\nkind = \"server\"\nport_flag = \"-p\"\nready_path = \"/health\"\nversion_arg = \"-V\"\n\
         [[package.metadata.harness.requests]]\nname = \"create\"\nmethod = \"PUT\"\npath = \"/items\"\nbody_file = \"body.json\"\nexpect_status = 201\n\
         [[package.metadata.harness.requests]]\npath = \"/items/1\"\n",
    )
    .unwrap();
    let server = spec.server().unwrap();
    assert_eq!(server.port, PortArg::PortFlag("-p".into()));
    assert_eq!(server.ready_path, "/health");
    assert_eq!(spec.version_arg.as_deref(), Some("-V"));
    let r = &server.requests[0];
    assert_eq!(
        (
            r.name.as_str(),
            r.method.as_str(),
            r.path.as_str(),
            r.body.as_slice(),
            r.expect_status
        ),
        ("create", "PUT", "/items", &b"{\"a\":1}"[..], 201)
    );
    let r = &server.requests[1];
    assert_eq!(
        (r.name.as_str(), r.method.as_str(), r.expect_status),
        ("/items/1", "GET", 200)
    );
    let env = parse("[package.metadata.harness]\nport_env = \"LISTEN_PORT\"\n").unwrap();
    assert_eq!(
        env.server().unwrap().port,
        PortArg::Env("LISTEN_PORT".into())
    );
}

#[test]
fn every_batch_field_is_read_and_wall_time_is_the_default() {
    let spec = parse(
        "[package.metadata.harness]\nkind = \"batch\"\nargs = [\"-n\", \"{threads}\"]\ncold_args = [\"-n\", \"1\"]\n\
         throughput_regex = 'ops=([0-9.]+)'\nthroughput_unit = \"ops/s\"\nchecksum_regex = 'sum=(\\w+)'\npeak_rss_kb_regex = 'rss=(\\d+)'\n",
    )
    .unwrap();
    let batch = spec.batch().unwrap();
    assert_eq!(
        (batch.args.clone(), batch.cold_args.clone()),
        (
            vec!["-n".to_string(), "{threads}".into()],
            vec!["-n".to_string(), "1".into()]
        )
    );
    assert_eq!(batch.throughput_unit, "ops/s");
    assert_eq!(
        last_capture(batch.checksum.as_ref().unwrap(), "sum=ab12"),
        Some("ab12")
    );
    assert_eq!(
        last_capture(batch.peak_rss_kb.as_ref().unwrap(), "rss=77"),
        Some("77")
    );
    let bare = parse("[package.metadata.harness]\nkind = \"batch\"\n").unwrap();
    let batch = bare.batch().unwrap();
    assert!(batch.args.is_empty() && batch.cold_args.is_empty() && batch.throughput.is_none());
    assert_eq!(batch.throughput_unit, WALL_TIME_UNIT);
}

#[test]
fn bad_tables_are_named_with_the_field() {
    let cases = [
        ("kind = \"cron\"", "kind \"cron\""),
        ("colour = \"blue\"", "unknown field `colour`"),
        ("kind = \"batch\"\nready_path = \"/\"", "`ready_path` applies to kind = \"server\" only"),
        ("args = [\"x\"]", "`args` applies to kind = \"batch\" only"),
        ("port_env = \"P\"\naddr_flag = \"--addr\"", "at most one of"),
        ("ready_path = \"health\"", "`ready_path` \"health\""),
        ("requests = []", "`requests` is empty"),
        ("kind = \"batch\"\nthroughput_regex = '[0-9]+'", "0 capture groups"),
        ("kind = \"batch\"\nthroughput_regex = '('", "not a valid regex"),
        ("kind = \"batch\"\nthroughput_unit = \"x/s\"", "needs `throughput_regex`"),
        ("[[package.metadata.harness.requests]]\npath = \"/\"\nmethod = \"HEAD\"", "method \"HEAD\""),
        ("[[package.metadata.harness.requests]]\npath = \"/\"\nexpect_status = 99", "expect_status 99"),
        ("[[package.metadata.harness.requests]]\npath = \"/\"\nbody_file = \"nope.json\"", "body_file"),
        ("[[package.metadata.harness.requests]]\npath = \"/\"\nverb = \"GET\"", "unknown field `verb`"),
        ("[[package.metadata.harness.requests]]\npath = \"/a\"\n[[package.metadata.harness.requests]]\npath = \"/a\"", "two requests are named \"/a\""),
    ];
    for (table, expected) in cases {
        let text = if table.starts_with("[[") {
            table.to_string()
        } else {
            format!("[package.metadata.harness]\n{table}")
        };
        let err = parse(&text).unwrap_err();
        assert!(err.contains(expected), "{table}: {err}");
    }
}

#[test]
fn binaries_are_chosen_or_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/bin")).unwrap();
    std::fs::write(dir.path().join("src/bin/a.rs"), "fn main() {}").unwrap();
    std::fs::write(dir.path().join("src/bin/b.rs"), "fn main() {}").unwrap();
    let text = "[package]\nname = \"Multi\"\n[features]\nmimalloc = []\n";
    let err = parse_manifest(dir.path(), text, None, toml::Table::new()).unwrap_err();
    assert!(
        err.contains("several binaries (a, b): pick one with --bin"),
        "{err}"
    );
    let err = parse_manifest(dir.path(), text, Some("c"), toml::Table::new()).unwrap_err();
    assert!(err.contains("--bin c: no such binary"), "{err}");
    let spec = parse_manifest(dir.path(), text, Some("b"), toml::Table::new()).unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.bin.as_str(), spec.package.as_str()),
        ("b", "b", "Multi")
    );
    assert!(spec.allocator_missing(Allocator::Mimalloc).is_none());
    let why = spec.allocator_missing(Allocator::Jemalloc).unwrap();
    assert!(
        why.contains("no `jemalloc` feature in")
            && why.ends_with("only the system, mimalloc allocators"),
        "{why}"
    );
    assert!(AppSpec::resolve("grpc", None)
        .unwrap_err()
        .to_string()
        .contains("unknown app \"grpc\""));
}

#[test]
fn a_crate_without_allocator_features_offers_only_system() {
    let spec = parse("").unwrap();
    assert!(spec.allocator_missing(Allocator::System).is_none());
    let why = spec.allocator_missing(Allocator::Mimalloc).unwrap();
    assert!(
        why.starts_with("no `mimalloc` feature in ")
            && why.ends_with("Cargo.toml: only the system allocator"),
        "{why}"
    );
}

#[test]
fn set_flags_override_the_table_and_are_checked_like_it() {
    let text = "[package]\nname = \"svc\"\n[package.metadata.harness]\nready_path = \"/a\"\n";
    let dir = fixture_crate(text);
    let sets = |s: &[&str]| {
        let sets: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        metadata::overrides(&sets)
    };
    let spec = parse_manifest(
        dir.path(),
        text,
        None,
        sets(&[
            "ready_path=/healthz",
            "port_env = HTTP_PORT",
            r#"requests=[{ method = "POST", path = "/items", expect_status = 201 }]"#,
        ])
        .unwrap(),
    )
    .unwrap();
    let server = spec.server().unwrap();
    assert_eq!(server.ready_path, "/healthz");
    assert_eq!(server.port, PortArg::Env("HTTP_PORT".into()));
    assert_eq!(
        (
            server.requests[0].method.as_str(),
            server.requests[0].expect_status
        ),
        ("POST", 201)
    );
    let err = parse_manifest(dir.path(), text, None, sets(&["ready_pth=/x"]).unwrap()).unwrap_err();
    assert!(
        err.contains("--set ready_pth") && err.contains("ready_pth"),
        "{err}"
    );
    assert!(sets(&["ready_path"])
        .unwrap_err()
        .contains("expected KEY=VALUE"));
    assert!(sets(&["a.b=1"]).unwrap_err().contains("not a field name"));
}

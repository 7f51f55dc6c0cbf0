//! Manifest and metadata-table parsing: every field, the defaults, and the errors.

use super::*;
use crate::app::metadata::{last_capture, WALL_TIME_UNIT};

/// A crate named `svc` with `table` after its `[package]` lines, read through cargo.
fn parse(table: &str) -> Result<AppSpec, String> {
    parse_with(table, &[])
}

fn parse_with(table: &str, sets: &[&str]) -> Result<AppSpec, String> {
    let dir = fixture_crate(&format!(
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{table}"
    ));
    std::fs::write(dir.path().join("body.json"), b"{\"a\":1}").unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    AppSpec::resolve_with(dir.path().to_str().unwrap(), &Which::default(), &sets)
        .map_err(|e| e.to_string())
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
    assert_eq!(server.launch.args, ["--addr", "{addr}"]);
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
    assert_eq!(server.launch.env, [("PORT".into(), "{port}".into())]);
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
    assert_eq!(server.launch.args, ["-p", "{port}"]);
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
        env.server().unwrap().launch.env,
        [("LISTEN_PORT".into(), "{port}".into())]
    );
    let general = parse(
        "[package.metadata.harness]\nport = 8080\nenv = { ADDR = \"127.0.0.1:{port}\", RUST_LOG = \"warn\" }\nargs = [\"serve\"]\n",
    )
    .unwrap();
    let launch = &general.server().unwrap().launch;
    assert_eq!(launch.fixed_port, Some(8080));
    assert_eq!(launch.args, ["serve"]);
    assert_eq!(
        launch.env,
        [
            ("ADDR".into(), "127.0.0.1:{port}".into()),
            ("RUST_LOG".into(), "warn".into())
        ]
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
        ("cold_args = [\"x\"]", "`cold_args` applies to kind = \"batch\" only"),
        ("kind = \"batch\"\nport = 80", "`port` applies to kind = \"server\" only"),
        ("args = [\"-t\", \"{threads}\"]", "{threads} is not filled in for servers"),
        ("kind = \"batch\"\nargs = [\"{addr}\"]", "{addr} is not filled in for batch jobs"),
        ("port = 70000", "`port` 70000"),
        ("env = { A = 1 }", "invalid type"),
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
    let dir = fixture_crate("[package]\nname = \"Multi\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[features]\nmimalloc = []\n");
    std::fs::remove_file(dir.path().join("src/main.rs")).unwrap();
    std::fs::create_dir_all(dir.path().join("src/bin")).unwrap();
    std::fs::write(dir.path().join("src/bin/a.rs"), "fn main() {}").unwrap();
    std::fs::write(dir.path().join("src/bin/b.rs"), "fn main() {}").unwrap();
    let path = dir.path().to_str().unwrap();
    let err = AppSpec::resolve(path, None).unwrap_err().to_string();
    assert!(
        err.contains("several binaries (a, b): pick one with --bin"),
        "{err}"
    );
    let err = AppSpec::resolve(path, Some("c")).unwrap_err().to_string();
    assert!(err.contains("--bin c: no such binary"), "{err}");
    let spec = AppSpec::resolve(path, Some("b")).unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.bin.as_str(), spec.package.as_str()),
        ("b", "b", "Multi")
    );
    assert_eq!(
        spec.allocator_source(Allocator::Mimalloc),
        Some(AllocatorSource::Feature)
    );
    assert_eq!(
        spec.allocator_source(Allocator::Jemalloc),
        Some(AllocatorSource::Injected)
    );
    assert!(AppSpec::resolve("grpc", None)
        .unwrap_err()
        .to_string()
        .contains("unknown app \"grpc\""));
}

#[test]
fn allocators_come_from_features_cargo_knows_else_are_injected() {
    let spec = parse("").unwrap();
    assert_eq!(spec.allocator_source(Allocator::System), None);
    for allocator in [Allocator::Mimalloc, Allocator::Jemalloc] {
        assert_eq!(
            spec.allocator_source(allocator),
            Some(AllocatorSource::Injected)
        );
    }
    assert_eq!(spec.allocator_note(Allocator::Mimalloc), "injected");
    // The implicit feature of an optional dependency is a feature, as cargo says.
    let spec =
        parse("[dependencies]\nmimalloc = { version = \"0.1\", optional = true }\n").unwrap();
    assert!(spec.features.contains("mimalloc"), "{:?}", spec.features);
    assert_eq!(
        spec.allocator_source(Allocator::Mimalloc),
        Some(AllocatorSource::Feature)
    );
    assert_eq!(spec.allocator_note(Allocator::Mimalloc), "feature");
}

#[test]
fn workspace_members_are_found_by_directory_or_package() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"svc\", \"tool\"]\nresolver = \"2\"\n[workspace.package]\nversion = \"2.0.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    for (name, table) in [
        ("svc", "[package.metadata.harness]\nport = 8080\n"),
        ("tool", "[features]\njemalloc = []\n"),
    ] {
        std::fs::create_dir_all(root.join(name).join("src")).unwrap();
        std::fs::write(root.join(name).join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(
            root.join(name).join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\n{table}"),
        )
        .unwrap();
    }
    let at = |path: &Path, package: Option<&str>| {
        let which = Which {
            package: package.map(str::to_string),
            bin: None,
        };
        AppSpec::resolve_with(path.to_str().unwrap(), &which, &[]).map_err(|e| e.to_string())
    };
    let err = at(root, None).unwrap_err();
    assert!(
        err.contains("members: svc, tool): pick one with --package NAME"),
        "{err}"
    );
    let svc = at(root, Some("svc")).unwrap();
    assert_eq!(svc.server().unwrap().launch.fixed_port, Some(8080));
    assert!(svc.manifest_dir.ends_with("svc"));
    let tool = at(&root.join("tool"), None).unwrap();
    assert_eq!(tool.package, "tool");
    assert_eq!(
        tool.allocator_source(Allocator::Jemalloc),
        Some(AllocatorSource::Feature)
    );
    let err = at(root, Some("nope")).unwrap_err();
    assert!(err.contains("--package nope: no such package"), "{err}");
}

#[test]
fn set_flags_override_the_table_and_are_checked_like_it() {
    let table = "[package.metadata.harness]\nready_path = \"/a\"\n";
    let spec = parse_with(
        table,
        &[
            "ready_path=/healthz",
            "port_env = HTTP_PORT",
            r#"requests=[{ method = "POST", path = "/items", expect_status = 201 }]"#,
        ],
    )
    .unwrap();
    let server = spec.server().unwrap();
    assert_eq!(server.ready_path, "/healthz");
    assert_eq!(server.launch.env, [("HTTP_PORT".into(), "{port}".into())]);
    assert_eq!(
        (
            server.requests[0].method.as_str(),
            server.requests[0].expect_status
        ),
        ("POST", 201)
    );
    let spec = parse_with("", &["port=9000", r#"env={ADDR="127.0.0.1:{port}"}"#]).unwrap();
    let launch = &spec.server().unwrap().launch;
    assert_eq!(launch.fixed_port, Some(9000));
    assert_eq!(launch.env, [("ADDR".into(), "127.0.0.1:{port}".into())]);
    let err = parse_with(table, &["ready_pth=/x"]).unwrap_err();
    assert!(
        err.contains("--set ready_pth") && err.contains("ready_pth"),
        "{err}"
    );
    let err = parse_with(table, &["ready_path"]).unwrap_err();
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let err = parse_with(table, &["a.b=1"]).unwrap_err();
    assert!(err.contains("not a field name"), "{err}");
}

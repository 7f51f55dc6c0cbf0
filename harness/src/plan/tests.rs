//! Planning: parsers, their properties, and the checks on a whole command line.

use super::*;
use proptest::prelude::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn globs_and_names_resolve_in_matrix_order() {
    let v = resolve_variants(&strings(&[
        "musl-*-scratch",
        "glibc-system-debian",
        "musl-system-scratch",
    ]))
    .unwrap();
    let names: Vec<_> = v.iter().map(Variant::name).collect();
    assert_eq!(
        names,
        [
            "glibc-system-debian",
            "musl-system-scratch",
            "musl-mimalloc-scratch",
            "musl-jemalloc-scratch"
        ]
    );
}

#[test]
fn bad_selections_say_what_is_wrong() {
    let e = resolve_variants(&strings(&["zig-*"])).unwrap_err();
    assert!(e.contains("matches no valid variant"), "{e}");
    let e = resolve_variants(&strings(&["glibc-system-scratch"])).unwrap_err();
    assert!(e.contains("cannot run"), "{e}");
    assert!(resolve_variants(&strings(&[""])).is_err());
}

#[test]
fn durations_are_bounded() {
    assert_eq!(
        parse_duration("500ms", "--d", false).unwrap(),
        Duration::from_millis(500)
    );
    for bad in ["-1s", "10x", "9999999h", "0s", ""] {
        let e = parse_duration(bad, "--duration", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--duration"), "{bad}: {e}");
    }
    assert!(parse_duration("0s", "--warmup", true).is_ok());
}

#[test]
fn docker_timeouts_are_whole_seconds_up_to_ten_minutes() {
    assert_eq!(
        parse_docker_timeout("30s").unwrap(),
        Duration::from_secs(30)
    );
    for bad in ["500ms", "0s", "11m", "1.5s", "x"] {
        let e = parse_docker_timeout(bad).unwrap_err().to_string();
        assert!(e.contains("--docker-timeout"), "{bad}: {e}");
    }
}

#[test]
fn sizes_parse_with_units() {
    assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
    assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
    for bad in ["12", "lots", "-5MiB", "99999999999999999GiB"] {
        assert!(parse_bytes(bad).is_err(), "{bad}");
    }
}

fn run_plan(args: &[&str]) -> anyhow::Result<RunPlan> {
    use clap::Parser;
    let mut argv = vec!["harness", "run"];
    argv.extend_from_slice(args);
    let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
    let crate::cli::Command::Run(args) = cli.command else {
        panic!("not run")
    };
    RunPlan::from_args(&args)
}

#[test]
fn containers_get_a_memory_limit_unless_told_none() {
    let default = run_plan(&["--app", "http"]).unwrap();
    assert_eq!(default.memory_limit, Some(2 << 30));
    let none = run_plan(&["--app", "http", "--memory-limit", "none"]).unwrap();
    assert_eq!(none.memory_limit, None);
    let e = run_plan(&["--app", "http", "--memory-limit", "12"]).unwrap_err();
    assert!(e.to_string().contains("\"12\""), "{e}");
}

#[test]
fn endpoints_pick_the_apps_requests_by_name_or_path() {
    let all = run_plan(&["--app", "http"]).unwrap();
    let names: Vec<_> = all.requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["/plaintext", "/json", "/parse"]);
    let one = run_plan(&["--app", "http", "--endpoints", "/parse,/parse"]).unwrap();
    assert_eq!(
        (one.requests.len(), one.requests[0].method.as_str()),
        (1, "POST")
    );
    let e = run_plan(&["--app", "http", "--endpoints", "/nope"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown endpoint \"/nope\": http has /plaintext, /json, /parse"),
        "{e}"
    );
    let e = run_plan(&["--app", "json", "--endpoints", "/json"]).unwrap_err();
    assert!(e.to_string().contains("batch app"), "{e}");
}

#[test]
fn batch_threads_follow_the_apps_placeholders() {
    let json = run_plan(&["--app", "json", "--threads", "1,2"]).unwrap();
    assert_eq!(json.threads, [1, 2]);
    let dir = crate::app::fixture_crate(
        "[package]\nname = \"job\"\n[package.metadata.harness]\nkind = \"batch\"\n",
    );
    let path = dir.path().to_str().unwrap();
    let plain = run_plan(&["--app", path]).unwrap();
    assert_eq!(plain.threads, [available_cpus()]);
    assert_eq!(
        plain.variants.len(),
        6,
        "the default set: musl-mimalloc-scratch is injected"
    );
    let e = run_plan(&["--app", path, "--threads", "2"]).unwrap_err();
    assert!(e.to_string().contains("no {threads} placeholder"), "{e}");
    let jemalloc = run_plan(&["--app", path, "--variants", "*-jemalloc-*"]).unwrap();
    assert_eq!(jemalloc.variants.len(), 6, "{:?}", jemalloc.variants);
}

proptest! {
    #[test]
    fn duration_parser_never_panics(s in ".{0,20}") {
        match parse_duration(&s, "--d", false) {
            Ok(d) => prop_assert!(!d.is_zero() && d <= MAX_WINDOW, "{s:?} -> {d:?}"),
            Err(e) => prop_assert!(e.to_string().starts_with("--d"), "{e}"),
        }
    }

    #[test]
    fn durations_round_trip_in_range_and_are_refused_beyond(ms in 1u64..7_200_000) {
        let parsed = parse_duration(&format!("{ms}ms"), "--duration", false);
        if Duration::from_millis(ms) <= MAX_WINDOW {
            prop_assert_eq!(parsed.unwrap(), Duration::from_millis(ms));
        } else {
            prop_assert!(parsed.unwrap_err().to_string().contains("out of range"));
        }
        let negative = format!("-{ms}ms");
        prop_assert!(parse_duration(&negative, "--duration", false).is_err());
    }

    #[test]
    fn concurrency_lists_round_trip(levels in proptest::collection::vec(1u32..=MAX_CONCURRENCY, 1..6)) {
        let items: Vec<String> = levels.iter().map(|n| format!(" {n}")).collect();
        let parsed = parse_list(&items, "--concurrency", |s| s.parse::<u32>().map_err(|e| e.to_string()));
        prop_assert_eq!(parsed.unwrap(), levels);
    }

    #[test]
    fn a_glob_cut_from_a_variant_matches_it(index in 0usize..64, mask in proptest::collection::vec(0u8..4, 30)) {
        let valid = Variant::all_valid();
        let variant = valid[index % valid.len()];
        let glob: String = variant.name().chars().zip(mask.iter().cycle()).map(|(c, m)| match m {
            0 => '*',
            1 => '?',
            _ => c,
        }).collect();
        let matched = resolve_variants(std::slice::from_ref(&glob)).unwrap();
        prop_assert!(matched.contains(&variant), "{glob} missed {variant}");
        let pattern = variant_glob(&glob).unwrap();
        prop_assert!(matched.iter().all(|v| v.invalid_reason().is_none() && pattern.matches(&v.name())));
    }

    #[test]
    fn variant_resolver_never_panics_and_returns_valid(s in "[a-z*?-]{0,30}") {
        if let Ok(v) = resolve_variants(&[s]) {
            prop_assert!(v.iter().all(|v| v.invalid_reason().is_none()));
        }
    }

    #[test]
    fn list_parser_names_the_flag(items in proptest::collection::vec(".{0,8}", 0..5)) {
        if let Err(e) = parse_list(&items, "--concurrency", |s| s.parse::<u32>().map_err(|e| e.to_string())) {
            prop_assert!(e.to_string().contains("--concurrency"));
        }
    }
}

fn run_args(extra: &[&str]) -> RunArgs {
    let argv = ["harness", "run", "--app", "http"].iter().chain(extra);
    match <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
        .unwrap()
        .command
    {
        crate::cli::Command::Run(args) => *args,
        _ => unreachable!("a run command"),
    }
}

#[test]
fn fresh_node_needs_docker_on_this_machine_and_sane_runs() {
    let local = "unix:///var/run/docker.sock";
    assert_eq!(fresh_node_runs(&run_args(&[]), local).unwrap(), None);
    let on = run_args(&["--fresh-node"]);
    assert_eq!(fresh_node_runs(&on, local).unwrap(), Some(5));
    let e = fresh_node_runs(&on, "tcp://10.1.2.3:2376")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("DOCKER_HOST=tcp://10.1.2.3:2376 is remote"),
        "{e}"
    );
    let native = run_args(&["--fresh-node", "--runtime", "native"]);
    assert!(fresh_node_runs(&native, local).is_err());
    let zero = run_args(&["--fresh-node", "--fresh-node-runs", "0"]);
    let e = fresh_node_runs(&zero, local).unwrap_err().to_string();
    assert!(e.contains("--fresh-node-runs 0"), "{e}");
    let quick = RunPlan::from_args(&run_args(&[
        "--fresh-node",
        "--quick",
        "--fresh-node-runs",
        "2",
    ]));
    assert_eq!(
        quick.unwrap().fresh_node,
        Some(2),
        "--quick leaves it alone"
    );
}

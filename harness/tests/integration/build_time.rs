//! `harness build --cold` on a crate of its own (a binary and a path dependency): every
//! figure is labelled by what was built, not by the order the variants were built in. Two
//! runs whose seeds build the variants in opposite orders give every variant the same units
//! compiled clean (the dependency and the app) and incrementally (the app alone); the
//! user's source is never changed, and the timing images are gone afterwards.

use crate::byo::make_crate;
use crate::support::{docker_or_skip, docker_shared, harness_cli};
use harness::buildtime::{BuildTimes, Figure};
use std::path::Path;

const VARIANTS: &str = "glibc-static-system-scratch,musl-system-scratch";

const MAIN: &str = "fn main() {\n    println!(\"{}\", probe_dep::answer());\n}\n";

/// The crate, with its dependency in `dep/`.
fn probe_crate() -> tempfile::TempDir {
    let dir = make_crate(
        "build-time-probe",
        "\n[dependencies]\nprobe-dep = { path = \"dep\" }\n\n[workspace]\n",
        MAIN,
        None,
    );
    let dep = dir.path().join("dep");
    std::fs::create_dir_all(dep.join("src")).unwrap();
    std::fs::write(
        dep.join("Cargo.toml"),
        "[package]\nname = \"probe-dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        dep.join("src/lib.rs"),
        "pub fn answer() -> u64 {\n    42\n}\n",
    )
    .unwrap();
    dir
}

/// One `build --cold` of the crate with `seed`; the file it wrote.
fn measure(app: &Path, seed: &str) -> BuildTimes {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = harness_cli(&[
        "build",
        "--app",
        app.to_str().unwrap(),
        "--variants",
        VARIANTS,
        "--cold",
        "--rounds",
        "1",
        "--seed",
        seed,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("clean compile s"), "{stdout}");
    let file = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a build-time file");
    BuildTimes::load(&file).unwrap()
}

#[test]
fn build_time_figures_do_not_depend_on_the_order_variants_were_built_in() {
    let _lock = docker_shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(docker) = rt.block_on(docker_or_skip("build_time_figures")) else {
        return;
    };
    let app = probe_crate();
    let before = std::fs::read_to_string(app.path().join("src/main.rs")).unwrap();
    // Seeds whose first rounds build the two variants in opposite orders (round r of seed s
    // is shuffled with s + r).
    let first = |seed: u64| harness::measure::stats::shuffled(&[0, 1], seed + 1)[0];
    let other = (1..64).find(|s| first(*s) != first(0)).unwrap();
    let (a, b) = (
        measure(app.path(), "0"),
        measure(app.path(), &other.to_string()),
    );
    assert_ne!(
        a.method.orders[0], b.method.orders[0],
        "the seeds should build the variants in different orders: {:?} {:?}",
        a.method.orders, b.method.orders
    );
    for times in [&a, &b] {
        assert_eq!(times.method.orders.len(), 1);
        assert!(times.finished_at.is_some());
        for v in &times.variants {
            assert_eq!(v.failure, None, "{}", v.variant);
            assert_eq!(v.rounds.len(), 1, "{}", v.variant);
            for r in &v.rounds {
                // Clean: the dependency and the app, whichever variant came first.
                assert_eq!(
                    r.clean.units, 2,
                    "{} clean, orders {:?}",
                    v.variant, times.method.orders
                );
                assert_eq!(r.incremental.units, 1, "{} incremental", v.variant);
                assert!(r.clean.deps_wall_s > 0.0 && r.clean.deps_wall_s < r.clean.wall_s);
                assert!(r.clean.cpu_s > 0.0, "{}: no CPU time", v.variant);
                assert!(r.image_cold_s.is_some() && r.image_cached_s.is_some());
            }
            assert_eq!(v.samples(Figure::TotalCold).len(), 1);
            assert_eq!(
                v.settings.target,
                v.variant
                    .parse::<harness::matrix::Variant>()
                    .unwrap()
                    .link
                    .target()
            );
        }
    }
    // The user's files are as they were; the timing images are gone.
    assert_eq!(
        std::fs::read_to_string(app.path().join("src/main.rs")).unwrap(),
        before
    );
    for variant in VARIANTS.split(',') {
        let tag = crate::support::variant_tag("build-time-probe-build-time", variant);
        assert!(
            rt.block_on(docker.inspect_image(&tag)).is_err(),
            "{tag} was left behind"
        );
    }
}

#[test]
fn build_time_refuses_zero_rounds_before_building() {
    let app = probe_crate();
    let (code, _, stderr) = harness_cli(&[
        "build",
        "--app",
        app.path().to_str().unwrap(),
        "--cold",
        "--rounds",
        "0",
        "--no-images",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--rounds must be at least 1"), "{stderr}");
}

//! `harness report` rendered from the fixture results files in tests/fixtures/report/.

use crate::support;
use harness::report::{self, Inputs};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    support::fixtures().join("report").join(name)
}

fn fixture_files() -> Vec<PathBuf> {
    ["http-run.json", "json-run.json", "bench.json"]
        .iter()
        .map(|n| fixture(n))
        .collect()
}

fn load_fixtures() -> Inputs {
    report::load_files(&fixture_files()).expect("fixtures load")
}

fn variant_names(inputs: &Inputs, app: &str) -> Vec<String> {
    let run = inputs.runs.iter().find(|r| r.results.app == app).unwrap();
    run.results
        .variants
        .iter()
        .map(|v| v.variant.name())
        .collect()
}

/// Every text node of an SVG, joined; panics when the file is not well-formed XML.
fn svg_text(path: &Path) -> String {
    let xml = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Width, height and RGB(A) pixels of a PNG.
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

/// Pixels that are clearly coloured (not white, grey or black): plot bars, lines and points.
fn coloured_pixels(pixels: &[u8], samples: usize) -> usize {
    pixels
        .chunks(samples)
        .filter(|p| {
            samples >= 3 && p[..3].iter().max().unwrap() - p[..3].iter().min().unwrap() > 60
        })
        .count()
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

#[test]
fn fixtures_load_into_the_current_types() {
    let inputs = load_fixtures();
    assert_eq!(inputs.runs.len(), 2);
    assert_eq!(variant_names(&inputs, "http").len(), 6);
    assert_eq!(variant_names(&inputs, "json").len(), 5);
    let bench = inputs
        .bench
        .as_ref()
        .expect("bench file recognised by its kind");
    assert_eq!(bench.results.benches.len(), 5);
}

#[test]
fn renders_every_plot_as_svg_and_png() {
    let inputs = load_fixtures();
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join("plots")).unwrap();
    let stale = out.path().join("plots/removed-plot.svg");
    std::fs::write(&stale, "<svg/>").unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();

    let mut stems: Vec<&str> = rendered.plots.iter().map(|p| p.stem.as_str()).collect();
    stems.sort_unstable();
    let expected = [
        "bench-ratios",
        "http-cold-start",
        "http-image-size",
        "http-p99-latency",
        "http-peak-memory",
        "http-throughput",
        "http-tradeoff",
        "json-cold-start",
        "json-image-size",
        "json-peak-memory",
        "json-thread-scaling",
        "json-tradeoff",
    ];
    assert_eq!(stems, expected);
    assert!(
        !stale.exists(),
        "a plot this render did not write was left behind"
    );
    for plot in &rendered.plots {
        for file in [&plot.svg, &plot.png] {
            let len = std::fs::metadata(file).unwrap().len();
            assert!(len > 1000, "{} is {len} bytes", file.display());
        }
        let (w, h, pixels, samples) = decode_png(&plot.png);
        assert!(w >= 800 && h >= 300, "{}: {w}x{h}", plot.png.display());
        assert!(
            coloured_pixels(&pixels, samples) > 500,
            "{}: no plot drawn",
            plot.png.display()
        );
    }
}

#[test]
fn each_svg_parses_and_names_every_variant() {
    let inputs = load_fixtures();
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    for plot in &rendered.plots {
        let text = svg_text(&plot.svg);
        let names: Vec<String> = if plot.stem.starts_with("bench") {
            vec![
                "musl-system".into(),
                "musl-mimalloc".into(),
                "glibc-system".into(),
            ]
        } else {
            let app = plot.stem.split('-').next().unwrap();
            let run = inputs.runs.iter().find(|r| r.results.app == app).unwrap();
            run.results
                .variants
                .iter()
                // The failed json variant has no crunch figures, so only some plots name it.
                .filter(|v| {
                    v.is_ok() || plot.stem.ends_with("size") || plot.stem.ends_with("cold-start")
                })
                .map(|v| v.variant.name())
                .collect()
        };
        for name in names {
            assert!(
                text.contains(&name),
                "{} does not name {name}",
                plot.svg.display()
            );
        }
    }
}

#[test]
fn report_md_has_a_row_per_variant_and_the_environment() {
    let inputs = load_fixtures();
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    for app in ["http", "json"] {
        for name in variant_names(&inputs, app) {
            assert!(md.contains(&format!("\n| {name} | ")), "no row for {name}");
        }
    }
    for plot in &rendered.plots {
        assert!(md.contains(&format!("](plots/{}.svg)", plot.stem)));
    }
    assert!(md.contains("## Verdict"));
    assert!(md.contains("within noise"));
    assert!(md.contains("| machine | fixture: 4-core test VM |"));
    assert!(md.contains("| alloc/small_vec_churn | 182 ns | 1.92×"));
    assert!(md.contains("glibc-static-system-scratch failed at crunch"));
}

#[test]
fn index_html_is_self_contained_with_inline_svg() {
    let inputs = load_fixtures();
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let html = std::fs::read_to_string(&rendered.index_html).unwrap();
    assert_eq!(html.matches("<svg").count(), rendered.plots.len());
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"));
    assert!(html.contains("<h2 id=\"verdict\">Verdict</h2>"));
    assert!(html.contains("<li><a href=\"#verdict\">Verdict</a>"));
}

/// The verdict sentences of one group, e.g. `http run`.
fn verdict_of(inputs: &Inputs, title: &str) -> Vec<String> {
    report::verdict(inputs)
        .into_iter()
        .find(|g| g.title == title)
        .unwrap_or_else(|| panic!("no verdict group {title}"))
        .sentences
}

#[test]
fn verdict_follows_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let before = verdict_of(&load_fixtures(), "http run");
    let smallest = "**Image size**: musl-system-scratch is smallest at 2.62 MB, 30× smaller than glibc-system-debian (77.9 MB).";
    assert!(before.iter().any(|s| s == smallest), "{before:#?}");

    // Swap the image sizes of the baseline and musl-system-scratch.
    let mut http = fixture_json("http-run.json");
    let variants = http["variants"].as_array_mut().unwrap();
    let size = |v: &Value| v["build"]["image"]["image_bytes"].clone();
    let (a, b) = (size(&variants[0]), size(&variants[3]));
    variants[0]["build"]["image"]["image_bytes"] = b;
    variants[3]["build"]["image"]["image_bytes"] = a;
    // And make musl-system-scratch the fastest on /json at concurrency 64.
    for load in variants[3]["load"].as_array_mut().unwrap() {
        if load["endpoint"] == "/json" && load["concurrency"] == 64 {
            load["rps"] = Value::from(60_000.0);
        }
    }
    let path = write_json(dir.path(), "http-swapped.json", &http);
    let inputs = report::load_files(&[path, fixture("json-run.json")]).unwrap();
    let after = verdict_of(&inputs, "http run");
    assert_ne!(before, after);
    assert!(
        after.iter().any(|s| s.starts_with(
            "**Image size**: glibc-system-debian is smallest at 2.62 MB (the baseline itself)"
        )),
        "{after:#?}"
    );
    // One window each: no ranking, only the span of the readings.
    assert!(
        after.iter().any(|s| s.contains(
            "one load window per variant, so no confidence interval: no ranking; the readings run from 26,787 rps (musl-system-debian, 0.64× glibc-system-debian) to 60,000 rps (musl-system-scratch, 1.44× glibc-system-debian)"
        )),
        "{after:#?}"
    );
    assert!(
        !after.iter().any(|s| s.contains("is highest")),
        "{after:#?}"
    );

    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(rendered.report_md).unwrap();
    assert!(md.contains("glibc-system-debian is smallest at 2.62 MB"));
}

#[test]
fn cold_start_ties_are_called_within_noise() {
    let inputs = load_fixtures();
    let verdict = verdict_of(&inputs, "http run");
    let cold = verdict
        .iter()
        .find(|s| s.starts_with("**Cold start**"))
        .unwrap();
    assert!(cold.contains("tied within noise with"), "{cold}");
}

#[test]
fn an_older_schema_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = fixture_json("http-run.json");
    old["schema_version"] = Value::from(0);
    let path = write_json(dir.path(), "old.json", &old);
    let err = report::load_files(std::slice::from_ref(&path)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("schema_version 0 is not supported"), "{msg}");
    assert_eq!(harness::exit_code(&err), 2);
}

#[test]
fn a_malformed_file_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = fixture_json("http-run.json");
    bad["variants"][2]["cold_start"]["cold_start_ms"]["median"] = Value::from("fast");
    let path = write_json(dir.path(), "bad-type.json", &bad);
    let msg = format!(
        "{:#}",
        report::load_files(std::slice::from_ref(&path)).unwrap_err()
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("variants[2].cold_start.cold_start_ms.median"),
        "{msg}"
    );

    let mut missing = fixture_json("json-run.json");
    missing["variants"][1]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let path = write_json(dir.path(), "missing.json", &missing);
    let msg = format!(
        "{:#}",
        report::load_files(std::slice::from_ref(&path)).unwrap_err()
    );
    assert!(
        msg.contains("missing.json") && msg.contains("variants[1]"),
        "{msg}"
    );
    assert!(msg.contains("`status`"), "{msg}");

    let mut bench = fixture_json("bench.json");
    bench["benches"][0]["estimates"][1]["mean_ns"] = Value::Null;
    let path = write_json(dir.path(), "bench-bad.json", &bench);
    let msg = format!(
        "{:#}",
        report::load_files(std::slice::from_ref(&path)).unwrap_err()
    );
    assert!(msg.contains("benches[0].estimates[1].mean_ns"), "{msg}");

    let path = dir.path().join("truncated.json");
    std::fs::write(&path, "{\"schema_version\": 1, \"app\": ").unwrap();
    let err = report::load_files(std::slice::from_ref(&path)).unwrap_err();
    assert!(format!("{err:#}").contains("truncated.json"));
    assert_eq!(harness::exit_code(&err), 2);
}

#[test]
fn the_cli_renders_into_out() {
    use clap::Parser;
    let out = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["harness".into(), "report".into()];
    args.extend(fixture_files().iter().map(|p| p.display().to_string()));
    args.extend(["--out".into(), out.path().display().to_string()]);
    harness::run(harness::cli::Cli::try_parse_from(args).unwrap()).unwrap();
    assert!(out.path().join("REPORT.md").is_file());
    assert!(out.path().join("index.html").is_file());
    assert!(out.path().join("plots/http-tradeoff.png").is_file());
}

/// Runs chromium with `args`, killed after a minute; returns its stdout.
fn chromium(binary: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read stdout while it runs: a DOM dump is larger than the pipe's buffer.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap().unwrap()
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

#[test]
fn index_html_renders_in_headless_chromium() {
    let Some(binary) = find_chromium() else {
        support::skip(
            "index_html_renders_in_headless_chromium",
            "chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let inputs = load_fixtures();
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let url = format!("file://{}", rendered.index_html.display());
    let profile = tempfile::tempdir().unwrap();
    let shot = out.path().join("screenshot.png");
    chromium(
        &binary,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000".into(),
            url.clone(),
        ],
    );
    let (w, h, pixels, samples) = decode_png(&shot);
    assert_eq!((w, h), (1200, 3000));
    // The first plots (image size, cold start) are in view: their bars are coloured.
    assert!(
        coloured_pixels(&pixels, samples) > 20_000,
        "no plot visible in the screenshot"
    );

    let dom = chromium(&binary, profile.path(), &["--dump-dom".into(), url]);
    assert_eq!(
        dom.matches("<svg").count(),
        rendered.plots.len(),
        "svg elements in the DOM"
    );
    assert!(dom.contains("musl-mimalloc-scratch"));

    // As a person sees it (scripts/report-shots): on a 1400×900 screen the answer's tradeoff
    // chart is in view, and on a 390 px phone nothing but a table's own scroll box is wider
    // than the screen.
    let shots = out.path().join("shots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/report-shots");
    let run = Command::new(&script)
        .arg(&rendered.index_html)
        .arg(&shots)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("at 390 px: viewport 390 px, page 390 px wide, 0 elements"),
        "{said}"
    );
    let (w, h, pixels, samples) = decode_png(&shots.join("report-1400.png"));
    assert_eq!((w, h), (1400, 900));
    let coloured = coloured_pixels(&pixels, samples);
    assert!(
        coloured > FIRST_SCREEN_COLOURED,
        "{coloured} coloured pixels: no chart in view"
    );
}

/// Coloured pixels of the tradeoff chart on the fixture report's first screen: its points
/// and the cold-start colour bar (measured: 861 at 1400×900; with the charts out of view,
/// as before the answer came first, none: text, links of that screen and axes are grey).
const FIRST_SCREEN_COLOURED: usize = 300;

#[test]
fn degenerate_results_still_render() {
    let dir = tempfile::tempdir().unwrap();
    // One variant, one load window, nothing measured above zero.
    let mut http = fixture_json("http-run.json");
    http["variants"].as_array_mut().unwrap().truncate(1);
    let variant = &mut http["variants"][0];
    variant["build"]["image"]["image_bytes"] = Value::from(0);
    variant["peak_memory_bytes"] = Value::Null;
    let load = variant["load"].as_array_mut().unwrap();
    load.retain(|l| l["concurrency"] == 1);
    for l in load.iter_mut() {
        l["rps"] = Value::from(0.0);
        l["latency_us"]["p99"] = Value::from(0);
    }
    // Every variant failed before measuring anything.
    let mut json = fixture_json("json-run.json");
    for v in json["variants"].as_array_mut().unwrap() {
        v["status"] = serde_json::json!({"state": "failed", "step": "build", "reason": "no musl-gcc", "logs": null});
        v["build"] = Value::Null;
        v["cold_start"] = Value::Null;
        v["crunch"] = Value::from(Vec::<Value>::new());
        v["peak_memory_bytes"] = Value::Null;
    }
    let files = [
        write_json(dir.path(), "http.json", &http),
        write_json(dir.path(), "json.json", &json),
    ];
    let inputs = report::load_files(&files).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(rendered.report_md).unwrap();
    assert!(
        md.contains("musl-jemalloc-scratch failed at build: no musl-gcc"),
        "{md}"
    );
    assert!(rendered.plots.iter().all(|p| !p.stem.starts_with("json")));
    for plot in &rendered.plots {
        svg_text(&plot.svg);
    }
}

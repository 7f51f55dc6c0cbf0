//! The suite keeps to its own images, against the real daemon: a user's image of an app and
//! variant, made before the tests build the same, is still there with the same id after
//! they built, rebuilt and cleaned; the tests' tags live in the process's own namespace; a
//! rebuild removes the harness image it moved the tag away from; and an image a container
//! still used, left dangling by a rebuild, goes with `harness clean`.
//!
//! The app is a throwaway crate named after this process, so the user's side of the test
//! (built in the default namespace, as a user's shell would) can collide with no real
//! user's image either.

use crate::support::{docker_lock, docker_or_skip, harness_cli, test_namespace, RunCleanup};
use harness::app::AppSpec;
use harness::build::{build_variant, Packaging};
use harness::labels;
use harness::matrix::Variant;
use std::process::Command;

const VARIANT: &str = "musl-system-scratch";

/// Runs the docker CLI; stdout when it succeeds.
fn docker(args: &[&str]) -> Option<String> {
    let output = Command::new("docker").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    output.status.success().then_some(stdout)
}

/// The id of the image `reference` names, if any.
fn image_id(reference: &str) -> Option<String> {
    docker(&["image", "inspect", "-f", "{{.Id}}", reference])
}

/// The dangling images of this test process's namespace made by the runs `run_ids`: this
/// test's own, so what another test of the process may have left (the suite's leak checks
/// find that) does not decide this one.
fn dangling_here(run_ids: &[String]) -> Vec<String> {
    let namespace = format!("label={}={}", labels::NAMESPACE, test_namespace());
    let mut ids: Vec<String> = run_ids
        .iter()
        .flat_map(|run_id| {
            let run = format!("label={}={run_id}", labels::RUN_ID);
            let filters = ["-f", "dangling=true", "-f", &namespace, "-f", &run];
            let listed = docker(&[&["images", "-q", "--no-trunc"][..], &filters].concat()).unwrap();
            listed.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A `harness` as the user runs it: in the default namespace.
fn user_harness(args: &[&str]) -> (i32, String) {
    let output = crate::support::harness_command()
        .args(args)
        .env_remove(labels::NAMESPACE_ENV)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), text)
}

/// The user's image of the test app, removed at the end by its own run id, as a user would.
struct UserImage {
    id: String,
    run_id: String,
}

impl UserImage {
    fn build(app_dir: &str, tag: &str) -> UserImage {
        let (code, stderr) = user_harness(&["build", "--app", app_dir, "--variants", VARIANT]);
        assert_eq!(code, 0, "the user's build failed: {stderr}");
        let id = image_id(tag).unwrap_or_else(|| panic!("no {tag} after the user's build"));
        let run_id_label = format!("{{{{index .Config.Labels \"{}\"}}}}", labels::RUN_ID);
        let run_id = docker(&["image", "inspect", "-f", &run_id_label, &id]).unwrap();
        UserImage { id, run_id }
    }
}

impl Drop for UserImage {
    fn drop(&mut self) {
        let _ = user_harness(&["clean", "--run-id", &self.run_id]);
    }
}

/// A created (never started) container of this namespace that keeps an image in use.
struct Holder(String);

impl Holder {
    fn create(image: &str, run_id: &str) -> Holder {
        let name = format!("isolation-holder-{}", std::process::id());
        let tool = format!("{}={}", labels::TOOL, labels::TOOL_VALUE);
        let namespace = format!("{}={}", labels::NAMESPACE, test_namespace());
        let run = format!("{}={run_id}", labels::RUN_ID);
        let mut args = vec!["create", "--network", "none", "--name", &name];
        for label in [&tool, &namespace, &run] {
            args.extend(["--label", label.as_str()]);
        }
        args.push(image);
        docker(&args).expect("docker create");
        Holder(name)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// Builds the app's variant in this process (so in the test namespace) under `run_id`;
/// returns the image's tag and id.
async fn build_here(
    docker: &bollard::Docker,
    dir: &std::path::Path,
    app: &AppSpec,
    run_id: &str,
) -> (String, String) {
    let packaging = Packaging {
        docker,
        base: None,
        run_id,
    };
    let variant: Variant = VARIANT.parse().unwrap();
    let built = build_variant(dir, app, variant, false, Some(&packaging))
        .await
        .unwrap_or_else(|(step, e)| panic!("{step} failed: {e:#}"));
    let image = built.record.image.unwrap();
    (image.tag, image.id)
}

#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_users_image_survives_and_the_tests_leave_no_dangling_image() {
    let _lock = docker_lock();
    let Some(docker) = docker_or_skip("isolation").await else {
        return;
    };
    let name = format!("survivor-{}", std::process::id());
    let krate = crate::byo::make_crate(&name, "", crate::byo::STD_SERVER, None);
    let dir = krate.path();
    harness::doctor::ensure_for(&[VARIANT.parse().unwrap()], true).unwrap();
    let user_tag = format!("{}/{name}:{VARIANT}", labels::IMAGE_NAMESPACE);
    let user = UserImage::build(dir.to_str().unwrap(), &user_tag);

    let pid = std::process::id();
    let run_ids: Vec<String> = (1..=3).map(|n| format!("isolation-{n}-{pid}")).collect();
    let _cleanup = RunCleanup {
        out: None,
        ids: run_ids.clone(),
    };
    let app = AppSpec::from_manifest(None, dir, None).unwrap();
    let (tag, first) = build_here(&docker, dir, &app, &run_ids[0]).await;
    assert_eq!(tag, format!("{}/{name}:{VARIANT}", test_namespace()));
    let (_, second) = build_here(&docker, dir, &app, &run_ids[1]).await;
    assert_ne!(first, second, "the rebuild made no new image");
    assert_eq!(
        image_id(&first),
        None,
        "the rebuild left the image it replaced"
    );

    // An image a container still uses outlives the rebuild that replaces it, dangling...
    let holder = Holder::create(&second, &run_ids[1]);
    let (_, third) = build_here(&docker, dir, &app, &run_ids[2]).await;
    assert_eq!(dangling_here(&run_ids), std::slice::from_ref(&second));
    // ...until `harness clean`, once the container is gone.
    drop(holder);
    let (code, stdout, stderr) = harness_cli(&["clean"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("images"), "{stdout}");
    assert_eq!((image_id(&second), image_id(&third)), (None, None));
    assert_eq!(dangling_here(&run_ids), Vec::<String>::new());

    assert_eq!(
        image_id(&user_tag).as_deref(),
        Some(user.id.as_str()),
        "the user's {user_tag} is gone or names another image"
    );
}

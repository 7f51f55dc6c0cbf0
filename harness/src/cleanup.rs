//! Finding and removing what the harness created, by its labels only: containers first,
//! then variant images (tagged or dangling), and the base images only when asked; or only
//! the containers of runs whose process died (`remove_orphans`, by the owner label).
//! Anything without the harness's tool label is never touched, and nothing of another image
//! namespace (`labels::in_namespace`) either: a test suite's cleanup cannot reach a user's
//! runs, nor a user's `harness clean` a test suite's. The shared base is the exception.

use crate::labels;
use crate::owner::{self, Liveness};
use crate::runtime::retry::{self, Call};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use bollard::Docker;

/// What a clean removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub containers: usize,
    pub images: usize,
}

/// Removes the harness's containers and variant images of this namespace, dangling ones
/// included (of one run, when `run_id` is given); base images too when `include_base`.
pub async fn clean(
    docker: &Docker,
    run_id: Option<&str>,
    include_base: bool,
) -> anyhow::Result<Cleaned> {
    let mut cleaned = Cleaned {
        containers: crate::runtime::docker::remove_containers(docker, run_id).await?,
        images: 0,
    };
    let filters = labels::filter(run_id);
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(false)
                .filters(&filters)
                .build(),
        ))
        .await?;
    for image in images {
        let role = image.labels.get(labels::ROLE).map(String::as_str);
        let wanted = match role {
            // One base serves every namespace.
            Some("base") => include_base,
            _ => labels::in_namespace(&image.labels),
        };
        if !wanted {
            continue;
        }
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        match docker.remove_image(&image.id, Some(options), None).await {
            Ok(_) => cleaned.images += 1,
            // Already gone with a parent, or still used by the base: not ours to force.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if include_base {
        // The imported rootfs cannot carry labels; it is found by the harness's own tag.
        let rootfs = format!("{}/debian-rootfs:bookworm", labels::IMAGE_NAMESPACE);
        if docker
            .remove_image(
                &rootfs,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .is_ok()
        {
            cleaned.images += 1;
        }
    }
    Ok(cleaned)
}

/// What an orphan sweep removed: how many containers, and of which runs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Orphans {
    pub containers: usize,
    pub run_ids: Vec<String>,
}

/// Removes the harness's containers (of this namespace) whose owner process is known to be
/// dead (a run killed outright); containers of live runs, of other hosts, or without an
/// owner label stay.
pub async fn remove_orphans(docker: &Docker) -> anyhow::Result<Orphans> {
    let filters = labels::filter(None);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let listed = retry::run_call("list the harness's containers", Call::Read, || {
        docker.list_containers(Some(options.clone()))
    })
    .await?;
    let mut orphans = Orphans::default();
    for c in listed {
        let (Some(id), Some(container_labels)) = (c.id, c.labels) else {
            continue;
        };
        let dead = labels::in_namespace(&container_labels)
            && container_labels
                .get(labels::OWNER)
                .is_some_and(|o| owner::liveness(o) == Liveness::Dead);
        if !dead {
            continue;
        }
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let removed = retry::run_call(format!("remove container {id}"), Call::Read, || {
            docker.remove_container(&id, Some(options.clone()))
        })
        .await;
        match removed {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(e),
        }
        orphans.containers += 1;
        let run_id = container_labels.get(labels::RUN_ID).cloned();
        if let Some(run_id) = run_id.filter(|r| !orphans.run_ids.contains(r)) {
            orphans.run_ids.push(run_id);
        }
    }
    Ok(orphans)
}

fn is_not_found(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<bollard::errors::Error>(),
        Some(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        })
    )
}

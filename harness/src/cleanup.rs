//! Finding and removing what the harness created, by its labels only: containers first,
//! then variant images, and the base images only when asked. Anything without the
//! harness's tool label is never touched.

use crate::labels;
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

/// Removes the harness's containers (of one run, when `run_id` is given); returns how many.
pub async fn remove_containers(docker: &Docker, run_id: Option<&str>) -> anyhow::Result<usize> {
    let filters = labels::filter(run_id);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut removed = 0;
    for c in docker.list_containers(Some(options)).await? {
        let Some(id) = c.id else { continue };
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        docker.remove_container(&id, Some(options)).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Removes the harness's containers and variant images (of one run, when `run_id` is
/// given); base images too when `include_base`.
pub async fn clean(
    docker: &Docker,
    run_id: Option<&str>,
    include_base: bool,
) -> anyhow::Result<Cleaned> {
    let mut cleaned = Cleaned {
        containers: remove_containers(docker, run_id).await?,
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
        if role == Some("base") && !include_base {
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

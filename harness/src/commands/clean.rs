//! `harness clean`: remove what the harness created on the daemon, found by its labels.

use super::tokio_runtime::runtime;
use crate::runtime::docker_client;

/// Removes this namespace's containers and images (or only dead runs' containers).
pub fn execute(args: &crate::cli::CleanArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let docker = docker_client::connect().await?;
        if args.orphans {
            let orphans = crate::cleanup::remove_orphans(&docker).await?;
            println!(
                "removed {} containers of runs that died ({})",
                orphans.containers,
                orphans.run_ids.join(", ")
            );
            return Ok(());
        }
        let cleaned = crate::cleanup::clean(&docker, args.run_id.as_deref(), args.all).await?;
        println!(
            "removed {} containers and {} images",
            cleaned.containers, cleaned.images
        );
        Ok(())
    })
}

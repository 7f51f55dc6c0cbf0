//! Pulling an image on a fresh node, timed from the daemon's own progress events.
//!
//! The pull is one `create_image` call; its stream reports per layer `Download complete`
//! when the layer's bytes are in and `Pull complete` when it is unpacked. The download
//! share is the time until the last layer's bytes were in; the unpack share is the rest of
//! the pull (layers that unpacked while later ones still downloaded count as download, so
//! the unpack share is what a faster link could not hide).

use anyhow::Context;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use std::time::Instant;

/// One pull's times, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PullTimes {
    pub pull_ms: f64,
    pub download_ms: f64,
    pub unpack_ms: f64,
}

/// A progress event's status, and when it arrived (ms since the pull started).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at_ms: f64,
    pub layer: Option<String>,
    pub status: String,
}

/// Splits a pull that took `pull_ms` by its events: download until the last layer's
/// `Download complete`, unpack the rest. `None` when no layer reported its download done.
pub fn split(events: &[Event], pull_ms: f64) -> Option<PullTimes> {
    let download_ms = events
        .iter()
        .filter(|e| e.layer.is_some() && e.status == "Download complete")
        .map(|e| e.at_ms)
        .max_by(f64::total_cmp)?
        .min(pull_ms);
    Some(PullTimes {
        pull_ms,
        download_ms,
        unpack_ms: pull_ms - download_ms,
    })
}

/// Pulls `image` (`registry/repository:tag`) on `docker`, recording every progress event.
pub async fn pull(docker: &Docker, image: &str) -> anyhow::Result<PullTimes> {
    let (repository, tag) = image
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .with_context(|| format!("{image} has no tag"))?;
    let options = CreateImageOptionsBuilder::default()
        .from_image(repository)
        .tag(tag)
        .build();
    let start = Instant::now();
    let mut stream = docker.create_image(Some(options), None, None);
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        let at_ms = start.elapsed().as_secs_f64() * 1e3;
        let info = item.with_context(|| format!("pulling {image} failed"))?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            anyhow::bail!("pulling {image} failed: {detail}");
        }
        if let Some(status) = info.status {
            events.push(Event {
                at_ms,
                layer: info.id,
                status,
            });
        }
    }
    let pull_ms = start.elapsed().as_secs_f64() * 1e3;
    split(&events, pull_ms).with_context(|| {
        format!("the daemon reported no `Download complete` while pulling {image}, so download and unpack cannot be told apart")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: f64, layer: &str, status: &str) -> Event {
        Event {
            at_ms,
            layer: (!layer.is_empty()).then(|| layer.to_string()),
            status: status.into(),
        }
    }

    #[test]
    fn download_ends_at_the_last_layers_download_complete() {
        let events = [
            event(1.0, "", "Pulling from glibc-vs-musl/http"),
            event(2.0, "a", "Pulling fs layer"),
            event(2.0, "b", "Pulling fs layer"),
            event(30.0, "a", "Download complete"),
            event(31.0, "a", "Extracting"),
            event(45.0, "b", "Download complete"),
            event(60.0, "a", "Pull complete"),
            event(70.0, "b", "Pull complete"),
            event(71.0, "", "Digest: sha256:x"),
        ];
        let times = split(&events, 72.0).unwrap();
        assert_eq!(times.download_ms, 45.0);
        assert_eq!(times.unpack_ms, 27.0);
        assert_eq!(times.pull_ms, times.download_ms + times.unpack_ms);
    }

    #[test]
    fn without_download_events_there_is_no_split() {
        let events = [event(1.0, "", "Status: Image is up to date")];
        assert_eq!(split(&events, 5.0), None);
    }
}

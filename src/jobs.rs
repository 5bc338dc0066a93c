//! Scheduled work, each a small named function on [`Hafen`]; this module only says when.

use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::service::Hafen;

/// Starts the scheduler: queued sends and pending media downloads every `interval`.
pub async fn start(hafen: Hafen, interval: Duration) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let job = Job::new_repeated_async(interval, move |_id, _scheduler| {
        let hafen = hafen.clone();
        Box::pin(async move {
            match hafen.run_due_sends().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(attempted = n, "retried queued sends"),
                Err(e) => {
                    tracing::error!(error = %crate::telemetry::chain(&e), "retrying queued sends failed")
                }
            }
        })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

//! Scheduled work, each a small named function on [`Hafen`]; this module only says when.

use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::service::Hafen;

/// Starts the scheduler: queued sends, event deliveries and media downloads every `interval`.
pub async fn start(hafen: Hafen, interval: Duration) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let job = Job::new_repeated_async(interval, move |_id, _scheduler| {
        let hafen = hafen.clone();
        Box::pin(async move { run_due_work(&hafen).await })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// Everything that waits for its time: retries of sends, event deliveries, media downloads,
/// expiry of unconfirmed consent requests, scheduled broadcasts.
pub async fn run_due_work(hafen: &Hafen) {
    report("retried queued sends", hafen.run_due_sends().await);
    report("delivered events", hafen.run_due_event_deliveries().await);
    report("downloaded media", hafen.run_due_downloads().await);
    report(
        "expired consent requests",
        hafen.expire_consent_requests().await,
    );
    report(
        "started scheduled broadcasts",
        hafen.run_due_broadcasts().await,
    );
}

fn report(what: &str, result: crate::error::Result<usize>) {
    match result {
        Ok(0) => {}
        Ok(n) => tracing::info!(attempted = n, "{what}"),
        Err(e) => {
            tracing::error!(error = %crate::telemetry::chain(&e), "scheduled work failed: {what}")
        }
    }
}

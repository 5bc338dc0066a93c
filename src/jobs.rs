//! Scheduled work, each a small named operation of a service; this module only says when.

use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::service::Hafen;

/// What the scheduler runs, read from the configuration. Each schedule stands on its own:
/// switching scheduled retries off (`retry_interval_secs = 0`) leaves the retention sweep and
/// the backups running — a retention rule that silently stopped deleting would be a breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedules {
    /// Queued sends, event deliveries and media downloads, every this often.
    pub retries: Option<Duration>,
    /// Retention sweeps, on this cron schedule (UTC).
    pub retention: Option<String>,
    /// Backups, on this cron schedule (UTC).
    pub backups: Option<String>,
}

impl Schedules {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let cron = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Self {
            retries: (config.retry_interval_secs > 0)
                .then(|| Duration::from_secs(config.retry_interval_secs)),
            retention: cron(&config.retention_schedule),
            backups: cron(&config.backup_schedule),
        }
    }

    /// Whether anything is scheduled at all.
    pub fn any(&self) -> bool {
        self.retries.is_some() || self.retention.is_some() || self.backups.is_some()
    }
}

/// Starts the scheduler with every schedule `schedules` names.
pub async fn start(
    hafen: Hafen,
    schedules: &Schedules,
    config: crate::config::Config,
) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let clock = hafen.clock().clone();
    if let Some(interval) = schedules.retries {
        let due = hafen.clone();
        let job = Job::new_repeated_async(interval, move |_id, _scheduler| {
            let hafen = due.clone();
            Box::pin(async move { run_due_work_once(&hafen).await })
        })?;
        scheduler.add(job).await?;
    }
    if let Some(cron) = &schedules.retention {
        let sweep = Job::new_async(cron.as_str(), move |_id, _scheduler| {
            let hafen = hafen.clone();
            Box::pin(async move { run_retention(&hafen).await })
        })
        .map_err(|e| {
            anyhow::anyhow!("retention_schedule '{cron}' is not a valid cron expression: {e}")
        })?;
        scheduler.add(sweep).await?;
    }
    if let Some(cron) = &schedules.backups {
        let job = Job::new_async(cron.as_str(), move |_id, _scheduler| {
            let (config, clock) = (config.clone(), clock.clone());
            Box::pin(async move { run_backup(config, clock).await })
        })
        .map_err(|e| {
            anyhow::anyhow!("backup_schedule '{cron}' is not a valid cron expression: {e}")
        })?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    Ok(scheduler)
}

/// Everything that waits for its time: retries of sends, event deliveries, media downloads,
/// expiry of unconfirmed consent requests, scheduled broadcasts.
pub async fn run_due_work(hafen: &Hafen) {
    report("retried queued sends", hafen.channels.run_due_sends().await);
    report("delivered events", hafen.events.run_due_deliveries().await);
    report("downloaded media", hafen.channels.run_due_downloads().await);
    report(
        "expired consent requests",
        hafen.consent.expire_requests().await,
    );
    report(
        "started scheduled broadcasts",
        hafen.consent.run_due_broadcasts().await,
    );
    report(
        "audited webhook rejections",
        hafen.channels.flush_rejections().await,
    );
}

/// Runs the due work now, after any run already going (one run at a time per process).
pub async fn run_due_work_once(hafen: &Hafen) {
    let _one_at_a_time = hafen.infra.due.running.lock().await;
    run_due_work(hafen).await;
}

/// While serving: runs the due work whenever a write asked for it (`DueSignal::ask`). Asks
/// that arrive during a run cause one more run after it, however many arrive: 64 concurrent
/// webhook deliveries with files or subscribed events cause two runs, not 64 runs racing for
/// the same rows.
pub async fn run_when_asked(hafen: Hafen) {
    loop {
        hafen.infra.due.asked.notified().await;
        run_due_work_once(&hafen).await;
    }
}

/// A scheduled backup into `backup_dir/<UTC time>`, then pruning to `backup_keep`.
async fn run_backup(config: crate::config::Config, clock: crate::clock::SharedClock) {
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, usize)> {
        let root = config
            .backup_dir
            .clone()
            .ok_or_else(|| anyhow::anyhow!("backup_dir is not set"))?;
        let now = clock.now();
        let dir = root.join(now.format("%Y%m%dT%H%M%SZ").to_string());
        crate::backup::backup(&config, &dir, now, &|step| tracing::debug!(step, "backup"))?;
        let removed = crate::backup::prune(&root, config.backup_keep)?;
        Ok((dir.display().to_string(), removed))
    })
    .await;
    match result {
        Ok(Ok((dir, removed))) => tracing::info!(%dir, removed, "scheduled backup written"),
        Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "scheduled backup failed"),
        Err(e) => tracing::error!(error = %e, "scheduled backup panicked"),
    }
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

/// A scheduled retention sweep over every tenant; another instance may be running it.
pub async fn run_retention(hafen: &Hafen) {
    match hafen
        .retention
        .run(&crate::auth::Actor::System, None, false)
        .await
    {
        Ok(report) if !report.ran => {
            tracing::info!("retention skipped: another instance is sweeping")
        }
        Ok(report) => {
            let deleted: u64 = report
                .tenants
                .iter()
                .filter_map(|t| t.certificate.as_ref())
                .flat_map(|c| c.counts.values())
                .sum();
            tracing::info!(run = %report.run_id, deleted, "retention run finished");
        }
        Err(e) => {
            tracing::error!(error = %crate::telemetry::chain(&e), "retention run failed; the next run resumes")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_retries_off_keeps_retention_and_backups_scheduled() {
        let mut config = crate::config::Config::for_data_dir(std::path::Path::new("/tmp/x"));
        config.retry_interval_secs = 0;
        config.backup_schedule = "0 0 3 * * *".into();
        let schedules = Schedules::from_config(&config);
        assert_eq!(schedules.retries, None);
        assert_eq!(schedules.retention.as_deref(), Some("0 30 2 * * *"));
        assert_eq!(schedules.backups.as_deref(), Some("0 0 3 * * *"));
        assert!(schedules.any());

        config.retention_schedule = " ".into();
        config.backup_schedule = String::new();
        assert!(!Schedules::from_config(&config).any());
        config.retry_interval_secs = 15;
        assert_eq!(
            Schedules::from_config(&config).retries,
            Some(Duration::from_secs(15))
        );
    }
}

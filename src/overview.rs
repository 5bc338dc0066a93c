//! The dashboard's figures: ingest rate, channel health, retention overdue, open data-subject
//! requests with their deadlines, and the last backup. Each section is shown only to roles
//! that may see it; counts carry no personal data.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::error::Result;
use crate::infra::Infra;
use crate::metrics::CategoryLabels;
use crate::requests::RequestView;
use crate::requests::Requests;
use crate::retention::certificates;
use crate::retention::rules::Category;
use crate::retention::Retention;
use crate::store::id;
use crate::store::schema::{channels, messages, retention_certificates};
use crate::tenants::{self, TenantId};

#[derive(Debug, Clone)]
pub struct ChannelHealth {
    pub tenant: String,
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub platform: String,
    pub enabled: bool,
    pub last_message: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub tenant: String,
    pub tenant_id: String,
    pub request: RequestView,
}

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub received_last_hour: i64,
    pub received_last_day: i64,
    /// Empty unless the actor may manage channels.
    pub channels: Vec<ChannelHealth>,
    /// Install-wide roles also see retention and backup state.
    pub install_wide: bool,
    /// Items due but not deleted at the end of this instance's last retention run (all
    /// tenants); None until this instance has run one since it started (another instance may
    /// be the one sweeping), rather than a reassuring 0.
    pub retention_overdue: Option<i64>,
    /// When the newest run in which every tenant's sweep completed finished, by any instance
    /// (from the deletion certificates, so it survives restarts).
    pub retention_last_success: Option<DateTime<Utc>>,
    /// When a run newer than that one failed or was interrupted: shown as a warning.
    pub retention_failed_since: Option<DateTime<Utc>>,
    /// Open requests, earliest deadline first; empty unless the actor handles requests.
    pub open_requests: Vec<OpenRequest>,
    pub last_backup: Option<DateTime<Utc>>,
    /// When a retention rule set needs a second person: always, or above this share of a
    /// tenant's messages deleted at once (percent).
    pub approval_always: bool,
    pub approval_above_percent: f64,
}

/// How many of the newest certificates the dashboard reads to find the last clean run: enough
/// for several runs over hundreds of tenants.
const RECENT_CERTIFICATES: i64 = 2000;

/// The retention runs as their certificates tell them, newest first.
#[derive(Debug, Default, PartialEq)]
struct Sweeps {
    last_success: Option<DateTime<Utc>>,
    failed_since: Option<DateTime<Utc>>,
}

impl Sweeps {
    /// From (run id, state, finished at) of finished certificates, newest first: a run
    /// succeeded when every one of its certificates completed. Runs never overlap (the sweep
    /// lock), so a run's certificates are neighbours in this order.
    fn of(certificates: Vec<(String, String, Option<i64>)>) -> Self {
        let mut runs: Vec<(String, bool, i64)> = Vec::new();
        for (run, state, finished) in certificates {
            let (ok, at) = (state == certificates::COMPLETED, finished.unwrap_or(0));
            match runs.last_mut() {
                Some(entry) if entry.0 == run => {
                    entry.1 &= ok;
                    entry.2 = entry.2.max(at);
                }
                _ => runs.push((run, ok, at)),
            }
        }
        let mut sweeps = Sweeps::default();
        for (_, ok, at) in runs {
            if ok {
                sweeps.last_success = Some(from_micros(at));
                break;
            }
            sweeps.failed_since.get_or_insert(from_micros(at));
        }
        sweeps
    }
}

/// The dashboard's figures: what each person may see of channels, requests, retention and
/// the records, read together.
#[derive(Debug, Clone)]
pub struct Overview {
    pub(crate) infra: Infra,
    pub(crate) requests: Requests,
    pub(crate) retention: Retention,
}

impl Overview {
    pub fn new(infra: Infra, requests: Requests, retention: Retention) -> Self {
        Self {
            infra,
            requests,
            retention,
        }
    }
}

impl Overview {
    /// The tenants an actor can see: its own, or all for install-wide roles.
    pub async fn visible_tenants(&self, actor: &Actor) -> Result<Vec<(TenantId, String)>> {
        let rows = self.infra.store.read(tenants::list).await?;
        let own = actor.person().and_then(|(_, t)| t.cloned());
        rows.into_iter()
            .filter(|r| own.as_ref().is_none_or(|t| t.as_str() == r.id))
            .map(|r| Ok((TenantId::parse(&r.id)?, r.name)))
            .collect()
    }

    pub async fn dashboard(&self, actor: &Actor) -> Result<Dashboard> {
        let tenants = self.visible_tenants(actor).await?;
        let ids: Vec<String> = tenants
            .iter()
            .map(|(t, _)| t.as_str().to_string())
            .collect();
        let now = self.infra.clock.now();
        let (hour, day) = (
            to_micros(now - chrono::Duration::hours(1)),
            to_micros(now - chrono::Duration::days(1)),
        );
        let scope = ids.clone();
        let (received_last_hour, received_last_day, channel_rows, last_backup, sweeps) = self
            .infra
            .store
            .read(move |conn| {
                let count = |conn: &mut crate::store::DbConn, since: i64| {
                    messages::table
                        .filter(messages::tenant_id.eq_any(id::bind_all(&scope)))
                        .filter(messages::received_at.ge(since))
                        .select(count_star())
                        .first::<i64>(conn)
                };
                let last_hour = count(conn, hour)?;
                let last_day = count(conn, day)?;
                let channels: Vec<(String, String, String, String, bool)> = channels::table
                    .filter(channels::tenant_id.eq_any(id::bind_all(&scope)))
                    .order((channels::tenant_id, channels::name))
                    .select((
                        channels::tenant_id,
                        channels::id,
                        channels::name,
                        channels::platform,
                        channels::enabled,
                    ))
                    .load(conn)?;
                let mut rows = Vec::with_capacity(channels.len());
                for (tenant, id, name, platform, enabled) in channels {
                    let last: Option<i64> = messages::table
                        .filter(messages::channel_id.eq(&id))
                        .select(max(messages::received_at))
                        .first(conn)?;
                    rows.push((tenant, id, name, platform, enabled, last));
                }
                let recent_certificates = retention_certificates::table
                    .filter(retention_certificates::finished_at.is_not_null())
                    .order(retention_certificates::started_at.desc())
                    .limit(RECENT_CERTIFICATES)
                    .select((
                        retention_certificates::run_id,
                        retention_certificates::state,
                        retention_certificates::finished_at,
                    ))
                    .load(conn)?;
                let last_backup = crate::store::last_backup(conn)?;
                let sweeps = Sweeps::of(recent_certificates);
                Ok((last_hour, last_day, rows, last_backup, sweeps))
            })
            .await?;
        let name_of = |id: &str| {
            tenants
                .iter()
                .find(|(t, _)| t.as_str() == id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default()
        };
        let channels = channel_rows
            .into_iter()
            .filter(|(tenant, ..)| {
                TenantId::parse(tenant)
                    .is_ok_and(|t| actor.authorize(&t, Permission::ManageChannels).is_ok())
            })
            .map(
                |(tenant, id, name, platform, enabled, last)| ChannelHealth {
                    tenant: name_of(&tenant),
                    tenant_id: tenant,
                    id,
                    name,
                    platform,
                    enabled,
                    last_message: last.map(from_micros),
                },
            )
            .collect();
        let mut open_requests = Vec::new();
        for (tenant, name) in &tenants {
            if actor.authorize(tenant, Permission::HandleRequests).is_err() {
                continue;
            }
            for request in self.requests.list(actor, tenant, false).await? {
                if request.status == "open" || request.status == crate::requests::DECISION_NEEDED {
                    open_requests.push(OpenRequest {
                        tenant: name.clone(),
                        tenant_id: tenant.as_str().to_string(),
                        request,
                    });
                }
            }
        }
        open_requests.sort_by(|a, b| {
            let due = |r: &RequestView| r.extended_due_on.clone().unwrap_or(r.due_on.clone());
            due(&a.request).cmp(&due(&b.request))
        });
        let swept_here = self.infra.metrics.retention_last_run.get() > 0;
        let retention_overdue = Category::ALL
            .iter()
            .map(|c| {
                self.infra
                    .metrics
                    .retention_overdue
                    .get_or_create(&CategoryLabels {
                        category: c.as_str().into(),
                    })
                    .get()
            })
            .sum::<i64>();
        let install_wide = matches!(actor.person(), Some((_, None)) | None);
        Ok(Dashboard {
            install_wide,
            received_last_hour,
            received_last_day,
            channels,
            retention_overdue: swept_here.then_some(retention_overdue),
            retention_last_success: sweeps.last_success,
            retention_failed_since: sweeps.failed_since,
            open_requests,
            last_backup,
            approval_always: self.retention.settings.require_approval,
            approval_above_percent: self.retention.settings.approval_above_share * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(run: &str, state: &str, at: i64) -> (String, String, Option<i64>) {
        (run.into(), state.into(), Some(at))
    }

    #[test]
    fn a_run_succeeds_only_when_every_tenant_completed() {
        let sweeps = Sweeps::of(vec![
            cert("r3", certificates::COMPLETED, 30),
            cert("r3", certificates::FAILED, 31),
            cert("r2", certificates::COMPLETED, 20),
            cert("r2", certificates::COMPLETED, 22),
            cert("r1", certificates::COMPLETED, 10),
        ]);
        assert_eq!(sweeps.last_success, Some(from_micros(22)));
        assert_eq!(sweeps.failed_since, Some(from_micros(31)));
        assert_eq!(Sweeps::of(vec![]), Sweeps::default());
        let clean = Sweeps::of(vec![cert("r1", certificates::COMPLETED, 10)]);
        assert_eq!(clean.failed_since, None);
    }
}

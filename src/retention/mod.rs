//! Retention and deletion (DIN 66398): versioned rule sets that take effect only after their
//! dry-run was viewed, legal holds, sweeps in batches, crypto-shredding of period keys, and
//! hash-chained deletion certificates. See docs/retention.md.

pub mod certificates;
pub mod coverage;
pub mod holds;
pub mod rules;
pub mod run;
pub mod select;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, AuditEvent, ChainReport};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::periods::{self as keys, PeriodKeys};
use crate::requests::Requests;
use crate::store::schema::{retention_previews, retention_rule_sets, tenants};
use crate::store::{backend, DbConn, StoreError};
use crate::tenants::TenantId;

use certificates::{CertificateProgress, CertificateView};
use rules::{Category, RuleInput, RuleSet};
use run::Forecast;

/// Install-wide retention settings (config `retention.*`).
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// Items deleted per transaction.
    pub batch: i64,
    /// A rule set needs a second admin's approval before it applies.
    pub require_approval: bool,
    /// Shortest period a rule may have (`retention_min_period_days`).
    pub min_period: Duration,
    /// A rule set deleting more than this share of a tenant's messages at once needs a second
    /// admin's approval even when `require_approval` is off (`retention_approval_above_percent`).
    pub approval_above_share: f64,
    /// How long a preview id may be cited by an activation.
    pub preview_valid_for: Duration,
    /// Audit entries are kept this many years after the end of their year (0: for ever);
    /// pruned by install-wide runs.
    pub audit_years: u32,
    /// Serialises sweeps within this process (PostgreSQL adds an advisory lock across
    /// instances).
    pub(crate) local_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            batch: 10_000,
            require_approval: false,
            min_period: Duration::days(1),
            approval_above_share: 0.10,
            preview_valid_for: Duration::hours(24),
            audit_years: 10,
            local_lock: Arc::default(),
        }
    }
}

/// Rule set states.
const PENDING: &str = "pending_approval";
const ACTIVE: &str = "active";
const SUPERSEDED: &str = "superseded";
const REJECTED: &str = "rejected";

/// What a dry-run found: due now, and due within the next 30 days.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewReport {
    /// Cite this id to activate exactly these rules.
    pub preview_id: String,
    pub at: DateTime<Utc>,
    /// The rules as they would apply: the proposal completed by the install's defaults.
    pub effective_rules: Vec<RuleInput>,
    /// Due at once.
    pub now: Forecast,
    /// Not due yet, but within 30 days.
    pub next_30_days: Forecast,
    /// The share of the tenant's messages whose content these rules delete at once (0–1).
    pub share_of_messages: f64,
    /// Why activating these rules will wait for a second person's approval; null if it won't.
    pub needs_approval: Option<String>,
}

/// One version of a tenant's rule set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleSetVersion {
    pub version: i32,
    /// `pending_approval`, `active`, `superseded`, `rejected`.
    pub state: String,
    pub rules: Vec<RuleInput>,
    pub preview_id: String,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    pub superseded_at: Option<DateTime<Utc>>,
}

/// The rules in force for a tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RulesView {
    /// The active version; null while the install's defaults apply.
    pub active: Option<RuleSetVersion>,
    pub pending: Vec<RuleSetVersion>,
    /// What the next sweep applies: the active rules completed by the defaults.
    pub effective: Vec<RuleInput>,
    pub defaults: Vec<RuleInput>,
}

/// What one sweep did (or, dry, would do) per tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub run_id: String,
    pub dry_run: bool,
    /// False when another instance was sweeping: nothing was done.
    pub ran: bool,
    pub tenants: Vec<TenantRun>,
    /// Oldest audit entries removed (install-wide runs only; see `audit_retention_years`).
    pub audit_entries_pruned: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantRun {
    pub tenant_id: String,
    /// The certificate, for a real run.
    pub certificate: Option<CertificateView>,
    /// What is due, for a dry run.
    pub forecast: Option<Forecast>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = retention_rule_sets)]
struct RuleSetRow {
    id: String,
    tenant_id: String,
    version: i32,
    rules: String,
    rules_hash: Vec<u8>,
    state: String,
    preview_id: String,
    proposed_by: String,
    proposed_at: i64,
    decided_by: Option<String>,
    activated_at: Option<i64>,
    superseded_at: Option<i64>,
}

impl RuleSetRow {
    fn view(&self) -> RuleSetVersion {
        RuleSetVersion {
            version: self.version,
            state: self.state.clone(),
            rules: serde_json::from_str(&self.rules).unwrap_or_default(),
            preview_id: self.preview_id.clone(),
            proposed_by: self.proposed_by.clone(),
            proposed_at: from_micros(self.proposed_at),
            decided_by: self.decided_by.clone(),
            activated_at: self.activated_at.map(from_micros),
            superseded_at: self.superseded_at.map(from_micros),
        }
    }

    fn rule_set(&self) -> Result<RuleSet, StoreError> {
        let inputs: Vec<RuleInput> = serde_json::from_str(&self.rules).map_err(|e| {
            StoreError::from(Error::internal(anyhow::anyhow!(
                "stored retention rules: {e}"
            )))
        })?;
        RuleSet::parse(&inputs).map_err(|e| {
            StoreError::from(Error::internal(anyhow::anyhow!(
                "stored retention rules: {e}"
            )))
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = retention_previews)]
struct PreviewRow {
    id: String,
    tenant_id: String,
    rules_hash: Vec<u8>,
    summary: String,
    created_by: String,
    created_at: i64,
}

fn active_row(conn: &mut DbConn, tenant: &str) -> Result<Option<RuleSetRow>, StoreError> {
    Ok(retention_rule_sets::table
        .filter(retention_rule_sets::tenant_id.eq(tenant))
        .filter(retention_rule_sets::state.eq(ACTIVE))
        .select(RuleSetRow::as_select())
        .first(conn)
        .optional()?)
}

/// The rules a sweep applies to `tenant` now, and the version they come from (0: defaults).
pub(crate) fn rules_in_force(
    conn: &mut DbConn,
    tenant: &str,
) -> Result<(RuleSet, i32), StoreError> {
    match active_row(conn, tenant)? {
        Some(row) => Ok((row.rule_set()?.effective(), row.version)),
        None => Ok((rules::defaults(), 0)),
    }
}

/// The categories `tenant`'s own active rules name (the rest follow the install's defaults).
pub(crate) fn own_categories(conn: &mut DbConn, tenant: &str) -> Result<Vec<Category>, StoreError> {
    Ok(match active_row(conn, tenant)? {
        Some(row) => row.rule_set()?.rules.iter().map(|r| r.category).collect(),
        None => Vec::new(),
    })
}

/// Makes `row` the active version, superseding the previous one.
fn activate(conn: &mut DbConn, row: &RuleSetRow, by: &str, at: i64) -> Result<(), StoreError> {
    diesel::update(
        retention_rule_sets::table
            .filter(retention_rule_sets::tenant_id.eq(&row.tenant_id))
            .filter(retention_rule_sets::state.eq(ACTIVE)),
    )
    .set((
        retention_rule_sets::state.eq(SUPERSEDED),
        retention_rule_sets::superseded_at.eq(Some(at)),
    ))
    .execute(conn)?;
    diesel::update(retention_rule_sets::table.filter(retention_rule_sets::id.eq(&row.id)))
        .set((
            retention_rule_sets::state.eq(ACTIVE),
            retention_rule_sets::decided_by.eq(Some(by)),
            retention_rule_sets::activated_at.eq(Some(at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Messages of a tenant whose content is still held.
fn live_messages(conn: &mut DbConn, tenant: &str) -> Result<u64, StoreError> {
    use crate::store::schema::messages;
    let n: i64 = messages::table
        .filter(messages::tenant_id.eq(tenant))
        .filter(messages::content_deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n.max(0) as u64)
}

/// Message contents a forecast deletes.
fn content_count(forecast: &Forecast) -> u64 {
    forecast
        .categories
        .iter()
        .find(|c| c.category == Category::MessageContent.as_str())
        .map_or(0, |c| c.count)
}

fn share_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

/// Why a rule set deleting `share` of the messages needs a second person, if it does.
fn approval_reason(settings: &RetentionSettings, share: f64) -> Option<String> {
    if settings.require_approval {
        Some("this install requires a second person's approval for every rule set (retention_require_approval)".into())
    } else if share > settings.approval_above_share {
        Some(format!(
            "these rules delete {:.1} % of the tenant's messages at once, more than the {:.0} % one person may decide alone (retention_approval_above_percent): a second person must approve",
            share * 100.0,
            settings.approval_above_share * 100.0
        ))
    } else {
        None
    }
}

/// The retention service: rule sets (proposed, previewed, approved), legal holds, the sweep
/// that deletes what is due and certifies it, the certificates' chain.
#[derive(Debug, Clone)]
pub struct Retention {
    pub(crate) infra: Infra,
    pub(crate) periods: PeriodKeys,
    /// What erasure requests kept back is erased by the sweep when its end has passed.
    pub(crate) requests: Requests,
    pub(crate) settings: RetentionSettings,
}

impl Retention {
    pub fn new(
        infra: Infra,
        periods: PeriodKeys,
        requests: Requests,
        settings: RetentionSettings,
    ) -> Self {
        Self {
            infra,
            periods,
            requests,
            settings,
        }
    }
}

impl Retention {
    fn approval_reason(&self, share: f64) -> Option<String> {
        approval_reason(&self.settings, share)
    }

    /// Refuses periods shorter than the install's floor: one token must not be able to delete
    /// everything at once with `P0D`.
    fn check_floor(&self, set: &RuleSet) -> Result<()> {
        let floor = self.settings.min_period;
        for (i, rule) in set.rules.iter().enumerate() {
            if let rules::Retain::For(period) = rule.retain {
                if period.approximate() < floor {
                    return Err(Error::invalid(
                        format!("rules[{i}].period"),
                        format!(
                            "{} is shorter than this install's shortest period of {} day(s) (retention_min_period_days)",
                            period.iso(),
                            floor.num_days()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Dry-run of a proposed rule set: what it would delete now and within 30 days. The
    /// answer's preview id is what an activation must cite.
    pub async fn preview(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        proposal: Vec<RuleInput>,
    ) -> Result<PreviewReport> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        let set = RuleSet::parse(&proposal)?;
        self.check_floor(&set)?;
        self.infra.ensure_tenant(tenant).await?;
        let now = self.infra.clock.now();
        let effective = set.effective();
        let (t, rules) = (tenant.as_str().to_string(), effective.clone());
        let (due_now, due_soon, messages) = self
            .infra
            .store
            .read(move |conn| {
                let due_now = run::forecast(conn, &t, &rules, now, None)?;
                let soon = run::forecast(conn, &t, &rules, now + Duration::days(30), Some(now))?;
                Ok((due_now, soon, live_messages(conn, &t)?))
            })
            .await?;
        let share = share_of(content_count(&due_now), messages);
        let report = PreviewReport {
            preview_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            at: now,
            effective_rules: effective.inputs(),
            now: due_now,
            next_30_days: due_soon,
            share_of_messages: share,
            needs_approval: self.approval_reason(share),
        };
        let row = PreviewRow {
            id: report.preview_id.clone(),
            tenant_id: tenant.as_str().to_string(),
            rules_hash: set.hash(),
            summary: serde_json::to_string(&report.now).unwrap_or_default(),
            created_by: actor.audit_label(),
            created_at: to_micros(now),
        };
        let event = AuditEvent::new(actor, "retention.preview")
            .tenant(tenant)
            .object("retention_preview", &report.preview_id)
            .detail(format!(
                "due now {}, within 30 days {}",
                report.now.total, report.next_30_days.total
            ));
        self.infra
            .store
            .write(move |conn| {
                diesel::insert_into(retention_previews::table)
                    .values(&row)
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(report)
    }

    /// Records a new version of the tenant's rules, citing the preview of exactly these
    /// rules. It applies at once, or after a second admin approves (config).
    pub async fn propose(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        proposal: Vec<RuleInput>,
        preview_id: &str,
    ) -> Result<RuleSetVersion> {
        actor.authorize(tenant, Permission::ManageRetention)?;
        let set = RuleSet::parse(&proposal)?;
        self.check_floor(&set)?;
        self.infra.ensure_tenant(tenant).await?;
        let now = self.infra.clock.now();
        let oldest_preview = to_micros(now - self.settings.preview_valid_for);
        let settings = self.settings.clone();
        let (t, preview, by) = (
            tenant.as_str().to_string(),
            preview_id.to_string(),
            actor.audit_label(),
        );
        let hash = set.hash();
        let rules_json = set.canonical_json();
        let tenant_id = tenant.clone();
        let actor_owned = actor.clone();
        let row = self.infra
            .store
            .write(move |conn| {
                let found: Option<PreviewRow> = retention_previews::table
                    .filter(retention_previews::tenant_id.eq(&t))
                    .filter(retention_previews::id.eq(&preview))
                    .select(PreviewRow::as_select())
                    .first(conn)
                    .optional()?;
                let reject = |m: &str| Err(StoreError::from(Error::invalid("preview_id", m)));
                let Some(found) = found else {
                    return reject("names no preview of this tenant: run the preview first");
                };
                if found.rules_hash != hash {
                    return reject("belongs to other rules: preview exactly these rules first");
                }
                if found.created_at < oldest_preview {
                    return reject("has expired: preview the rules again");
                }
                // The share the preview showed, against the messages held now.
                let due = serde_json::from_str::<serde_json::Value>(&found.summary)
                    .ok()
                    .and_then(|v| {
                        v["categories"].as_array()?.iter().find_map(|c| {
                            (c["category"] == Category::MessageContent.as_str())
                                .then(|| c["count"].as_u64())
                                .flatten()
                        })
                    })
                    .unwrap_or(0);
                let share = share_of(due, live_messages(conn, &t)?);
                let require_approval = approval_reason(&settings, share).is_some();
                let last: Option<i32> = retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(&t))
                    .select(diesel::dsl::max(retention_rule_sets::version))
                    .first(conn)?;
                let previous = active_row(conn, &t)?.map(|r| r.version).unwrap_or(0);
                let row = RuleSetRow {
                    id: uuid::Uuid::now_v7().hyphenated().to_string(),
                    tenant_id: t.clone(),
                    version: last.unwrap_or(0) + 1,
                    rules: rules_json.clone(),
                    rules_hash: hash.clone(),
                    state: PENDING.into(),
                    preview_id: preview.clone(),
                    proposed_by: by.clone(),
                    proposed_at: to_micros(now),
                    decided_by: None,
                    activated_at: None,
                    superseded_at: None,
                };
                diesel::insert_into(retention_rule_sets::table)
                    .values(&row)
                    .execute(conn)?;
                let action = if require_approval {
                    "retention.rules.propose"
                } else {
                    activate(conn, &row, &by, to_micros(now))?;
                    "retention.rules.activate"
                };
                audit::append(
                    conn,
                    now,
                    AuditEvent::new(&actor_owned, action)
                        .tenant(&tenant_id)
                        .object("retention_rules", row.version.to_string())
                        .detail(format!(
                            "version {previous} -> {}, preview {}, deletes {:.1} % of the messages at once",
                            row.version,
                            row.preview_id,
                            share * 100.0
                        )),
                )?;
                Ok(row)
            })
            .await?;
        self.rule_version(tenant, row.version).await
    }

    /// A second admin approves (or rejects) a pending version; the proposer cannot.
    pub async fn decide(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        version: i32,
        approve: bool,
    ) -> Result<RuleSetVersion> {
        actor.authorize(tenant, Permission::ManageRetention)?;
        let now = self.infra.clock.now();
        let (t, by, actor_owned, tenant_id) = (
            tenant.as_str().to_string(),
            actor.audit_label(),
            actor.clone(),
            tenant.clone(),
        );
        self.infra
            .store
            .write(move |conn| {
                let row: RuleSetRow = retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(&t))
                    .filter(retention_rule_sets::version.eq(version))
                    .select(RuleSetRow::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or(StoreError::from(Error::NotFound))?;
                if row.state != PENDING {
                    return Err(StoreError::from(Error::Conflict(format!(
                        "version {version} is {}, not pending approval",
                        row.state
                    ))));
                }
                if row.proposed_by == by {
                    return Err(StoreError::from(Error::Forbidden(
                        "a second admin must approve: the proposer cannot decide".into(),
                    )));
                }
                let action = if approve {
                    activate(conn, &row, &by, to_micros(now))?;
                    "retention.rules.approve"
                } else {
                    diesel::update(
                        retention_rule_sets::table.filter(retention_rule_sets::id.eq(&row.id)),
                    )
                    .set((
                        retention_rule_sets::state.eq(REJECTED),
                        retention_rule_sets::decided_by.eq(Some(&by)),
                    ))
                    .execute(conn)?;
                    "retention.rules.reject"
                };
                audit::append(
                    conn,
                    now,
                    AuditEvent::new(&actor_owned, action)
                        .tenant(&tenant_id)
                        .object("retention_rules", version.to_string()),
                )
            })
            .await?;
        self.rule_version(tenant, version).await
    }

    async fn rule_version(&self, tenant: &TenantId, version: i32) -> Result<RuleSetVersion> {
        let t = tenant.as_str().to_string();
        let row: Option<RuleSetRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(&t))
                    .filter(retention_rule_sets::version.eq(version))
                    .select(RuleSetRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        row.map(|r| r.view()).ok_or(Error::NotFound)
    }

    pub async fn rules(&self, actor: &Actor, tenant: &TenantId) -> Result<RulesView> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let rows: Vec<RuleSetRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(&t))
                    .filter(retention_rule_sets::state.eq_any([ACTIVE, PENDING]))
                    .order(retention_rule_sets::version)
                    .select(RuleSetRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let active = rows.iter().find(|r| r.state == ACTIVE);
        let effective = match active {
            Some(row) => row.rule_set()?.effective(),
            None => rules::defaults(),
        };
        Ok(RulesView {
            active: active.map(RuleSetRow::view),
            pending: rows
                .iter()
                .filter(|r| r.state == PENDING)
                .map(RuleSetRow::view)
                .collect(),
            effective: effective.inputs(),
            defaults: rules::defaults().inputs(),
        })
    }

    /// Every version, newest first: who changed what, when.
    pub async fn versions(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<RuleSetVersion>> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let rows: Vec<RuleSetRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(&t))
                    .order(retention_rule_sets::version.desc())
                    .select(RuleSetRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows.iter().map(RuleSetRow::view).collect())
    }

    /// Runs retention for one tenant or all. A dry run lists what is due and changes
    /// nothing. A real run takes the sweep lock; when another instance holds it, nothing is
    /// done and `ran` is false.
    pub async fn run(
        &self,
        actor: &Actor,
        tenant: Option<&TenantId>,
        dry_run: bool,
    ) -> Result<RunReport> {
        match tenant {
            Some(t) => actor.authorize(t, Permission::ManageRetention)?,
            None => actor.authorize_install(Permission::ManageTenants)?,
        }
        let tenant_ids: Vec<String> = match tenant {
            Some(t) => {
                self.infra.ensure_tenant(t).await?;
                vec![t.as_str().to_string()]
            }
            None => {
                self.infra
                    .store
                    .read(|conn| {
                        Ok(tenants::table
                            .select(tenants::id)
                            .order(tenants::id)
                            .load(conn)?)
                    })
                    .await?
            }
        };
        let run_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let now = self.infra.clock.now();
        if dry_run {
            let mut report = RunReport {
                run_id,
                dry_run,
                ran: true,
                tenants: Vec::new(),
                audit_entries_pruned: 0,
            };
            for t in tenant_ids {
                let id = t.clone();
                let forecast = self
                    .infra
                    .store
                    .read(move |conn| {
                        let (set, _) = rules_in_force(conn, &id)?;
                        run::forecast(conn, &id, &set, now, None)
                    })
                    .await?;
                report.tenants.push(TenantRun {
                    tenant_id: t,
                    certificate: None,
                    forecast: Some(forecast),
                });
            }
            return Ok(report);
        }
        let Some(lock) = self.sweep_lock().await? else {
            tracing::info!("another instance is running retention; skipped");
            return Ok(RunReport {
                run_id,
                dry_run,
                ran: false,
                tenants: Vec::new(),
                audit_entries_pruned: 0,
            });
        };
        let result = self.sweep(actor, &run_id, tenant_ids, now).await;
        let pruned = match (&result, tenant) {
            (Ok(_), None) => self.prune_audit_log(now).await,
            _ => Ok(0),
        };
        lock.release().await;
        let tenants = result?;
        Ok(RunReport {
            run_id,
            dry_run,
            ran: true,
            tenants,
            audit_entries_pruned: pruned?,
        })
    }

    async fn sweep(
        &self,
        actor: &Actor,
        run_id: &str,
        tenant_ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TenantRun>> {
        let closed = self
            .infra
            .store
            .write(move |conn| certificates::close_interrupted(conn, now))
            .await?;
        if closed > 0 {
            tracing::warn!(
                runs = closed,
                "closed the certificates of interrupted retention runs"
            );
        }
        let mut runs = Vec::with_capacity(tenant_ids.len());
        let mut all_ok = true;
        for tenant in tenant_ids {
            let (certificate, left) = self.sweep_tenant(actor, run_id, &tenant, now).await?;
            let left = Category::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), left.get(c).copied().unwrap_or(0)))
                .collect();
            self.infra.metrics.record_overdue(&tenant, left);
            all_ok &= certificate.errors.is_empty();
            runs.push(TenantRun {
                tenant_id: tenant,
                certificate: Some(certificate),
                forecast: None,
            });
        }
        self.infra
            .metrics
            .retention_last_run
            .set(self.infra.clock.now().timestamp());
        if all_ok {
            self.infra
                .metrics
                .retention_last_success
                .set(self.infra.clock.now().timestamp());
        }
        // Housekeeping, not part of the proof: the run answers now, space comes back meanwhile.
        let retention = self.clone();
        tokio::spawn(async move { retention.reclaim_space().await });
        Ok(runs)
    }

    async fn sweep_tenant(
        &self,
        actor: &Actor,
        run_id: &str,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<(CertificateView, BTreeMap<Category, u64>)> {
        let t = tenant.to_string();
        let (set, version) = self
            .infra
            .store
            .read(move |conn| rules_in_force(conn, &t))
            .await?;
        let versions = serde_json::json!({ "tenant_rules": version }).to_string();
        let mut progress = CertificateProgress::new(run_id, tenant, versions, now);
        let started = progress.clone();
        self.infra
            .store
            .write(move |conn| certificates::start(conn, &started))
            .await?;
        let holds_now = holds::ActiveHolds::default();
        let batch = self.settings.batch.max(1);
        let mut overdue: BTreeMap<Category, u64> = BTreeMap::new();
        for (category, selection) in run::selections(tenant, &set, &holds_now, now, None) {
            let mut after: Option<String> = None;
            loop {
                let (sel, p, from) = (selection.clone(), progress.clone(), after.clone());
                let batch_started = std::time::Instant::now();
                let outcome = self
                    .infra
                    .store
                    .write_apart(move |conn| {
                        let mut p = p.clone();
                        let (n, last) = run::delete_batch(
                            conn,
                            category,
                            &sel,
                            from.as_deref(),
                            batch,
                            now,
                            &mut p,
                        )?;
                        Ok((n, last, p))
                    })
                    .await;
                match outcome {
                    Ok((_, None, _)) => break,
                    Ok((n, last, p)) => {
                        after = last;
                        tracing::debug!(
                            category = category.as_str(),
                            deleted = n,
                            ms = batch_started.elapsed().as_millis() as u64,
                            "retention batch committed"
                        );
                        progress = p;
                        self.infra
                            .metrics
                            .retention_deleted
                            .get_or_create(&crate::metrics::CategoryLabels {
                                category: category.as_str().into(),
                            })
                            .inc_by(n);
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        tracing::error!(
                            error = %crate::telemetry::chain(&e),
                            category = category.as_str(),
                            "retention batch failed; the next run continues"
                        );
                        progress.errors.push(format!("{}: {e}", category.as_str()));
                        // What this rule leaves due (counted up to one batch).
                        let left = self
                            .infra
                            .store
                            .read(move |conn| Ok(selection.page(conn, None, batch)?.len()))
                            .await
                            .unwrap_or(0);
                        *overdue.entry(category).or_default() += left as u64;
                        break;
                    }
                }
            }
        }
        // What erasure requests kept back and whose end has now passed (each with its own
        // certificate, naming the request).
        if let Err(e) = self.requests.erase_kept_items(tenant, run_id, now).await {
            tracing::error!(error = %crate::telemetry::chain(&e), "erasing kept items failed; the next run continues");
            progress.errors.push(format!("erasure requests: {e}"));
        }
        let t = tenant.to_string();
        let destroyed = self
            .infra
            .store
            .write(move |conn| keys::destroy_unused(conn, &t, now))
            .await;
        match destroyed {
            Ok(ids) => {
                for id in &ids {
                    let owner = KeyOwner::Period(id.clone());
                    self.infra.keys.forget(&owner);
                    progress.keys_shredded.push(owner);
                }
                self.periods.forget(&ids);
            }
            Err(e) => progress
                .errors
                .push(format!("period keys: {}", Error::from(e))),
        }
        for key in &progress.keys_shredded {
            if let KeyOwner::Contact(_) = key {
                self.infra.keys.forget(key);
            }
        }
        let state = if progress.errors.is_empty() {
            certificates::COMPLETED
        } else {
            certificates::FAILED
        };
        let finished_at = self.infra.clock.now();
        let counts = progress
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let tenant_id = TenantId::parse(tenant)?;
        let event = AuditEvent::new(actor, "retention.run")
            .tenant(&tenant_id)
            .object("retention_certificate", &progress.id)
            .detail(format!(
                "{state}; {counts}; keys shredded {}",
                progress.keys_shredded.len()
            ));
        let row = self
            .infra
            .store
            .write(move |conn| {
                let row =
                    certificates::finish(conn, &progress.id, state, finished_at, Some(&progress))?;
                audit::append(conn, finished_at, event.clone())?;
                Ok(row)
            })
            .await?;
        Ok((row.into(), overdue))
    }

    /// Removes audit entries older than `audit_years` after the end of their year, oldest
    /// first, leaving an anchor so the rest of the chain still verifies.
    async fn prune_audit_log(&self, now: DateTime<Utc>) -> Result<u64> {
        if self.settings.audit_years == 0 {
            return Ok(0);
        }
        // Audit entries are kept for whole years after the year they were written in.
        let Some(cutoff) = rules::Period::years(self.settings.audit_years).cutoff(now, true) else {
            return Ok(0);
        };
        let batch = self.settings.batch.max(1);
        let mut total = 0u64;
        loop {
            let at = self.infra.clock.now();
            let n = self
                .infra
                .store
                .write(move |conn| audit::prune_batch(conn, cutoff.before, batch, at))
                .await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }

    /// Gives freed pages back (SQLite), in small steps between other writes.
    async fn reclaim_space(&self) {
        let started = std::time::Instant::now();
        for _ in 0..10_000 {
            match self
                .infra
                .store
                .write(|conn| backend::reclaim_space(conn, 256))
                .await
            {
                Ok(0) => {
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "free pages reclaimed"
                    );
                    return;
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not reclaim free space after retention");
                    return;
                }
            }
        }
    }

    /// The tenant's deletion certificates, oldest first.
    pub async fn certificates(
        &self,
        actor: &Actor,
        tenant: &TenantId,
    ) -> Result<(Vec<CertificateView>, ChainReport)> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let (list, report) = self
            .infra
            .store
            .read(move |conn| Ok((certificates::list(conn, &t)?, certificates::verify(conn)?)))
            .await?;
        self.infra
            .record(
                AuditEvent::new(actor, "retention.certificates.export")
                    .tenant(tenant)
                    .detail(format!("{} certificates", list.len())),
            )
            .await?;
        Ok((list, report))
    }

    pub async fn verify_certificates(&self) -> Result<ChainReport> {
        Ok(self.infra.store.read(certificates::verify).await?)
    }

    async fn sweep_lock(&self) -> Result<Option<SweepLock>> {
        let local = match self.settings.local_lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => return Ok(None),
        };
        let store = self.infra.store.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut conn = store.dedicated_blocking()?;
            let got = backend::try_retention_lock(&mut conn)?;
            Ok::<_, StoreError>(got.then_some(conn))
        })
        .await
        .map_err(Error::internal)??;
        Ok(conn.map(|conn| SweepLock {
            _local: local,
            conn: Some(conn),
        }))
    }
}

/// The right to sweep: this process's mutex and, on PostgreSQL, the advisory lock held by a
/// dedicated connection.
pub struct SweepLock {
    _local: tokio::sync::OwnedMutexGuard<()>,
    conn: Option<crate::store::conn::PooledConn>,
}

impl SweepLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let released =
                tokio::task::spawn_blocking(move || backend::release_retention_lock(&mut conn))
                    .await;
            if !matches!(released, Ok(Ok(()))) {
                tracing::warn!("could not release the retention lock; it goes with the connection");
            }
        }
    }
}

impl Drop for SweepLock {
    fn drop(&mut self) {
        // Not released explicitly (a panic or cancellation): release here rather than return
        // a locked connection to the pool.
        if let Some(mut conn) = self.conn.take() {
            let _ = backend::release_retention_lock(&mut conn);
        }
    }
}

impl Retention {
    /// Takes the sweep lock as a sweep would (tests: a second instance must then skip).
    pub async fn hold_sweep_lock(&self) -> Result<Option<SweepLock>> {
        self.sweep_lock().await
    }
}

//! Rule set versions: a dry-run preview, a proposal, a second admin's decision where one is
//! needed, the version in force, and the history.

use super::*;
use crate::store::id;

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

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = retention_rule_sets)]
pub(super) struct RuleSetRow {
    pub(super) id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) tenant_id: String,
    pub(super) version: i32,
    pub(super) rules: String,
    pub(super) rules_hash: Vec<u8>,
    pub(super) state: String,
    pub(super) preview_id: String,
    pub(super) proposed_by: String,
    pub(super) proposed_at: i64,
    pub(super) decided_by: Option<String>,
    pub(super) activated_at: Option<i64>,
    pub(super) superseded_at: Option<i64>,
}

impl RuleSetRow {
    pub(super) fn view(&self) -> RuleSetVersion {
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

    pub(super) fn rule_set(&self) -> Result<RuleSet, StoreError> {
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
pub(super) struct PreviewRow {
    pub(super) id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) tenant_id: String,
    pub(super) rules_hash: Vec<u8>,
    pub(super) summary: String,
    pub(super) created_by: String,
    pub(super) created_at: i64,
}

pub(super) fn active_row(
    conn: &mut DbConn,
    tenant: &str,
) -> Result<Option<RuleSetRow>, StoreError> {
    Ok(retention_rule_sets::table
        .filter(retention_rule_sets::tenant_id.eq(id::bind(tenant)))
        .filter(retention_rule_sets::state.eq(ACTIVE))
        .select(RuleSetRow::as_select())
        .first(conn)
        .optional()?)
}

/// Makes `row` the active version, superseding the previous one.
pub(super) fn activate(
    conn: &mut DbConn,
    row: &RuleSetRow,
    by: &str,
    at: i64,
) -> Result<(), StoreError> {
    diesel::update(
        retention_rule_sets::table
            .filter(retention_rule_sets::tenant_id.eq(id::bind(&row.tenant_id)))
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
pub(super) fn live_messages(conn: &mut DbConn, tenant: &str) -> Result<u64, StoreError> {
    use crate::store::schema::messages;
    let n: i64 = messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant)))
        .filter(messages::content_deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n.max(0) as u64)
}

/// Message contents a forecast deletes.
pub(super) fn content_count(forecast: &Forecast) -> u64 {
    forecast
        .categories
        .iter()
        .find(|c| c.category == Category::MessageContent.as_str())
        .map_or(0, |c| c.count)
}

pub(super) fn share_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

/// Why a rule set deleting `share` of the messages needs a second person, if it does.
pub(super) fn approval_reason(settings: &RetentionSettings, share: f64) -> Option<String> {
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

impl Retention {
    /// Refuses periods shorter than the install's floor: one token must not be able to delete
    /// everything at once with `P0D`.
    pub(super) fn check_floor(&self, set: &RuleSet) -> Result<()> {
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
                    .values(row.clone())
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
                    .filter(retention_previews::tenant_id.eq(id::bind(&t)))
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
                    .filter(retention_rule_sets::tenant_id.eq(id::bind(&t)))
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
                    .values(row.clone())
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
                    .filter(retention_rule_sets::tenant_id.eq(id::bind(&t)))
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

    pub(super) async fn rule_version(
        &self,
        tenant: &TenantId,
        version: i32,
    ) -> Result<RuleSetVersion> {
        let t = tenant.as_str().to_string();
        let row: Option<RuleSetRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(retention_rule_sets::table
                    .filter(retention_rule_sets::tenant_id.eq(id::bind(&t)))
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
                    .filter(retention_rule_sets::tenant_id.eq(id::bind(&t)))
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
                    .filter(retention_rule_sets::tenant_id.eq(id::bind(&t)))
                    .order(retention_rule_sets::version.desc())
                    .select(RuleSetRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows.iter().map(RuleSetRow::view).collect())
    }
}

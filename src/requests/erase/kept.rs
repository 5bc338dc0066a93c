//! What an erasure kept back (a statutory period, a hold, a decision the DPO still owes), the
//! DPO's decision on it, and erasing it once its end has passed.

use super::*;
use crate::store::id;

/// A DPO's decision on a category whose end could not be computed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub category: String,
    /// For message categories: `business_letter` or `other` (the class the answer names).
    #[serde(default)]
    pub class: Option<String>,
    /// `keep_until` (with `until`) or `erase`.
    pub decision: String,
    /// The last day the data is kept (ISO 8601 date, after today); only with `keep_until`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
    /// Why: stored encrypted, shown in the request's record.
    pub reason: String,
}

/// Why the DPO decided to keep data.
pub(super) fn decision_citation(until: NaiveDate) -> Citation {
    Citation::of(|lang| {
        lang.pick(
            &format!(
                "Entscheidung der/des Datenschutzbeauftragten: aufbewahrt bis {}",
                until.format("%d.%m.%Y")
            ),
            &format!("decision of the data protection officer: kept until {until}"),
        )
    })
}

/// What erasure requests keep back in a tenant, for the deletion report: one entry per request
/// and category still kept or waiting for a decision.
#[derive(Debug, Clone)]
pub struct KeptByRequest {
    pub request_id: String,
    pub category: String,
    pub kept: i64,
    pub citation: Citation,
    pub until: Option<DateTime<Utc>>,
    pub decision_needed: bool,
}

pub fn kept_by_requests(conn: &mut DbConn, tenant: &str) -> Result<Vec<KeptByRequest>, StoreError> {
    let rows: Vec<ItemRow> = erasure_items::table
        .filter(erasure_items::tenant_id.eq(id::bind(tenant)))
        .filter(erasure_items::state.ne(DONE))
        .order((erasure_items::request_id, erasure_items::id))
        .select(ItemRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let rule = r.rule();
            let citation = match (&r.decision, r.until, &rule) {
                (Some(_), Some(until), _) => {
                    decision_citation((from_micros(until) - chrono::Duration::days(1)).date_naive())
                }
                (_, _, Some(rule)) if rule.ground.keeps_on_erasure() => {
                    Citation::of(|lang| rule.citation(lang))
                }
                (_, _, _) if r.held == r.kept => hold_citation(),
                _ => dependency_citation(r.category().unwrap_or(Category::Contacts)),
            };
            KeptByRequest {
                decision_needed: r.state == AWAITING,
                until: r.until.map(from_micros),
                kept: i64::from(r.kept),
                request_id: r.request_id,
                category: r.category,
                citation,
            }
        })
        .collect())
}

/// The last day erasure requests keep any of the contact's data (None: nothing kept, or only
/// open-ended by a hold or a pending decision).
pub fn kept_until(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let until: Option<i64> = erasure_items::table
        .filter(erasure_items::tenant_id.eq(id::bind(tenant)))
        .filter(erasure_items::contact_id.eq(id::bind(contact)))
        .filter(erasure_items::state.ne(DONE))
        .select(diesel::dsl::max(erasure_items::until))
        .first(conn)?;
    Ok(until.map(from_micros))
}

/// Whether the request still keeps items of `category` (its row is open and items remain).
pub(super) fn still_kept(
    conn: &mut DbConn,
    rows: &[ItemRow],
    category: Category,
) -> Result<bool, StoreError> {
    for row in rows.iter().filter(|r| r.category == category.as_str()) {
        let left = remaining(
            conn,
            &row.tenant_id,
            &row.contact_id,
            category,
            class_letters(row.class.as_deref()),
            row.requested_at + 1,
        )?;
        if left > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What of a kept category may go now: everything once a decided date or the rule's end for
/// a fixed start has passed, item by item for rules counted from the item's own time, and for
/// data kept because other data needed it (or a hold), whatever is no longer needed or held.
pub(super) fn due_for_row(
    row: &ItemRow,
    holds: &ActiveHolds,
    now: DateTime<Utc>,
) -> Option<Selection> {
    let category = row.category()?;
    let request_bound = row.requested_at + 1;
    let everything = || {
        Some(all_of(
            &row.tenant_id,
            &row.contact_id,
            category,
            class_letters(row.class.as_deref()),
            request_bound,
            holds.clone(),
        ))
    };
    if row.decision.as_deref() == Some("keep_until") {
        return if row.until.is_some_and(|u| u <= to_micros(now)) {
            everything()
        } else {
            None
        };
    }
    let rule = row.rule()?;
    if !rule.ground.keeps_on_erasure() {
        return everything();
    }
    match rule.start {
        StartPoint::Collection | StartPoint::ConsentWithdrawal => {
            let cutoff = rule.cutoff(now)?.before.min(request_bound);
            Some(due(
                &row.tenant_id,
                &row.contact_id,
                &rule,
                class_letters(row.class.as_deref()),
                cutoff,
                holds.clone(),
            ))
        }
        StartPoint::ConversationEnd | StartPoint::RelationshipEnd => {
            let end = rule.release(from_micros(row.start_at?))?;
            if end <= now {
                everything()
            } else {
                None
            }
        }
    }
}

impl crate::retention::KeptErasures for Requests {
    fn erase_due<'a>(
        &'a self,
        tenant: &'a str,
        run_id: &'a str,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>> {
        Box::pin(self.erase_kept_items(tenant, run_id, now))
    }
}

impl Requests {
    /// Records the DPO's decision on a category whose end could not be computed: keep it until
    /// a date, or erase it now. Completes the request once nothing waits any more.
    pub async fn decide_erasure(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        input: DecisionInput,
    ) -> Result<ErasureOutcome> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let category = Category::ALL
            .into_iter()
            .find(|c| c.as_str() == input.category)
            .ok_or_else(|| Error::invalid("category", "is not a data category of Hafen"))?;
        let reason = input.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(Error::invalid(
                "reason",
                format!("must say why (1 to {MAX_REASON} characters)"),
            ));
        }
        let today = self.infra.clock.now().date_naive();
        let keep_until = match (input.decision.as_str(), input.until) {
            ("keep_until", Some(until)) if until > today => Some(until),
            ("keep_until", Some(_)) => {
                return Err(Error::invalid("until", "must be a date after today"))
            }
            ("keep_until", None) => {
                return Err(Error::invalid(
                    "until",
                    "is required to keep the data until a date",
                ))
            }
            ("erase", None) => None,
            ("erase", Some(_)) => return Err(Error::invalid("until", "goes with keep_until only")),
            _ => return Err(Error::invalid("decision", "must be keep_until or erase")),
        };
        let request = self.request_row(tenant, id).await?;
        if request.status != DECISION_NEEDED {
            return Err(Error::Conflict(format!(
                "this request is {}: no decision is waiting",
                request.status
            )));
        }
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let item_id_for_seal = format!("{id}:{}", category.as_str());
        let sealed = tenant_keys.seal.seal(
            &FieldBinding {
                tenant: tenant.as_str(),
                table: "erasure_items",
                column: "decision_reason",
                row: &item_id_for_seal,
            },
            reason.as_bytes(),
        )?;
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "dsr.erasure_decision")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!(
                "category={} decision={}",
                category.as_str(),
                input.decision
            ));
        let (t, rid, by) = (
            tenant.as_str().to_string(),
            id.to_string(),
            actor.audit_label(),
        );
        let decision = input.decision.clone();
        let class = match input.class.as_deref() {
            None => None,
            Some(c @ (BUSINESS_LETTER | OTHER_MESSAGES)) => Some(c.to_string()),
            Some(_) => {
                return Err(Error::invalid(
                    "class",
                    format!("must be {BUSINESS_LETTER} or {OTHER_MESSAGES}"),
                ))
            }
        };
        let outcome = self
            .infra
            .store
            .write(move |conn| {
                let rows: Vec<ItemRow> = erasure_items::table
                    .filter(erasure_items::tenant_id.eq(id::bind(&t)))
                    .filter(erasure_items::request_id.eq(&rid))
                    .filter(erasure_items::category.eq(category.as_str()))
                    .select(ItemRow::as_select())
                    .load(conn)?;
                let row = rows
                    .into_iter()
                    .find(|r| r.state == AWAITING && (class.is_none() || r.class == class));
                let Some(row) = row.filter(|r| r.state == AWAITING) else {
                    return Err(StoreError::from(Error::Conflict(format!(
                        "no decision is waiting for {}",
                        category.as_str()
                    ))));
                };
                let mut erased = 0;
                let mut certificate = None;
                if keep_until.is_none() {
                    let mut progress = CertificateProgress::new(
                        &format!("erasure:{rid}"),
                        &t,
                        serde_json::json!({ "erasure_request": rid, "decision": "erase" })
                            .to_string(),
                        now,
                    );
                    certificates::start(conn, &progress)?;
                    let holds = holds::active(conn, &t, to_micros(now))?;
                    let selection = all_of(
                        &t,
                        &row.contact_id,
                        category,
                        class_letters(row.class.as_deref()),
                        row.requested_at + 1,
                        holds,
                    );
                    erased = if category == Category::Contacts {
                        erase_contact(conn, &selection, &mut progress)?
                    } else {
                        delete_selected(conn, &selection, &HashSet::new(), now, &mut progress)?
                    };
                    certificates::finish(
                        conn,
                        &progress.id,
                        certificates::COMPLETED,
                        now,
                        Some(&progress),
                    )?;
                    certificate = Some(progress.id.clone());
                }
                let left = remaining(
                    conn,
                    &t,
                    &row.contact_id,
                    category,
                    class_letters(row.class.as_deref()),
                    row.requested_at + 1,
                )?;
                let until = keep_until
                    .and_then(|d| d.succ_opt())
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc());
                diesel::update(erasure_items::table.filter(erasure_items::id.eq(&row.id)))
                    .set((
                        erasure_items::state.eq(if left == 0 { DONE } else { KEPT }),
                        erasure_items::decision.eq(Some(&decision)),
                        erasure_items::decision_reason_sealed.eq(Some(&sealed)),
                        erasure_items::decided_by.eq(Some(&by)),
                        erasure_items::decided_at.eq(Some(to_micros(now))),
                        erasure_items::until.eq(until.map(to_micros)),
                        erasure_items::kept.eq(left as i32),
                        erasure_items::done_at.eq((left == 0).then_some(to_micros(now))),
                    ))
                    .execute(conn)?;
                let request = crate::requests::find(conn, &t, &rid)?
                    .ok_or(StoreError::from(Error::NotFound))?;
                let mut outcome: ErasureOutcome = request
                    .outcome
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .ok_or_else(|| {
                        StoreError::from(Error::internal(anyhow::anyhow!(
                            "erasure outcome unreadable"
                        )))
                    })?;
                if let Some(answer) = outcome
                    .categories
                    .iter_mut()
                    .find(|c| c.category == category.as_str() && c.class == row.class)
                {
                    answer.decision_needed = false;
                    answer.decision = Some(decision.clone());
                    answer.erased += erased;
                    answer.kept = left;
                    answer.until = until;
                    if let Some(d) = keep_until {
                        answer.citation = Some(decision_citation(d));
                    } else if left == 0 {
                        answer.citation = None;
                    }
                }
                if erased > 0 {
                    *outcome.deleted.entry(category.as_str().into()).or_default() += erased;
                }
                outcome.settle();
                let status = if outcome.decision_needed {
                    DECISION_NEEDED
                } else {
                    COMPLETED
                };
                crate::requests::complete(
                    conn,
                    &rid,
                    status,
                    &serde_json::to_value(&outcome).unwrap_or_default(),
                    certificate.as_deref().or(request.certificate_id.as_deref()),
                    &by,
                    to_micros(now),
                )?;
                audit::append(conn, now, event.clone())?;
                Ok(outcome)
            })
            .await?;
        Ok(outcome)
    }

    /// Erases what erasure requests kept back once its end has passed (called by each
    /// tenant's retention run); one certificate per request that deleted something.
    pub(crate) async fn erase_kept_items(
        &self,
        tenant: &str,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let t = tenant.to_string();
        let rows: Vec<ItemRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(erasure_items::table
                    .filter(erasure_items::tenant_id.eq(id::bind(&t)))
                    .filter(erasure_items::state.eq(KEPT))
                    .order((erasure_items::request_id, erasure_items::id))
                    .select(ItemRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut by_request: BTreeMap<String, Vec<ItemRow>> = BTreeMap::new();
        for row in rows {
            by_request
                .entry(row.request_id.clone())
                .or_default()
                .push(row);
        }
        let mut total = 0;
        for (request, mut rows) in by_request {
            rows.sort_by_key(|r| ORDER.iter().position(|c| c.as_str() == r.category));
            let progress = CertificateProgress::new(
                &format!("erasure:{request}"),
                tenant,
                serde_json::json!({ "erasure_request": request, "retention_run": run_id })
                    .to_string(),
                now,
            );
            let deleted = self
                .infra
                .store
                .write(move |conn| {
                    let mut progress = progress.clone();
                    let holds = holds::active(conn, &progress.tenant_id, to_micros(now))?;
                    let mut started = false;
                    let mut deleted = 0;
                    for row in &rows {
                        let Some(selection) = due_for_row(row, &holds, now) else {
                            continue;
                        };
                        if !started {
                            certificates::start(conn, &progress)?;
                            started = true;
                        }
                        let spare = if selection.rule.category == Category::MessageMetadata {
                            let content = still_kept(conn, &rows, Category::MessageContent)?;
                            let files = still_kept(conn, &rows, Category::Attachments)?;
                            protected_messages(
                                conn,
                                &row.tenant_id,
                                &row.contact_id,
                                content,
                                files,
                            )?
                        } else {
                            HashSet::new()
                        };
                        let category = selection.rule.category;
                        deleted += if category == Category::Contacts {
                            erase_contact(conn, &selection, &mut progress)?
                        } else {
                            delete_selected(conn, &selection, &spare, now, &mut progress)?
                        };
                        let left = remaining(
                            conn,
                            &row.tenant_id,
                            &row.contact_id,
                            category,
                            class_letters(row.class.as_deref()),
                            row.requested_at + 1,
                        )?;
                        diesel::update(erasure_items::table.filter(erasure_items::id.eq(&row.id)))
                            .set((
                                erasure_items::kept.eq(left as i32),
                                erasure_items::state.eq(if left == 0 { DONE } else { KEPT }),
                                erasure_items::done_at.eq((left == 0).then_some(to_micros(now))),
                            ))
                            .execute(conn)?;
                    }
                    if started {
                        certificates::finish(
                            conn,
                            &progress.id,
                            certificates::COMPLETED,
                            now,
                            Some(&progress),
                        )?;
                    }
                    Ok((deleted, progress.keys_shredded.clone()))
                })
                .await?;
            let (deleted, shredded) = deleted;
            for key in shredded {
                if let KeyOwner::Contact(_) = key {
                    self.infra.keys.forget(&key);
                }
            }
            total += deleted;
        }
        Ok(total)
    }
}

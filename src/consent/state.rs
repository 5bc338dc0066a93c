//! The consent state machine: a request is recorded, confirmed, withdrawn or expires; every
//! step is a ledger entry in the same transaction.

use super::*;
use crate::store::id;

impl Consent {
    /// Asks `contact` to consent to `purpose`: records the request (ledger), returns the text to
    /// send. An already confirmed consent is left as it is (and the answer looks the same).
    #[allow(clippy::too_many_arguments)] // each is a distinct fact of the proof
    pub(crate) async fn record_request(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        purpose: &str,
        language: &str,
        source: Source,
        evidence: Evidence,
        message_id: Option<String>,
    ) -> Result<(ConsentRow, String, Option<String>)> {
        let settings = self.settings(tenant).await?;
        let keys = self.contacts.keys_for(tenant, contact_id).await?;
        let now = self.infra.clock.now();
        let (t, c, p, lang) = (
            tenant.as_str().to_string(),
            contact_id.to_string(),
            purpose.to_string(),
            language.to_string(),
        );
        self.infra
            .store
            .write(move |conn| {
                let Some((_, template, _, _)) = purpose_exists(conn, &t, &p)? else {
                    return Err(Error::NotFound.into());
                };
                let texts = load_texts(conn, &t, &p)?;
                let text = current_text(&texts, &lang).cloned().ok_or_else(|| {
                    StoreError::from(Error::internal(anyhow::anyhow!("purpose without text")))
                })?;
                let existing: Option<ConsentRow> = consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .filter(consents::contact_id.eq(id::bind(&c)))
                    .filter(consents::purpose_id.eq(&p))
                    .select(ConsentRow::as_select())
                    .first(conn)
                    .optional()?;
                if let Some(row) = existing.as_ref().filter(|r| r.state == "confirmed") {
                    return Ok((row.clone(), text.text, template));
                }
                let at = to_micros(now);
                let row = ConsentRow {
                    id: existing
                        .as_ref()
                        .map(|r| r.id.clone())
                        .unwrap_or_else(|| uuid::Uuid::now_v7().hyphenated().to_string()),
                    tenant_id: t.clone(),
                    contact_id: c.clone(),
                    purpose_id: p.clone(),
                    state: ConsentState::Requested.as_str().into(),
                    text_id: text.id.clone(),
                    requested_at: at,
                    expires_at: Some(to_micros(now + settings.request_ttl)),
                    confirmed_at: None,
                    withdrawn_at: existing.as_ref().and_then(|r| r.withdrawn_at),
                    last_used_at: existing.as_ref().and_then(|r| r.last_used_at),
                    updated_at: at,
                };
                if existing.is_some() {
                    diesel::update(consents::table.filter(consents::id.eq(&row.id)))
                        .set(row.clone())
                        .execute(conn)?;
                } else {
                    diesel::insert_into(consents::table)
                        .values(row.clone())
                        .execute(conn)?;
                }
                let sealed = seal_evidence(&keys, &t, &row.id, "requested", now, &evidence)
                    .map_err(StoreError::from)?;
                ledger::append(
                    conn,
                    ledger::LedgerEvent {
                        tenant_id: t.clone(),
                        consent_id: row.id.clone(),
                        contact_id: c.clone(),
                        purpose_id: p.clone(),
                        event: "requested",
                        at: now,
                        source: source.as_str().into(),
                        text_id: text.id.clone(),
                        text_hash: text.text_hash.clone(),
                        message_id: message_id.clone(),
                        evidence_sealed: Some(sealed),
                    },
                )?;
                Ok((row, text.text, template))
            })
            .await
            .map_err(Error::from)
    }

    /// Moves consents of `contact` from `from` states to `to`, one ledger entry each; returns
    /// the purposes changed. `purpose` limits it to one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn transition(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        purpose: Option<&str>,
        from: &'static [&'static str],
        to: ConsentState,
        source: Source,
        evidence: Evidence,
        message_id: Option<String>,
    ) -> Result<Vec<String>> {
        let keys = self.contacts.keys_for(tenant, contact_id).await?;
        let now = self.infra.clock.now();
        let (t, c, p) = (
            tenant.as_str().to_string(),
            contact_id.to_string(),
            purpose.map(str::to_string),
        );
        Ok(self
            .infra
            .store
            .write(move |conn| {
                let mut query = consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .filter(consents::contact_id.eq(id::bind(&c)))
                    .filter(consents::state.eq_any(from))
                    .into_boxed();
                if let Some(p) = &p {
                    query = query.filter(consents::purpose_id.eq(p.clone()));
                }
                let rows: Vec<ConsentRow> = query.select(ConsentRow::as_select()).load(conn)?;
                let at = to_micros(now);
                let mut changed = Vec::new();
                for mut row in rows {
                    // A request past its expiry can no longer be confirmed.
                    if to == ConsentState::Confirmed && row.expires_at.is_some_and(|e| e < at) {
                        continue;
                    }
                    row.state = to.as_str().into();
                    row.updated_at = at;
                    match to {
                        ConsentState::Confirmed => {
                            row.confirmed_at = Some(at);
                            row.expires_at = None;
                        }
                        ConsentState::Withdrawn => row.withdrawn_at = Some(at),
                        _ => {}
                    }
                    diesel::update(consents::table.filter(consents::id.eq(&row.id)))
                        .set(row.clone())
                        .execute(conn)?;
                    let text_hash: Vec<u8> = consent_texts::table
                        .filter(consent_texts::id.eq(&row.text_id))
                        .select(consent_texts::text_hash)
                        .first(conn)?;
                    let sealed = seal_evidence(&keys, &t, &row.id, to.as_str(), now, &evidence)
                        .map_err(StoreError::from)?;
                    ledger::append(
                        conn,
                        ledger::LedgerEvent {
                            tenant_id: t.clone(),
                            consent_id: row.id.clone(),
                            contact_id: c.clone(),
                            purpose_id: row.purpose_id.clone(),
                            event: to.as_str(),
                            at: now,
                            source: source.as_str().into(),
                            text_id: row.text_id.clone(),
                            text_hash,
                            message_id: message_id.clone(),
                            evidence_sealed: Some(sealed),
                        },
                    )?;
                    changed.push(row.purpose_id);
                }
                Ok(changed)
            })
            .await?)
    }

    /// Withdraws consent for one purpose or all (API, agent on the person's behalf).
    pub async fn withdraw(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        purpose: Option<&str>,
    ) -> Result<Vec<String>> {
        actor.authorize(tenant, Permission::ManageConsent)?;
        let evidence = Evidence {
            note: Some(format!(
                "withdrawn through the API by {}",
                actor.audit_label()
            )),
            ..Evidence::default()
        };
        self.transition(
            tenant,
            contact_id,
            purpose,
            &["requested", "confirmed"],
            ConsentState::Withdrawn,
            Source::Api,
            evidence,
            None,
        )
        .await
    }

    /// Marks requests past their expiry as expired; returns how many.
    pub async fn expire_requests(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<(String, String)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::state.eq("requested"))
                    .filter(consents::expires_at.le(now))
                    .select((consents::tenant_id, consents::contact_id))
                    .limit(1000)
                    .load(conn)?)
            })
            .await?;
        let mut expired = 0;
        for (tenant, contact) in due {
            let tenant = TenantId::parse(&tenant)?;
            let evidence = Evidence {
                note: Some("not confirmed in time".into()),
                ..Evidence::default()
            };
            expired += self.expire_for(&tenant, &contact, evidence).await?;
        }
        Ok(expired)
    }

    pub(super) async fn expire_for(
        &self,
        tenant: &TenantId,
        contact: &str,
        evidence: Evidence,
    ) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let (t, c) = (tenant.as_str().to_string(), contact.to_string());
        let purposes: Vec<String> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .filter(consents::contact_id.eq(id::bind(&c)))
                    .filter(consents::state.eq("requested"))
                    .filter(consents::expires_at.le(now))
                    .select(consents::purpose_id)
                    .load(conn)?)
            })
            .await?;
        let mut n = 0;
        for p in purposes {
            n += self
                .transition(
                    tenant,
                    contact,
                    Some(&p),
                    &["requested"],
                    ConsentState::Expired,
                    Source::System,
                    evidence.clone(),
                    None,
                )
                .await?
                .len();
        }
        Ok(n)
    }
}

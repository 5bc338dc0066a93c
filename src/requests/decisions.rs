//! What a person decides about an open request: the requester's identity confirmed (Art.
//! 12(6)), the deadline extended (Art. 12(3)), the request rejected on a ground of Art. 12(5),
//! a restriction answered, the request closed.

use super::*;

impl Requests {
    /// Records that the requester's identity was confirmed, and how (Art. 12(6)); for a pending
    /// request. The step goes to the audit log and into the request log report.
    pub async fn record_identity_check(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        how: IdentityCheck,
    ) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.request_row(tenant, id).await?;
        if !row.is_pending() {
            return Err(Error::Conflict(format!(
                "this request is already {}",
                row.status
            )));
        }
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, "dsr.identity")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!("method={}", how.as_str()));
        self.infra
            .store
            .write(move |conn| audit::append(conn, at, event.clone()))
            .await?;
        self.read(actor, tenant, id).await
    }

    /// Extends the deadline by two months, with the reason the subject must be told
    /// (Art. 12(3)); only within the first month.
    pub async fn extend(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        why: &str,
    ) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let why = reason(why)?;
        let row = self
            .open_request(
                tenant,
                id,
                &[
                    Kind::Access,
                    Kind::Portability,
                    Kind::Erasure,
                    Kind::Restriction,
                ],
            )
            .await?;
        if row.extended_due_on.is_some() {
            return Err(Error::Conflict("this request was already extended".into()));
        }
        let today = self.today();
        if today.to_string() > row.due_on {
            return Err(Error::Conflict(
                "the first month is over: an extension had to be made and explained before it ended"
                    .into(),
            ));
        }
        let received: NaiveDate = row
            .received_on
            .parse()
            .map_err(|e| Error::internal(anyhow::anyhow!("stored date: {e}")))?;
        let extended = extended_due_date(received)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("date out of range")))?
            .to_string();
        let keys = self.infra.tenant_keys(tenant).await?;
        let sealed = keys.seal.seal_str(&binding(tenant.as_str(), id), &why)?;
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, "dsr.extend")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!("due={extended}"));
        let (rid, ext) = (id.to_string(), extended.clone());
        self.infra
            .store
            .write(move |conn| {
                let n = diesel::update(
                    subject_requests::table
                        .filter(subject_requests::id.eq(&rid))
                        .filter(subject_requests::status.eq(OPEN))
                        .filter(subject_requests::extended_due_on.is_null()),
                )
                .set((
                    subject_requests::extended_due_on.eq(Some(ext.clone())),
                    subject_requests::extension_sealed.eq(Some(&sealed)),
                ))
                .execute(conn)?;
                if n == 0 {
                    return Err(StoreError::from(Error::Conflict(
                        "this request changed meanwhile; reload it".into(),
                    )));
                }
                audit::append(conn, at, event.clone())
            })
            .await?;
        self.read(actor, tenant, id).await
    }

    /// Closes a request without acting on it, naming the ground (kept as the outcome; no
    /// free text, so nothing personal ends up in it).
    pub async fn reject(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        ground: RejectGround,
    ) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        self.open_request(
            tenant,
            id,
            &[
                Kind::Access,
                Kind::Portability,
                Kind::Erasure,
                Kind::Restriction,
            ],
        )
        .await?;
        let outcome = serde_json::json!({ "rejected": ground });
        self.close_request(actor, tenant, id, REJECTED, outcome, "dsr.reject")
            .await?;
        self.read(actor, tenant, id).await
    }

    /// Answers a restriction request: the contact is restricted (Art. 18).
    pub async fn answer_restriction(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.open_request(tenant, id, &[Kind::Restriction]).await?;
        self.contacts
            .restrict(
                actor,
                tenant,
                &row.contact_id,
                &format!("Art. 18 DSGVO: Antrag {id}"),
            )
            .await?;
        let outcome = serde_json::json!({ "restricted": true });
        self.close_request(actor, tenant, id, COMPLETED, outcome, "dsr.restrict")
            .await?;
        self.read(actor, tenant, id).await
    }

    pub(crate) async fn close_request(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        status: &'static str,
        outcome: serde_json::Value,
        action: &'static str,
    ) -> Result<()> {
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, action)
            .tenant(tenant)
            .object("subject_request", id);
        let (rid, by) = (id.to_string(), actor.audit_label());
        self.infra
            .store
            .write(move |conn| {
                complete(conn, &rid, status, &outcome, None, &by, to_micros(at))?;
                audit::append(conn, at, event.clone())
            })
            .await?;
        Ok(())
    }
}

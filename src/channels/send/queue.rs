//! The outbox: a queued message's attempts against its platform, leased so that no two run at
//! once, retried with backoff up to `MAX_ATTEMPTS`, then failed for good.

use super::*;
use crate::store::id;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub(super) struct OutboxRow {
    /// Stored as its 16 bytes (`store::id`): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) message_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) tenant_id: String,
    pub(super) channel_id: String,
    /// Set for pushes: consent is checked again before every retry.
    pub(super) purpose_id: Option<String>,
    pub(super) request_sealed: Vec<u8>,
    pub(super) attempts: i32,
    pub(super) next_attempt_at: i64,
    pub(super) last_error: Option<String>,
}

/// Claims a due send: only the instance that moves the lease forward sends (see
/// `Hafen::claim_for_attempt`).
pub(super) fn claim_send(
    conn: &mut crate::store::DbConn,
    entry: &OutboxRow,
    now: i64,
    lease: i64,
) -> std::result::Result<usize, crate::store::StoreError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::message_id.eq(id::bind(&entry.message_id)))
            .filter(outbox::next_attempt_at.le(now)),
    )
    .set(outbox::next_attempt_at.eq(lease))
    .execute(conn)?)
}

pub(super) enum Finish {
    Sent {
        index: Vec<u8>,
        sealed: Vec<u8>,
        status: status::StatusRow,
    },
    Failed {
        status: status::StatusRow,
    },
    Retry {
        next: i64,
        last_error: String,
    },
}

pub(super) fn outbox_binding<'a>(
    tenant: &'a str,
    message_id: &'a str,
) -> crate::crypto::FieldBinding<'a> {
    crate::crypto::FieldBinding {
        tenant,
        table: "outbox",
        column: "request",
        row: message_id,
    }
}

impl Channels {
    /// One delivery attempt and its bookkeeping.
    pub(super) async fn attempt(
        &self,
        channel: &Channel,
        message_id: &str,
        address: &Sensitive<String>,
        outbound: &Outbound,
        attempts_before: i32,
    ) -> Result<SendReceipt> {
        let outcome = self
            .platforms
            .send(channel, address.expose(), outbound)
            .await;
        let now = self.infra.clock.now();
        let tenant_keys = self.infra.tenant_keys(&channel.tenant).await?;
        let t = channel.tenant.as_str().to_string();
        let id = message_id.to_string();
        let platform = channel.platform;
        let status_period = self
            .periods
            .live_key(&channel.tenant, platform.as_str(), to_micros(now))
            .await?;
        let status_period = (status_period.id.as_str(), status_period.keys.as_ref());
        let (event_period, event_keys) = self
            .periods
            .tenant_keys_within(
                &channel.tenant,
                crate::periods::EVENTS_SCOPE,
                to_micros(now),
            )
            .await?;
        let attempts = attempts_before + 1;
        // A retry that has run out of attempts is a failure.
        let outcome = match outcome {
            SendOutcome::Retry(error, _) if attempts >= MAX_ATTEMPTS => SendOutcome::Failed(error),
            other => other,
        };
        let receipt_platform_id = match &outcome {
            SendOutcome::Sent(id) => Some(id.clone()),
            _ => None,
        };
        let (receipt, finish) = match outcome {
            SendOutcome::Sent(platform_id) => {
                self.infra.metrics.send(platform.as_str(), "sent");
                let index = external_index(&tenant_keys, platform.as_str(), &platform_id);
                let message_keys = self.message_keys(&channel.tenant, message_id).await?;
                let sealed = message_keys.seal.seal(
                    &binding(&t, message_id, "external_id"),
                    platform_id.as_bytes(),
                )?;
                let status = self.status_row(
                    &t,
                    &tenant_keys,
                    status_period,
                    platform,
                    &platform_id,
                    DeliveryStatus::Sent,
                    now,
                    Vec::new(),
                )?;
                (
                    receipt(message_id, "sent", None, None),
                    Finish::Sent {
                        index,
                        sealed,
                        status,
                    },
                )
            }
            SendOutcome::Failed(error) => {
                self.infra.metrics.send(platform.as_str(), "failed");
                let status = self.status_row(
                    &t,
                    &tenant_keys,
                    status_period,
                    platform,
                    message_id,
                    DeliveryStatus::Failed,
                    now,
                    vec![error.clone()],
                )?;
                (
                    receipt(message_id, "failed", Some(error), None),
                    Finish::Failed { status },
                )
            }
            SendOutcome::Retry(error, after) => {
                self.infra.metrics.send(platform.as_str(), "retry");
                let backoff = Duration::seconds(30 * 2i64.pow((attempts - 1).clamp(0, 7) as u32))
                    .min(Duration::hours(1));
                let wait = after
                    .and_then(|d| Duration::from_std(d).ok())
                    .map_or(backoff, |d| d.max(backoff));
                let next = now + wait;
                let last_error = format!(
                    "code={} {}",
                    error.code,
                    if error.code == 0 {
                        "network"
                    } else {
                        "platform"
                    }
                );
                (
                    receipt(message_id, "queued", Some(error), Some(next)),
                    Finish::Retry {
                        next: to_micros(next),
                        last_error,
                    },
                )
            }
        };
        let event = serde_json::json!({
            "event": crate::events::EventKind::MessageStatus.as_str(),
            "tenant_id": t,
            "status": {
                "platform_message_id": match &receipt.status[..] { "sent" => receipt_platform_id.clone(), _ => None },
                "message_id": message_id,
                "status": receipt.status,
                "occurred_at": now,
                "errors": receipt.error.iter().collect::<Vec<_>>(),
            },
        });
        let queue_event = receipt.status != "queued";
        self.infra
            .store
            .write(move |conn| {
                if queue_event {
                    crate::events::enqueue(
                        conn,
                        &t,
                        (&event_period, &event_keys),
                        vec![(crate::events::EventKind::MessageStatus, event.clone())],
                        to_micros(now),
                    )?;
                }
                match &finish {
                    Finish::Sent {
                        index,
                        sealed,
                        status,
                    } => {
                        diesel::update(messages::table.filter(messages::id.eq(id::bind(&id))))
                            .set((
                                messages::external_index.eq(Some(index)),
                                messages::external_id_sealed.eq(Some(sealed)),
                            ))
                            .execute(conn)?;
                        diesel::delete(outbox::table.filter(outbox::message_id.eq(id::bind(&id))))
                            .execute(conn)?;
                        crate::messages::status::store(conn, &t, &[status])?;
                        crate::messages::status::attach_pending(
                            conn,
                            &t,
                            &[(index.clone(), id.clone())],
                        )?;
                    }
                    Finish::Failed { status } => {
                        let mut status = status.clone();
                        diesel::delete(outbox::table.filter(outbox::message_id.eq(id::bind(&id))))
                            .execute(conn)?;
                        status.message_id = Some(id.clone());
                        diesel::insert_into(crate::store::schema::message_statuses::table)
                            .values(status.clone())
                            .execute(conn)?;
                        status::bump(conn, &status.tenant_id, &id, "failed", status.occurred_at)?;
                    }
                    Finish::Retry { next, last_error } => {
                        diesel::update(outbox::table.filter(outbox::message_id.eq(id::bind(&id))))
                            .set((
                                outbox::attempts.eq(attempts),
                                outbox::next_attempt_at.eq(*next),
                                outbox::last_error.eq(Some(last_error)),
                            ))
                            .execute(conn)?;
                    }
                }
                Ok(())
            })
            .await?;
        Ok(receipt)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn status_row(
        &self,
        tenant: &str,
        tenant_keys: &OwnerKeys,
        period: (&str, &OwnerKeys),
        platform: Platform,
        external_id: &str,
        status: DeliveryStatus,
        at: DateTime<Utc>,
        errors: Vec<PlatformError>,
    ) -> Result<status::StatusRow> {
        let channel = crate::address::ChannelName::parse("channel", platform.as_str())?;
        crate::messages::ingest::seal_status(
            tenant,
            tenant_keys,
            (period.0, period.1),
            &NewStatus {
                channel,
                external_id: Sensitive::new(external_id.to_string()),
                status,
                occurred_at: at,
                errors,
                raw: None,
            },
            to_micros(at),
        )
    }

    /// Retries every send whose time has come; returns how many were attempted. Called by the
    /// scheduler, and by tests with a manual clock.
    pub async fn run_due_sends(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<OutboxRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(outbox::table
                    .filter(outbox::next_attempt_at.le(now))
                    .order(outbox::next_attempt_at.asc())
                    .limit(100)
                    .select(OutboxRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut attempted = 0;
        for entry in due {
            if !self
                .infra
                .claim_for_attempt(&entry, (now, LEASE), claim_send)
                .await?
            {
                continue;
            }
            if let Err(e) = self.retry_entry(&entry).await {
                // A retry that can never succeed (channel gone or disabled, consent withdrawn,
                // contact erased) ends the message as failed instead of retrying forever.
                if let Error::Conflict(reason) | Error::Invalid { reason, .. } = &e {
                    self.give_up_send(&entry, reason).await?;
                    continue;
                }
                tracing::error!(message = %entry.message_id, error = %crate::telemetry::chain(&e), "retrying a send failed");
            }
            attempted += 1;
        }
        Ok(attempted)
    }

    pub(super) async fn retry_entry(&self, entry: &OutboxRow) -> Result<SendReceipt> {
        let tenant = TenantId::parse(&entry.tenant_id)?;
        let channel = self
            .channel(&tenant, &entry.channel_id)
            .await
            .map_err(|e| match e {
                Error::NotFound => Error::Conflict("the channel was deleted".into()),
                other => other,
            })?;
        if !channel.enabled {
            return Err(Error::Conflict("the channel was disabled".into()));
        }
        // A push goes out only while consent is confirmed: STOP in the meantime cancels it.
        if let Some(purpose) = &entry.purpose_id {
            let (t, id, p, gate) = (
                tenant.as_str().to_string(),
                entry.message_id.clone(),
                purpose.clone(),
                self.gate,
            );
            let confirmed = self
                .infra
                .store
                .read(move |conn| {
                    let contact: String = messages::table
                        .filter(messages::id.eq(id::bind(&id)))
                        .select(messages::contact_id)
                        .first(conn)?;
                    (gate.consent_confirmed)(conn, &t, &contact, &p)
                })
                .await?;
            if !confirmed {
                return Err(Error::Conflict(
                    "the contact's consent is no longer confirmed".into(),
                ));
            }
        }
        let keys = self
            .message_contact_keys(&tenant, &entry.message_id)
            .await?;
        let request = self
            .message_keys(&tenant, &entry.message_id)
            .await?
            .seal
            .open(
                &outbox_binding(tenant.as_str(), &entry.message_id),
                &entry.request_sealed,
            )?;
        let outbound: Outbound = serde_json::from_slice(&request).map_err(Error::internal)?;
        let (t, id) = (tenant.clone(), entry.message_id.clone());
        let contact = self
            .infra
            .store
            .read(move |conn| {
                let contact_id: String = messages::table
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::contact_id)
                    .first(conn)?;
                contacts::find(conn, &t, &contact_id)
            })
            .await?
            .ok_or(Error::NotFound)?;
        if contact.restricted_at.is_some() {
            return Err(Error::Conflict(RESTRICTED.into()));
        }
        let address = contacts::ContactView::open(&contact, Some(&keys))?
            .address
            .ok_or_else(|| Error::Conflict("this contact was erased".into()))?;
        self.attempt(
            &channel,
            &entry.message_id,
            &Sensitive::new(address),
            &outbound,
            entry.attempts,
        )
        .await
    }

    /// Ends a queued message as failed with `reason`.
    pub(super) async fn give_up_send(&self, entry: &OutboxRow, reason: &str) -> Result<()> {
        let tenant = TenantId::parse(&entry.tenant_id)?;
        let tenant_keys = self.infra.tenant_keys(&tenant).await?;
        let now = self.infra.clock.now();
        let period = self
            .periods
            .live_key(&tenant, Platform::Whatsapp.as_str(), to_micros(now))
            .await?;
        let error = PlatformError {
            code: 0,
            title: reason.to_string(),
            detail: Some("not sent: Hafen cancelled the retry".into()),
        };
        let mut status = self.status_row(
            tenant.as_str(),
            &tenant_keys,
            (&period.id, &period.keys),
            Platform::Whatsapp,
            &entry.message_id,
            DeliveryStatus::Failed,
            now,
            vec![error],
        )?;
        let id = entry.message_id.clone();
        tracing::warn!(message = %id, %reason, "queued send cancelled");
        self.infra
            .store
            .write(move |conn| {
                let platform: String = messages::table
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::channel)
                    .first(conn)?;
                status.channel = platform;
                status.message_id = Some(id.clone());
                diesel::delete(outbox::table.filter(outbox::message_id.eq(id::bind(&id))))
                    .execute(conn)?;
                diesel::insert_into(crate::store::schema::message_statuses::table)
                    .values(status.clone())
                    .execute(conn)?;
                status::bump(conn, &status.tenant_id, &id, "failed", status.occurred_at)
            })
            .await?;
        Ok(())
    }
}

//! Broadcasts: one message to every contact that has a consent record for a purpose. Each
//! message goes through the ordinary send path marked with the purpose, so the single "may I
//! send" decision refuses everyone whose consent is not confirmed at that moment; the broadcast
//! only counts. Sends are paced to stay under the platforms' rate limits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Consent;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::channels::send::{MediaInput, SendRequest, TemplateInput};
use crate::clock::{from_micros, to_micros};
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::{broadcasts, consent_purposes, consents};
use crate::tenants::TenantId;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastInput {
    pub purpose_id: String,
    /// When to send (RFC 3339); default now. Consent is checked at send time.
    #[serde(default)]
    pub scheduled_at: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<TemplateInput>,
    #[serde(default)]
    pub media: Option<MediaInput>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Queryable, Selectable)]
#[diesel(table_name = broadcasts)]
pub struct BroadcastRow {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    pub purpose_id: String,
    /// running or finished.
    pub state: String,
    /// Contacts with any consent record for the purpose.
    pub targeted: i32,
    pub sent: i32,
    /// Accepted for a later retry (rate limit, outage).
    pub queued: i32,
    /// Refused by the send decision: no confirmed consent, or outside the platform's window.
    pub skipped: i32,
    pub failed: i32,
    #[serde(skip)]
    pub request_sealed: Vec<u8>,
    #[serde(skip)]
    pub scheduled_at: i64,
    #[serde(skip)]
    pub created_at: i64,
    #[serde(skip)]
    pub finished_at: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BroadcastView {
    #[serde(flatten)]
    pub counts: BroadcastRow,
    pub scheduled_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<BroadcastRow> for BroadcastView {
    fn from(row: BroadcastRow) -> Self {
        Self {
            scheduled_at: from_micros(row.scheduled_at),
            created_at: from_micros(row.created_at),
            finished_at: row.finished_at.map(from_micros),
            counts: row,
        }
    }
}

impl Consent {
    /// Starts a broadcast; it runs in the background. Poll [`Hafen::read_broadcast`].
    pub async fn start_broadcast(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: BroadcastInput,
    ) -> Result<BroadcastView> {
        actor.authorize(tenant, Permission::SendMessages)?;
        self.infra.ensure_tenant(tenant).await?;
        let chosen = [
            input.text.is_some(),
            input.template.is_some(),
            input.media.is_some(),
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(Error::invalid(
                "body",
                "give exactly one of text, template, media",
            ));
        }
        let now = self.infra.clock.now();
        let scheduled = match &input.scheduled_at {
            Some(at) => DateTime::parse_from_rfc3339(at)
                .map_err(|_| Error::invalid("scheduled_at", "must be an RFC 3339 time"))?
                .with_timezone(&Utc),
            None => now,
        };
        let (t, p) = (tenant.as_str().to_string(), input.purpose_id.clone());
        let exists = self
            .infra
            .store
            .read(move |conn| {
                Ok(consent_purposes::table
                    .filter(consent_purposes::tenant_id.eq(id::bind(&t)))
                    .filter(consent_purposes::id.eq(&p))
                    .select(consent_purposes::id)
                    .first::<String>(conn)
                    .optional()?)
            })
            .await?;
        if exists.is_none() {
            return Err(Error::invalid("purpose_id", "no such consent purpose"));
        }
        let keys = self.infra.tenant_keys(tenant).await?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let request = serde_json::to_vec(&input).map_err(Error::internal)?;
        let due_now = scheduled <= now;
        let row = BroadcastRow {
            request_sealed: keys
                .seal
                .seal(&request_binding(tenant.as_str(), &id), &request)?,
            id: id.clone(),
            tenant_id: tenant.as_str().to_string(),
            purpose_id: input.purpose_id.clone(),
            state: if due_now { "running" } else { "scheduled" }.into(),
            targeted: 0,
            sent: 0,
            queued: 0,
            skipped: 0,
            failed: 0,
            scheduled_at: to_micros(scheduled),
            created_at: to_micros(now),
            finished_at: None,
        };
        let event = AuditEvent::new(actor, "broadcast.create")
            .tenant(tenant)
            .object("broadcast", &id)
            .detail(format!(
                "purpose={} scheduled={}",
                input.purpose_id,
                scheduled.to_rfc3339()
            ));
        let stored = row.clone();
        self.infra
            .store
            .write(move |conn| {
                diesel::insert_into(broadcasts::table)
                    .values((
                        broadcasts::id.eq(&stored.id),
                        broadcasts::tenant_id.eq(id::bind(&stored.tenant_id)),
                        broadcasts::purpose_id.eq(&stored.purpose_id),
                        broadcasts::state.eq(&stored.state),
                        broadcasts::targeted.eq(0),
                        broadcasts::sent.eq(0),
                        broadcasts::queued.eq(0),
                        broadcasts::skipped.eq(0),
                        broadcasts::failed.eq(0),
                        broadcasts::request_sealed.eq(&stored.request_sealed),
                        broadcasts::scheduled_at.eq(stored.scheduled_at),
                        broadcasts::created_at.eq(stored.created_at),
                    ))
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        if due_now {
            self.spawn_broadcast(tenant.clone(), id, input);
        }
        Ok(row.into())
    }

    fn spawn_broadcast(&self, tenant: TenantId, id: String, input: BroadcastInput) {
        let consent = self.clone();
        tokio::spawn(async move {
            if let Err(e) = consent.run_broadcast(&tenant, &id, input).await {
                tracing::error!(broadcast = %id, error = %crate::telemetry::chain(&e), "broadcast failed");
            }
        });
    }

    /// Starts every scheduled broadcast whose time has come; returns how many.
    pub async fn run_due_broadcasts(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<BroadcastRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(broadcasts::table
                    .filter(broadcasts::state.eq("scheduled"))
                    .filter(broadcasts::scheduled_at.le(now))
                    .select(BroadcastRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut started = 0;
        for row in due {
            let id = row.id.clone();
            let claimed = self
                .infra
                .store
                .write(move |conn| {
                    Ok(diesel::update(
                        broadcasts::table
                            .filter(broadcasts::id.eq(&id))
                            .filter(broadcasts::state.eq("scheduled")),
                    )
                    .set(broadcasts::state.eq("running"))
                    .execute(conn)?)
                })
                .await?;
            if claimed == 0 {
                continue;
            }
            let tenant = TenantId::parse(&row.tenant_id)?;
            let keys = self.infra.tenant_keys(&tenant).await?;
            let request = keys.seal.open(
                &request_binding(&row.tenant_id, &row.id),
                &row.request_sealed,
            )?;
            let input: BroadcastInput =
                serde_json::from_slice(&request).map_err(Error::internal)?;
            self.run_broadcast(&tenant, &row.id, input).await?;
            started += 1;
        }
        Ok(started)
    }

    async fn run_broadcast(
        &self,
        tenant: &TenantId,
        id: &str,
        input: BroadcastInput,
    ) -> Result<()> {
        // Everyone with a consent record for the purpose; the send path decides who gets it.
        let (t, p) = (tenant.as_str().to_string(), input.purpose_id.clone());
        let targets: Vec<String> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .filter(consents::purpose_id.eq(&p))
                    .select(consents::contact_id)
                    .load(conn)?)
            })
            .await?;
        let targeted = targets.len() as i32;
        let pause = match self.broadcast_rate {
            0 => None,
            rate => Some(std::time::Duration::from_secs_f64(1.0 / f64::from(rate))),
        };
        let (mut sent, mut queued, mut skipped, mut failed) = (0, 0, 0, 0);
        for contact in targets {
            let request = SendRequest {
                channel_id: input.channel_id.clone(),
                idempotency_key: Some(format!("broadcast:{id}:{contact}")),
                text: input.text.clone(),
                template: input.template.as_ref().map(|t| TemplateInput {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    components: t.components.clone(),
                }),
                media: input.media.as_ref().map(|m| MediaInput {
                    kind: m.kind.clone(),
                    url: m.url.clone(),
                    caption: m.caption.clone(),
                }),
                purpose_id: Some(input.purpose_id.clone()),
            };
            match self
                .channels
                .send(&Actor::System, tenant, &contact, request, None)
                .await
            {
                Ok(r) if r.status == "sent" => {
                    sent += 1;
                    self.mark_consent_used(tenant, &contact, &input.purpose_id)
                        .await?;
                }
                Ok(r) if r.status == "queued" => queued += 1,
                Ok(_) => failed += 1,
                Err(Error::Conflict(_)) => skipped += 1,
                Err(e) => {
                    tracing::warn!(broadcast = %id, error = %crate::telemetry::chain(&e), "broadcast message failed");
                    failed += 1;
                }
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
        let (id, now) = (id.to_string(), to_micros(self.infra.clock.now()));
        self.infra
            .store
            .write(move |conn| {
                diesel::update(broadcasts::table.filter(broadcasts::id.eq(&id)))
                    .set((
                        broadcasts::state.eq("finished"),
                        broadcasts::targeted.eq(targeted),
                        broadcasts::sent.eq(sent),
                        broadcasts::queued.eq(queued),
                        broadcasts::skipped.eq(skipped),
                        broadcasts::failed.eq(failed),
                        broadcasts::finished_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Consent proofs are kept for a period after their last use (Art. 7(1) GDPR: the controller proves the consent behind each use): record the use.
    async fn mark_consent_used(
        &self,
        tenant: &TenantId,
        contact: &str,
        purpose: &str,
    ) -> Result<()> {
        let (t, c, p, now) = (
            tenant.as_str().to_string(),
            contact.to_string(),
            purpose.to_string(),
            to_micros(self.infra.clock.now()),
        );
        self.infra
            .store
            .write(move |conn| {
                diesel::update(
                    consents::table
                        .filter(consents::tenant_id.eq(id::bind(&t)))
                        .filter(consents::contact_id.eq(id::bind(&c)))
                        .filter(consents::purpose_id.eq(&p)),
                )
                .set(consents::last_used_at.eq(Some(now)))
                .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    pub async fn read_broadcast(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<BroadcastView> {
        actor.authorize(tenant, Permission::SendMessages)?;
        let (t, id) = (tenant.as_str().to_string(), id.to_string());
        let row: Option<BroadcastRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(broadcasts::table
                    .filter(broadcasts::tenant_id.eq(id::bind(&t)))
                    .filter(broadcasts::id.eq(&id))
                    .select(BroadcastRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.ok_or(Error::NotFound)?.into())
    }
}

fn request_binding<'a>(tenant: &'a str, id: &'a str) -> crate::crypto::FieldBinding<'a> {
    crate::crypto::FieldBinding {
        tenant,
        table: "broadcasts",
        column: "request",
        row: id,
    }
}

//! Downloading the files messages reference, through each platform's API:
//! WhatsApp `GET /{media-id}` (gives a short-lived URL) then that URL, both with the access
//! token; Telegram `getFile` then `/file/bot<token>/<file_path>`; Messenger sends the URL
//! itself. The download is size-limited while streaming, checked against the documented
//! SHA-256 where one is given, sealed with the contact's key and stored in the database.

use chrono::Duration;
use diesel::prelude::*;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::Channels;
use super::{Channel, Platform};
use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::messages::attachments::{self, AttachmentRow};
use crate::messages::inbound::MediaRef;
use crate::store::id;
use crate::store::schema::{attachments as table, messages};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// Attempts before a download is given up (it stays listed as `failed`).
pub const MAX_ATTEMPTS: i32 = 10;
const LEASE: Duration = Duration::minutes(5);

/// Why a download attempt failed; `retry` says whether another attempt may help.
#[derive(Debug)]
struct Failure {
    reason: String,
    retry: bool,
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: true,
        }
    }
    fn fatal(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: false,
        }
    }
}

/// Claims a due download for one attempt (see `Hafen::claim_for_attempt`).
fn claim(
    conn: &mut DbConn,
    row: &AttachmentRow,
    now: i64,
    lease: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        table::table
            .filter(table::id.eq(id::bind(&row.id)))
            .filter(table::next_attempt_at.le(now)),
    )
    .set(table::next_attempt_at.eq(lease))
    .execute(conn)?)
}

impl Channels {
    /// Downloads every attachment whose time has come; returns how many were attempted.
    pub async fn run_due_downloads(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<AttachmentRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(table::table
                    .filter(table::state.eq("pending"))
                    .filter(table::next_attempt_at.le(now))
                    .order(table::next_attempt_at.asc())
                    .limit(20)
                    .select(AttachmentRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut attempted = 0;
        for row in due {
            if self
                .infra
                .claim_for_attempt(&row, (now, LEASE), claim)
                .await?
            {
                self.download(row).await?;
                attempted += 1;
            }
        }
        Ok(attempted)
    }

    async fn download(&self, row: AttachmentRow) -> Result<()> {
        let tenant = TenantId::parse(&row.tenant_id)?;
        let keys = match self
            .attachment_keys(&tenant, &row.message_id, row.period_key_id.as_deref())
            .await
        {
            Ok(keys) => keys,
            // An erased contact's file must not be fetched again: give up for good.
            Err(Error::Conflict(reason)) => {
                let attempts = row.attempts + 1;
                return self
                    .record_failure(&row, Failure::fatal(reason), attempts)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let reference = keys.seal.open(
            &attachments::binding(&row.tenant_id, &row.id, "media_ref"),
            &row.media_ref_sealed,
        )?;
        let media: MediaRef = serde_json::from_slice(&reference).map_err(Error::internal)?;
        let channel = match &row.channel_id {
            Some(id) => self.channel(&tenant, id).await.ok(),
            None => None,
        };
        let fetched = match &channel {
            Some(channel) => self.fetch(channel, &media).await,
            None => Err(Failure::fatal(
                "the channel of this message no longer exists",
            )),
        };
        let now = self.infra.clock.now();
        let id = row.id.clone();
        let attempts = row.attempts + 1;
        match fetched {
            Ok((bytes, mime)) => {
                if let Some(expected) = &row.expected_sha256 {
                    let got = hex::encode(Sha256::digest(&bytes));
                    if &got != expected {
                        return self.record_failure(&row, Failure::retry("the file's SHA-256 differs from the one the platform documented"), attempts).await;
                    }
                }
                let sealed = keys.seal.seal(
                    &attachments::binding(&row.tenant_id, &row.id, "content"),
                    &bytes,
                )?;
                let size = bytes.len() as i64;
                let mime = row.mime_type.clone().or(mime);
                self.infra
                    .store
                    .write(move |conn| {
                        diesel::update(table::table.filter(table::id.eq(id::bind(&id))))
                            .set((
                                table::state.eq("stored"),
                                table::content_sealed.eq(Some(&sealed)),
                                table::size.eq(Some(size)),
                                table::mime_type.eq(mime.clone()),
                                table::attempts.eq(attempts),
                                table::last_error.eq(None::<String>),
                            ))
                            .execute(conn)?;
                        Ok(())
                    })
                    .await?;
                let _ = now;
                Ok(())
            }
            Err(failure) => self.record_failure(&row, failure, attempts).await,
        }
    }

    async fn record_failure(
        &self,
        row: &AttachmentRow,
        failure: Failure,
        attempts: i32,
    ) -> Result<()> {
        let give_up = !failure.retry || attempts >= MAX_ATTEMPTS;
        // 1 min, 2 min, 4 min … capped at 6 hours: a platform outage is ridden out.
        let wait =
            Duration::minutes(2i64.pow((attempts - 1).clamp(0, 9) as u32)).min(Duration::hours(6));
        let next = to_micros(self.infra.clock.now() + wait);
        tracing::warn!(attachment = %row.id, attempts, give_up, reason = %failure.reason, "media download failed");
        let id = row.id.clone();
        self.infra
            .store
            .write(move |conn| {
                diesel::update(table::table.filter(table::id.eq(id::bind(&id))))
                    .set((
                        table::state.eq(if give_up { "failed" } else { "pending" }),
                        table::attempts.eq(attempts),
                        table::next_attempt_at.eq(next),
                        table::last_error.eq(Some(failure.reason.clone())),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn attachment_keys(
        &self,
        tenant: &TenantId,
        message_id: &str,
        period: Option<&str>,
    ) -> Result<std::sync::Arc<crate::crypto::keyring::OwnerKeys>> {
        let (keys, t, id) = (
            self.infra.keys.clone(),
            tenant.clone(),
            message_id.to_string(),
        );
        let period = period.map(str::to_string);
        self.infra
            .store
            .read(move |conn| {
                let contact: String = messages::table
                    .filter(messages::tenant_id.eq(id::bind(t.as_str())))
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::contact_id)
                    .first(conn)?;
                let base =
                    match crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&contact)) {
                        Ok(mut k) => k.remove(&contact),
                        Err(e) => return Ok(Err(e)),
                    };
                let Some(base) = base else {
                    return Ok(Err(Error::Conflict("this contact was erased".into())));
                };
                Ok(
                    crate::periods::bound_blocking(&keys, conn, &base, period.as_deref()).and_then(
                        |bound| {
                            bound.map_err(|_| {
                                Error::Conflict("the message was shredded by retention".into())
                            })
                        },
                    ),
                )
            })
            .await?
    }

    /// The file's bytes and, if the platform says, its MIME type.
    async fn fetch(
        &self,
        channel: &Channel,
        media: &MediaRef,
    ) -> std::result::Result<(Vec<u8>, Option<String>), Failure> {
        let base = self.platforms.endpoints();
        let limit = self.max_media_bytes;
        match channel.platform {
            Platform::Whatsapp => {
                let token = channel
                    .secrets
                    .access_token
                    .as_deref()
                    .ok_or_else(|| Failure::fatal("the channel has no access_token"))?;
                let meta: serde_json::Value = json_or_failure(
                    self.platforms
                        .get(&format!("{}/{}", base.whatsapp, media.media_id))
                        .map_err(refused)?
                        .bearer_auth(token)
                        .send()
                        .await,
                )
                .await?;
                let url = meta
                    .get("url")
                    .and_then(|u| u.as_str())
                    .ok_or_else(|| Failure::retry("the media lookup gave no URL"))?;
                let mime = meta
                    .get("mime_type")
                    .and_then(|m| m.as_str())
                    .map(str::to_string);
                let bytes = body_limited(
                    self.platforms
                        .get(url)
                        .map_err(refused)?
                        .bearer_auth(token)
                        .send()
                        .await,
                    limit,
                )
                .await?;
                Ok((bytes, mime))
            }
            Platform::Telegram => {
                let token = channel
                    .secrets
                    .bot_token
                    .as_deref()
                    .ok_or_else(|| Failure::fatal("the channel has no bot_token"))?;
                let file: serde_json::Value = json_or_failure(
                    self.platforms
                        .get(&format!("{}/bot{token}/getFile", base.telegram))
                        .map_err(refused)?
                        .query(&[("file_id", media.media_id.as_str())])
                        .send()
                        .await,
                )
                .await?;
                let path = file
                    .pointer("/result/file_path")
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| Failure::retry("getFile gave no file_path"))?;
                let bytes = body_limited(
                    self.platforms
                        .get(&format!("{}/file/bot{token}/{path}", base.telegram))
                        .map_err(refused)?
                        .send()
                        .await,
                    limit,
                )
                .await?;
                Ok((bytes, None))
            }
            Platform::Messenger => {
                if !media.media_id.starts_with("https://") && !media.media_id.starts_with("http://")
                {
                    return Err(Failure::fatal("the attachment has no URL"));
                }
                let bytes = body_limited(
                    self.platforms
                        .get(&media.media_id)
                        .map_err(refused)?
                        .send()
                        .await,
                    limit,
                )
                .await?;
                Ok((bytes, None))
            }
        }
    }
}

/// A file the outbound policy refused. The host goes to the log only: the stored reason is
/// read by tenants' admins and kept with the attachment, and a host name can say whom a file
/// came from.
fn refused(r: crate::egress::Refusal) -> Failure {
    tracing::warn!(host = %r.host, reason = %r.reason, "media download refused by the outbound policy");
    Failure::fatal(REFUSED_FILE.to_string())
}

const REFUSED_FILE: &str = "the file's address is refused by the outbound policy (not a platform host on the outbound allow-list, or not a public address); the host is in the server log";

/// A failed request: refused by the policy (for good), or a network error (retried).
fn request_failure(e: reqwest::Error) -> Failure {
    match crate::egress::Refusal::in_error(&e) {
        Some(r) => refused(r.clone()),
        // `without_url`: Telegram URLs carry the bot token.
        None => Failure::retry(format!("network: {}", e.without_url())),
    }
}

fn classify(status: reqwest::StatusCode) -> Failure {
    let reason = format!("the platform answered HTTP {}", status.as_u16());
    if status.as_u16() == 429 || status.is_server_error() {
        Failure::retry(reason)
    } else if status.as_u16() == 404 || status.as_u16() == 410 {
        Failure::fatal(format!("{reason}: the file is no longer available"))
    } else {
        Failure::retry(reason)
    }
}

async fn json_or_failure(
    response: reqwest::Result<reqwest::Response>,
) -> std::result::Result<serde_json::Value, Failure> {
    let response = response.map_err(request_failure)?;
    if !response.status().is_success() {
        return Err(classify(response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| Failure::retry(format!("unreadable answer: {}", e.without_url())))
}

async fn body_limited(
    response: reqwest::Result<reqwest::Response>,
    limit: usize,
) -> std::result::Result<Vec<u8>, Failure> {
    let response = response.map_err(request_failure)?;
    if !response.status().is_success() {
        return Err(classify(response.status()));
    }
    if response
        .content_length()
        .is_some_and(|n| n as usize > limit)
    {
        return Err(Failure::fatal(format!(
            "the file is larger than max_media_bytes ({limit})"
        )));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::retry(format!("network: {}", e.without_url())))?;
        if body.len() + chunk.len() > limit {
            return Err(Failure::fatal(format!(
                "the file is larger than max_media_bytes ({limit})"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

//! Platform webhooks: `/hooks/{platform}/{channel_id}`. Authenticity is checked over the raw
//! body before anything is parsed; a failed check stores nothing but one audit entry.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::raw_body;
use super::forwarded::client_ip;
use super::limits::IpRateLimit;
use super::problem::ApiError;
use crate::channels::verify::meta_handshake;
use crate::channels::webhook::{Delivery, Refused};
use crate::channels::Platform;
use crate::error::Error;
use crate::service::Hafen;

fn platform(name: &str) -> Result<Platform, ApiError> {
    Platform::parse(name).ok_or(ApiError::Domain(Error::NotFound))
}

/// Meta's subscription handshake: `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Checked before a body is read or a channel looked up, so a flood costs as little as
/// possible (and guessing verify tokens is slow).
fn within_rate(
    hafen: &Hafen,
    rate: &IpRateLimit,
    req: &HttpRequest,
    platform: Platform,
) -> Result<(), ApiError> {
    match client_ip(req) {
        Some(ip) if !rate.allow(ip, hafen.clock().now()) => {
            hafen
                .infra
                .metrics
                .webhook(platform.as_str(), "rate_limited");
            Err(ApiError::RateLimited)
        }
        _ => Ok(()),
    }
}

/// Meta's subscription handshake: echo `hub.challenge` when the verify token matches. Meta
/// calls it when the callback URL is entered (WhatsApp, Messenger; Telegram has none).
#[utoipa::path(get, path = "/hooks/{platform}/{channel}", tag = "webhooks",
    params(("platform" = String, Path, description = "`whatsapp` or `messenger`", example = "whatsapp"),
        ("channel" = String, Path, description = "Channel id (the channel's `webhook_path`)"), Handshake),
    responses((status = 200, description = "The `hub.challenge`, echoed", content_type = "text/plain", body = String),
        (status = 403, body = super::problem::Problem, description = "Wrong verify token, or the channel is disabled"),
        (status = 404, body = super::problem::Problem, description = "No such channel for this platform"),
        (status = 429, body = super::problem::Problem, description = "Too many requests from this address")))]
pub async fn handshake(
    hafen: web::Data<Hafen>,
    rate: web::Data<IpRateLimit>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (platform_name, id) = path.into_inner();
    let platform = platform(&platform_name)?;
    within_rate(&hafen, &rate, &req, platform)?;
    if !platform.is_meta() {
        return Err(Error::NotFound.into());
    }
    let channel = hafen.channels.channel_for_webhook(platform, &id).await?;
    let query: Handshake = super::extract::query(&req)?;
    let expected = channel.secrets.verify_token.as_deref().unwrap_or_default();
    match meta_handshake(
        expected,
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
    ) {
        Some(challenge) if channel.enabled && !expected.is_empty() => Ok(HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body(challenge.to_string())),
        _ => {
            hafen
                .infra
                .metrics
                .webhook(platform.as_str(), "handshake_refused");
            Err(Error::Forbidden("the verify token does not match this channel".into()).into())
        }
    }
}

/// A webhook delivery, exactly as the platform sends it. Checked over the raw body before
/// parsing (Meta: `X-Hub-Signature-256`; Telegram: `X-Telegram-Bot-Api-Secret-Token`); every
/// item is stored in one transaction before the answer (docs/channels.md).
#[utoipa::path(post, path = "/hooks/{platform}/{channel}", tag = "webhooks",
    params(("platform" = String, Path, description = "`whatsapp`, `messenger` or `telegram`", example = "whatsapp"),
        ("channel" = String, Path, description = "Channel id (the channel's `webhook_path`)"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "WhatsApp, Messenger: `sha256=` and the hex HMAC-SHA256 of the raw body with the app secret"),
        ("X-Telegram-Bot-Api-Secret-Token" = Option<String>, Header, description = "Telegram: the channel's `webhook_secret`")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "The platform's payload: a WhatsApp or Messenger `entry` list, or one Telegram `Update`"),
    responses((status = 200, body = crate::channels::webhook::Receipt, description = "Stored (committed) before this answer"),
        (status = 401, body = super::problem::Problem, description = "Signature missing or wrong: nothing stored"),
        (status = 403, body = super::problem::Problem, description = "The channel is disabled: nothing stored"),
        (status = 404, body = super::problem::Problem, description = "No such channel for this platform"),
        (status = 413, body = super::problem::Problem, description = "Larger than `max_body_bytes`"),
        (status = 429, body = super::problem::Problem, description = "Too many requests from this address")))]
pub async fn receive(
    hafen: web::Data<Hafen>,
    rate: web::Data<IpRateLimit>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (platform_name, id) = path.into_inner();
    let platform = platform(&platform_name)?;
    within_rate(&hafen, &rate, &req, platform)?;
    let channel = hafen.channels.channel_for_webhook(platform, &id).await?;
    let body = raw_body(&req, body).await?;
    let delivery = Delivery {
        authenticity: req
            .headers()
            .get(platform.authenticity_header())
            .and_then(|v| v.to_str().ok()),
        body: &body,
        source: client_ip(&req),
    };
    match hafen.inbound.accept_webhook(&channel, delivery).await {
        Ok(receipt) => Ok(HttpResponse::Ok().json(receipt)),
        Err(Refused::BadSignature) => Err(ApiError::BadSignature(platform)),
        Err(Refused::Disabled) => Err(Error::Forbidden("this channel is disabled".into()).into()),
        Err(Refused::Malformed(e)) => Err(ApiError::Malformed(e.to_string())),
        Err(Refused::Failed(e)) => Err(e.into()),
    }
}

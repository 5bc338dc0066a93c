//! The HTTP API (`/v1`), health and the OpenAPI document. Handlers parse, authorise through
//! the [`extract::Caller`], call one domain function and map the result; no business rules here.

pub mod bots;
pub mod channels;
pub mod consent;
pub mod contacts;
pub mod events;
pub mod extract;
pub mod forwarded;
pub mod hooks;
pub mod limits;
pub mod messages;
mod middleware;
mod openapi;
mod operations;
pub mod problem;
pub mod records;
pub mod requests;
pub mod retention;
pub mod tenants;
pub mod tls;
pub mod tokens;
pub mod ui;
pub mod widget;

pub use middleware::*;
pub use openapi::*;
pub use operations::*;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::service::Hafen;

/// Registers every route.
/// Every route of the server. The order is the order actix tries them: each path pattern with
/// a `{…}` segment is a regular expression run against the request's path, so the platforms'
/// webhooks — the bulk of all requests, bursts of hundreds a second after a broadcast — come
/// first, then the API, then the web interface (its ~80 patterns cost a webhook delivery 5 % of
/// the server's CPU when they were tried first). The three sets share no path.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/hooks/{platform}/{channel}",
        web::post().to(hooks::receive),
    )
    .route(
        "/hooks/{platform}/{channel}",
        web::get().to(hooks::handshake),
    );
    api_routes(cfg);
    ui::routes(cfg);
}

fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health))
        .route("/readyz", web::get().to(ready))
        .route(
            "/v1/register/{section}",
            web::get().to(records::get_install),
        )
        .route(
            "/v1/register/{section}",
            web::put().to(records::put_install),
        )
        .route(
            "/v1/register/{section}/versions",
            web::get().to(records::history_install),
        )
        .route(
            "/v1/tenants/{tenant}/register/{section}",
            web::get().to(records::get_tenant),
        )
        .route(
            "/v1/tenants/{tenant}/register/{section}",
            web::put().to(records::put_tenant),
        )
        .route(
            "/v1/tenants/{tenant}/register/{section}/versions",
            web::get().to(records::history_tenant),
        )
        .route("/v1/reports/{kind}", web::get().to(records::install_report))
        .route(
            "/v1/tenants/{tenant}/requests",
            web::post().to(requests::create),
        )
        .route(
            "/v1/tenants/{tenant}/requests",
            web::get().to(requests::list),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}",
            web::get().to(requests::read),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/extend",
            web::post().to(requests::extend),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/identity",
            web::post().to(requests::identity),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/reject",
            web::post().to(requests::reject),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/export",
            web::post().to(requests::export),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/erase",
            web::post().to(requests::erase),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/decisions",
            web::post().to(requests::decide),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/letter",
            web::get().to(requests::letter),
        )
        .route(
            "/v1/tenants/{tenant}/requests/{id}/restrict",
            web::post().to(requests::restrict),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/lookup",
            web::post().to(requests::lookup),
        )
        .route(
            "/v1/tenants/{tenant}/reports/{kind}",
            web::get().to(records::tenant_report),
        )
        .route(
            "/v1/tenants/{tenant}/retention/preview",
            web::post().to(retention::preview),
        )
        .route(
            "/v1/tenants/{tenant}/retention/rules",
            web::get().to(retention::rules),
        )
        .route(
            "/v1/tenants/{tenant}/retention/rules",
            web::put().to(retention::put_rules),
        )
        .route(
            "/v1/tenants/{tenant}/retention/rules/versions",
            web::get().to(retention::versions),
        )
        .route(
            "/v1/tenants/{tenant}/retention/rules/versions/{version}/approve",
            web::post().to(retention::approve),
        )
        .route(
            "/v1/tenants/{tenant}/retention/rules/versions/{version}/reject",
            web::post().to(retention::reject),
        )
        .route(
            "/v1/tenants/{tenant}/retention/runs",
            web::post().to(retention::run_tenant),
        )
        .route("/v1/retention/runs", web::post().to(retention::run_all))
        .route(
            "/v1/tenants/{tenant}/retention/certificates",
            web::get().to(retention::certificates),
        )
        .route(
            "/v1/tenants/{tenant}/legal-holds",
            web::post().to(retention::place_hold),
        )
        .route(
            "/v1/tenants/{tenant}/legal-holds",
            web::get().to(retention::list_holds),
        )
        .route(
            "/v1/tenants/{tenant}/legal-holds/{id}/release",
            web::post().to(retention::release_hold),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/restriction",
            web::post().to(retention::restrict),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/restriction",
            web::delete().to(retention::lift_restriction),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/restricted",
            web::get().to(retention::read_restricted),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/relationship",
            web::put().to(retention::relationship),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/consents/{purpose}/proof",
            web::get().to(consent::proof),
        )
        .route("/w/{tenant}/{purpose}", web::get().to(widget::show))
        .route("/w/{tenant}/{purpose}", web::post().to(widget::submit))
        .route(
            "/w/{tenant}/{purpose}/embed.js",
            web::get().to(widget::embed),
        )
        .route(
            "/v1/tenants/{tenant}/consent-purposes",
            web::post().to(consent::create_purpose),
        )
        .route(
            "/v1/tenants/{tenant}/consent-purposes",
            web::get().to(consent::list_purposes),
        )
        .route(
            "/v1/tenants/{tenant}/consent-purposes/{id}/texts",
            web::post().to(consent::add_texts),
        )
        .route(
            "/v1/tenants/{tenant}/consent-settings",
            web::put().to(consent::put_settings),
        )
        .route(
            "/v1/tenants/{tenant}/broadcasts",
            web::post().to(consent::start_broadcast),
        )
        .route(
            "/v1/tenants/{tenant}/broadcasts/{id}",
            web::get().to(consent::read_broadcast),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/consents",
            web::post().to(consent::act),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/consents",
            web::get().to(consent::list),
        )
        .route("/metrics", web::get().to(metrics))
        .route("/v1/openapi.json", web::get().to(openapi))
        .route("/v1/tenants", web::post().to(tenants::create_tenant))
        .route(
            "/v1/tenants/{tenant}/tokens",
            web::post().to(tokens::create),
        )
        .route(
            "/v1/tenants/{tenant}/tokens",
            web::get().to(tokens::list_tenant),
        )
        .route(
            "/v1/tenants/{tenant}/tokens/{id}",
            web::delete().to(tokens::revoke_tenant),
        )
        .route("/v1/tokens", web::get().to(tokens::list_all))
        .route("/v1/tokens/{id}", web::delete().to(tokens::revoke_any))
        .route(
            "/v1/tenants/{tenant}/messages",
            web::post().to(messages::ingest),
        )
        .route(
            "/v1/tenants/{tenant}/messages/{id}",
            web::get().to(messages::read),
        )
        .route(
            "/v1/tenants/{tenant}/contacts",
            web::get().to(contacts::list),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}",
            web::get().to(contacts::read),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/messages",
            web::get().to(contacts::messages),
        )
        .route(
            "/v1/tenants/{tenant}/event-hooks",
            web::post().to(events::create),
        )
        .route(
            "/v1/tenants/{tenant}/event-hooks",
            web::get().to(events::list),
        )
        .route(
            "/v1/tenants/{tenant}/event-hooks/{id}",
            web::delete().to(events::delete),
        )
        .route(
            "/v1/tenants/{tenant}/event-hooks/{id}/deliveries",
            web::get().to(events::deliveries),
        )
        .route("/v1/tenants/{tenant}/bots", web::post().to(bots::create))
        .route("/v1/tenants/{tenant}/bots", web::get().to(bots::list))
        .route(
            "/v1/tenants/{tenant}/bots/{id}",
            web::delete().to(bots::delete),
        )
        .route(
            "/v1/tenants/{tenant}/bots/{id}/deliveries",
            web::get().to(bots::deliveries),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/handover",
            web::get().to(bots::handover_state),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/handover",
            web::post().to(bots::take_over),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/handover",
            web::delete().to(bots::hand_back),
        )
        .route(
            "/v1/tenants/{tenant}/messages/{id}/attachments/{n}",
            web::get().to(messages::attachment),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/messages/send",
            web::post().to(contacts::send),
        )
        .route(
            "/v1/tenants/{tenant}/contacts/{id}/business-letters",
            web::post().to(contacts::business_letters),
        )
        .route(
            "/v1/tenants/{tenant}/channels",
            web::post().to(channels::create),
        )
        .route(
            "/v1/tenants/{tenant}/channels",
            web::get().to(channels::list),
        )
        .route(
            "/v1/tenants/{tenant}/channels/{id}",
            web::get().to(channels::read),
        )
        .route(
            "/v1/tenants/{tenant}/channels/{id}",
            web::patch().to(channels::update),
        )
        .route(
            "/v1/tenants/{tenant}/channels/{id}",
            web::delete().to(channels::delete),
        );
}

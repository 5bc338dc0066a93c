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
pub mod problem;
pub mod records;
pub mod requests;
pub mod retention;
pub mod tenants;
pub mod tls;
pub mod tokens;
pub mod ui;
pub mod widget;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::service::Hafen;

#[derive(OpenApi)]
#[openapi(
    info(title = "Hafen API", description = "On-premises, encrypted home for messenger data."),
    paths(
        health,
        ready,
        tenants::create_tenant,
        tokens::create,
        tokens::list_tenant,
        tokens::revoke_tenant,
        tokens::list_all,
        tokens::revoke_any,
        messages::ingest,
        messages::read,
        messages::attachment,
        contacts::list,
        contacts::read,
        contacts::messages,
        contacts::send,
        contacts::business_letters,
        channels::create,
        channels::list,
        channels::read,
        channels::update,
        channels::delete,
        events::create,
        consent::create_purpose,
        consent::list_purposes,
        consent::add_texts,
        consent::put_settings,
        consent::act,
        consent::list,
        consent::start_broadcast,
        consent::proof,
        consent::read_broadcast,
        events::list,
        events::delete,
        events::deliveries,
        bots::create,
        bots::list,
        bots::delete,
        bots::deliveries,
        bots::handover_state,
        bots::take_over,
        bots::hand_back,
        retention::preview,
        retention::rules,
        retention::put_rules,
        retention::versions,
        retention::approve,
        retention::reject,
        retention::run_tenant,
        retention::run_all,
        retention::certificates,
        retention::place_hold,
        retention::list_holds,
        retention::release_hold,
        retention::restrict,
        retention::lift_restriction,
        retention::read_restricted,
        retention::relationship,
        records::get_install,
        records::put_install,
        records::history_install,
        records::get_tenant,
        records::put_tenant,
        records::history_tenant,
        records::install_report,
        records::tenant_report,
        requests::create,
        requests::list,
        requests::read,
        requests::extend,
        requests::identity,
        requests::reject,
        requests::export,
        requests::erase,
        requests::decide,
        requests::letter,
        requests::restrict,
        requests::lookup,
        hooks::handshake,
        hooks::receive,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth, &ProblemResponses),
    tags(
        (name = "tenants", description = "Controllers"),
        (name = "tokens", description = "API tokens: issued, listed, revoked"),
        (name = "messages", description = "Storing and reading messages"),
        (name = "contacts", description = "Data subjects and their conversations"),
        (name = "channels", description = "WhatsApp numbers, Facebook pages and Telegram bots"),
        (name = "event-hooks", description = "Events for the company's own systems"),
        (name = "bots", description = "Chatbots of a channel, and the hand-over of a conversation to a person"),
        (name = "consent", description = "Double opt-in: purposes, texts, consents and their proof"),
        (name = "records", description = "The GDPR register and reports: Art. 30 records, AVV annexes, deletion and consent reports"),
        (name = "requests", description = "Data-subject requests: access, portability, erasure, restriction, with deadlines"),
        (name = "retention", description = "Deletion rules, dry-runs, legal holds, sweeps and deletion certificates"),
        (name = "webhooks", description = "Called by WhatsApp, Messenger and Telegram, not by the company's systems: authenticated by the platform's signature"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every error is a problem document (RFC 9457, `application/problem+json`), and any
/// operation can meet the generic ones (a malformed request, a body too large or too slow, a
/// full disk; with a token: 401 and 403; with a path parameter: 404). The document says so here, once, rather than in each handler's annotation;
/// schemathesis checks every answer against it (tests/schema/run.sh).
struct ProblemResponses;

impl utoipa::Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
        let generic = |op: &Operation| {
            let mut statuses = vec![
                ("400", "Malformed request: path, query or body"),
                (
                    "503",
                    "Unavailable (shutting down, the disk is full) or busy (concurrent writes kept \
                     conflicting); nothing was stored. Retry-After says when to send it again",
                ),
            ];
            if op.security.is_some() {
                statuses.extend([
                    ("401", "Missing or invalid API token"),
                    ("403", "The token's role may not do this"),
                ]);
            }
            if op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
            {
                statuses.push((
                    "404",
                    "No such tenant or object, or one the token may not see",
                ));
            }
            if op.request_body.is_some() {
                statuses.extend([
                    ("408", "The body did not arrive in time"),
                    ("413", "The body is too large"),
                    ("415", "The body is not JSON"),
                    ("422", "A field is invalid"),
                ]);
            }
            if op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
            {
                statuses.push(("422", "A query parameter is invalid"));
            }
            statuses
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for (status, description) in generic(op) {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content("application/problem+json", problem())
                                    .build(),
                            )
                        });
                }
                for response in op.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                    });
                    if is_problem {
                        response.content.shift_remove("application/json");
                        response
                            .content
                            .insert("application/problem+json".into(), problem());
                    }
                }
            }
        }
    }
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    ui::routes(cfg);
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
        )
        .route(
            "/hooks/{platform}/{channel}",
            web::get().to(hooks::handshake),
        )
        .route(
            "/hooks/{platform}/{channel}",
            web::post().to(hooks::receive),
        );
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    database: &'static str,
    /// Migrations this binary has that the database has not (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_migrations: Option<usize>,
}

/// Liveness: the process answers. Says nothing about the database, so a database outage does
/// not get the process restarted (that is what /readyz is for).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: "not checked",
        pending_migrations: None,
    })
}

/// Readiness: the database answers and its schema is this binary's -- neither behind it (run
/// `hafen migrate`) nor ahead of it (a newer instance migrated it: a load balancer then sends
/// traffic only to instances already upgraded).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(hafen: web::Data<Hafen>) -> HttpResponse {
    let db = hafen
        .store()
        .read(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1")?;
            crate::store::schema_state(conn)
        })
        .await;
    match db {
        Ok(state) if state.is_current() => HttpResponse::Ok().json(Health {
            status: "ready",
            database: "ok",
            pending_migrations: Some(0),
        }),
        Ok(state) if state.newer > 0 => HttpResponse::ServiceUnavailable().json(Health {
            status: "not ready",
            database: "a newer Hafen migrated the database: upgrade this instance",
            pending_migrations: Some(state.pending),
        }),
        Ok(state) => HttpResponse::ServiceUnavailable().json(Health {
            status: "not ready",
            database: "migrations pending: run `hafen migrate`",
            pending_migrations: Some(state.pending),
        }),
        Err(e) => {
            tracing::error!(error = %crate::telemetry::chain(&e), "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "not ready",
                database: "unreachable",
                pending_migrations: None,
            })
        }
    }
}

/// Prometheus metrics. Counts only, no personal data; bind Hafen to loopback or filter
/// `/metrics` at the proxy if it should not be public.
async fn metrics(hafen: web::Data<Hafen>, req: actix_web::HttpRequest) -> HttpResponse {
    // Counts only, but they tell about the business: loopback (a local Prometheus or agent)
    // or an admin token.
    if !forwarded::is_local(&req) {
        let bearer = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let admin = match bearer {
            Some(t) => hafen
                .accounts
                .authenticate(t.trim())
                .await
                .is_ok_and(|actor| {
                    actor
                        .authorize_install(crate::auth::Permission::ManageTenants)
                        .is_ok()
                }),
            None => false,
        };
        if !admin {
            return problem::problem_response(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
                Some("/metrics answers requests from this host (not relayed by a proxy), or to an admin token".into()),
            );
        }
    }
    // Counted now rather than kept: a request becomes overdue by the passing of a day.
    if let Err(e) = hafen.requests.refresh_metrics().await {
        tracing::warn!(error = ?e, "cannot count overdue data-subject requests");
    }
    let (hits, misses) = hafen.infra.keys.stats();
    hafen.infra.metrics.key_cache_hits.set(hits as i64);
    hafen.infra.metrics.key_cache_misses.set(misses as i64);
    match hafen.store().read(crate::store::last_backup).await {
        Ok(at) => {
            hafen
                .infra
                .metrics
                .last_backup
                .set(at.map(|t| t.timestamp()).unwrap_or(0));
        }
        Err(e) => tracing::warn!(error = ?e, "cannot read the last backup time"),
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(hafen.infra.metrics.render())
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Unknown routes get a problem document too.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    if req.path().starts_with("/ui/") {
        return ui::missing_page(&req);
    }
    problem::problem_response(StatusCode::NOT_FOUND, "not-found", "Not found", None)
}

/// Headers for every response: nothing is cached (responses carry personal data), nothing is
/// sniffed or framed, no referrer leaks ids.
pub fn security_headers(tls: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("Cache-Control", "no-store"));
    if tls {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// `X-Frame-Options: DENY` for every response a page may not be framed in — all but the consent
/// widget, whose policy (`frame-ancestors *`) lets any site embed it. Sending both contradicts
/// itself: browsers that know only the old header would refuse the widget.
pub async fn frame_options(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderValue, CONTENT_SECURITY_POLICY, X_FRAME_OPTIONS};
    let mut res = next.call(req).await?;
    let framable = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|csp| csp.contains("frame-ancestors *"));
    if !framable {
        res.headers_mut()
            .insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Ok(res)
}

/// Whether a raw path carries a percent-encoded control character (NUL, newline, DEL, …).
fn has_encoded_control(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .is_some_and(|b| b < 0x20 || b == 0x7f)
    })
}

/// One log line per request: method, path (never the query, which may carry tokens), status,
/// duration. Paths contain only ids.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    if has_encoded_control(&path) {
        // An id never holds one; PostgreSQL refuses NUL in text outright (a 500 before).
        tracing::warn!(%method, status = 400, "request refused: control character in the path");
        return Err(problem::ApiError::Malformed(
            "the path contains a control character (%00-%1F or %7F)".into(),
        )
        .into());
    }
    // The route's pattern, not the path: ids never become label values.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let hafen = req.app_data::<web::Data<Hafen>>().cloned();
    let res = next.call(req).await?;
    if let Some(hafen) = hafen {
        let m = &hafen.infra.metrics;
        m.requests
            .get_or_create(&crate::metrics::RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status: res.status().as_u16(),
            })
            .inc();
        m.request_seconds
            .get_or_create(&crate::metrics::RouteLabels {
                method: method.clone(),
                route,
            })
            .observe(started.elapsed().as_secs_f64());
    }
    tracing::info!(
        %method,
        %path,
        status = res.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::has_encoded_control;

    #[test]
    fn encoded_control_characters_in_paths_are_found() {
        for bad in ["/v1/x/%00", "/v1/%0a/y", "/v1/%0D", "/a%1f", "/a%7F"] {
            assert!(has_encoded_control(bad), "{bad}");
        }
        for fine in [
            "/v1/tenants/abc",
            "/v1/%20",
            "/v1/%2F..%2F",
            "/v1/%C3%BC",
            "/v1/%",
            "/v1/%0",
        ] {
            assert!(!has_encoded_control(fine), "{fine}");
        }
    }
}

/// Mistakes in the API document that stop a generated client from calling an operation.
/// `tests/schema/run.sh` fails on the same list before it sends anything.
#[cfg(test)]
mod document_tests {
    use super::ApiDoc;
    use serde_json::Value;
    use utoipa::OpenApi;

    /// Each parameter declared where the request carries it: a path parameter is in the path
    /// and every `{name}` in the path is declared; a page size states the 1–500 the server takes.
    fn mistakes(doc: &Value) -> Vec<String> {
        let mut found = Vec::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            let templated: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().into_iter().flatten() {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let declared: Vec<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for name in &declared {
                    if !templated.contains(name) {
                        found.push(format!(
                            "{method} {path}: `{name}` is declared in the path but is not in it"
                        ));
                    }
                }
                for name in &templated {
                    if !declared.contains(name) {
                        found.push(format!("{method} {path}: `{{{name}}}` is not declared"));
                    }
                }
                for p in params.iter().filter(|p| p["name"] == "limit") {
                    if p["schema"]["minimum"] != 1 || p["schema"]["maximum"] != 500 {
                        found.push(format!("{method} {path}: `limit` does not say 1–500"));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_parameter_is_declared_where_it_is_sent() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(mistakes(&doc), Vec::<String>::new());
        for method in ["get", "post"] {
            assert!(
                doc["paths"]["/hooks/{platform}/{channel}"][method].is_object(),
                "the webhook route ({method}) is in the document"
            );
        }
        let list = &doc["paths"]["/v1/tenants/{tenant}/contacts"]["get"]["parameters"];
        let limit = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["required"], false);
    }

    #[test]
    fn a_query_parameter_declared_in_the_path_is_found() {
        let doc = serde_json::json!({"paths": {"/v1/x/{id}": {"get": {"parameters": [
            {"name": "id", "in": "path"},
            {"name": "limit", "in": "path", "schema": {"minimum": 0}}]}}}});
        let found = mistakes(&doc);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`limit` is declared in the path"));
        assert!(found[1].contains("`limit` does not say 1–500"));
    }
}

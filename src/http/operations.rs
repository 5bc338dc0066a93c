//! What operators and their monitoring ask: liveness, readiness (the database answers, keys
//! unwrap) and the Prometheus metrics.

use super::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub(super) status: &'static str,
    pub(super) database: &'static str,
    /// Migrations this binary has that the database has not (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pending_migrations: Option<usize>,
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
pub(super) async fn metrics(hafen: web::Data<Hafen>, req: actix_web::HttpRequest) -> HttpResponse {
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

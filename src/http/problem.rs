//! Errors as `application/problem+json` (RFC 9457). The user sees a title and a detail that
//! help them fix the request; the log gets the full cause chain for internal errors. 4xx
//! details are not logged: they may quote the caller's input.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;
use crate::telemetry;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An error of the HTTP layer: a domain error, or a request that never reached the domain.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("request body too large")]
    TooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body not received in time")]
    BodyTimeout { secs: u64 },
    #[error("too many requests from this address")]
    RateLimited,
    /// A platform webhook whose signature is missing or wrong.
    #[error("webhook signature missing or wrong")]
    BadSignature(crate::channels::Platform),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<String>) {
        match self {
            ApiError::Malformed(detail) => (StatusCode::BAD_REQUEST, "malformed", "Malformed request", Some(detail.clone())),
            ApiError::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                Some(format!("the body must be at most {limit} bytes")),
            ),
            ApiError::BodyTimeout { secs } => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                Some(format!("the body did not arrive within {secs} seconds")),
            ),
            ApiError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                Some("this address sends more webhook requests than webhook_rate_per_ip allows; retry after a second".into()),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                Some("send the body as application/json".into()),
            ),
            ApiError::BadSignature(platform) => (
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                "Webhook signature missing or wrong",
                Some(match platform {
                    crate::channels::Platform::Telegram => "the X-Telegram-Bot-Api-Secret-Token header is missing or is not this channel's webhook_secret (set it with setWebhook's secret_token)".into(),
                    _ => "the X-Hub-Signature-256 header is missing or is not the HMAC-SHA256 of the body under this channel's app_secret (the app secret of the Meta app that sends the webhooks)".into(),
                }),
            ),
            ApiError::Domain(e) => domain_parts(e),
        }
    }
}

impl ApiError {
    /// Seconds after which the same request may succeed (the `Retry-After` header): at once
    /// for a rate limit or a write conflict, later for a server shutting down or a full disk.
    fn retry_after(&self) -> Option<&'static str> {
        match self {
            ApiError::RateLimited | ApiError::Domain(Error::Busy(_)) => Some("1"),
            ApiError::Domain(Error::Unavailable(_)) => Some("30"),
            _ => None,
        }
    }
}

/// Status, problem type, title and detail of a domain error: the one mapping from domain errors
/// to HTTP, for the API and the web interface alike.
pub fn domain_parts(e: &Error) -> (StatusCode, &'static str, &'static str, Option<String>) {
    match e {
        Error::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found", None),
        Error::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            Some("send a valid API token as 'Authorization: Bearer hfn_…'".into()),
        ),
        Error::TokenEnded(d) => (StatusCode::UNAUTHORIZED, "token-ended", "API token no longer valid", Some(d.clone())),
        Error::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden", Some(d.clone())),
        Error::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid field", Some(e.to_string())),
        Error::Conflict(d) => (StatusCode::CONFLICT, "conflict", "Conflict", Some(d.clone())),
        Error::Unavailable(d) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", Some(d.clone())),
        Error::Busy(d) => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy: retry in a moment", Some(d.clone())),
        Error::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            Some("the server could not complete the request; nothing was stored. The cause is in the server log.".into()),
        ),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, slug, title, detail) = self.parts();
        match self {
            ApiError::Domain(Error::Internal(cause)) => {
                tracing::error!(error = %telemetry::chain(cause.as_ref()), "request failed");
            }
            ApiError::Domain(Error::Unavailable(_) | Error::Busy(_)) => {
                tracing::warn!(status = status.as_u16(), problem = slug, "request refused")
            }
            _ => tracing::debug!(status = status.as_u16(), problem = slug, "request rejected"),
        }
        let mut response = problem_response(status, slug, title, detail);
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

pub fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: Option<String>,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(Problem {
            kind: format!("urn:hafen:problem:{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    /// A write that never got past concurrent transactions: 503, `Retry-After`, a problem
    /// that says nothing was stored and to send it again -- not an internal error.
    #[test]
    fn a_contended_write_is_busy_with_retry_after() {
        let error = ApiError::from(Error::from(StoreError::Contended { attempts: 5 }));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(actix_web::http::header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        let (_, slug, _, detail) = error.parts();
        assert_eq!(slug, "busy");
        let detail = detail.unwrap();
        assert!(detail.contains("nothing was stored"), "{detail}");
        assert!(detail.contains("send it again"), "{detail}");
    }

    #[test]
    fn an_unavailable_server_names_when_to_retry() {
        let error = ApiError::from(Error::Unavailable("shutting down".into()));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(actix_web::http::header::RETRY_AFTER)
                .unwrap(),
            "30"
        );
    }
}

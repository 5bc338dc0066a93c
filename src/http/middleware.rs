//! What every request passes: security headers, the framing rule, refusing encoded control
//! characters in paths, the access log, and the 404 for unknown paths.

use super::*;

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
pub(super) fn has_encoded_control(path: &str) -> bool {
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

//! Slow and hostile clients (issue 9): a client that never finishes its request head, one that
//! trickles its body, and hundreds of idle connections cannot keep the server from serving.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, TestApp};

/// Reads until the server answers or closes; returns what it sent (empty: closed silently).
async fn answer_within(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Ok(Err(_)) => Some(String::new()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_cannot_hold_the_server() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.client_timeout_secs = 1;
        c.keep_alive_secs = 1;
    })
    .await;
    let addr = app
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let before = app.counts();

    // Slowloris: half a request head, then nothing. The server gives up after the timeout.
    let started = Instant::now();
    let mut slow_head = TcpStream::connect(&addr).await.unwrap();
    slow_head
        .write_all(b"POST /v1/tenants HTTP/1.1\r\nHost: hafen\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = answer_within(&mut slow_head, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "the slow head was not cut off");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Slow POST: the head in full, then a trickle of body that never completes: 408.
    let started = Instant::now();
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/tenants HTTP/1.1\r\nHost: hafen\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        app.admin_token
    );
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let answer = answer_within(&mut slow_body, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:hafen:problem:request-timeout"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Hundreds of idle connections, then a real request still gets through.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let (status, _) = app.get("/healthz", "").await;
    assert_eq!(status, 200);
    let (status, tenant) = app
        .post(
            "/v1/tenants",
            &app.admin_token,
            &serde_json::json!({"name": "Noch da GmbH"}),
        )
        .await;
    assert_eq!(status, 201, "{tenant}");
    drop(idle);

    // Only the one real tenant was created; the slow POST stored nothing.
    assert_eq!(app.counts().tenants, before.tenants + 1);
}

crate::both_backends!(
    a_webhook_flood_from_one_address_is_refused_and_others_are_served,
    forwarding_headers_count_only_from_trusted_proxies
);

/// Per-address limit on the webhook endpoints: beyond the burst, 429 with `Retry-After`,
/// before the signature is checked or anything stored (forgeries included, which would
/// otherwise each write an audit entry); other addresses are unaffected; the bucket refills
/// with (injected) time.
async fn a_webhook_flood_from_one_address_is_refused_and_others_are_served(backend: Backend) {
    use crate::channels::{fixture, signed, whatsapp_channel};
    let app = TestApp::spawn_configured(backend, |c| {
        c.webhook_rate_per_ip = 20;
        // The test client plays a proxy on this host that forwards other addresses.
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = whatsapp_channel(&app, &tenant, "flood-secret-7f3a9c1e5b2d").await;
    let url = app.url(&format!("/hooks/whatsapp/{channel}"));
    let template = String::from_utf8(fixture("whatsapp_text.json")).unwrap();
    let post = |from: &'static str, n: usize, sign: bool| {
        let body = template
            .replace(
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                &format!("wamid.flood.{from}.{n}"),
            )
            .into_bytes();
        let mut request = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            // The test client is a trusted proxy, so the server takes the forwarded address.
            .header("x-forwarded-for", from);
        if sign {
            for (k, v) in signed("flood-secret-7f3a9c1e5b2d", &body) {
                request = request.header(k, v);
            }
        }
        request.body(body).send()
    };
    let before = app.counts();

    // 50 forged deliveries from one address: 20 reach the signature check (401, audited),
    // the other 30 are refused before it.
    let mut statuses = Vec::new();
    for n in 0..50 {
        statuses.push(
            post("198.51.100.7", n, false)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        30,
        "{statuses:?}"
    );
    let after_forgeries = app.counts();
    assert_eq!(
        after_forgeries.audit - before.audit,
        1,
        "refused floods write no audit entries; the 20 checked forgeries are one entry so far"
    );

    // The same address, now signed: still refused until time passes; the answer explains.
    let refused = post("198.51.100.7", 100, true).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:hafen:problem:rate-limited");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("webhook_rate_per_ip"));
    assert_eq!(app.counts().messages, before.messages, "nothing stored");

    // Another address is served meanwhile.
    let other = post("198.51.100.8", 0, true).await.unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(app.counts().messages, before.messages + 1);

    // One second later the first address has 20 requests again.
    app.clock.advance(chrono::Duration::seconds(1));
    let mut accepted = 0;
    for n in 200..225 {
        if post("198.51.100.7", n, true).await.unwrap().status() == 200 {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 20);
    assert_eq!(app.counts().messages, before.messages + 21);
}

/// Forwarding headers are believed only from `trusted_proxies` (none by default): a client on
/// loopback that claims other addresses still counts as itself against the rate limit, cannot
/// pass the web interface's origin check with `X-Forwarded-Host`, and a request relayed by a
/// local proxy does not get the local-only `/metrics`.
async fn forwarding_headers_count_only_from_trusted_proxies(backend: Backend) {
    use crate::channels::{fixture, whatsapp_channel};
    let app = TestApp::spawn_configured(backend, |c| c.webhook_rate_per_ip = 5).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = whatsapp_channel(&app, &tenant, "proxy-secret-7f3a9c1e5b2d").await;
    let url = app.url(&format!("/hooks/whatsapp/{channel}"));
    let mut statuses = Vec::new();
    for n in 0..10 {
        let r = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .body(fixture("whatsapp_text.json"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "one address, whatever it claims: {statuses:?}"
    );

    // The sign-in form's origin check: a forged X-Forwarded-Host does not make evil.example
    // this site.
    let r = app
        .client
        .post(app.url("/ui/sign-in"))
        .header("origin", "https://evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .form(&[("login", "someone"), ("password", "whatever-long-enough")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // /metrics: local without forwarding headers; relayed by a proxy on this host, not.
    let metrics = |relayed: bool| {
        let mut r = app.client.get(app.url("/metrics"));
        if relayed {
            r = r.header("x-forwarded-for", "203.0.113.9");
        }
        r.send()
    };
    assert_eq!(metrics(false).await.unwrap().status().as_u16(), 200);
    assert_eq!(metrics(true).await.unwrap().status().as_u16(), 401);
    app.stop().await;
}

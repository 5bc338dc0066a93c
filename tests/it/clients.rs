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

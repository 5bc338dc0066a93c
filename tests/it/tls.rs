//! HTTPS with rustls.

use std::process::Command;

use crate::support::{Backend, TestDatabase};

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let data_dir = dir.path().join("data");
    let db = std::sync::Arc::new(TestDatabase::create(Backend::Sqlite, &data_dir));
    let mut config = hafen::Config::for_data_dir(&data_dir);
    config.listen = "127.0.0.1:0".into();
    config.tls_cert_file = Some(cert.clone());
    config.tls_key_file = Some(key.clone());

    // A key file others can read is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = hafen::Application::build(&config, crate::support::test_clock()).await;
    assert!(refused.err().unwrap().to_string().contains("TLS key"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut app = hafen::Application::build(&config, crate::support::test_clock())
        .await
        .unwrap();
    let _ = app.take_admin_token();
    let port = app.port();
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            answered = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = answered.expect("HTTPS answers");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("strict-transport-security").is_some());
    // Plain HTTP on the TLS port does not get an answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    handle.stop(true).await;
    server.await.unwrap().unwrap();
    drop(db);
}

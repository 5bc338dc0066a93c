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
    let message = format!("{:#}", refused.err().unwrap());
    assert!(
        message.contains("TLS key") && message.contains("chmod 600"),
        "{message}"
    );
    assert!(
        !message.contains("master key"),
        "the TLS key is not the master key: {message}"
    );
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

    // A real client: TLS 1.3 and 1.2 are accepted, TLS 1.1 is refused by the server (the
    // client is told to allow it, so the refusal is the server's).
    let addr = format!("127.0.0.1:{port}");
    let s_client = |args: &[&str]| {
        Command::new("openssl")
            .args(["s_client", "-connect", &addr, "-servername", "localhost"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl runs")
    };
    let v13 = s_client(&["-tls1_3"]);
    assert!(
        v13.status.success(),
        "{}",
        String::from_utf8_lossy(&v13.stderr)
    );
    assert!(String::from_utf8_lossy(&v13.stdout).contains("TLSv1.3"));
    assert!(s_client(&["-tls1_2"]).status.success());
    let v11 = s_client(&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    assert!(!v11.status.success(), "TLS 1.1 must be refused");

    // Renewal: new files, SIGHUP, and the next handshake shows the new certificate.
    let renewed = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=renewed.example",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key2.pem"))
        .arg("-out")
        .arg(dir.path().join("cert2.pem"))
        .output()
        .unwrap();
    assert!(renewed.status.success());
    std::fs::set_permissions(
        dir.path().join("key2.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::rename(dir.path().join("key2.pem"), &key).unwrap();
    std::fs::rename(dir.path().join("cert2.pem"), &cert).unwrap();
    let pid = std::process::id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut seen = String::new();
    for _ in 0..100 {
        seen = String::from_utf8_lossy(&s_client(&["-tls1_3"]).stdout).into_owned();
        if seen.contains("renewed.example") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen.contains("renewed.example"),
        "the renewed certificate is served: {seen}"
    );
    handle.stop(true).await;
    server.await.unwrap().unwrap();
    drop(db);
}

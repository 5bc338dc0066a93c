use super::*;

#[test]
fn public_url_is_https_without_query_and_loses_its_trailing_slash() {
    let with = |u: &str| Config {
        public_url: Some(u.into()),
        ..Config::default()
    };
    assert_eq!(
        with("https://hafen.muster.de/").public_base().unwrap(),
        Some("https://hafen.muster.de".into())
    );
    assert_eq!(
        with("https://muster.de/hafen/").public_base().unwrap(),
        Some("https://muster.de/hafen".into())
    );
    assert_eq!(
        with("http://127.0.0.1:8080").public_base().unwrap(),
        Some("http://127.0.0.1:8080".into())
    );
    assert_eq!(with("  ").public_base().unwrap(), None);
    for bad in [
        "http://hafen.muster.de",
        "hafen.muster.de",
        "https://h.de/?a=1",
        "https://u:p@h.de",
    ] {
        assert!(with(bad).public_base().is_err(), "{bad}");
        assert!(with(bad).validate().is_err(), "{bad}");
    }
}

#[test]
fn defaults_are_valid_and_loopback_only() {
    let config = Config::default();
    config.validate().unwrap();
    assert!(config.database().unwrap().is_sqlite());
}

#[test]
fn retention_batches_default_by_backend_and_a_set_size_wins_on_both() {
    let unset = Config::from_toml_str("").unwrap();
    assert_eq!(unset.retention_batch(true), 10_000);
    assert_eq!(unset.retention_batch(false), 2_500);
    assert_eq!(unset.retention_settings(false).batch, 2_500);
    let set = Config::from_toml_str("retention_batch_size = 1000").unwrap();
    assert_eq!(set.retention_batch(true), 1_000);
    assert_eq!(set.retention_batch(false), 1_000);
    assert_eq!(set.retention_settings(true).batch, 1_000);
    for wrong in ["retention_batch_size = 99", "retention_batch_size = 100001"] {
        let err = Config::from_toml_str(wrong).unwrap_err();
        assert!(
            format!("{err:#}").contains("between 100 and 100000"),
            "{err:#}"
        );
    }
}

#[test]
fn a_config_text_is_parsed_and_validated() {
    let shipped = include_str!("../../packaging/hafen.toml");
    let config = Config::from_toml_str(shipped).unwrap();
    // Every option is listed, commented out at its default, but where the package keeps
    // its data and key: every command on the server reads this file.
    assert_eq!(config.listen, Config::default().listen);
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/hafen"));
    assert_eq!(
        config.master_key_file,
        Some(PathBuf::from("/etc/hafen/master.key"))
    );
    let wrong = Config::from_toml_str("retention_batch_size = 5").unwrap_err();
    assert!(
        format!("{wrong:#}").contains("retention_batch_size"),
        "{wrong:#}"
    );
    let not_toml = Config::from_toml_str("listen = [").unwrap_err();
    assert!(
        format!("{not_toml:#}").contains("invalid configuration"),
        "{not_toml:#}"
    );
}

#[test]
fn public_address_needs_tls_or_explicit_override() {
    let mut config = Config {
        listen: "0.0.0.0:8443".into(),
        ..Config::default()
    };
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("not a loopback address"), "{err}");
    config.allow_plain_http_on_public_address = true;
    config.validate().unwrap();
    config.allow_plain_http_on_public_address = false;
    config.tls_cert_file = Some("c.pem".into());
    assert!(config.validate().is_err(), "key missing");
    config.tls_key_file = Some("k.pem".into());
    config.validate().unwrap();
}

#[test]
fn bad_values_are_refused() {
    for bad in [
        Config {
            listen: "localhost".into(),
            ..Config::default()
        },
        Config {
            database_url: Some(Sensitive::new("mysql://x".into())),
            ..Config::default()
        },
        Config {
            recovery_recipients: vec!["age1nope".into()],
            ..Config::default()
        },
        Config {
            max_body_bytes: 10,
            ..Config::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn initial_file_parses_back() {
    let config = Config::for_data_dir(Path::new("/var/lib/hafen"));
    let parsed: Config = toml::from_str(&config.render_initial_file()).unwrap();
    assert_eq!(parsed.data_dir, PathBuf::from("/var/lib/hafen"));
}

//! The `hafen` binary: init, token create, audit verify, refusals.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn hafen(args: &[&str], envs: &[(&str, &str)]) -> Output {
    // A command that should fail but starts serving instead is ended, and then fails the test.
    let mut cmd = Command::new("timeout");
    cmd.arg("60")
        .arg(env!("CARGO_BIN_EXE_hafen"))
        .args(args)
        .env_remove("HAFEN_CONFIG")
        .env_remove("HAFEN_DATA_DIR")
        .env_remove("HAFEN_DATABASE_URL")
        .env("RUST_LOG", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("hafen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn init_prints_only_the_token_once_and_creates_a_private_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let out = hafen(&["init", "--data-dir", data_s], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout holds the token and nothing else: {printed:?}"
    );
    assert!(
        lines[0].starts_with("hfn_") && lines[0].len() > 60,
        "{printed}"
    );
    assert!(!stderr(&out).contains(lines[0]), "the token is not logged");

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert_eq!(mode(&data.join("hafen.db")), 0o600);
    assert!(data.join("hafen.toml").is_file());

    // Never again: a second init fails and prints nothing on stdout.
    let again = hafen(&["init", "--data-dir", data_s], &[]);
    assert!(!again.status.success());
    assert_eq!(stdout(&again), "");
    assert!(
        stderr(&again).contains("already initialised"),
        "{}",
        stderr(&again)
    );

    // token create and audit verify work against the data dir (found via HAFEN_DATA_DIR).
    let token = hafen(
        &["token", "create", "--role", "admin"],
        &[("HAFEN_DATA_DIR", data_s)],
    );
    assert!(token.status.success(), "{}", stderr(&token));
    assert!(stdout(&token).trim().starts_with("hfn_"));
    let missing_tenant = hafen(
        &["token", "create", "--role", "agent"],
        &[("HAFEN_DATA_DIR", data_s)],
    );
    assert!(!missing_tenant.status.success());
    assert!(
        stderr(&missing_tenant).contains("needs a tenant"),
        "{}",
        stderr(&missing_tenant)
    );
    let unknown_tenant = hafen(
        &[
            "token",
            "create",
            "--role",
            "agent",
            "--tenant",
            &uuid::Uuid::now_v7().to_string(),
        ],
        &[("HAFEN_DATA_DIR", data_s)],
    );
    assert!(
        stderr(&unknown_tenant).contains("no such tenant"),
        "{}",
        stderr(&unknown_tenant)
    );
    let verify = hafen(&["audit", "verify"], &[("HAFEN_DATA_DIR", data_s)]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("intact: 2 entries"),
        "{}",
        stdout(&verify)
    );
    let consent = hafen(&["consent", "verify"], &[("HAFEN_DATA_DIR", data_s)]);
    assert!(consent.status.success(), "{}", stderr(&consent));
    assert!(
        stdout(&consent).contains("consent ledger: chain intact: 0 entries"),
        "{}",
        stdout(&consent)
    );
    let migrate = hafen(&["migrate"], &[("HAFEN_DATA_DIR", data_s)]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert!(stdout(&migrate).contains("up to date"));

    // An upgrade says which migration runs, before it runs, and how long it took.
    let reverted: Vec<String> = {
        use diesel_migrations::MigrationHarness;
        let url = format!("sqlite://{}", data.join("hafen.db").display());
        let hafen::store::DbConn::Sqlite(mut conn) = hafen::store::DatabaseUrl::parse(&url)
            .unwrap()
            .connect(Default::default())
            .unwrap()
        else {
            unreachable!("a sqlite:// URL")
        };
        (0..2)
            .map(|_| {
                conn.revert_last_migration(hafen::store::SQLITE_MIGRATIONS)
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let migrate = hafen(&["migrate"], &[("HAFEN_DATA_DIR", data_s)]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let out = stdout(&migrate);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], "2 migration(s) to apply", "{out}");
    for (i, version) in reverted.iter().rev().enumerate() {
        // Versions are the names' digits: 2026-12-07-000028_… is 20261207000028.
        let name = lines[1 + 2 * i]
            .strip_prefix("applying ")
            .unwrap_or_default();
        assert_eq!(name.replace('-', "")[..14], version[..], "{out}");
        assert!(lines[2 + 2 * i].starts_with("  done in "), "{out}");
    }
    assert!(lines[5].starts_with("applied 2 migration(s): "), "{out}");

    // Tampering is reported with exit code 1.
    {
        use diesel::prelude::*;
        use hafen::store::schema::audit_log;
        let mut conn = hafen::store::DatabaseUrl::parse(&format!(
            "sqlite://{}",
            data.join("hafen.db").display()
        ))
        .unwrap()
        .connect(Default::default())
        .unwrap();
        diesel::update(audit_log::table.filter(audit_log::seq.eq(1)))
            .set(audit_log::detail.eq("role=agent"))
            .execute(&mut conn)
            .unwrap();
    }
    let verify = hafen(&["audit", "verify"], &[("HAFEN_DATA_DIR", data_s)]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stdout(&verify).contains("BROKEN at entry 1"),
        "{}",
        stdout(&verify)
    );

    // A key file others can read is refused with a clear message.
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refused = hafen(&["audit", "verify"], &[("HAFEN_DATA_DIR", data_s)]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("chmod 600"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data_s = dir.path().join("d");
    let data_s = data_s.to_str().unwrap();
    let out = hafen(
        &["migrate"],
        &[
            ("HAFEN_DATA_DIR", data_s),
            ("HAFEN_DATABASE_URL", "mysql://x/y"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unsupported database URL scheme 'mysql'"),
        "{}",
        stderr(&out)
    );
    let out = hafen(
        &["serve"],
        &[("HAFEN_DATA_DIR", data_s), ("HAFEN_LISTEN", "0.0.0.0:0")],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
    let out = hafen(
        &["token", "create", "--role", "admin"],
        &[("HAFEN_DATA_DIR", data_s)],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not exist: run `hafen init`"),
        "{}",
        stderr(&out)
    );
    assert!(
        !std::path::Path::new(data_s).exists(),
        "nothing was created by a refused command"
    );
    // The database URL's password comes from a _FILE variable and never shows in errors.
    let secret = dir.path().join("db-url");
    std::fs::write(&secret, "postgres://hafen:TopSecretPw@127.0.0.1:1/nope\n").unwrap();
    let out = hafen(
        &["migrate"],
        &[
            ("HAFEN_DATA_DIR", data_s),
            ("HAFEN_DATABASE_URL_FILE", secret.to_str().unwrap()),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("127.0.0.1:1/nope"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("TopSecretPw"), "{}", stderr(&out));
}

#[test]
fn serve_initialises_on_first_start_and_prints_the_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hafen"))
            .arg("serve")
            .current_dir(dir.path())
            .env_remove("HAFEN_CONFIG")
            .env_remove("HAFEN_DATA_DIR")
            .env("HAFEN_LISTEN", "127.0.0.1:0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the "listening" log line by polling stderr.
        use std::io::BufRead;
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Hafen is listening") {
                break;
            }
        }
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        (String::from_utf8_lossy(&out.stdout).to_string(), seen)
    };
    let (first_out, first_log) = start();
    assert!(
        first_out.trim().starts_with("hfn_"),
        "stdout: {first_out:?} log: {first_log}"
    );
    assert_eq!(first_out.lines().count(), 1);
    assert!(dir.path().join("hafen-data/master.key").is_file());
    let (second_out, second_log) = start();
    assert_eq!(second_out, "", "the token is printed once only");
    assert!(second_log.contains("Hafen is listening"), "{second_log}");
}

#[test]
fn master_key_from_a_systemd_credential_and_postgres_from_a_url_file() {
    if !crate::support::postgres_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let db = crate::support::TestDatabase::create(crate::support::Backend::Postgres, &data);
    let url_file = dir.path().join("database-url");
    std::fs::write(&url_file, format!("{}\n", db.url)).unwrap();
    let url_env = [
        ("HAFEN_DATA_DIR", data_s),
        ("HAFEN_DATABASE_URL_FILE", url_file.to_str().unwrap()),
    ];
    let out = hafen(&["init"], &url_env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !data.join("hafen.db").exists(),
        "PostgreSQL was used, not SQLite"
    );

    // Move the key into a credentials directory, as systemd's LoadCredential= provides it.
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::rename(data.join("master.key"), creds.join("master-key")).unwrap();
    let mut env = url_env.to_vec();
    let creds_s = creds.to_str().unwrap().to_string();
    env.push(("CREDENTIALS_DIRECTORY", &creds_s));
    let out = hafen(&["token", "create", "--role", "admin"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let verify = hafen(&["audit", "verify"], &env);
    assert!(
        stdout(&verify).contains("intact: 2 entries"),
        "{} {}",
        stdout(&verify),
        stderr(&verify)
    );

    // Without the credential the key is missing, and Hafen refuses to start over with a new one.
    let mut serve_env = url_env.to_vec();
    serve_env.push(("HAFEN_LISTEN", "127.0.0.1:0"));
    let out = hafen(&["serve"], &serve_env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("holds data but the master key"),
        "{}",
        stderr(&out)
    );
    assert!(
        !data.join("master.key").exists(),
        "no new key was generated"
    );
}

#[test]
fn register_and_report_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(hafen(&["init", "--data-dir", data_s], &[]).status.success());
    let env = [("HAFEN_DATA_DIR", data_s)];
    let doc = dir.path().join("processor.json");
    std::fs::write(
        &doc,
        r#"{"name":"Hafen Betrieb GmbH","address":"Am Sandtorkai 1, 20457 Hamburg","contact":"betrieb@hafen.example"}"#,
    )
    .unwrap();
    let set = hafen(
        &[
            "register",
            "set",
            "processor",
            "--file",
            doc.to_str().unwrap(),
        ],
        &env,
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("\"version\": 1"), "{}", stdout(&set));
    let show = hafen(&["register", "show", "processor", "--history"], &env);
    assert!(stdout(&show).contains("Hafen Betrieb GmbH"));

    let out = dir.path().join("vvt.pdf");
    let report = hafen(
        &[
            "report",
            "processor-record",
            "--format",
            "pdf",
            "--out",
            out.to_str().unwrap(),
        ],
        &env,
    );
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(
        stderr(&report).contains("register version 1"),
        "{}",
        stderr(&report)
    );
    let pdf = std::fs::read(&out).unwrap();
    crate::documents::check_pdf(&pdf);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600,
        "reports name people: the file is private"
    );

    // Wrong kind, a tenant report without a tenant, a section in the wrong scope: refused.
    for (args, says) in [
        (vec!["report", "nonsense", "--out", "-"], "kind"),
        (vec!["report", "toms", "--out", "-"], "per tenant"),
        (vec!["register", "show", "controller"], "per tenant"),
    ] {
        let o = hafen(&args, &env);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // The CLI points to CLI flags, not to API paths.
    let o = hafen(&["register", "show", "controller"], &env);
    assert!(stderr(&o).contains("--tenant"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("/v1/"), "{}", stderr(&o));
    let o = hafen(
        &["register", "show", "processor", "--tenant", &tenant_id()],
        &env,
    );
    assert!(stderr(&o).contains("leave out --tenant"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("/v1/"), "{}", stderr(&o));
}

fn tenant_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[test]
fn doctor_passes_a_good_install_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(hafen(&["init", "--data-dir", data_s], &[]).status.success());
    let env = [("HAFEN_DATA_DIR", data_s)];
    let ok = hafen(&["doctor"], &env);
    // Free space is the test machine's, not the install's: a shared disk that runs low may fail
    // that one check, never another.
    let out = stdout(&ok);
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failed.iter().all(|l| l.contains("disk space")),
        "{}{}",
        stdout(&ok),
        stderr(&ok)
    );
    assert_eq!(ok.status.success(), failed.is_empty(), "{}", stdout(&ok));
    for name in [
        "config",
        "master key",
        "data dir",
        "storage",
        "disk space",
        "database",
        "tls",
        "clock",
    ] {
        assert!(
            stdout(&ok).lines().any(|l| l.contains(name)
                && (l.starts_with("PASS") || (name == "disk space" && l.starts_with("FAIL")))),
            "{name}: {}",
            stdout(&ok)
        );
    }
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let bad = hafen(&["doctor"], &env);
    assert!(!bad.status.success());
    assert!(
        stdout(&bad)
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("master key") && l.contains("chmod 600")),
        "{}",
        stdout(&bad)
    );
}

/// `hafen token create|list|revoke` as the docs give them: a named token with an end, listed
/// without its secret, revoked by id.
#[test]
fn tokens_are_listed_and_revoked_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("HAFEN_DATA_DIR", data.to_str().unwrap())];
    assert!(hafen(&["init"], &env).status.success());
    let created = hafen(
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "Monitoring",
            "--expires-in",
            "90d",
        ],
        &env,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let secret = stdout(&created).trim().to_string();
    assert!(
        stderr(&created).contains("expires 2"),
        "{}",
        stderr(&created)
    );
    let list = hafen(&["token", "list"], &env);
    let listed = stdout(&list);
    let line = listed
        .lines()
        .find(|l| l.ends_with("Monitoring"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("active") && line.contains("admin"), "{line}");
    assert!(!listed.contains(&secret[20..]), "no secret in the list");
    let id = line.split_whitespace().next().unwrap();
    assert!(secret.starts_with(&format!("hfn_{id}_")));
    let revoked = hafen(&["token", "revoke", id], &env);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let after = stdout(&hafen(&["token", "list"], &env));
    assert!(
        after
            .lines()
            .any(|l| l.starts_with(id) && l.contains("revoked")),
        "{after}"
    );
    let unknown = hafen(&["token", "revoke", "nope"], &env);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no such tenant or token"));
}

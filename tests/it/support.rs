//! Test harness: a real server per test on a free port, each on its own database.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::TimeZone;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use hafen::clock::{ManualClock, SharedClock};
use hafen::store::{DatabaseUrl, DbConn};
use hafen::telemetry::LogFormat;
use hafen::{Application, Config};
use serde_json::{json, Value};

/// `sslmode=disable`: the server is local, and libpq with TLS registers OpenSSL's exit-time
/// cleanup, which can crash the test process (SIGSEGV after every test passed) while a server
/// a test did not stop still has a pool thread inside OpenSSL. Hafen itself closes its pool
/// before it exits.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::support::postgres_available() {
                        super::$name($crate::support::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

/// Whether PostgreSQL is reachable. Under CI (`CI=true`) a missing server fails the test.
pub fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let ok = DatabaseUrl::parse(PG_ADMIN_URL)
            .unwrap()
            .connect(Default::default())
            .is_ok();
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not reachable at {PG_ADMIN_URL}, and CI=true requires it"
            );
            eprintln!(
                "PostgreSQL not reachable at {PG_ADMIN_URL}: skipping the PostgreSQL variants"
            );
        }
        ok
    })
}

/// Every log line of this test process (all tests share one global subscriber).
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        hafen::telemetry::init_with_writer(LogFormat::Json, "debug", move || {
            LogWriter(sink.clone())
        });
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A database of its own for one test, dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
}

impl TestDatabase {
    pub fn create(backend: Backend, data_dir: &std::path::Path) -> Self {
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", data_dir.join("hafen.db").display()),
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!("hafen_t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = DatabaseUrl::parse(PG_ADMIN_URL)
                    .unwrap()
                    .connect(Default::default())
                    .unwrap();
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"),
                    pg_name: Some(name),
                }
            }
        }
    }

    pub fn connect(&self) -> DbConn {
        DatabaseUrl::parse(&self.url)
            .unwrap()
            .connect(Default::default())
            .unwrap()
    }

    /// `id` (a UUID) as this database's SQL literal for a column holding ids as their 16 bytes
    /// (`hafen::store::id`): a text literal would match no row there.
    pub fn id_sql(&self, id: &str) -> String {
        match self.pg_name {
            Some(_) => format!("'{id}'::uuid"),
            None => format!("unhex('{}')", id.replace('-', "")),
        }
    }

    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = DatabaseUrl::parse(PG_ADMIN_URL)
                .unwrap()
                .connect(Default::default())
            {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub fn test_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
            .unwrap(),
    ))
}

/// A running server on its own data dir and database.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub admin_token: String,
    pub client: reqwest::Client,
    pub config: Config,
    pub db: Arc<TestDatabase>,
    pub clock: Arc<ManualClock>,
    pub hafen: hafen::Hafen,
    pub dir: Arc<tempfile::TempDir>,
    handle: actix_web::dev::ServerHandle,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_configured(backend, |_| {}).await
    }

    /// Spawns with a changed configuration (e.g. platform API base URLs of a fake).
    pub async fn spawn_configured(backend: Backend, change: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let data_dir = dir.path().join("data");
        let db = Arc::new(TestDatabase::create(backend, &data_dir));
        let mut config = Config::for_data_dir(&data_dir);
        config.listen = "127.0.0.1:0".into();
        config.database_url = Some(hafen::sensitive::Sensitive::new(db.url.clone()));
        config.max_body_bytes = 64 * 1024;
        config.workers = Some(2);
        // Tests drive scheduled work themselves, with the manual clock.
        config.retry_interval_secs = 0;
        config.retention_schedule = String::new();
        // Most tests activate rules that delete most of their few messages; the four-eyes rule
        // for large deletions has tests of its own (retention.rs), on the shipped default.
        config.retention_approval_above_percent = 100;
        change(&mut config);
        Self::spawn_with(backend, config, db, dir, test_clock(), None).await
    }

    pub async fn spawn_with(
        backend: Backend,
        config: Config,
        db: Arc<TestDatabase>,
        dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
        admin_token: Option<String>,
    ) -> Self {
        captured_logs();
        let shared: SharedClock = clock.clone();
        let mut app = Application::build(&config, shared)
            .await
            .expect("server starts");
        let admin_token = app
            .take_admin_token()
            .map(|t| t.expose().clone())
            .or(admin_token)
            .expect("an admin token on first start");
        let base = format!("http://127.0.0.1:{}", app.port());
        let hafen = app.hafen().clone();
        let handle = app.handle();
        let server = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().build().unwrap();
        let app = Self {
            backend,
            base,
            admin_token,
            client,
            config,
            db,
            clock,
            hafen,
            dir,
            handle,
            server: Some(server),
        };
        app.wait_ready().await;
        app
    }

    /// Polls /healthz until it answers.
    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    /// Stops the server and waits until queued writes are committed.
    pub async fn stop(
        mut self,
    ) -> (
        Config,
        Arc<TestDatabase>,
        Arc<tempfile::TempDir>,
        Arc<ManualClock>,
        String,
    ) {
        self.handle.stop(true).await;
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let store = self.hafen.store().clone();
        drop(self.hafen);
        tokio::task::spawn_blocking(move || store.close())
            .await
            .unwrap();
        (self.config, self.db, self.dir, self.clock, self.admin_token)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// GET returning the raw bytes and content type (CSV, PDF).
    pub async fn get_bytes(&self, path: &str, token: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let kind = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, kind, r.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn create_tenant(&self, name: &str) -> String {
        let (status, body) = self
            .post("/v1/tenants", &self.admin_token, &json!({ "name": name }))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn token(&self, tenant: &str, role: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/v1/tenants/{tenant}/tokens"),
                &self.admin_token,
                &json!({ "role": role }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Rows per table, read straight from the database.
    pub fn counts(&self) -> Counts {
        use hafen::store::schema::*;
        let mut conn = self.db.connect();
        Counts {
            tenants: tenants::table.count().get_result(&mut conn).unwrap(),
            tokens: api_tokens::table.count().get_result(&mut conn).unwrap(),
            contacts: contacts::table.count().get_result(&mut conn).unwrap(),
            messages: messages::table.count().get_result(&mut conn).unwrap(),
            audit: audit_log::table.count().get_result(&mut conn).unwrap(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub tenants: i64,
    pub tokens: i64,
    pub contacts: i64,
    pub messages: i64,
    pub audit: i64,
}

pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// A unique marker that would be easy to find in a file or log if it leaked.
pub fn marker(label: &str) -> String {
    format!("{label}{}", uuid::Uuid::new_v4().simple())
}

/// A phone number with random digits, unique enough to scan for.
pub fn phone_marker() -> String {
    let digits: String = uuid::Uuid::new_v4()
        .as_u128()
        .to_string()
        .chars()
        .take(11)
        .collect();
    format!("+49{digits}")
}

pub fn text_message(channel: &str, address: &str, body: &str, external_id: Option<&str>) -> Value {
    let mut m = json!({
        "contact": { "channel": channel, "address": address },
        "direction": "in",
        "occurred_at": "2026-11-26T10:00:00Z",
        "kind": "text",
        "body": body,
    });
    if let Some(id) = external_id {
        m["external_id"] = json!(id);
    }
    m
}

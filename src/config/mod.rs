//! Configuration: the options (`Config`, each with its default; `options` says the rest once).
//!
//! Sources, later ones winning: built-in defaults → the TOML file (`--config`, `HAFEN_CONFIG`,
//! or `<data_dir>/hafen.toml` when present) → `HAFEN_<OPTION>` environment variables.
//! Secrets (the database URL, which may hold a password) also come from `HAFEN_<NAME>_FILE`
//! or from systemd's `$CREDENTIALS_DIRECTORY/<name>`; they are never printed.

pub mod options;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::crypto::MasterKey;
use crate::sensitive::Sensitive;
use crate::store::{DatabaseUrl, SqliteSync, StoreOptions};
use crate::telemetry::LogFormat;

pub const DEFAULT_DATA_DIR: &str = "hafen-data";
pub const CONFIG_FILE_NAME: &str = "hafen.toml";
pub const MASTER_KEY_FILE_NAME: &str = "master.key";
pub const DATABASE_FILE_NAME: &str = "hafen.db";
/// systemd credential names (`LoadCredential=master-key:/etc/hafen/master.key`).
pub const CREDENTIAL_MASTER_KEY: &str = "master-key";
pub const CREDENTIAL_DATABASE_URL: &str = "database-url";
/// `retention_batch_size` when unset, on SQLite and on PostgreSQL (measured: docs/benchmarks.md).
pub const RETENTION_BATCH_SQLITE: u32 = 10_000;
pub const RETENTION_BATCH_POSTGRES: u32 = 2_500;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the master key (unless given elsewhere) and the SQLite database. Mode 0700.
    pub data_dir: PathBuf,
    /// Address to listen on. Plain HTTP is allowed only on loopback.
    pub listen: String,
    /// `sqlite:///path/hafen.db` (default: `<data_dir>/hafen.db`) or `postgres://…`.
    /// Secret: prefer `HAFEN_DATABASE_URL_FILE` or the `database-url` credential when it holds a password.
    pub database_url: Option<Sensitive<String>>,
    /// The age identity file. Default: the `master-key` systemd credential if present, else
    /// `<data_dir>/master.key`. Refused if group or others can read it.
    pub master_key_file: Option<PathBuf>,
    /// Extra age recipients (`age1…`) every data key is also wrapped to: offline recovery keys.
    pub recovery_recipients: Vec<String>,
    /// PEM certificate chain and private key: enables HTTPS.
    /// Master keys being rotated out (docs/operations.md): they still unwrap, never wrap.
    pub previous_master_key_files: Vec<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (e.g. behind a TLS-terminating proxy on the
    /// same host). Logged loudly at every start.
    pub allow_plain_http_on_public_address: bool,
    pub log_format: LogFormat,
    /// `RUST_LOG`-style filter, e.g. `info` or `hafen=debug,actix_web=info`. `RUST_LOG` wins.
    pub log_filter: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time a client has to send a request's head, and again its body (slow clients get 408).
    pub client_timeout_secs: u64,
    /// Idle time before a kept-alive connection is closed.
    pub keep_alive_secs: u64,
    /// Open connections per worker; more wait in the listen backlog.
    pub max_connections: usize,
    /// SQLite durability: `full` (survives power loss; default) or `normal`.
    pub sqlite_synchronous: SqliteSync,
    /// Connections in the read pool.
    pub db_pool_size: u32,
    /// Writer connections on PostgreSQL (SQLite always has one writer). One keeps every
    /// instance's groups in one order; more write in parallel (docs/decisions.md).
    pub db_writers: u32,
    /// Unwrapped data keys kept in memory (zeroized on eviction).
    pub key_cache_size: usize,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Base URL of the WhatsApp Cloud API (Graph API with version).
    pub whatsapp_api_base: String,
    /// Base URL of the Messenger Send API (Graph API with version).
    pub messenger_api_base: String,
    /// Base URL of the Telegram Bot API.
    pub telegram_api_base: String,
    /// Timeout for one call to a platform API.
    pub platform_timeout_secs: u64,
    /// How often queued sends (and other retries) are looked at; 0 disables the scheduler.
    pub retry_interval_secs: u64,
    /// Largest media file downloaded from a platform, in bytes.
    pub max_media_bytes: usize,
    /// Broadcast messages per second, under the platforms' rate limits (0: unpaced).
    pub broadcast_rate_per_sec: u32,
    /// Webhook requests per second from one client address (a burst of the same size);
    /// beyond it 429. 0: no limit.
    pub webhook_rate_per_ip: u32,
    /// When retention sweeps run: a cron expression with seconds (`sec min hour day month
    /// weekday`), in UTC. Default: every night at 02:30. Empty: only `hafen retention run`.
    pub retention_schedule: String,
    /// Items deleted per transaction (small enough that ingest keeps going during a sweep).
    /// Unset: the backend's own default (`RETENTION_BATCH_SQLITE`, `RETENTION_BATCH_POSTGRES`).
    pub retention_batch_size: Option<u32>,
    /// A new retention rule set needs a second admin's approval before it applies.
    pub retention_require_approval: bool,
    /// Shortest period a retention rule may have, in days (0: no floor).
    pub retention_min_period_days: u32,
    /// A rule set that deletes more than this percentage of a tenant's messages at once needs
    /// a second admin's approval even without `retention_require_approval` (100: never).
    pub retention_approval_above_percent: u32,
    /// Years the audit log keeps an entry after the end of its year (0: for ever). Pruned by
    /// the scheduled (install-wide) retention run, with an anchor so the chain still verifies.
    pub audit_retention_years: u32,
    /// Longest an API token may live, in days (0: no maximum). A token created without an
    /// expiry then gets this one.
    pub token_max_days: u32,
    /// Tenant admins may issue tenant-admin tokens. Off: only an install admin can.
    pub tenant_admins_issue_admin_tokens: bool,
    /// When the server makes a backup itself: cron with seconds, UTC. Empty: never (use
    /// `hafen backup` from a timer or the backup system).
    pub backup_schedule: String,
    /// Where scheduled backups go, one directory per run (named by its UTC time).
    pub backup_dir: Option<PathBuf>,
    /// Scheduled backups kept; older ones are removed after each run.
    pub backup_keep: usize,
    /// Where the data is stored (ISO 3166-1 alpha-2, e.g. "DE"), for the TOM annex.
    pub storage_country: Option<String>,
    /// The site (data centre, building), for the TOM annex.
    pub storage_site: Option<String>,
    /// Hosts Hafen may connect to besides the platform APIs and their file hosts: a name, or
    /// `.domain` for a domain and its subdomains (e.g. a proxy for media downloads).
    pub outbound_allow: Vec<String>,
    /// Proxies whose forwarding headers (`X-Forwarded-For`, `-Proto`, `-Host`) are believed:
    /// addresses or networks. Empty: none, the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The install's own wording for letters to data subjects: `<templates_dir>/letters.toml`
    /// (docs/dpo-guide.md lists its keys and variables). Unset: Hafen's wording.
    pub templates_dir: Option<PathBuf>,
    /// The https address under which the platforms reach this install (e.g.
    /// `https://hafen.muster.de`, a path prefix allowed): the webhook URLs shown to admins are
    /// built from it. Unset: the interface warns and shows the address it was opened at.
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            master_key_file: None,
            recovery_recipients: Vec::new(),
            previous_master_key_files: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
            allow_plain_http_on_public_address: false,
            log_format: LogFormat::Auto,
            log_filter: "info".into(),
            max_body_bytes: 4 * 1024 * 1024,
            client_timeout_secs: 10,
            keep_alive_secs: 5,
            max_connections: 10_000,
            sqlite_synchronous: SqliteSync::Full,
            db_pool_size: 8,
            db_writers: 1,
            key_cache_size: 100_000,
            workers: None,
            whatsapp_api_base: "https://graph.facebook.com/v21.0".into(),
            messenger_api_base: "https://graph.facebook.com/v21.0".into(),
            telegram_api_base: "https://api.telegram.org".into(),
            platform_timeout_secs: 30,
            retry_interval_secs: 15,
            max_media_bytes: 64 * 1024 * 1024,
            broadcast_rate_per_sec: 20,
            webhook_rate_per_ip: 1000,
            retention_schedule: "0 30 2 * * *".into(),
            retention_batch_size: None,
            retention_require_approval: false,
            retention_min_period_days: 1,
            retention_approval_above_percent: 10,
            audit_retention_years: 10,
            token_max_days: 0,
            tenant_admins_issue_admin_tokens: false,
            backup_schedule: String::new(),
            backup_dir: None,
            backup_keep: 7,
            storage_country: None,
            storage_site: None,
            outbound_allow: Vec::new(),
            trusted_proxies: Vec::new(),
            templates_dir: None,
            public_url: None,
        }
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A file Hafen may create on first start (the default in the data dir, or `master_key_file`).
    File(PathBuf),
    /// A systemd credential: read-only, never created by Hafen.
    Credential(PathBuf),
}

impl MasterKeySource {
    pub fn path(&self) -> &Path {
        match self {
            Self::File(p) | Self::Credential(p) => p,
        }
    }
}

impl Config {
    /// Loads from defaults, the config file and the environment, then validates.
    pub fn load(explicit_file: Option<&Path>) -> anyhow::Result<Self> {
        let file = explicit_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("HAFEN_CONFIG").map(PathBuf::from));
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match &file {
            Some(path) => {
                if !path.is_file() {
                    bail!("the config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => {
                // No explicit file: use <data_dir>/hafen.toml if `hafen init` wrote one.
                let data_dir = std::env::var_os("HAFEN_DATA_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                let candidate = data_dir.join(CONFIG_FILE_NAME);
                if candidate.is_file() {
                    figment = figment.merge(Toml::file(candidate));
                }
            }
        }
        figment = figment.merge(Env::prefixed("HAFEN_").only(&options::env_names()));
        let mut config: Config = figment.extract().context("invalid configuration")?;
        if let Some(url) = read_secret("database_url", CREDENTIAL_DATABASE_URL)? {
            config.database_url = Some(Sensitive::new(url));
        }
        config.validate()?;
        Ok(config)
    }

    /// A config file's text alone (defaults for the rest; no environment, no secret files),
    /// validated: what `load` makes of a file. The config fuzz target's entry point.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// A config for the given data dir with every other option at its default (tests, init).
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            ..Self::default()
        }
    }

    /// `public_url` without a trailing slash, checked: https (http only for a loopback host),
    /// no query or fragment.
    pub fn public_base(&self) -> anyhow::Result<Option<String>> {
        let Some(raw) = self
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        let url = url::Url::parse(raw).with_context(|| {
            format!("public_url = {raw:?} is not an address (e.g. https://hafen.muster.de)")
        })?;
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            bail!(
                "public_url must start with https:// (the platforms call webhooks over HTTPS only)"
            );
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            bail!("public_url must be a plain address without query, fragment or credentials");
        }
        Ok(Some(url.as_str().trim_end_matches('/').to_string()))
    }

    /// Checks everything that can be checked without touching the database.
    pub fn validate(&self) -> anyhow::Result<()> {
        let listen = self.listen_addr()?;
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), None) | (None, Some(_)) => {
                bail!("TLS needs both tls_cert_file and tls_key_file")
            }
            (None, None) if !listen.ip().is_loopback() && !self.allow_plain_http_on_public_address => bail!(
                "listen = {listen} is not a loopback address: configure tls_cert_file and tls_key_file, \
                 or set allow_plain_http_on_public_address = true if a TLS proxy on this host terminates HTTPS"
            ),
            _ => {}
        }
        self.database()?;
        self.recovery_recipients()?;
        self.egress_policy()?;
        crate::http::forwarded::Transport::new(false, &self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!(e))?;
        self.public_base()?;
        if self.retention_approval_above_percent > 100 {
            bail!("retention_approval_above_percent must be between 0 and 100");
        }
        if self
            .retention_batch_size
            .is_some_and(|n| !(100..=100_000).contains(&n))
        {
            bail!("retention_batch_size must be between 100 and 100000");
        }
        if !self.retention_schedule.trim().is_empty()
            && self.retention_schedule.split_whitespace().count() != 6
        {
            bail!(
                "retention_schedule must be a cron expression with six fields (sec min hour day month weekday), e.g. \"0 30 2 * * *\""
            );
        }
        if !self.backup_schedule.trim().is_empty() {
            if self.backup_schedule.split_whitespace().count() != 6 {
                bail!("backup_schedule must be a cron expression with six fields (sec min hour day month weekday), e.g. \"0 0 3 * * *\"");
            }
            if self.backup_dir.is_none() {
                bail!("backup_schedule needs backup_dir (where the backups go)");
            }
            if self.backup_keep == 0 {
                bail!("backup_keep must be at least 1");
            }
        }
        if let Some(c) = &self.storage_country {
            if c.len() != 2 || !c.chars().all(|c| c.is_ascii_uppercase()) {
                bail!("storage_country must be an ISO 3166-1 alpha-2 code such as \"DE\"");
            }
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if !(1..=300).contains(&self.client_timeout_secs) {
            bail!("client_timeout_secs must be between 1 and 300");
        }
        if self.keep_alive_secs > 300 {
            bail!("keep_alive_secs must be at most 300");
        }
        if !(16..=1_000_000).contains(&self.max_connections) {
            bail!("max_connections must be between 16 and 1000000");
        }
        for (name, url) in [
            ("whatsapp_api_base", &self.whatsapp_api_base),
            ("messenger_api_base", &self.messenger_api_base),
            ("telegram_api_base", &self.telegram_api_base),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("{name} must be an http(s) URL");
            }
        }
        // An attempt holds its send lease for 2 minutes; a longer call could overlap a retry.
        if !(1..=60).contains(&self.platform_timeout_secs) {
            bail!("platform_timeout_secs must be between 1 and 60");
        }
        if self.db_pool_size == 0 || self.key_cache_size == 0 {
            bail!("db_pool_size and key_cache_size must be at least 1");
        }
        if !(1..=32).contains(&self.db_writers) {
            bail!("db_writers must be between 1 and 32");
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!(
                "listen = '{}' is not an address like 127.0.0.1:8080",
                self.listen
            )
        })
    }

    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => Ok(DatabaseUrl::parse(url.expose())?),
            None => Ok(DatabaseUrl::sqlite(&self.data_dir.join(DATABASE_FILE_NAME))),
        }
    }

    pub fn recovery_recipients(&self) -> anyhow::Result<Vec<age::x25519::Recipient>> {
        self.recovery_recipients
            .iter()
            .map(|r| MasterKey::parse_recipient(r).map_err(anyhow::Error::from))
            .collect()
    }

    /// The systemd credential when the unit passes one (the service: the key may be
    /// TPM-encrypted there and the file absent), else `master_key_file` (the package's config
    /// names /etc/hafen/master.key, so commands run on the server find the service's key), else
    /// `<data_dir>/master.key`.
    pub fn master_key_source(&self) -> MasterKeySource {
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let path = Path::new(&dir).join(CREDENTIAL_MASTER_KEY);
            if path.is_file() {
                return MasterKeySource::Credential(path);
            }
        }
        if let Some(path) = &self.master_key_file {
            return MasterKeySource::File(path.clone());
        }
        MasterKeySource::File(self.data_dir.join(MASTER_KEY_FILE_NAME))
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            sqlite_sync: self.sqlite_synchronous,
            pool_size: self.db_pool_size,
            writers: self.db_writers,
            ..StoreOptions::default()
        }
    }

    /// The platform API client this configuration describes.
    /// What the configuration switches on, as the TOM annex reports it.
    pub fn posture(&self, sqlite: bool) -> anyhow::Result<crate::register::live::Posture> {
        Ok(crate::register::live::Posture {
            tls: self.tls_cert_file.is_some() && self.tls_key_file.is_some(),
            recovery_recipients: self.recovery_recipients()?.len(),
            backend: if sqlite { "sqlite" } else { "postgresql" }.into(),
            sqlite_full_sync: self.sqlite_synchronous == crate::store::SqliteSync::Full,
            retention_schedule: self.retention_schedule.clone(),
            storage_country: match (&self.storage_country, &self.storage_site) {
                (Some(c), Some(s)) => Some(format!("{c} ({s})")),
                (Some(c), None) => Some(c.clone()),
                (None, Some(s)) => Some(s.clone()),
                (None, None) => None,
            },
            require_approval: self.retention_require_approval,
            audit_years: self.audit_retention_years,
            backup_schedule: self.backup_schedule.trim().to_string(),
            backup_keep: self.backup_keep,
        })
    }

    pub fn token_policy(&self) -> crate::accounts::tokens::TokenPolicy {
        crate::accounts::tokens::TokenPolicy {
            max_lifetime: (self.token_max_days > 0)
                .then(|| chrono::Duration::days(i64::from(self.token_max_days))),
            tenant_admins_issue_admin_tokens: self.tenant_admins_issue_admin_tokens,
        }
    }

    /// Items a retention batch deletes: the configured number, else the backend's default.
    /// SQLite's batches hold its one writer, so larger ones sweep faster at ingest's expense;
    /// PostgreSQL's run beside its writers, and smaller ones kept the deletion rate while
    /// ingest's p99 fell (docs/benchmarks.md, docs/decisions.md).
    pub fn retention_batch(&self, sqlite: bool) -> u32 {
        self.retention_batch_size.unwrap_or(if sqlite {
            RETENTION_BATCH_SQLITE
        } else {
            RETENTION_BATCH_POSTGRES
        })
    }

    pub fn retention_settings(&self, sqlite: bool) -> crate::retention::RetentionSettings {
        crate::retention::RetentionSettings {
            batch: i64::from(self.retention_batch(sqlite)),
            require_approval: self.retention_require_approval,
            min_period: chrono::Duration::days(i64::from(self.retention_min_period_days)),
            approval_above_share: f64::from(self.retention_approval_above_percent.min(100)) / 100.0,
            audit_years: self.audit_retention_years,
            ..Default::default()
        }
    }

    pub fn endpoints(&self) -> crate::channels::platform::Endpoints {
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        crate::channels::platform::Endpoints {
            whatsapp: trim(&self.whatsapp_api_base),
            messenger: trim(&self.messenger_api_base),
            telegram: trim(&self.telegram_api_base),
        }
    }

    /// The outbound policy: the platform endpoints and `outbound_allow`.
    pub fn egress_policy(&self) -> anyhow::Result<crate::egress::EgressPolicy> {
        crate::egress::EgressPolicy::new(&self.endpoints().all(), &self.outbound_allow)
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// The one outbound client pair (platforms, event hooks) behind the egress policy.
    pub fn outbound(&self) -> anyhow::Result<crate::egress::Client> {
        Ok(crate::egress::Client::new(
            self.egress_policy()?,
            std::time::Duration::from_secs(self.platform_timeout_secs.max(1)),
        ))
    }

    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_file.is_some()
    }

    /// The config file `hafen init` writes: the chosen values, every other option documented.
    pub fn render_initial_file(&self) -> String {
        options::template(&self.data_dir.display().to_string(), &self.listen)
    }
}

/// A secret from `HAFEN_<NAME>`, `HAFEN_<NAME>_FILE` or `$CREDENTIALS_DIRECTORY/<credential>`.
pub fn read_secret(name: &str, credential: &str) -> anyhow::Result<Option<String>> {
    let var = format!("HAFEN_{}", name.to_uppercase());
    if let Ok(value) = std::env::var(&var) {
        return Ok(Some(value));
    }
    if let Some(path) = std::env::var_os(format!("{var}_FILE")) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {var}_FILE ({})", Path::new(&path).display()))?;
        return Ok(Some(text.trim().to_string()));
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(credential);
        if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the credential {}", path.display()))?;
            return Ok(Some(text.trim().to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;

/// Every option is said in two places: the struct with its `Default`, and `options::OPTIONS`
/// (from which the environment names, the template `hafen init` writes and the guide's table
/// come); these tests keep them saying the same.
#[cfg(test)]
mod agreement {
    use super::*;

    /// The options and their defaults, as serde sees the struct.
    fn defaults() -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(Config::default()).unwrap() {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// `key = value` lines of the template, commented or not.
    fn template_lines() -> Vec<(String, String)> {
        Config::default()
            .render_initial_file()
            .lines()
            .filter_map(|l| {
                let l = l.strip_prefix("# ").unwrap_or(l);
                let (key, rest) = l.split_once(" = ")?;
                let key = key.trim();
                (!key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                    .then(|| (key.to_string(), rest.to_string()))
            })
            .collect()
    }

    /// The value part of a template line, without its trailing comment, as JSON.
    fn template_value(rest: &str) -> Option<serde_json::Value> {
        let mut candidate = rest.trim();
        // A trailing comment starts after the value: try the longest prefix that parses.
        loop {
            if let Ok(table) = toml::from_str::<toml::Table>(&format!("v = {candidate}")) {
                return serde_json::to_value(&table["v"]).ok();
            }
            candidate = candidate[..candidate.rfind('#')?].trim_end();
        }
    }

    #[test]
    fn every_option_is_settable_by_environment_and_nothing_else_is() {
        let mut fields: Vec<String> = defaults().keys().cloned().collect();
        let mut env: Vec<String> = options::env_names().iter().map(|s| s.to_string()).collect();
        fields.sort();
        env.sort();
        assert_eq!(fields, env, "Config's fields vs options::OPTIONS");
    }

    #[test]
    fn the_template_names_every_option_with_its_default() {
        let defaults = defaults();
        let lines = template_lines();
        for key in defaults.keys() {
            assert!(
                lines.iter().any(|(k, _)| k == key),
                "{key} is missing from the template hafen init writes"
            );
        }
        for (key, rest) in &lines {
            let default = defaults
                .get(key)
                .unwrap_or_else(|| panic!("the template names {key}, which is no option"));
            // Options without a default show an example; the others show the default itself.
            if default.is_null() || matches!(key.as_str(), "data_dir" | "listen") {
                continue;
            }
            let shown = template_value(rest).unwrap_or_else(|| panic!("{key}: {rest}"));
            assert_eq!(
                &shown, default,
                "the template's {key} differs from the default"
            );
        }
    }

    /// docs/configuration.md's table is `options::guide_table()`, word for word.
    /// `HAFEN_WRITE_GUIDE=1 cargo test config` writes it after an option changed.
    #[test]
    fn the_configuration_guide_is_the_options_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let guide = std::fs::read_to_string(path).unwrap();
        let start = guide
            .find("| option | default | meaning |")
            .expect("the guide's table");
        let end = guide[start..]
            .find("\n\n")
            .map_or(guide.len(), |e| start + e + 1);
        let table = options::guide_table();
        if std::env::var_os("HAFEN_WRITE_GUIDE").is_some() {
            let written = format!("{}{table}{}", &guide[..start], &guide[end..]);
            std::fs::write(path, written).unwrap();
            return;
        }
        assert_eq!(
            &guide[start..end],
            table,
            "docs/configuration.md's table differs from options::OPTIONS \
             (HAFEN_WRITE_GUIDE=1 cargo test config writes it)"
        );
    }
}

//! Every option of the configuration, said once. Its type and default are `Config`'s field and
//! `Default`; everything else about it comes from here: the environment variable
//! `HAFEN_<NAME>`, its line in the file `hafen init` writes, and its row in
//! docs/configuration.md (a test compares the guide with [`guide_table`];
//! `HAFEN_WRITE_GUIDE=1 cargo test config` writes it).

use super::Config;

/// One option: what is said about it besides its type and default.
pub struct Opt {
    /// The field of `Config`; `HAFEN_<NAME>` in the environment.
    pub name: &'static str,
    /// The guide's default when the value alone says too little or there is none ("unset").
    pub default_shown: Option<&'static str>,
    /// For an option without a default: the value the template shows, commented out.
    pub example: Option<&'static str>,
    /// The template's short note.
    pub note: &'static str,
    /// The guide's explanation (Markdown).
    pub meaning: &'static str,
}

pub const OPTIONS: &[Opt] = &[
    Opt {
        name: "data_dir",
        default_shown: None,
        example: None,
        note: "",
        meaning: "master key (unless elsewhere) and SQLite database; mode 0700",
    },
    Opt {
        name: "listen",
        default_shown: None,
        example: None,
        note: "",
        meaning: "address; plain HTTP only on loopback",
    },
    Opt {
        name: "database_url",
        default_shown: Some("`sqlite://<data_dir>/hafen.db`"),
        example: Some(r#""postgres://hafen@localhost/hafen""#),
        note: r#"default: SQLite in data_dir; prefer HAFEN_DATABASE_URL_FILE or the systemd credential "database-url" when it holds a password."#,
        meaning: "or `postgres://user@host/db`; other schemes are refused",
    },
    Opt {
        name: "master_key_file",
        default_shown: Some("`<data_dir>/master.key`"),
        example: Some(r#""/etc/hafen/master.key""#),
        note: r#"default: credential "master-key", else data_dir/master.key"#,
        meaning: "age identity; refused if group/world-accessible. The systemd credential `master-key`, when the unit passes one, wins over it (the package's config names `/etc/hafen/master.key` for the commands run on the server; the service reads the same key as its credential)",
    },
    Opt {
        name: "recovery_recipients",
        default_shown: None,
        example: None,
        note: r#"offline keys that can also unwrap every data key, e.g. ["age1..."]"#,
        meaning: "extra `age1…` recipients that can unwrap every data key (offline recovery)",
    },
    Opt {
        name: "previous_master_key_files",
        default_shown: None,
        example: None,
        note: "during a key rotation: the old key(s)",
        meaning: "during a master key rotation: the old key files, which still unwrap (docs/operations.md)",
    },
    Opt {
        name: "tls_cert_file",
        default_shown: Some("unset"),
        example: Some(r#""/etc/hafen/tls/cert.pem""#),
        note: "HTTPS; required for a non-loopback listen address",
        meaning: "PEM certificate chain: HTTPS (rustls). Required, with `tls_key_file`, for a non-loopback `listen`",
    },
    Opt {
        name: "tls_key_file",
        default_shown: Some("unset"),
        example: Some(r#""/etc/hafen/tls/key.pem""#),
        note: "",
        meaning: "the private key of `tls_cert_file` (PEM)",
    },
    Opt {
        name: "allow_plain_http_on_public_address",
        default_shown: None,
        example: None,
        note: "",
        meaning: "serve HTTP on a non-loopback address anyway (TLS proxy on the host); warned at every start",
    },
    Opt {
        name: "log_format",
        default_shown: None,
        example: None,
        note: "auto | human | json",
        meaning: "`human` on a terminal, `json` otherwise; or force either",
    },
    Opt {
        name: "log_filter",
        default_shown: None,
        example: None,
        note: "",
        meaning: "`RUST_LOG` syntax; `RUST_LOG` wins",
    },
    Opt {
        name: "max_body_bytes",
        default_shown: None,
        example: None,
        note: "",
        meaning: "larger request bodies get 413",
    },
    Opt {
        name: "client_timeout_secs",
        default_shown: None,
        example: None,
        note: "head, and again body; then 408",
        meaning: "a client must send a request's head within this time (else the connection is closed) and then its body (else 408): slowloris and slow-POST clients cannot hold connections",
    },
    Opt {
        name: "keep_alive_secs",
        default_shown: None,
        example: None,
        note: "",
        meaning: "idle kept-alive connections are closed after this",
    },
    Opt {
        name: "max_connections",
        default_shown: None,
        example: None,
        note: "per worker",
        meaning: "open connections per worker; further ones wait in the listen backlog",
    },
    Opt {
        name: "sqlite_synchronous",
        default_shown: None,
        example: None,
        note: "full (survives power loss) | normal",
        meaning: "`full` survives power loss; `normal` only a crash",
    },
    Opt {
        name: "db_pool_size",
        default_shown: None,
        example: None,
        note: "",
        meaning: "read connections",
    },
    Opt {
        name: "db_writers",
        default_shown: None,
        example: None,
        note: "1–32; PostgreSQL only",
        meaning: "write connections. 1: the groups of every instance commit one after another and never deadlock; more: each commits its own groups in parallel and they queue only to link their audit entries, for heavy webhook load, while writes of the same contacts from two writers may meet in a deadlock that is run again (rarely answered 503 busy). SQLite always has one writer",
    },
    Opt {
        name: "key_cache_size",
        default_shown: None,
        example: None,
        note: "",
        meaning: "unwrapped keys kept in memory",
    },
    Opt {
        name: "workers",
        default_shown: Some("cores"),
        example: Some("4"),
        note: "HTTP worker threads; default: one per core",
        meaning: "HTTP worker threads",
    },
    Opt {
        name: "whatsapp_api_base",
        default_shown: None,
        example: None,
        note: "",
        meaning: "WhatsApp Cloud API (tests point it at a fake)",
    },
    Opt {
        name: "messenger_api_base",
        default_shown: None,
        example: None,
        note: "",
        meaning: "Messenger Send API",
    },
    Opt {
        name: "telegram_api_base",
        default_shown: None,
        example: None,
        note: "",
        meaning: "Telegram Bot API",
    },
    Opt {
        name: "platform_timeout_secs",
        default_shown: None,
        example: None,
        note: "",
        meaning: "timeout of one platform call",
    },
    Opt {
        name: "retry_interval_secs",
        default_shown: None,
        example: None,
        note: "how often queued sends and downloads are retried; 0 = never (retention and backups keep their schedules)",
        meaning: "how often queued sends, event deliveries and media downloads are looked at; `0` turns these retries off (and with them the immediate work after a webhook). The retention sweep (`retention_schedule`) and backups (`backup_schedule`) keep their own schedules either way",
    },
    Opt {
        name: "max_media_bytes",
        default_shown: None,
        example: None,
        note: "",
        meaning: "largest media file downloaded",
    },
    Opt {
        name: "broadcast_rate_per_sec",
        default_shown: None,
        example: None,
        note: "",
        meaning: "broadcast messages per second (0: unpaced)",
    },
    Opt {
        name: "webhook_rate_per_ip",
        default_shown: None,
        example: None,
        note: "",
        meaning: "webhook requests per second from one client address, with a burst of the same size; beyond it `429 rate-limited` with `Retry-After: 1`. Behind proxies listed in `trusted_proxies` the address is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (each proxy appends the address it saw; what is left of it comes from the client); otherwise it is the peer. Meta and Telegram deliver from many addresses, so the default leaves real traffic alone and stops a single flooding host. `0`: no limit",
    },
    Opt {
        name: "retention_schedule",
        default_shown: None,
        example: None,
        note: r#"cron with seconds, UTC; "" = only `hafen retention run`"#,
        meaning: "when retention runs: cron with seconds (sec min hour day month weekday), UTC; empty: only `hafen retention run` and the API (see retention.md)",
    },
    Opt {
        name: "retention_batch_size",
        default_shown: Some("`10000` on SQLite, `2500` on PostgreSQL"),
        example: None,
        note: "",
        meaning: "items deleted per transaction (100–100000); smaller batches keep ingest latency lower during a sweep, larger ones sweep faster on SQLite, whose one writer the batches share with ingest (ingest at half load: 1000 kept 80 % of it at p99 ~120 ms, 10000 swept twice as fast). PostgreSQL deletes beside its writers: 2500 deleted as fast as 10000 with ingest's p99 about halved (benchmarks.md)",
    },
    Opt {
        name: "retention_require_approval",
        default_shown: None,
        example: None,
        note: "a second admin approves deletion rules",
        meaning: "every new retention rule set needs a second admin's approval before it applies",
    },
    Opt {
        name: "retention_min_period_days",
        default_shown: None,
        example: None,
        note: "no rule may keep data for less",
        meaning: "no retention rule may keep data for less than this many days (months count as 28 days, years as 365); 0: no floor",
    },
    Opt {
        name: "retention_approval_above_percent",
        default_shown: None,
        example: None,
        note: "deleting more of a tenant's messages at once needs a second admin",
        meaning: "a rule set whose preview deletes at once more than this percentage of a tenant's messages needs a second admin's approval even when `retention_require_approval` is off (100: never)",
    },
    Opt {
        name: "audit_retention_years",
        default_shown: None,
        example: None,
        note: "",
        meaning: "years the audit log keeps an entry after the end of its year (0: for ever); pruned by the scheduled run",
    },
    Opt {
        name: "token_max_days",
        default_shown: None,
        example: None,
        note: "longest an API token may live (0: no maximum)",
        meaning: "longest an API token may live, in days (0: no maximum); a token created without `--expires-in` then expires after this many days, a longer one is refused",
    },
    Opt {
        name: "tenant_admins_issue_admin_tokens",
        default_shown: None,
        example: None,
        note: "only install admins issue tenant-admin tokens",
        meaning: "tenant admins may issue tenant-admin tokens; off, only an install admin (or `hafen token create` on the server) can, so one leaked tenant-admin token cannot mint more",
    },
    Opt {
        name: "backup_schedule",
        default_shown: None,
        example: None,
        note: r#"e.g. "0 0 3 * * *" (needs backup_dir)"#,
        meaning: "scheduled backups: cron with seconds, UTC; needs `backup_dir`",
    },
    Opt {
        name: "backup_dir",
        default_shown: Some("unset"),
        example: Some(r#""/var/backups/hafen""#),
        note: "",
        meaning: "where scheduled backups go, one directory per run",
    },
    Opt {
        name: "backup_keep",
        default_shown: None,
        example: None,
        note: "",
        meaning: "scheduled backups kept",
    },
    Opt {
        name: "storage_country",
        default_shown: Some("unset"),
        example: Some(r#""DE""#),
        note: "shown in the TOM annex",
        meaning: "where the data is stored (ISO 3166-1 alpha-2), shown in the TOM annex",
    },
    Opt {
        name: "storage_site",
        default_shown: Some("unset"),
        example: Some(r#""Rechenzentrum Hamburg""#),
        note: "",
        meaning: "the site (data centre), shown in the TOM annex",
    },
    Opt {
        name: "outbound_allow",
        default_shown: None,
        example: None,
        note: r#"hosts and networks beyond the platforms ("crm.intern", ".domain", "10.20.0.0/16")"#,
        meaning: r#"hosts and networks Hafen may connect to beyond the platforms: a host name (`crm.example.com`), `".domain"` for a domain and its subdomains, an IP address or a network (`10.20.0.0/16`); any port. Platform traffic (APIs, files) goes only to the platform hosts and these; a tenant's event hook may name any public host. Loopback, private, link-local, unique-local, shared, multicast, unspecified and IPv4-in-IPv6 addresses are refused after DNS resolution — for every request, redirects included — unless an entry names the host or its network: the one way to an internal system such as a CRM on the company LAN (see "Event hooks to an internal system" below). Refusals are logged"#,
    },
    Opt {
        name: "trusted_proxies",
        default_shown: None,
        example: None,
        note: r#"proxies whose X-Forwarded-* headers count, e.g. ["127.0.0.1", "::1"]"#,
        meaning: r#"addresses or networks of reverse proxies (`["127.0.0.1", "::1"]` for nginx or Caddy on this host) whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are believed: for the client address (rate limits, sign-in limits, widget evidence), for `Secure` cookies and for the web interface's origin check. Empty: nobody's — behind a proxy on this host every client then looks like the proxy, so set it. A request relayed by a proxy (it carries a forwarding header) never counts as local for `/metrics`"#,
    },
    Opt {
        name: "templates_dir",
        default_shown: Some("unset"),
        example: Some(r#""/etc/hafen/templates""#),
        note: "letters.toml: the install's wording for letters",
        meaning: "a directory whose `letters.toml` words the letters to data subjects the install's way (salutation, extra paragraphs, sign-off; docs/dpo-guide.md); an unknown key or variable stops the start, naming it",
    },
    Opt {
        name: "public_url",
        default_shown: Some("unset"),
        example: Some(r#""https://hafen.muster.de""#),
        note: "where the platforms reach Hafen: webhook URLs are built from it",
        meaning: "the https address under which the platforms reach this install (`https://hafen.muster.de`, a path prefix allowed; `http://` only for a loopback host): the channels page builds the webhook URLs to enter at Meta and Telegram from it. Unset: the page warns and shows the address it was opened at. `HAFEN_PUBLIC_URL`",
    },
];

/// The names the environment may set as `HAFEN_<NAME>`: every option.
pub fn env_names() -> Vec<&'static str> {
    OPTIONS.iter().map(|o| o.name).collect()
}

/// The defaults, as serde sees `Config`.
fn defaults() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The file `hafen init` writes: `data_dir` and `listen` set, every other option commented out
/// with its default (or, without one, an example) and its note.
pub fn template(data_dir: &str, listen: &str) -> String {
    let defaults = defaults();
    let mut out = String::from(
        "# Hafen configuration. Environment variables HAFEN_<OPTION> override these values.\n",
    );
    out.push_str(&format!("data_dir = {data_dir:?}\nlisten = {listen:?}\n\n"));
    for opt in OPTIONS
        .iter()
        .filter(|o| !matches!(o.name, "data_dir" | "listen"))
    {
        let value = match (opt.example, defaults.get(opt.name)) {
            (Some(example), _) => example.to_string(),
            // JSON writes strings, numbers, booleans and lists as TOML does.
            (None, Some(default)) => default.to_string(),
            (None, None) => continue,
        };
        let line = format!("# {} = {value}", opt.name);
        match opt.note {
            "" => out.push_str(&line),
            note => out.push_str(&format!("{line:<52} # {note}")),
        }
        out.push('\n');
    }
    out
}

/// A default as the guide shows it.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) if s.is_empty() => "`\"\"`".into(),
        serde_json::Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// The table of options in docs/configuration.md.
pub fn guide_table() -> String {
    let defaults = defaults();
    let mut out = String::from("| option | default | meaning |\n|---|---|---|\n");
    for opt in OPTIONS {
        let default = match (opt.default_shown, defaults.get(opt.name)) {
            (Some(shown), _) => shown.to_string(),
            (None, Some(value)) => shown(value),
            (None, None) => "unset".to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            opt.name, opt.meaning
        ));
    }
    out
}

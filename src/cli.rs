//! The command line: `hafen init | serve | migrate | token create|list|revoke | audit verify | retention |
//! report | register`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::auth::{Actor, Role};
use crate::bootstrap::{self, InitPolicy};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, CONFIG_FILE_NAME};
use crate::store;
use crate::tenants::TenantId;

#[derive(Debug, Parser)]
#[command(
    name = "hafen",
    version,
    about = "On-premises, encrypted home for messenger data"
)]
pub struct Cli {
    /// Config file (default: $HAFEN_CONFIG, else <data dir>/hafen.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data directory, config, master key and database; print the first admin token.
    Init {
        /// Where to keep the key and the SQLite database (default ./hafen-data).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Run the server (initialising ./hafen-data on first start).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the people who sign in to the web interface (/ui/).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Inspect the consent ledger.
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// Run retention now, or list what it would delete.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Write a GDPR report: processor-record (install-wide), or per tenant controller-record,
    /// toms, subprocessors, deletion-concept, deletion-report, consent-statistics, request-log, avv-terms.
    Report {
        /// The report kind.
        kind: String,
        /// The tenant (every kind but processor-record).
        #[arg(long)]
        tenant: Option<String>,
        /// json, csv, xlsx or pdf.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// de or en.
        #[arg(long, default_value = "de")]
        lang: String,
        /// For CSV: RFC 4180 for tools (`,`, no byte order mark, ISO dates and plain numbers)
        /// instead of the spreadsheet form (UTF-8 with BOM, `;` in German, German dates).
        #[arg(long)]
        rfc4180: bool,
        /// Where to write it ("-": standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Master key handling.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Make a consistent online backup: the data and the keystore as separate files, the
    /// keystore age-encrypted to the recovery recipients (or the master key).
    Backup {
        /// A new (or empty) directory for the backup.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Restore a backup into an empty database (stop the server first).
    Restore {
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The age identity that opens the keystore (default: the master key), e.g. the
        /// offline recovery key.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Check the install: configuration, key file, data dir, disk space, database and
    /// migrations, TLS certificate, clock. Exit code 1 when a check fails.
    Doctor,
    /// Show or change the GDPR register (every change is kept as a new version).
    Register {
        #[command(subcommand)]
        command: RegisterCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new master key (age X25519 identity, mode 0600); refuses to overwrite a file.
    Generate {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-wrap every data key to the current master key and recovery recipients, while the
    /// server runs; resumable (see docs/operations.md, "Rotating the master key").
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Print the current version of a section as JSON.
    Show {
        /// processor, measures (install-wide); controller, activities, subprocessors (--tenant).
        section: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Every version, newest first.
        #[arg(long)]
        history: bool,
    },
    /// Store a new version of a section from a JSON file ("-": standard input).
    Set {
        section: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Delete what the rules make due (or, with --dry-run, list it). Prints the report as
    /// JSON. When another instance is sweeping, does nothing and says so.
    Run {
        /// List what is due; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this tenant (default: all).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Check the deletion certificates' hash chain; exits 1 naming the first broken entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Check the consent ledger's hash chain; exits 1 and names the first broken entry if any.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (shown only this once).
    Create {
        /// Tenant id (required for every role except admin; a dpo without one is the
        /// processor's DPO, install-wide).
        #[arg(long)]
        tenant: Option<String>,
        /// admin, tenant_admin, dpo, agent or ingest.
        #[arg(long)]
        role: String,
        /// What the token is for ("CRM integration"), shown in lists.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime: 12h, 90d or 4w. Default: `token_max_days`, or never.
        #[arg(long, value_name = "LIFETIME")]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets): every token, or one tenant's.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token at once, on every instance.
    Revoke {
        /// The token's id (the part after `hfn_` and before the second `_`; `hafen token list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input (first line), never from an
    /// argument, so it stays out of the shell history and the process list.
    Add {
        /// Login name: an e-mail address or a short name.
        #[arg(long)]
        login: String,
        /// admin, tenant_admin, dpo or agent.
        #[arg(long)]
        role: String,
        /// Tenant id (every role except admin; a dpo without one is the processor's DPO).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Turn on the TOTP second factor; prints the otpauth:// URI for an authenticator app.
    Totp {
        #[arg(long)]
        login: String,
    },
    /// Recover an account (a lost password or authenticator, a locked-out last admin): sets the
    /// password read from standard input, removes TOTP, lifts a lockout, ends every session.
    Reset {
        #[arg(long)]
        login: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits 1 and names the first broken entry if any.
    Verify,
}

/// Runs the parsed command. Output meant for scripts goes to stdout; everything else to the log.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    match cli.command {
        Command::Init { data_dir } => {
            let mut config = load(cli.config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            let opened = bootstrap::open(&config, clock, InitPolicy::Require).await?;
            write_initial_config(&config)?;
            let token = opened
                .admin_token
                .context("initialisation issued no admin token")?;
            print_secret(token.expose())?;
            opened.hafen.store().clone().close();
            Ok(())
        }
        Command::Serve => {
            let config = load(cli.config.as_deref())?;
            let mut app = Application::build(&config, clock).await?;
            if let Some(token) = app.take_admin_token() {
                tracing::warn!("first start: the admin token was printed on standard output; it is not shown again");
                print_secret(token.expose())?;
            }
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate => {
            let config = load(cli.config.as_deref())?;
            let url = config.database()?;
            if url.is_sqlite() {
                bootstrap::ensure_data_dir(&config.data_dir, false)?;
            }
            let mut conn = url.connect(config.sqlite_synchronous)?;
            let applied = store::run_migrations(&mut conn)?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }
            Ok(())
        }
        Command::User { command } => {
            on_install(cli.config.as_deref(), clock, async |hafen| match command {
                UserCommand::Add {
                    login,
                    role,
                    tenant,
                } => {
                    let login = crate::accounts::LoginName::parse(&login).map_err(user_error)?;
                    let role: Role = role.parse().map_err(user_error)?;
                    let tenant = parse_tenant(tenant.as_deref())?;
                    let password = password_from_stdin()?;
                    hafen
                        .accounts
                        .create_user(&Actor::Cli, &login, password, role, tenant.as_ref())
                        .await
                        .map(|user| println!("created user {} ({})", user.id, user.role))
                        .map_err(user_error)
                }
                UserCommand::Reset { login } => {
                    let login = crate::accounts::LoginName::parse(&login).map_err(user_error)?;
                    let password = password_from_stdin()?;
                    match hafen.accounts.user_id_by_login(&Actor::Cli, &login).await {
                        Ok(id) => hafen.accounts.reset_user(&Actor::Cli, &id, password).await,
                        Err(e) => Err(e),
                    }
                    .map(|()| println!("reset; the user's sessions have ended"))
                    .map_err(|e| match e {
                        crate::error::Error::NotFound => {
                            anyhow::anyhow!("no active user with this login name")
                        }
                        other => user_error(other),
                    })
                }
                UserCommand::Totp { login } => {
                    let login = crate::accounts::LoginName::parse(&login).map_err(user_error)?;
                    hafen
                        .accounts
                        .enable_totp(&Actor::Cli, &login)
                        .await
                        .map_err(user_error)
                        .and_then(|uri| print_secret(uri.expose()))
                }
            })
            .await
        }
        Command::Token { command } => {
            on_install(cli.config.as_deref(), clock, async |hafen| {
                run_token(hafen, command).await
            })
            .await
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let report = on_install(cli.config.as_deref(), clock, async |hafen| {
                Ok(hafen.audit.verify_chain().await?)
            })
            .await?;
            println!("audit log: {report}");
            if report.broken.is_some() {
                bail!("the audit log was tampered with");
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run { dry_run, tenant },
        } => {
            let tenant = tenant
                .as_deref()
                .map(crate::tenants::TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
            let report = on_install(cli.config.as_deref(), clock, async |hafen| {
                hafen
                    .retention
                    .run(&Actor::Cli, tenant.as_ref(), dry_run)
                    .await
                    .map_err(|e| match e {
                        crate::error::Error::NotFound => anyhow::anyhow!("no such tenant"),
                        other => anyhow::Error::new(other).context("retention run failed"),
                    })
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ran {
                eprintln!("another instance is running retention; nothing was done");
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Verify,
        } => {
            let report = on_install(cli.config.as_deref(), clock, async |hafen| {
                Ok(hafen.retention.verify_certificates().await?)
            })
            .await?;
            println!("deletion certificates: {report}");
            if report.broken.is_some() {
                bail!("the deletion certificates were tampered with");
            }
            Ok(())
        }
        Command::Report {
            kind,
            tenant,
            format,
            lang,
            rfc4180,
            out,
        } => {
            use crate::records::report::{CsvDialect, Format};
            let kind: crate::records::report::Kind = kind.parse()?;
            let mut format: Format = format.parse()?;
            if rfc4180 {
                format = format.with_csv(CsvDialect::Rfc4180);
            }
            let lang = crate::i18n::Lang::parse(&lang)?;
            let tenant = parse_tenant(tenant.as_deref())?;
            let (report, bytes) = on_install(cli.config.as_deref(), clock, async |hafen| {
                hafen
                    .records
                    .report(&Actor::Cli, kind, tenant.as_ref(), lang, format)
                    .await
                    .map_err(user_error)
            })
            .await?;
            write_out(&out, &bytes)?;
            eprintln!(
                "{}: register version {}, content SHA-256 {}",
                report.title, report.register_version, report.content_sha256
            );
            Ok(())
        }
        Command::Key {
            command: KeyCommand::Generate { out },
        } => {
            if out.exists() {
                bail!(
                    "{} exists: a master key is never overwritten",
                    out.display()
                );
            }
            let identity = crate::crypto::MasterKey::generate_identity_file(&out)?;
            println!("{}", identity.to_public());
            Ok(())
        }
        Command::Key {
            command: KeyCommand::Rotate,
        } => {
            let config = load(cli.config.as_deref())?;
            let master = bootstrap::load_master_key(&config)?;
            let mut conn = config.database()?.connect(config.sqlite_synchronous)?;
            let bar = progress_bar();
            let report = crate::rotation::rotate(&mut conn, &master, &|table, seen| {
                step_to(&bar, &format!("{table}: {seen} keys checked"))
            })?;
            bar.finish_and_clear();
            println!(
                "{} keys checked, {} re-wrapped to the current master key, {} changed meanwhile and left alone",
                report.seen, report.rewrapped, report.skipped
            );
            if config.previous_master_key_files.is_empty() {
                println!("no previous master key is configured: nothing depends on an old key");
            } else {
                println!("every key opens with the current master key: remove previous_master_key_files and the old key file, then restart");
            }
            Ok(())
        }
        Command::Backup { out } => {
            let config = load(cli.config.as_deref())?;
            let bar = progress_bar();
            let m = crate::backup::backup(&config, &out, clock.now(), &|step| step_to(&bar, step))?;
            bar.finish_and_clear();
            println!(
                "backup written to {}: {} ({}), keystore {} with {} contact keys and {} period keys",
                out.display(),
                m.data_file,
                m.data_sha256,
                m.keystore_file,
                m.contact_keys,
                m.period_keys
            );
            Ok(())
        }
        Command::Restore { from, identity } => {
            let config = load(cli.config.as_deref())?;
            let bar = progress_bar();
            let m = crate::backup::restore(&config, &from, identity.as_deref(), &|step| {
                step_to(&bar, step)
            })?;
            bar.finish_and_clear();
            println!(
                "restored the backup of {} (schema {}, {} contact keys); start the server and run `hafen doctor`",
                m.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                m.schema_version,
                m.contact_keys
            );
            Ok(())
        }
        Command::Doctor => {
            let config = match Config::load(cli.config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    println!("FAIL  {:<14} {e:#}", "config");
                    bail!("the configuration is invalid");
                }
            };
            let checks = crate::doctor::run(&config, clock.now());
            for c in &checks {
                println!("{c}");
            }
            let failed = checks
                .iter()
                .filter(|c| c.outcome == crate::doctor::Outcome::Fail)
                .count();
            if failed > 0 {
                bail!("{failed} check(s) failed");
            }
            Ok(())
        }
        Command::Register { command } => {
            let (section, tenant) = match &command {
                RegisterCommand::Show {
                    section, tenant, ..
                }
                | RegisterCommand::Set {
                    section, tenant, ..
                } => (section.clone(), tenant.clone()),
            };
            let section: crate::register::Section = section.parse()?;
            let scope = match parse_tenant(tenant.as_deref())? {
                Some(t) => crate::register::Scope::Tenant(t),
                None => crate::register::Scope::Processor,
            };
            register_scope_hint(section, &scope)?;
            let result = on_install(cli.config.as_deref(), clock, async |hafen| {
                Ok(match command {
                    RegisterCommand::Show { history: true, .. } => hafen
                        .register
                        .history(&Actor::Cli, &scope, section)
                        .await
                        .and_then(|h| {
                            serde_json::to_value(h).map_err(crate::error::Error::internal)
                        }),
                    RegisterCommand::Show { .. } => hafen
                        .register
                        .entry(&Actor::Cli, &scope, section)
                        .await
                        .and_then(|e| {
                            serde_json::to_value(e).map_err(crate::error::Error::internal)
                        }),
                    RegisterCommand::Set { file, .. } => {
                        let text = if file.as_os_str() == "-" {
                            std::io::read_to_string(std::io::stdin())?
                        } else {
                            std::fs::read_to_string(&file)
                                .with_context(|| format!("cannot read {}", file.display()))?
                        };
                        let value: serde_json::Value =
                            serde_json::from_str(&text).context("the file is not JSON")?;
                        hafen
                            .register
                            .put(&Actor::Cli, &scope, section, value)
                            .await
                            .and_then(|(e, _)| {
                                serde_json::to_value(e).map_err(crate::error::Error::internal)
                            })
                    }
                })
            })
            .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&result.map_err(user_error)?)?
            );
            Ok(())
        }
        Command::Consent {
            command: ConsentCommand::Verify,
        } => {
            let report = on_install(cli.config.as_deref(), clock, async |hafen| {
                Ok(hafen.consent.verify_ledger().await?)
            })
            .await?;
            println!("consent ledger: {report}");
            if report.broken.is_some() {
                bail!("the consent ledger was tampered with");
            }
            Ok(())
        }
    }
}

/// A spinner on a terminal; plain lines otherwise (logs, CI).
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn step_to(bar: &indicatif::ProgressBar, step: &str) {
    if bar.is_hidden() {
        eprintln!("{step}");
    } else {
        bar.set_message(step.to_string());
    }
}

fn parse_tenant(tenant: Option<&str>) -> anyhow::Result<Option<TenantId>> {
    tenant
        .map(TenantId::parse)
        .transpose()
        .map_err(|_| anyhow::anyhow!("--tenant: not a tenant id"))
}

/// A new password from the first line of standard input (never an argument: it would show in
/// the shell history and the process list).
fn password_from_stdin() -> anyhow::Result<crate::accounts::NewPassword> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    crate::accounts::NewPassword::parse(line.trim_end_matches(['\r', '\n'])).map_err(user_error)
}

/// A domain error as the operator should read it.
/// A section asked for in the wrong place, told in the CLI's own terms (the service's message
/// names the API paths).
fn register_scope_hint(
    section: crate::register::Section,
    scope: &crate::register::Scope,
) -> anyhow::Result<()> {
    use crate::register::Scope;
    let name = section.as_str();
    match (section.is_install_wide(), scope) {
        (true, Scope::Tenant(_)) => anyhow::bail!(
            "{name} is kept once for the install, not per tenant: leave out --tenant \
             (hafen register set {name} --file {name}.json)"
        ),
        (false, Scope::Processor) => anyhow::bail!(
            "{name} is kept per tenant: add --tenant with the tenant's id \
             (hafen register set {name} --tenant TENANT --file {name}.json)"
        ),
        _ => Ok(()),
    }
}

fn user_error(e: crate::error::Error) -> anyhow::Error {
    match e {
        crate::error::Error::NotFound => {
            anyhow::anyhow!("not found (no such tenant, or nothing entered yet)")
        }
        other => anyhow::Error::new(other),
    }
}

/// Writes `bytes` to `out` (0600, as it may name people), or to standard output for "-".
fn write_out(out: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    if out.as_os_str() == "-" {
        std::io::stdout().write_all(bytes)?;
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Runs `work` against the configured install (never initialising one) and closes the store
/// afterwards, whatever `work` returned.
async fn on_install<T>(
    file: Option<&std::path::Path>,
    clock: SharedClock,
    work: impl AsyncFnOnce(&crate::service::Hafen) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = load(file)?;
    let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
    let result = work(&opened.hafen).await;
    opened.hafen.store().clone().close();
    result
}

fn load(file: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let config = Config::load(file)?;
    crate::telemetry::init(config.log_format, &config.log_filter);
    Ok(config)
}

/// Writes `<data_dir>/hafen.toml` unless a config file already exists there.
fn write_initial_config(config: &Config) -> anyhow::Result<()> {
    let path = config.data_dir.join(CONFIG_FILE_NAME);
    if path.exists() {
        return Ok(());
    }
    let mut config = config.clone();
    if config.data_dir.is_relative() {
        config.data_dir = std::fs::canonicalize(&config.data_dir)?;
    }
    std::fs::write(&path, config.render_initial_file())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn tenant_arg(tenant: Option<String>) -> anyhow::Result<Option<TenantId>> {
    tenant
        .map(|t| {
            TenantId::parse(&t).map_err(|_| anyhow::anyhow!("--tenant '{t}' is not a tenant id"))
        })
        .transpose()
}

fn cli_error(e: crate::error::Error) -> anyhow::Error {
    match e {
        crate::error::Error::NotFound => anyhow::anyhow!("no such tenant or token"),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn run_token(hafen: &crate::service::Hafen, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            tenant,
            role,
            name,
            expires_in,
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: crate::error::Error| anyhow::anyhow!("{e}"))?;
            let lifetime = expires_in
                .as_deref()
                .map(crate::accounts::tokens::parse_lifetime)
                .transpose()
                .map_err(|_| anyhow::anyhow!("--expires-in must be like 12h, 90d or 4w"))?;
            let spec = crate::auth::token::TokenSpec {
                role,
                tenant: tenant_arg(tenant)?,
                name,
                expires_at: None,
            };
            let created = hafen
                .accounts
                .issue_token(&Actor::Cli, spec, lifetime)
                .await
                .map_err(cli_error)?;
            if let Some(end) = created.expires_at {
                eprintln!("expires {}", end.format("%Y-%m-%d %H:%M UTC"));
            }
            print_secret(created.token.expose())
        }
        TokenCommand::List { tenant } => {
            let tokens = hafen
                .accounts
                .list_tokens(&Actor::Cli, tenant_arg(tenant)?.as_ref())
                .await
                .map_err(cli_error)?;
            let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| t.format("%Y-%m-%d").to_string())
            };
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<24} {:<8} {:<12} {:<36} {:<10} {:<10} {:<10} NAME",
                "ID", "STATE", "ROLE", "TENANT", "CREATED", "LAST USED", "EXPIRES"
            )?;
            for t in tokens {
                writeln!(
                    out,
                    "{:<24} {:<8} {:<12} {:<36} {:<10} {:<10} {:<10} {}",
                    t.id,
                    t.state,
                    t.role.as_str(),
                    t.tenant_id.as_deref().unwrap_or("-"),
                    day(Some(t.created_at)),
                    day(t.last_used_at),
                    day(t.expires_at),
                    t.name.as_deref().unwrap_or("")
                )?;
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let token = hafen
                .accounts
                .revoke_token(&Actor::Cli, None, &id)
                .await
                .map_err(cli_error)?;
            eprintln!(
                "token {} ({}) is revoked; requests with it are refused from now on",
                token.id,
                token.role.as_str()
            );
            Ok(())
        }
    }
}

/// Prints a secret on stdout, alone on its line: the one place a token leaves the process.
fn print_secret(secret: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{secret}")?;
    out.flush()?;
    Ok(())
}

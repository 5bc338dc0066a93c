//! The command line: `hafen init | serve | migrate | token create|list|revoke | audit verify | retention |
//! report | register`.

mod args;
pub use args::*;

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
            let applied = store::run_migrations_reporting(&mut conn, |step| match step {
                store::MigrationStep::Planned(n) => println!("{n} migration(s) to apply"),
                store::MigrationStep::Starting(name) => println!("applying {name} …"),
                store::MigrationStep::Done(_, took) => {
                    println!("  done in {:.1} s", took.as_secs_f64())
                }
            })?;
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

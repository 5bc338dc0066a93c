//! The command line: `hafen init | serve | migrate | token create | audit verify`.

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
        /// Tenant id (required for every role except admin).
        #[arg(long)]
        tenant: Option<String>,
        /// admin, tenant_admin, dpo, agent or ingest.
        #[arg(long)]
        role: String,
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
        Command::Token {
            command: TokenCommand::Create { tenant, role },
        } => {
            let config = load(cli.config.as_deref())?;
            let role: Role = role
                .parse()
                .map_err(|e: crate::error::Error| anyhow::anyhow!("{e}"))?;
            let tenant = tenant
                .map(|t| {
                    TenantId::parse(&t)
                        .map_err(|_| anyhow::anyhow!("--tenant '{t}' is not a tenant id"))
                })
                .transpose()?;
            let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
            let created = opened
                .hafen
                .create_token(&Actor::Cli, tenant.as_ref(), role)
                .await
                .map_err(|e| match e {
                    crate::error::Error::NotFound => anyhow::anyhow!("no such tenant"),
                    other => anyhow::anyhow!("{other}"),
                })?;
            print_secret(created.token.expose())?;
            opened.hafen.store().clone().close();
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let config = load(cli.config.as_deref())?;
            let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
            let report = opened.hafen.verify_audit_chain().await?;
            println!("audit log: {report}");
            opened.hafen.store().clone().close();
            if report.broken.is_some() {
                bail!("the audit log was tampered with");
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run { dry_run, tenant },
        } => {
            let config = load(cli.config.as_deref())?;
            let tenant = tenant
                .as_deref()
                .map(crate::tenants::TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
            let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
            let result = opened
                .hafen
                .run_retention(&crate::auth::Actor::Cli, tenant.as_ref(), dry_run)
                .await;
            opened.hafen.store().clone().close();
            let report = result.map_err(|e| match e {
                crate::error::Error::NotFound => anyhow::anyhow!("no such tenant"),
                other => anyhow::Error::new(other).context("retention run failed"),
            })?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ran {
                eprintln!("another instance is running retention; nothing was done");
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Verify,
        } => {
            let config = load(cli.config.as_deref())?;
            let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
            let report = opened.hafen.verify_retention_certificates().await?;
            println!("deletion certificates: {report}");
            opened.hafen.store().clone().close();
            if report.broken.is_some() {
                bail!("the deletion certificates were tampered with");
            }
            Ok(())
        }
        Command::Consent {
            command: ConsentCommand::Verify,
        } => {
            let config = load(cli.config.as_deref())?;
            let opened = bootstrap::open(&config, clock, InitPolicy::Never).await?;
            let report = opened.hafen.verify_consent_ledger().await?;
            println!("consent ledger: {report}");
            opened.hafen.store().clone().close();
            if report.broken.is_some() {
                bail!("the consent ledger was tampered with");
            }
            Ok(())
        }
    }
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

/// Prints a secret on stdout, alone on its line: the one place a token leaves the process.
fn print_secret(secret: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{secret}")?;
    out.flush()?;
    Ok(())
}

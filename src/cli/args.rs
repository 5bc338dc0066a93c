//! The command line as clap reads it: every command, its arguments and their help text (what
//! `hafen --help` prints).

use super::*;

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

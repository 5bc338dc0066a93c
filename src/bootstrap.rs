//! Opening an install: data directory, master key, database, and — on the very first start —
//! the first admin token. Shared by `hafen init`, `hafen serve` and the other commands.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use diesel::prelude::*;

use crate::auth::{Actor, Role};
use crate::channels::platform::PlatformClient;
use crate::clock::SharedClock;
use crate::config::{Config, MasterKeySource};
use crate::crypto::{KeyRing, MasterKey};
use crate::infra::Infra;
use crate::sensitive::Sensitive;
use crate::service::Hafen;
use crate::settings::Settings;
use crate::store::schema::api_tokens;
use crate::store::Store;

/// What opening produced.
pub struct Opened {
    pub hafen: Hafen,
    /// Set only when this call initialised the install: the first admin token, shown once.
    pub admin_token: Option<Sensitive<String>>,
}

/// Whether a missing master key may be created (first start) or means something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPolicy {
    /// `hafen init`: must create the key; an existing install is an error.
    Require,
    /// `hafen serve`: create on first start, open otherwise.
    IfMissing,
    /// Every other command: the install must exist.
    Never,
}

pub async fn open(
    config: &Config,
    clock: SharedClock,
    policy: InitPolicy,
) -> anyhow::Result<Opened> {
    ensure_data_dir(&config.data_dir, policy != InitPolicy::Never)?;
    let source = config.master_key_source();
    let key_exists = source.path().exists();
    if key_exists && policy == InitPolicy::Require {
        bail!(
            "Hafen is already initialised: the master key {} exists. The admin token was shown once at initialisation; \
             create another with `hafen token create --role admin`.",
            source.path().display()
        );
    }

    let database = config.database()?;
    let store = Store::open(
        &database,
        config.store_options(),
        std::sync::Arc::new(crate::audit::ChainAppends),
    )
    .with_context(|| format!("cannot open the database {}", database.redacted()))?;
    let has_data = has_tokens(&store).await?;

    let (identity, fresh) = match (&source, key_exists) {
        (_, true) => (MasterKey::load_identity_file(source.path())?, false),
        (MasterKeySource::File(path), false) if has_data => bail!(
            "the database {} holds data but the master key {} is missing: restore the key from your backup \
             (without it, or a recovery key, the data cannot be read)",
            database.redacted(),
            path.display()
        ),
        (MasterKeySource::File(path), false) if policy != InitPolicy::Never => {
            (MasterKey::generate_identity_file(path)?, true)
        }
        (MasterKeySource::File(path), false) | (MasterKeySource::Credential(path), false) => bail!(
            "no master key at {}: run `hafen init` first (or set master_key_file)",
            path.display()
        ),
    };
    let master = MasterKey::new(identity, &config.recovery_recipients()?)
        .with_previous(previous_master_keys(config)?);
    let keys = Arc::new(KeyRing::new(master, config.key_cache_size));
    let outbound = config.outbound()?;
    let infra = Infra::new(store, keys, clock, outbound.clone());
    let settings = Settings {
        token_policy: config.token_policy(),
        letter_wording: match &config.templates_dir {
            Some(dir) => crate::requests::wording::LetterWording::load(dir)
                .context("the letter wording in templates_dir cannot be used")?,
            None => Default::default(),
        },
        posture: config.posture(database.is_sqlite())?,
        max_media_bytes: config.max_media_bytes,
        platforms: PlatformClient::new(config.endpoints(), outbound),
        broadcast_rate: config.broadcast_rate_per_sec,
        retention: config.retention_settings(database.is_sqlite()),
        due_work_on_arrival: config.retry_interval_secs > 0,
    };
    let hafen = Hafen::new(infra, settings);

    let admin_token = if fresh {
        let created = hafen
            .accounts
            .create_token(&Actor::Cli, None, Role::Admin)
            .await
            .context("cannot create the first admin token")?;
        tracing::info!(token_id = %created.id, "initialised: master key created, first admin token issued");
        Some(created.token)
    } else {
        None
    };
    Ok(Opened { hafen, admin_token })
}

/// Creates the data directory with mode 0700, or checks that an existing one is private.
pub fn ensure_data_dir(dir: &Path, create: bool) -> anyhow::Result<()> {
    if !dir.exists() {
        if !create {
            bail!(
                "the data directory {} does not exist: run `hafen init`",
                dir.display()
            );
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the data directory {} has mode {mode:04o}: group or others can access it. Run `chmod 700 {}`.",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

async fn has_tokens(store: &Store) -> anyhow::Result<bool> {
    let count: i64 = store
        .read(|conn| Ok(api_tokens::table.count().get_result(conn)?))
        .await?;
    Ok(count > 0)
}

/// The master keys being rotated out.
pub fn previous_master_keys(config: &Config) -> anyhow::Result<Vec<age::x25519::Identity>> {
    config
        .previous_master_key_files
        .iter()
        .map(|p| {
            MasterKey::load_identity_file(p)
                .with_context(|| format!("previous_master_key_files: {}", p.display()))
        })
        .collect()
}

/// The master key as configured (with recovery recipients and previous keys), for commands
/// that work on the keystore without starting the server.
pub fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    let path = match config.master_key_source() {
        MasterKeySource::File(p) | MasterKeySource::Credential(p) => p,
    };
    let identity = MasterKey::load_identity_file(&path)
        .with_context(|| format!("cannot load the master key {}", path.display()))?;
    Ok(MasterKey::new(identity, &config.recovery_recipients()?)
        .with_previous(previous_master_keys(config)?))
}

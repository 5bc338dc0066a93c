//! Online backup and restore. A backup is a directory with three files:
//!
//! - the data: a consistent copy of the database (SQLite `VACUUM INTO`; PostgreSQL `pg_dump`
//!   from an exported snapshot) *without* the keystore tables;
//! - `keystore.age`: the keystore (`contact_keys`, `period_keys`) from the same snapshot,
//!   age-encrypted to the recovery recipients (or, without any, to the master key);
//! - `manifest.json`: what was backed up, when, from which schema, with SHA-256 of each file.
//!
//! Data and keystore are apart on purpose: data backups may be kept for months while keystore
//! copies are kept briefly, so that retention's crypto-shredding (destroyed period keys) and
//! erasure (destroyed contact keys) also reach old data backups (docs/operations.md).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, MasterKeySource};
use crate::crypto::MasterKey;
use crate::store::schema::{backups, contact_keys, period_keys};
use crate::store::{DatabaseUrl, DbConn};

pub const MANIFEST: &str = "manifest.json";
pub const KEYSTORE: &str = "keystore.age";
const SQLITE_DATA: &str = "hafen-data.db";
const POSTGRES_DATA: &str = "hafen-data.pgdump";

#[derive(Debug, Clone, Serialize, Deserialize, Queryable, Insertable)]
#[diesel(table_name = contact_keys)]
struct ContactKey {
    #[diesel(serialize_as = crate::store::id::BoundId)]
    contact_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    tenant_id: String,
    #[serde(with = "b64")]
    wrapped_key: Vec<u8>,
    created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Queryable, Insertable)]
#[diesel(table_name = period_keys)]
struct PeriodKey {
    id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    tenant_id: String,
    scope: String,
    period: String,
    #[serde(with = "b64_opt")]
    wrapped_key: Option<Vec<u8>>,
    created_at: i64,
    destroyed_at: Option<i64>,
}

mod b64 {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&B64.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| B64.decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Keystore {
    contact_keys: Vec<ContactKey>,
    period_keys: Vec<PeriodKey>,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub hafen_version: String,
    pub created_at: DateTime<Utc>,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// The newest migration the data has.
    pub schema_version: String,
    pub data_file: String,
    pub data_sha256: String,
    pub keystore_file: String,
    pub keystore_sha256: String,
    /// Recipients the keystore is encrypted to (age public keys).
    pub keystore_recipients: Vec<String>,
    pub contact_keys: usize,
    pub period_keys: usize,
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// The age recipients the keystore is encrypted to: the recovery recipients, or the master key.
fn keystore_recipients(config: &Config) -> anyhow::Result<Vec<age::x25519::Recipient>> {
    let recovery = config.recovery_recipients()?;
    if !recovery.is_empty() {
        return Ok(recovery);
    }
    let path = match config.master_key_source() {
        MasterKeySource::File(p) | MasterKeySource::Credential(p) => p,
    };
    Ok(vec![MasterKey::load_identity_file(&path)?.to_public()])
}

fn schema_version(conn: &mut DbConn) -> anyhow::Result<String> {
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> Text,
        }
    }
    let v: Option<String> = __diesel_schema_migrations::table
        .select(diesel::dsl::max(__diesel_schema_migrations::version))
        .first(conn)?;
    Ok(v.unwrap_or_default())
}

fn read_keystore(conn: &mut DbConn) -> anyhow::Result<Keystore> {
    Ok(Keystore {
        contact_keys: contact_keys::table
            .order(contact_keys::contact_id)
            .select((
                contact_keys::contact_id,
                contact_keys::tenant_id,
                contact_keys::wrapped_key,
                contact_keys::created_at,
            ))
            .load(conn)?,
        period_keys: period_keys::table
            .order(period_keys::id)
            .select((
                period_keys::id,
                period_keys::tenant_id,
                period_keys::scope,
                period_keys::period,
                period_keys::wrapped_key,
                period_keys::created_at,
                period_keys::destroyed_at,
            ))
            .load(conn)?,
    })
}

fn encrypt(recipients: &[age::x25519::Recipient], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let e = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| anyhow::anyhow!("keystore encryption: {e}"))?;
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out)?;
    w.write_all(plain)?;
    w.finish()?;
    Ok(out)
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Makes a backup of the configured database into `out` (created; must not exist yet).
/// `progress` hears of each step.
pub fn backup(
    config: &Config,
    out: &Path,
    now: DateTime<Utc>,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Manifest> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: back up into a new directory",
            out.display()
        );
    }
    private_dir(out)?;
    let url = config.database()?;
    let recipients = keystore_recipients(config)?;
    let mut conn = url
        .connect(config.sqlite_synchronous)
        .with_context(|| format!("cannot open {}", url.redacted()))?;
    let (data_file, keystore, schema) = match &url {
        DatabaseUrl::Sqlite(_) => {
            progress("copying the database (VACUUM INTO)");
            let partial = out.join(format!("{SQLITE_DATA}.partial"));
            let partial_s = partial
                .to_str()
                .context("the backup path is not valid UTF-8")?;
            conn.batch_execute(&format!("VACUUM INTO {}", sql_quote(partial_s)))?;
            drop(conn);
            let mut copy = DatabaseUrl::sqlite(&partial).connect(config.sqlite_synchronous)?;
            progress("separating the keystore");
            let keystore = read_keystore(&mut copy)?;
            let schema = schema_version(&mut copy)?;
            copy.batch_execute(
                "DELETE FROM contact_keys; DELETE FROM period_keys; PRAGMA journal_mode = DELETE; VACUUM;",
            )?;
            drop(copy);
            let data = out.join(SQLITE_DATA);
            std::fs::rename(&partial, &data)?;
            (data, keystore, schema)
        }
        DatabaseUrl::Postgres(pg) => {
            progress("taking a snapshot");
            conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            #[derive(QueryableByName)]
            struct Snap {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
            }
            let snap: Snap =
                diesel::sql_query("SELECT pg_export_snapshot() AS id").get_result(&mut conn)?;
            let keystore = read_keystore(&mut conn)?;
            let schema = schema_version(&mut conn)?;
            progress("dumping the database (pg_dump)");
            let data = out.join(POSTGRES_DATA);
            let status = std::process::Command::new("pg_dump")
                .arg("--format=custom")
                .arg(format!("--snapshot={}", snap.id))
                .arg("--exclude-table-data=contact_keys")
                .arg("--exclude-table-data=period_keys")
                .arg("--no-owner")
                .arg("--file")
                .arg(&data)
                .args(pg_connection(pg.expose())?)
                .envs(pg_password(pg.expose()))
                .status()
                .context("cannot run pg_dump (install postgresql-client)")?;
            conn.batch_execute("COMMIT")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o600))?;
            }
            (data, keystore, schema)
        }
    };
    progress("encrypting the keystore");
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&keystore)?);
    let sealed = encrypt(&recipients, &plain)?;
    let keystore_path = out.join(KEYSTORE);
    write_private(&keystore_path, &sealed)?;
    progress("writing the manifest");
    let manifest = Manifest {
        format: "hafen-backup-v1".into(),
        hafen_version: env!("CARGO_PKG_VERSION").into(),
        created_at: now,
        backend: if matches!(url, DatabaseUrl::Sqlite(_)) {
            "sqlite".into()
        } else {
            "postgresql".into()
        },
        schema_version: schema,
        data_file: file_name(&data_file),
        data_sha256: sha256_file(&data_file)?,
        keystore_file: KEYSTORE.into(),
        keystore_sha256: sha256_file(&keystore_path)?,
        keystore_recipients: recipients.iter().map(|r| r.to_string()).collect(),
        contact_keys: keystore.contact_keys.len(),
        period_keys: keystore.period_keys.len(),
    };
    write_private(&out.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?)?;
    if let Ok(d) = std::fs::File::open(out) {
        d.sync_all().ok();
    }
    record(config, &manifest, out, now)?;
    Ok(manifest)
}

/// `--dbname=<url without password>`: command lines are visible to every user of the host, so
/// the password goes through the environment ([`pg_password`]).
fn pg_connection(url: &str) -> anyhow::Result<[String; 1]> {
    let mut parsed = url::Url::parse(url).context("the database URL is not a URL")?;
    let _ = parsed.set_password(None);
    Ok([format!("--dbname={parsed}")])
}

fn pg_password(url: &str) -> Option<(&'static str, String)> {
    let parsed = url::Url::parse(url).ok()?;
    let password = parsed.password()?;
    let decoded = percent_decode(password);
    Some(("PGPASSWORD", decoded))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Notes the backup in the database (for `/metrics` and the TOM annex).
fn record(config: &Config, m: &Manifest, out: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = config.database()?.connect(config.sqlite_synchronous)?;
    diesel::insert_into(backups::table)
        .values((
            backups::id.eq(uuid::Uuid::now_v7().hyphenated().to_string()),
            backups::finished_at.eq(crate::clock::to_micros(now)),
            backups::location.eq(out.to_string_lossy().into_owned()),
            backups::data_sha256.eq(&m.data_sha256),
            backups::keystore_sha256.eq(&m.keystore_sha256),
        ))
        .execute(&mut conn)?;
    Ok(())
}

/// Reads and checks a backup's manifest and files.
pub fn verify(dir: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(dir.join(MANIFEST))
        .with_context(|| format!("{} has no {MANIFEST}: not a Hafen backup", dir.display()))?;
    let m: Manifest = serde_json::from_slice(&text).context("the manifest is not valid")?;
    if m.format != "hafen-backup-v1" {
        bail!("unknown backup format {}", m.format);
    }
    for (file, sha) in [
        (&m.data_file, &m.data_sha256),
        (&m.keystore_file, &m.keystore_sha256),
    ] {
        if file.contains('/') || file.contains("..") {
            bail!("the manifest names a file outside the backup: {file}");
        }
        let actual = sha256_file(&dir.join(file))?;
        if &actual != sha {
            bail!("{file} does not match its checksum: the backup is damaged or was changed");
        }
    }
    Ok(m)
}

/// Restores the backup in `from` into the configured database, which must be empty.
/// `identity`: an age identity file for the keystore (default: the master key).
pub fn restore(
    config: &Config,
    from: &Path,
    identity: Option<&Path>,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Manifest> {
    progress("checking the backup");
    let m = verify(from)?;
    let identity_path: PathBuf = match identity {
        Some(p) => p.to_path_buf(),
        None => match config.master_key_source() {
            MasterKeySource::File(p) | MasterKeySource::Credential(p) => p,
        },
    };
    let id = MasterKey::load_identity_file(&identity_path)
        .with_context(|| format!("cannot load the identity {}", identity_path.display()))?;
    progress("decrypting the keystore");
    let sealed = std::fs::read(from.join(&m.keystore_file))?;
    let decryptor =
        age::Decryptor::new(&sealed[..]).context("the keystore is not age-encrypted")?;
    let mut plain = zeroize::Zeroizing::new(Vec::new());
    decryptor
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .context(
            "this identity cannot open the keystore (use the recovery key it was encrypted to)",
        )?
        .read_to_end(&mut plain)?;
    let keystore: Keystore = serde_json::from_slice(&plain).context("the keystore is damaged")?;
    let url = config.database()?;
    match (&url, m.backend.as_str()) {
        (DatabaseUrl::Sqlite(path), "sqlite") => {
            if path.exists() {
                bail!(
                    "{} exists: restore into an empty data dir (move the current database away first)",
                    path.display()
                );
            }
            progress("copying the data");
            let bytes = std::fs::read(from.join(&m.data_file))?;
            write_private(path, &bytes)?;
        }
        (DatabaseUrl::Postgres(pg), "postgresql") => {
            let mut conn = url.connect(config.sqlite_synchronous)?;
            if schema_version(&mut conn).is_ok() {
                bail!("the target database already holds a Hafen schema: restore into an empty database");
            }
            drop(conn);
            progress("restoring the data (pg_restore)");
            let status = std::process::Command::new("pg_restore")
                .arg("--no-owner")
                .arg("--exit-on-error")
                .args(pg_connection(pg.expose())?)
                .envs(pg_password(pg.expose()))
                .arg(from.join(&m.data_file))
                .status()
                .context("cannot run pg_restore (install postgresql-client)")?;
            if !status.success() {
                bail!("pg_restore failed ({status})");
            }
        }
        (_, other) => {
            bail!("this backup is of a {other} database; the configuration points at another kind")
        }
    }
    progress("restoring the keystore and migrating");
    let mut conn = url.connect(config.sqlite_synchronous)?;
    crate::store::run_migrations(&mut conn)?;
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        for key in &keystore.contact_keys {
            diesel::insert_into(contact_keys::table)
                .values(key.clone())
                .execute(conn)?;
        }
        for key in &keystore.period_keys {
            diesel::insert_into(period_keys::table)
                .values(key.clone())
                .execute(conn)?;
        }
        Ok(())
    })?;
    let restored: i64 = contact_keys::table.count().get_result(&mut conn)?;
    if restored as usize != m.contact_keys {
        bail!(
            "restored {restored} contact keys, the manifest says {}",
            m.contact_keys
        );
    }
    Ok(m)
}

/// Keeps the newest `keep` backup directories under `root` (named by their time), removes the
/// rest; returns how many went.
pub fn prune(root: &Path, keep: usize) -> anyhow::Result<usize> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST).exists())
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for d in &dirs[..excess] {
        std::fs::remove_dir_all(d).with_context(|| format!("cannot remove {}", d.display()))?;
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_generations() {
        let root = tempfile::tempdir().unwrap();
        for name in [
            "20261101T000000Z",
            "20261102T000000Z",
            "20261103T000000Z",
            "stray",
        ] {
            let d = root.path().join(name);
            std::fs::create_dir(&d).unwrap();
            if name != "stray" {
                std::fs::write(d.join(MANIFEST), b"{}").unwrap();
            }
        }
        assert_eq!(prune(root.path(), 2).unwrap(), 1);
        assert!(!root.path().join("20261101T000000Z").exists());
        assert!(root.path().join("20261103T000000Z").exists());
        assert!(
            root.path().join("stray").exists(),
            "only backups are removed"
        );
    }

    #[test]
    fn the_postgres_password_stays_off_the_command_line() {
        let url = "postgres://hafen:s%40cret+x@db.intern:5432/hafen";
        let args = pg_connection(url).unwrap();
        assert!(!args[0].contains("cret"), "{}", args[0]);
        assert!(
            args[0].contains("hafen@db.intern:5432/hafen"),
            "{}",
            args[0]
        );
        assert_eq!(
            pg_password(url),
            Some(("PGPASSWORD", "s@cret+x".to_string()))
        );
        assert_eq!(pg_password("postgres://postgres@127.0.0.1/x"), None);
    }

    #[test]
    fn sql_strings_are_quoted() {
        assert_eq!(sql_quote("/tmp/o'brien"), "'/tmp/o''brien'");
    }
}

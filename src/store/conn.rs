//! One connection type over both backends, chosen by the database URL's scheme.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::StoreError;
use crate::sensitive::Sensitive;

/// A connection to either backend. Queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// How durable SQLite commits are. `Full` survives power loss; `Normal` only a process crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// A validated database URL. The PostgreSQL form may carry a password, so it is kept
/// [`Sensitive`]; only [`DatabaseUrl::redacted`] is ever shown.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Sensitive<String>),
}

impl DatabaseUrl {
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `postgres://…` or
    /// `postgresql://…`. Anything else is refused: a typo must never silently create an
    /// empty database somewhere.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
                return Err(StoreError::Config(
                    "a sqlite:// URL needs a file path, e.g. sqlite:///var/lib/hafen/hafen.db"
                        .into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(Sensitive::new(url.to_string())));
        }
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("(none)");
        Err(StoreError::Config(format!(
            "unsupported database URL scheme '{scheme}': use sqlite:///path/to/hafen.db or postgres://user@host/db"
        )))
    }

    pub fn sqlite(path: &Path) -> Self {
        Self::Sqlite(path.to_path_buf())
    }

    /// The URL without credentials, for logs and `doctor`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let url = url.expose();
                match (url.split_once("://"), url.rfind('@')) {
                    (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
                    _ => url.clone(),
                }
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// Opens one connection, reporting the backend's real error.
    pub fn connect(&self, sync: SqliteSync) -> Result<DbConn, StoreError> {
        match self {
            Self::Sqlite(path) => {
                create_private_file(path)?;
                let path_str = path.to_str().ok_or_else(|| {
                    StoreError::Config(format!("database path {} is not UTF-8", path.display()))
                })?;
                let mut conn = SqliteConnection::establish(path_str)
                    .map_err(|e| StoreError::Connect(format!("{}: {e}", self.redacted())))?;
                configure_sqlite(&mut conn, sync)?;
                Ok(DbConn::Sqlite(conn))
            }
            Self::Postgres(url) => PgConnection::establish(url.expose())
                .map(DbConn::Postgres)
                .map_err(|e| StoreError::Connect(format!("{}: {e}", self.redacted()))),
        }
    }
}

/// WAL for concurrent readers, a busy timeout instead of instant "database is locked",
/// the configured durability, and enforced foreign keys.
fn configure_sqlite(conn: &mut SqliteConnection, sync: SqliteSync) -> Result<(), StoreError> {
    let sync = match sync {
        SqliteSync::Full => "FULL",
        SqliteSync::Normal => "NORMAL",
    };
    // auto_vacuum only takes effect before the first table exists (a new database): it lets
    // retention give freed pages back with incremental_vacuum while the server runs.
    // secure_delete overwrites deleted content, so deleted ciphertext does not linger in
    // free pages.
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 10000; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA secure_delete = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
    ))?;
    Ok(())
}

/// SQLite creates missing files with the process umask; create the database file ourselves
/// with 0600 so it never exists readable by others, even briefly. (-wal and -shm inherit it.)
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(StoreError::Config(format!(
                "the directory {} for the SQLite database does not exist",
                parent.display()
            )));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// r2d2 manager that builds the right variant itself (diesel's derived `establish` tries each
/// backend in turn and hides the real error).
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    sync: SqliteSync,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        self.url.connect(self.sync)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        conn.batch_execute("SELECT 1").map_err(StoreError::from)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = diesel::r2d2::PooledConnection<Manager>;

pub fn build_pool(url: &DatabaseUrl, sync: SqliteSync, size: u32) -> Result<DbPool, StoreError> {
    Pool::builder()
        .max_size(size.max(1))
        .connection_timeout(Duration::from_secs(10))
        .test_on_check_out(false)
        .build(Manager {
            url: url.clone(),
            sync,
        })
        .map_err(|e| StoreError::Connect(format!("{}: {e}", url.redacted())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_decides_backend_and_unknown_is_refused() {
        assert!(
            matches!(DatabaseUrl::parse("sqlite:///tmp/x.db"), Ok(DatabaseUrl::Sqlite(p)) if p == Path::new("/tmp/x.db"))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:pw@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        let err = DatabaseUrl::parse("mysql://h/db").unwrap_err().to_string();
        assert!(
            err.contains("unsupported database URL scheme 'mysql'"),
            "{err}"
        );
        assert!(DatabaseUrl::parse("hafen.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn redacted_hides_password() {
        let url = DatabaseUrl::parse("postgres://hafen:s3cret@db.local:5432/hafen").unwrap();
        assert_eq!(url.redacted(), "postgres://***@db.local:5432/hafen");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}

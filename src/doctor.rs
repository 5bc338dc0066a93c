//! `hafen doctor`: checks an install the way an admin would before calling for help — the
//! configuration, the master key's file, the data directory (private, on local storage, with
//! room to grow), the database and its migrations, the TLS certificate and the clock — and
//! prints one line per check. Any failure makes the exit code non-zero.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{Config, MasterKeySource};
use crate::store::{self, DbConn};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        };
        write!(f, "{tag}  {:<14} {}", self.name, self.detail)
    }
}

fn check(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        name,
        outcome,
        detail: detail.into(),
    }
}

/// Free space below which the data directory fails (writes would start failing soon).
const MIN_FREE_BYTES: u64 = 1 << 30;
/// Certificates expiring sooner than this warn.
const CERT_WARN_DAYS: i64 = 30;

/// Runs every check against `config` at `now`.
pub fn run(config: &Config, now: DateTime<Utc>) -> Vec<Check> {
    let mut checks = vec![check(
        "config",
        Outcome::Pass,
        "the configuration loads and every value is valid",
    )];
    checks.push(master_key(config));
    checks.push(data_dir(&config.data_dir));
    checks.push(local_storage(&config.data_dir));
    checks.push(free_space(&config.data_dir));
    let (db, clock) = database(config, now);
    checks.push(db);
    checks.extend(tls(config, now));
    checks.push(clock);
    checks
}

fn master_key(config: &Config) -> Check {
    let (path, how) = match config.master_key_source() {
        MasterKeySource::File(p) => (p, "file"),
        MasterKeySource::Credential(p) => (p, "systemd credential"),
    };
    if !path.exists() {
        return check(
            "master key",
            Outcome::Fail,
            format!(
                "{} ({how}) does not exist: run `hafen init` or restore it from the backup",
                path.display()
            ),
        );
    }
    match crate::crypto::master::check_private_file(&path)
        .and_then(|()| crate::crypto::MasterKey::load_identity_file(&path).map(|_| ()))
    {
        Ok(()) => check(
            "master key",
            Outcome::Pass,
            format!("{} ({how}) is private and readable", path.display()),
        ),
        Err(e) => check("master key", Outcome::Fail, e.to_string()),
    }
}

fn data_dir(dir: &Path) -> Check {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(dir) {
        Err(e) => check("data dir", Outcome::Fail, format!("{}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => check(
            "data dir",
            Outcome::Fail,
            format!("{} is not a directory", dir.display()),
        ),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => check(
            "data dir",
            Outcome::Fail,
            format!(
                "{} has mode {:04o}: run `chmod 700 {}`",
                dir.display(),
                m.permissions().mode() & 0o777,
                dir.display()
            ),
        ),
        Ok(_) => check(
            "data dir",
            Outcome::Pass,
            format!("{} exists, mode 0700", dir.display()),
        ),
    }
}

/// File systems that are not local disks: a database on them risks corruption (SQLite's
/// locking) and puts the data somewhere else than the install claims.
const REMOTE_FS: [&str; 9] = [
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "fuse.sshfs",
    "glusterfs",
    "ceph",
    "9p",
];

/// The file system type of the mount that holds `path` (longest mount point prefix).
pub fn fs_type(path: &Path, mountinfo: &str) -> Option<String> {
    let path = path.to_string_lossy();
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options ... - fstype source superoptions
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let inside = path == *mount
            || *mount == "/"
            || path.starts_with(&format!("{}/", mount.trim_end_matches('/')));
        if inside && best.as_ref().is_none_or(|(len, _)| mount.len() > *len) {
            best = Some((mount.len(), fstype.to_string()));
        }
    }
    best.map(|(_, t)| t)
}

fn local_storage(dir: &Path) -> Check {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return check("storage", Outcome::Warn, "cannot read /proc/self/mountinfo");
    };
    match fs_type(&dir, &info) {
        Some(t) if REMOTE_FS.contains(&t.as_str()) => check(
            "storage",
            Outcome::Fail,
            format!("the data dir is on a network file system ({t}): keep it on a local disk"),
        ),
        Some(t) => check("storage", Outcome::Pass, format!("local file system ({t})")),
        None => check("storage", Outcome::Warn, "cannot tell the file system"),
    }
}

fn free_space(dir: &Path) -> Check {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            let gib = free as f64 / (1u64 << 30) as f64;
            if free < MIN_FREE_BYTES {
                check(
                    "disk space",
                    Outcome::Fail,
                    format!("only {gib:.2} GiB free on the data dir's file system"),
                )
            } else {
                check("disk space", Outcome::Pass, format!("{gib:.1} GiB free"))
            }
        }
        Err(e) => check("disk space", Outcome::Warn, format!("cannot tell: {e}")),
    }
}

fn database(config: &Config, now: DateTime<Utc>) -> (Check, Check) {
    let url = match config.database() {
        Ok(u) => u,
        Err(e) => {
            return (
                check("database", Outcome::Fail, e.to_string()),
                clock_check(now, None),
            )
        }
    };
    let mut conn = match url.connect(config.sqlite_synchronous) {
        Ok(c) => c,
        Err(e) => {
            return (
                check(
                    "database",
                    Outcome::Fail,
                    format!("{} is unreachable: {e}", url.redacted()),
                ),
                clock_check(now, None),
            )
        }
    };
    let newest = newest_audit_time(&mut conn);
    let db = match store::schema_state(&mut conn) {
        Ok(state) if state.is_current() => check(
            "database",
            Outcome::Pass,
            format!("{} reachable, migrations current", url.redacted()),
        ),
        Ok(state) if state.newer > 0 => check(
            "database",
            Outcome::Fail,
            format!(
                "a newer Hafen migrated the database ({} migrations this binary does not know): \
                 upgrade this installation",
                state.newer
            ),
        ),
        Ok(state) => check(
            "database",
            Outcome::Fail,
            format!("{} migrations pending: run `hafen migrate`", state.pending),
        ),
        Err(e) => check(
            "database",
            Outcome::Fail,
            format!("cannot read the schema: {e}"),
        ),
    };
    (db, clock_check(now, newest))
}

fn newest_audit_time(conn: &mut DbConn) -> Option<DateTime<Utc>> {
    use crate::store::schema::audit_log;
    use diesel::prelude::*;
    audit_log::table
        .select(diesel::dsl::max(audit_log::at))
        .first::<Option<i64>>(conn)
        .ok()
        .flatten()
        .map(crate::clock::from_micros)
}

/// The clock must not be behind what is already stored (deadlines and retention would go
/// wrong) nor before this release was made.
pub fn clock_check(now: DateTime<Utc>, newest_stored: Option<DateTime<Utc>>) -> Check {
    let floor: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap_or(now);
    if now < floor {
        return check(
            "clock",
            Outcome::Fail,
            format!("the system time {now} is before this release: set the clock (NTP)"),
        );
    }
    match newest_stored {
        Some(t) if t > now + chrono::Duration::minutes(5) => check(
            "clock",
            Outcome::Fail,
            format!("the newest audit entry ({t}) is later than the system time ({now}): the clock went back"),
        ),
        _ => check(
            "clock",
            Outcome::Pass,
            now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
    }
}

fn tls(config: &Config, now: DateTime<Utc>) -> Vec<Check> {
    let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) else {
        let on_loopback = config.listen.starts_with("127.") || config.listen.starts_with("[::1]");
        return vec![check(
            "tls",
            if on_loopback {
                Outcome::Pass
            } else {
                Outcome::Warn
            },
            if on_loopback {
                "no TLS: listening on loopback only (put a TLS proxy in front for remote clients)"
                    .to_string()
            } else {
                format!(
                    "no TLS on {}: set tls_cert_file and tls_key_file",
                    config.listen
                )
            },
        )];
    };
    if let Err(e) = crate::http::tls::server_config(cert, key).map(|_| ()) {
        return vec![check("tls", Outcome::Fail, format!("{e:#}"))];
    }
    vec![certificate_expiry(cert, now)]
}

fn certificate_expiry(cert: &Path, now: DateTime<Utc>) -> Check {
    let pem = match std::fs::read(cert) {
        Ok(p) => p,
        Err(e) => return check("tls", Outcome::Fail, format!("{}: {e}", cert.display())),
    };
    let Some(Ok(der)) = rustls_pemfile::certs(&mut &pem[..]).next() else {
        return check("tls", Outcome::Fail, "no certificate in the file");
    };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return check("tls", Outcome::Fail, "the certificate cannot be parsed");
    };
    let not_after = parsed.validity().not_after.timestamp();
    let not_before = parsed.validity().not_before.timestamp();
    let days = (not_after - now.timestamp()) / 86_400;
    if now.timestamp() < not_before {
        check("tls", Outcome::Fail, "the certificate is not valid yet")
    } else if days < 0 {
        check("tls", Outcome::Fail, "the certificate has expired")
    } else if days < CERT_WARN_DAYS {
        check(
            "tls",
            Outcome::Warn,
            format!(
                "the certificate expires in {days} days: renew it, then `systemctl reload hafen`"
            ),
        )
    } else {
        check(
            "tls",
            Outcome::Pass,
            format!("certificate valid for {days} more days"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_mount_decides_the_file_system() {
        let info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    40 22 0:50 / /var/lib/hafen rw - nfs4 srv:/export rw\n\
                    41 22 0:51 / /var/lib/hafen2 rw - xfs /dev/sdb rw\n";
        assert_eq!(
            fs_type(Path::new("/var/lib/hafen"), info).as_deref(),
            Some("nfs4")
        );
        assert_eq!(
            fs_type(Path::new("/var/lib/hafen/db"), info).as_deref(),
            Some("nfs4")
        );
        assert_eq!(
            fs_type(Path::new("/var/lib/hafen2"), info).as_deref(),
            Some("xfs")
        );
        assert_eq!(fs_type(Path::new("/srv"), info).as_deref(), Some("ext4"));
    }

    #[test]
    fn a_clock_behind_the_stored_data_fails() {
        let now: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        assert_eq!(clock_check(now, None).outcome, Outcome::Pass);
        let later = now + chrono::Duration::hours(1);
        assert_eq!(clock_check(now, Some(later)).outcome, Outcome::Fail);
        let old: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(clock_check(old, None).outcome, Outcome::Fail);
    }
}

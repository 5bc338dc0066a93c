//! The audit log: append-only and hash-chained.
//!
//! Each entry stores the hash of the previous one and its own hash over its fields and that
//! previous hash. Changing, removing or reordering any entry breaks the chain at that point,
//! which [`verify`] reports. Entries name actors, actions and object ids, never content.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::clock::to_micros;
use crate::store::schema::audit_log;
use crate::store::{backend, DbConn, StoreError};
use crate::tenants::TenantId;

/// One thing worth recording.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub tenant: Option<TenantId>,
    pub actor: Actor,
    pub action: &'static str,
    pub object_type: Option<&'static str>,
    pub object_id: Option<String>,
    /// Counts and flags only: never names, numbers or bodies.
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(actor: &Actor, action: &'static str) -> Self {
        Self {
            tenant: None,
            actor: actor.clone(),
            action,
            object_type: None,
            object_id: None,
            detail: None,
        }
    }

    pub fn tenant(mut self, tenant: &TenantId) -> Self {
        self.tenant = Some(tenant.clone());
        self
    }

    pub fn object(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.object_type = Some(kind);
        self.object_id = Some(id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub tenant_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditRow {
    /// The hash over every field but `hash`, each length-prefixed so fields cannot run together.
    fn compute_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"hafen-audit-v1");
        h.update(self.seq.to_be_bytes());
        h.update(self.at.to_be_bytes());
        for field in [
            self.tenant_id.as_deref(),
            Some(self.actor.as_str()),
            Some(self.action.as_str()),
            self.object_type.as_deref(),
            self.object_id.as_deref(),
            self.detail.as_deref(),
        ] {
            match field {
                None => h.update([0u8]),
                Some(s) => {
                    h.update([1u8]);
                    h.update((s.len() as u64).to_be_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
        h.update(&self.prev_hash);
        h.finalize().to_vec()
    }
}

/// Appends `event` at the end of the chain; call inside the write transaction of the change
/// it records, so the change and its record commit together.
pub fn append(conn: &mut DbConn, at: DateTime<Utc>, event: AuditEvent) -> Result<i64, StoreError> {
    backend::lock_audit_chain(conn)?;
    let last: Option<(i64, Vec<u8>)> = audit_log::table
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first(conn)
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_vec()),
    };
    let mut row = AuditRow {
        seq,
        at: to_micros(at),
        tenant_id: event.tenant.map(|t| t.as_str().to_string()),
        actor: event.actor.audit_label(),
        action: event.action.to_string(),
        object_type: event.object_type.map(str::to_string),
        object_id: event.object_id,
        detail: event.detail,
        prev_hash,
        hash: Vec::new(),
    };
    row.hash = row.compute_hash();
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    Ok(seq)
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries checked before the first break (all of them when intact).
    pub verified: u64,
    pub broken: Option<ChainBreak>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for ChainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.broken {
            None => write!(f, "chain intact: {} entries verified", self.verified),
            Some(b) => write!(
                f,
                "chain BROKEN at entry {}: {} ({} entries before it verified)",
                b.seq, b.reason, self.verified
            ),
        }
    }
}

/// An entry of a hash chain (the audit log, the consent ledger).
pub trait Chained {
    fn seq(&self) -> i64;
    fn prev_hash(&self) -> &[u8];
    fn hash(&self) -> &[u8];
    /// The hash the entry should carry, recomputed from its fields.
    fn recompute(&self) -> Vec<u8>;
    /// Whether retention redacted the entry's contents: its stored hash still links the chain,
    /// but can no longer be recomputed (the redaction itself is in the audit log).
    fn redacted(&self) -> bool {
        false
    }
}

/// The hash the first entry links to.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// Walks a chain in order, `page(from_seq)` giving the next entries from `from_seq` on, and
/// reports the first entry that is missing, re-linked or changed.
pub fn verify_chain<R: Chained>(
    mut page: impl FnMut(i64) -> Result<Vec<R>, StoreError>,
) -> Result<ChainReport, StoreError> {
    let mut expected = 1i64;
    let mut prev = GENESIS_HASH.to_vec();
    let mut verified = 0u64;
    loop {
        let rows = page(expected)?;
        if rows.is_empty() {
            return Ok(ChainReport {
                verified,
                broken: None,
            });
        }
        for row in rows {
            let reason = if row.seq() != expected {
                Some(format!(
                    "entry {expected} is missing (next entry is {})",
                    row.seq()
                ))
            } else if row.prev_hash() != prev.as_slice() {
                Some("its link to the previous entry does not match (an entry before it was removed, replaced or reordered)".to_string())
            } else if !row.redacted() && row.recompute() != row.hash() {
                Some("its contents were changed after it was written".to_string())
            } else {
                None
            };
            if let Some(reason) = reason {
                return Ok(ChainReport {
                    verified,
                    broken: Some(ChainBreak {
                        seq: expected.min(row.seq()),
                        reason,
                    }),
                });
            }
            prev = row.hash().to_vec();
            expected += 1;
            verified += 1;
        }
    }
}

/// Rows per page when walking a chain.
pub const CHAIN_PAGE: i64 = 1000;

impl Chained for AuditRow {
    fn seq(&self) -> i64 {
        self.seq
    }
    fn prev_hash(&self) -> &[u8] {
        &self.prev_hash
    }
    fn hash(&self) -> &[u8] {
        &self.hash
    }
    fn recompute(&self) -> Vec<u8> {
        self.compute_hash()
    }
}

/// Walks the whole audit chain in order and reports the first entry that does not fit.
pub fn verify(conn: &mut DbConn) -> Result<ChainReport, StoreError> {
    verify_chain(|from| {
        Ok(audit_log::table
            .filter(audit_log::seq.ge(from))
            .order(audit_log::seq.asc())
            .limit(CHAIN_PAGE)
            .select(AuditRow::as_select())
            .load(conn)?)
    })
}

/// The newest entries, newest first (for tests and the admin UI).
pub fn recent(
    conn: &mut DbConn,
    tenant: Option<&TenantId>,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut query = audit_log::table.into_boxed();
    if let Some(t) = tenant {
        query = query.filter(audit_log::tenant_id.eq(t.as_str().to_string()));
    }
    Ok(query
        .order(audit_log::seq.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

//! The consent ledger: append-only and hash-chained, like the audit log, so every consent can
//! be proven and every change to the proof is detectable. Each entry names the exact consent
//! text (id and SHA-256) and, sealed under the contact's key, the evidence (IP address, user
//! agent, page, keyword) of how it happened.

use crate::audit::{chain_hash, next_link, verify_chain, ChainReport, Chained, CHAIN_PAGE};
use crate::clock::to_micros;
use crate::store::id;
use crate::store::schema::consent_ledger;
use crate::store::{backend, DbConn, StoreError};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_ledger)]
pub struct LedgerRow {
    pub seq: i64,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub consent_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub contact_id: String,
    pub purpose_id: String,
    pub event: String,
    pub at: i64,
    pub source: String,
    pub text_id: String,
    pub text_hash: Vec<u8>,
    /// Stored as its 16 bytes (`store::id`) and read back as the canonical text the hash covers.
    #[diesel(serialize_as = crate::store::id::BoundOptionalId)]
    pub message_id: Option<String>,
    pub evidence_sealed: Option<Vec<u8>>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    /// Set when retention deleted the consent: the evidence is gone, the link stays.
    pub redacted_at: Option<i64>,
}

/// What one ledger entry records.
#[derive(Debug, Clone)]
pub struct LedgerEvent {
    pub tenant_id: String,
    pub consent_id: String,
    pub contact_id: String,
    pub purpose_id: String,
    pub event: &'static str,
    pub at: DateTime<Utc>,
    pub source: String,
    pub text_id: String,
    pub text_hash: Vec<u8>,
    pub message_id: Option<String>,
    pub evidence_sealed: Option<Vec<u8>>,
}

impl LedgerRow {
    pub fn compute_hash(&self) -> Vec<u8> {
        let optional = [
            self.message_id.as_deref().map(str::as_bytes),
            self.evidence_sealed.as_deref(),
        ];
        let fields = [
            self.tenant_id.as_bytes(),
            self.consent_id.as_bytes(),
            self.contact_id.as_bytes(),
            self.purpose_id.as_bytes(),
            self.event.as_bytes(),
            self.source.as_bytes(),
            self.text_id.as_bytes(),
            &self.text_hash,
        ]
        .into_iter()
        .map(Some)
        .chain(optional);
        chain_hash(
            b"hafen-consent-v1",
            (self.seq, self.at),
            fields,
            &self.prev_hash,
        )
    }
}

/// Appends inside the transaction of the state change it records.
pub fn append(conn: &mut DbConn, event: LedgerEvent) -> Result<i64, StoreError> {
    backend::lock_consent_ledger(conn)?;
    let last: Option<(i64, Vec<u8>)> = consent_ledger::table
        .order(consent_ledger::seq.desc())
        .select((consent_ledger::seq, consent_ledger::hash))
        .first(conn)
        .optional()?;
    let (seq, prev_hash) = next_link(last);
    let mut row = LedgerRow {
        seq,
        tenant_id: event.tenant_id,
        consent_id: event.consent_id,
        contact_id: event.contact_id,
        purpose_id: event.purpose_id,
        event: event.event.to_string(),
        at: to_micros(event.at),
        source: event.source,
        text_id: event.text_id,
        text_hash: event.text_hash,
        message_id: event.message_id,
        evidence_sealed: event.evidence_sealed,
        prev_hash,
        hash: Vec::new(),
        redacted_at: None,
    };
    row.hash = row.compute_hash();
    diesel::insert_into(consent_ledger::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(seq)
}

impl Chained for LedgerRow {
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
    fn redacted(&self) -> bool {
        self.redacted_at.is_some()
    }
}

/// Walks the whole ledger and reports the first entry that does not fit.
pub fn verify(conn: &mut DbConn) -> Result<ChainReport, StoreError> {
    verify_chain(|from| {
        Ok(consent_ledger::table
            .filter(consent_ledger::seq.ge(from))
            .order(consent_ledger::seq.asc())
            .limit(CHAIN_PAGE)
            .select(LedgerRow::as_select())
            .load(conn)?)
    })
}

/// The entries of one consent, in order.
pub fn history(conn: &mut DbConn, consent_id: &str) -> Result<Vec<LedgerRow>, StoreError> {
    Ok(consent_ledger::table
        .filter(consent_ledger::consent_id.eq(consent_id))
        .order(consent_ledger::seq.asc())
        .select(LedgerRow::as_select())
        .load(conn)?)
}

/// Erases the evidence of these consents: each ledger entry keeps its place and hash, so the
/// chain still verifies, but its sealed evidence goes; the consents themselves are deleted.
/// The one place consent evidence is deleted, for retention and erasure alike.
pub fn erase(
    conn: &mut DbConn,
    tenant: &str,
    consent_ids: &[String],
    at: i64,
) -> Result<(), StoreError> {
    use crate::store::schema::consents;
    diesel::update(
        consent_ledger::table
            .filter(consent_ledger::tenant_id.eq(id::bind(tenant)))
            .filter(consent_ledger::consent_id.eq_any(consent_ids))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .set((
        consent_ledger::evidence_sealed.eq(None::<Vec<u8>>),
        consent_ledger::redacted_at.eq(Some(at)),
    ))
    .execute(conn)?;
    diesel::delete(
        consents::table
            .filter(consents::id.eq_any(consent_ids))
            .filter(
                crate::store::backend::only_checked_id(consents::tenant_id).eq(id::bind(tenant)),
            )
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

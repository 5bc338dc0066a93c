//! Deletion certificates (Löschprotokolle): one per tenant and run, saying which rule versions
//! were applied, when, how many items of each category went, the hash of the list of
//! deleted ids, which keys were shredded and what failed. A certificate is written when the
//! run starts and moved forward with every batch (in the batch's own transaction), so even a
//! crashed run leaves a true account; when it ends it joins a hash chain like the audit log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::rules::Category;
use super::run::fold_ids;
use crate::audit::{verify_chain, ChainReport, Chained, CHAIN_PAGE, GENESIS_HASH};
use crate::clock::{from_micros, to_micros};
use crate::documents::{Block, Document};
use crate::store::id;
use crate::store::schema::retention_certificates;
use crate::store::{backend, DbConn, StoreError};

/// States of a certificate.
pub const RUNNING: &str = "running";
pub const COMPLETED: &str = "completed";
/// Finished, but some category failed; the errors say which.
pub const FAILED: &str = "failed";
/// The process stopped mid-run; counted up to the last committed batch.
pub const INTERRUPTED: &str = "interrupted";

/// A run's account for one tenant, as it is kept in memory while the run goes on.
#[derive(Debug, Clone)]
pub struct CertificateProgress {
    pub id: String,
    pub run_id: String,
    pub tenant_id: String,
    pub rule_versions: String,
    pub started_at: i64,
    pub counts: BTreeMap<String, u64>,
    pub ids_hash: Vec<u8>,
    /// The keys destroyed, named as the certificate records them (`contact:<id>`, `period:<id>`).
    pub keys_shredded: Vec<crate::crypto::keyring::KeyOwner>,
    pub errors: Vec<String>,
}

impl CertificateProgress {
    pub fn new(run_id: &str, tenant: &str, rule_versions: String, started: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            run_id: run_id.to_string(),
            tenant_id: tenant.to_string(),
            rule_versions,
            started_at: to_micros(started),
            counts: Category::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), 0))
                .collect(),
            ids_hash: GENESIS_HASH.to_vec(),
            keys_shredded: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn record(&mut self, category: Category, ids: &[String]) {
        *self.counts.entry(category.as_str().into()).or_default() += ids.len() as u64;
        self.ids_hash = fold_ids(&self.ids_hash, category, ids);
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = retention_certificates)]
pub struct CertificateRow {
    pub id: String,
    pub seq: Option<i64>,
    pub run_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub state: String,
    pub rule_versions: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub counts: String,
    pub ids_hash: Vec<u8>,
    pub keys_shredded: String,
    pub errors: String,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Option<Vec<u8>>,
}

impl CertificateRow {
    fn compute_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"hafen-retention-v1");
        h.update(self.seq.unwrap_or(0).to_be_bytes());
        h.update(self.started_at.to_be_bytes());
        h.update(self.finished_at.unwrap_or(0).to_be_bytes());
        for field in [
            self.id.as_bytes(),
            self.run_id.as_bytes(),
            self.tenant_id.as_bytes(),
            self.state.as_bytes(),
            self.rule_versions.as_bytes(),
            self.counts.as_bytes(),
            &self.ids_hash,
            self.keys_shredded.as_bytes(),
            self.errors.as_bytes(),
        ] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.update(self.prev_hash.as_deref().unwrap_or(&[]));
        h.finalize().to_vec()
    }
}

impl Chained for CertificateRow {
    fn seq(&self) -> i64 {
        self.seq.unwrap_or(0)
    }
    fn prev_hash(&self) -> &[u8] {
        self.prev_hash.as_deref().unwrap_or(&[])
    }
    fn hash(&self) -> &[u8] {
        self.hash.as_deref().unwrap_or(&[])
    }
    fn recompute(&self) -> Vec<u8> {
        self.compute_hash()
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes the certificate of a starting run.
pub fn start(conn: &mut DbConn, p: &CertificateProgress) -> Result<(), StoreError> {
    let row = CertificateRow {
        id: p.id.clone(),
        seq: None,
        run_id: p.run_id.clone(),
        tenant_id: p.tenant_id.clone(),
        state: RUNNING.into(),
        rule_versions: p.rule_versions.clone(),
        started_at: p.started_at,
        finished_at: None,
        counts: json(&p.counts),
        ids_hash: p.ids_hash.clone(),
        keys_shredded: json(&p.keys_shredded),
        errors: json(&p.errors),
        prev_hash: None,
        hash: None,
    };
    diesel::insert_into(retention_certificates::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Records a batch's progress (inside the batch's transaction).
pub fn save_progress(conn: &mut DbConn, p: &CertificateProgress) -> Result<(), StoreError> {
    diesel::update(retention_certificates::table.filter(retention_certificates::id.eq(&p.id)))
        .set((
            retention_certificates::counts.eq(json(&p.counts)),
            retention_certificates::ids_hash.eq(&p.ids_hash),
            retention_certificates::keys_shredded.eq(json(&p.keys_shredded)),
            retention_certificates::errors.eq(json(&p.errors)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Closes a certificate in `state` and links it into the chain.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    state: &str,
    at: DateTime<Utc>,
    progress: Option<&CertificateProgress>,
) -> Result<CertificateRow, StoreError> {
    if let Some(p) = progress {
        save_progress(conn, p)?;
    }
    backend::lock_certificates(conn)?;
    let last: Option<(Option<i64>, Option<Vec<u8>>)> = retention_certificates::table
        .filter(retention_certificates::seq.is_not_null())
        .order(retention_certificates::seq.desc())
        .select((retention_certificates::seq, retention_certificates::hash))
        .first(conn)
        .optional()?;
    let (seq, prev) = match last {
        Some((Some(seq), Some(hash))) => (seq + 1, hash),
        _ => (1, GENESIS_HASH.to_vec()),
    };
    let mut row: CertificateRow = retention_certificates::table
        .filter(retention_certificates::id.eq(id))
        .select(CertificateRow::as_select())
        .first(conn)?;
    row.seq = Some(seq);
    row.state = state.to_string();
    row.finished_at = Some(to_micros(at));
    row.prev_hash = Some(prev);
    row.hash = Some(row.compute_hash());
    diesel::update(retention_certificates::table.filter(retention_certificates::id.eq(id)))
        .set((
            retention_certificates::seq.eq(row.seq),
            retention_certificates::state.eq(&row.state),
            retention_certificates::finished_at.eq(row.finished_at),
            retention_certificates::prev_hash.eq(&row.prev_hash),
            retention_certificates::hash.eq(&row.hash),
        ))
        .execute(conn)?;
    Ok(row)
}

/// Closes the certificates of runs that died mid-way (called under the sweep lock, so no
/// run is live). Returns how many.
pub fn close_interrupted(conn: &mut DbConn, at: DateTime<Utc>) -> Result<usize, StoreError> {
    let stale: Vec<String> = retention_certificates::table
        .filter(retention_certificates::state.eq(RUNNING))
        .order(retention_certificates::started_at)
        .select(retention_certificates::id)
        .load(conn)?;
    for id in &stale {
        finish(conn, id, INTERRUPTED, at, None)?;
    }
    Ok(stale.len())
}

/// Walks the certificate chain.
pub fn verify(conn: &mut DbConn) -> Result<ChainReport, StoreError> {
    verify_chain(|from| {
        Ok(retention_certificates::table
            .filter(retention_certificates::seq.ge(from))
            .order(retention_certificates::seq.asc())
            .limit(CHAIN_PAGE)
            .select(CertificateRow::as_select())
            .load(conn)?)
    })
}

/// A certificate as exported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    pub id: String,
    pub seq: Option<i64>,
    pub run_id: String,
    pub tenant_id: String,
    pub state: String,
    /// The rule set versions applied (0: the install's defaults).
    #[schema(value_type = Object)]
    pub rule_versions: serde_json::Value,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: BTreeMap<String, u64>,
    /// SHA-256 chain over the deleted ids, batch by batch (hex).
    pub deleted_ids_sha256: String,
    pub keys_shredded: Vec<String>,
    pub errors: Vec<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl CertificateView {
    /// The certificate's state in words.
    pub fn state_label(&self, lang: crate::i18n::Lang) -> String {
        match self.state.as_str() {
            RUNNING => lang.pick("läuft", "running"),
            COMPLETED => lang.pick("abgeschlossen", "completed"),
            FAILED => lang.pick("mit Fehlern beendet", "finished with errors"),
            INTERRUPTED => lang.pick(
                "abgebrochen (der nächste Lauf setzt fort)",
                "interrupted (the next run carries on)",
            ),
            "restricted" => lang.pick(
                "Löschantrag: Teile aufbewahrt und eingeschränkt",
                "erasure request: some data kept and restricted",
            ),
            other => other.to_string(),
        }
    }

    /// What produced the certificate, in words: a retention run under rule versions, an
    /// erasure request, or a later run erasing what a request kept.
    pub fn source_label(&self, lang: crate::i18n::Lang) -> String {
        let v = &self.rule_versions;
        let version = |v: &serde_json::Value| match v.as_i64() {
            Some(0) | None => lang.pick("Standard der Installation", "install defaults"),
            Some(n) => lang.pick(
                &format!("Löschregeln Version {n}"),
                &format!("deletion rules version {n}"),
            ),
        };
        match (
            v.get("erasure_request").and_then(|r| r.as_str()),
            v.get("retention_run"),
        ) {
            (Some(request), Some(_)) => lang.pick(
                &format!(
                    "Löschlauf: aufbewahrte Daten des Löschantrags {request}, Frist abgelaufen"
                ),
                &format!("retention run: data kept by erasure request {request}, period over"),
            ),
            (Some(request), None) => lang.pick(
                &format!("Löschantrag {request} ({})", version(&v["tenant_rules"])),
                &format!(
                    "erasure request {request} ({})",
                    version(&v["tenant_rules"])
                ),
            ),
            (None, _) => lang.pick(
                &format!("Löschlauf ({})", version(&v["tenant_rules"])),
                &format!("retention run ({})", version(&v["tenant_rules"])),
            ),
        }
    }
}

impl From<CertificateRow> for CertificateView {
    fn from(r: CertificateRow) -> Self {
        Self {
            id: r.id,
            seq: r.seq,
            run_id: r.run_id,
            tenant_id: r.tenant_id,
            state: r.state,
            rule_versions: serde_json::from_str(&r.rule_versions).unwrap_or_default(),
            started_at: from_micros(r.started_at),
            finished_at: r.finished_at.map(from_micros),
            counts: serde_json::from_str(&r.counts).unwrap_or_default(),
            deleted_ids_sha256: hex::encode(&r.ids_hash),
            keys_shredded: serde_json::from_str(&r.keys_shredded).unwrap_or_default(),
            errors: serde_json::from_str(&r.errors).unwrap_or_default(),
            prev_hash: r.prev_hash.map(hex::encode),
            hash: r.hash.map(hex::encode),
        }
    }
}

pub fn list(conn: &mut DbConn, tenant: &str) -> Result<Vec<CertificateView>, StoreError> {
    let rows: Vec<CertificateRow> = retention_certificates::table
        .filter(retention_certificates::tenant_id.eq(id::bind(tenant)))
        .order((
            retention_certificates::started_at.asc(),
            retention_certificates::id.asc(),
        ))
        .select(CertificateRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(CertificateView::from).collect())
}

/// CSV: one line per certificate, one column per category.
pub fn to_csv(certificates: &[CertificateView]) -> String {
    let mut out = String::from("seq,run_id,state,started_at,finished_at");
    for c in Category::ALL {
        out.push(',');
        out.push_str(c.as_str());
    }
    out.push_str(",keys_shredded,errors,deleted_ids_sha256,hash\n");
    for cert in certificates {
        let mut fields = vec![
            cert.seq.map(|s| s.to_string()).unwrap_or_default(),
            cert.run_id.clone(),
            cert.state.clone(),
            cert.started_at.to_rfc3339(),
            cert.finished_at.map(|f| f.to_rfc3339()).unwrap_or_default(),
        ];
        for c in Category::ALL {
            fields.push(
                cert.counts
                    .get(c.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        fields.push(cert.keys_shredded.len().to_string());
        fields.push(cert.errors.join("; "));
        fields.push(cert.deleted_ids_sha256.clone());
        fields.push(cert.hash.clone().unwrap_or_default());
        let escaped: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&escaped.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a CSV field when needed, and defuses spreadsheet formulas.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub fn to_pdf(
    tenant_name: &str,
    certificates: &[CertificateView],
    chain_intact: bool,
    now: chrono::DateTime<chrono::Utc>,
    letterhead: Option<crate::documents::Letterhead>,
) -> crate::error::Result<Vec<u8>> {
    let mut b = vec![
        Block::Title("Löschprotokoll / Deletion certificates".into()),
        Block::Paragraph("Art. 5(1)(e), Art. 17 DSGVO; DIN 66398. Erstellt aus der manipulationsgeschützten Protokollkette von Hafen.".into()),
        Block::Space,
        Block::Field("Verantwortlicher / Controller".into(), tenant_name.to_string()),
        Block::Field(
            "Protokollkette / Chain".into(),
            if chain_intact {
                "vollständig geprüft, unverändert / verified, unchanged".into()
            } else {
                "FEHLER: die Kette ist unterbrochen / BROKEN".into()
            },
        ),
        Block::Space,
    ];
    for cert in certificates {
        b.push(Block::Heading(format!(
            "Lauf / Run {} – {} / {}",
            crate::i18n::moment_precise(cert.started_at, crate::i18n::Lang::De),
            cert.state_label(crate::i18n::Lang::De),
            cert.state_label(crate::i18n::Lang::En),
        )));
        b.push(Block::Field(
            "Anlass / Source".into(),
            format!(
                "{} / {}",
                cert.source_label(crate::i18n::Lang::De),
                cert.source_label(crate::i18n::Lang::En)
            ),
        ));
        let counts: Vec<String> = cert
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| {
                match crate::retention::rules::Category::ALL
                    .into_iter()
                    .find(|k| k.as_str() == c)
                {
                    Some(k) => format!("{}: {n}", k.label(crate::i18n::Lang::De)),
                    None => format!("{c}: {n}"),
                }
            })
            .collect();
        b.push(Block::Field(
            "Gelöscht / Deleted".into(),
            if counts.is_empty() {
                "–".into()
            } else {
                counts.join(", ")
            },
        ));
        b.push(Block::Field(
            "Geschredderte Schlüssel / Keys shredded".into(),
            cert.keys_shredded.len().to_string(),
        ));
        if !cert.errors.is_empty() {
            b.push(Block::Field(
                "Fehler / Errors".into(),
                cert.errors.join("; "),
            ));
        }
        b.push(Block::Mono(format!(
            "IDs SHA-256 {}",
            cert.deleted_ids_sha256
        )));
        b.push(Block::Mono(format!(
            "Eintrag {} Hash {}",
            cert.seq.unwrap_or(0),
            cert.hash.clone().unwrap_or_default()
        )));
        b.push(Block::Space);
    }
    Document {
        title: "Löschprotokoll".into(),
        lang: crate::i18n::Lang::De,
        created: now,
        footer: format!("Löschprotokoll · {tenant_name}"),
        blocks: b,
        letterhead,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

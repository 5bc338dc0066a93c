//! The request log report: every data-subject request of a tenant with its dates and how it was
//! answered — what a DPO shows a supervisory authority asking "how do you handle requests?"
//! (Art. 5(2), 12 GDPR). Built from the request register and the audit log (identity checks,
//! letters); it holds no personal data beyond what the register already shows: no names, no
//! addresses, only ids, dates and outcomes in words.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::report::{iso_date, Section, Table, ValueType};
use super::Records;
use crate::clock::from_micros;
use crate::error::Result;
use crate::i18n::Lang;
use crate::requests::{IdentityCheck, Kind, RejectGround, RequestRow};
use crate::store::id;
use crate::store::schema::{audit_log, subject_requests};
use crate::tenants::TenantId;

/// What the audit log adds to a request: when the identity was confirmed and how, and when
/// the first letter to the person was produced.
#[derive(Default)]
struct Steps {
    identity: Option<(NaiveDate, Option<IdentityCheck>)>,
    letter: Option<NaiveDate>,
}

fn kind_label(kind: Kind, lang: Lang) -> String {
    match kind {
        Kind::Access => lang.pick("Auskunft (Art. 15)", "Access (Art. 15)"),
        Kind::Portability => lang.pick("Datenübertragbarkeit (Art. 20)", "Portability (Art. 20)"),
        Kind::Erasure => lang.pick("Löschung (Art. 17)", "Erasure (Art. 17)"),
        Kind::Restriction => lang.pick("Einschränkung (Art. 18)", "Restriction (Art. 18)"),
    }
}

fn ground_label(ground: RejectGround, lang: Lang) -> String {
    match ground {
        RejectGround::IdentityNotVerified => lang.pick(
            "abgelehnt: Identität nicht bestätigt (Art. 12 Abs. 6)",
            "refused: identity not confirmed (Art. 12(6))",
        ),
        RejectGround::ManifestlyUnfounded => lang.pick(
            "abgelehnt: offenkundig unbegründet (Art. 12 Abs. 5)",
            "refused: manifestly unfounded (Art. 12(5))",
        ),
        RejectGround::Excessive => lang.pick(
            "abgelehnt: exzessiv (Art. 12 Abs. 5)",
            "refused: excessive (Art. 12(5))",
        ),
        RejectGround::WithdrawnBySubject => {
            lang.pick("von der Person zurückgezogen", "withdrawn by the person")
        }
    }
}

/// How the request stands or ended, in words.
fn outcome(row: &RequestRow, today: NaiveDate, lang: Lang) -> String {
    let stored: serde_json::Value = row
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    match row.status.as_str() {
        crate::requests::OPEN if row.overdue_on(today) => {
            lang.pick("offen – FRIST ÜBERSCHRITTEN", "open – DEADLINE PASSED")
        }
        crate::requests::OPEN => lang.pick("offen", "open"),
        crate::requests::DECISION_NEEDED => lang.pick(
            "teilweise beantwortet, Entscheidung der/des DSB ausstehend",
            "answered in part, awaiting the DPO's decision",
        ),
        crate::requests::REJECTED => serde_json::from_value(stored["rejected"].clone())
            .map(|g| ground_label(g, lang))
            .unwrap_or_else(|_| lang.pick("abgelehnt", "refused")),
        _ => match Kind::from_stored(&row.kind) {
            Kind::Access => lang.pick(
                "Auskunft erteilt (Kopie der Daten erstellt)",
                "answered (copy of the data made)",
            ),
            Kind::Portability => lang.pick(
                "Daten in maschinenlesbarer Form bereitgestellt",
                "data provided machine-readable",
            ),
            Kind::Erasure if stored["restricted"] == serde_json::json!(true) => lang.pick(
                "gelöscht; Teile wegen Aufbewahrungspflicht eingeschränkt aufbewahrt",
                "erased; parts kept, restricted, under a duty to retain",
            ),
            Kind::Erasure => lang.pick("vollständig gelöscht", "erased completely"),
            Kind::Restriction => lang.pick("Verarbeitung eingeschränkt", "processing restricted"),
        },
    }
}

fn day_of(micros: i64) -> NaiveDate {
    crate::i18n::local_date(from_micros(micros))
}

impl Records {
    pub(crate) async fn request_log_sections(
        &self,
        tenant: &TenantId,
        controller: &str,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = tenant.as_str().to_string();
        let (rows, events) = self
            .infra
            .store
            .read(move |conn| {
                let rows: Vec<RequestRow> = subject_requests::table
                    .filter(subject_requests::tenant_id.eq(id::bind(&t)))
                    .order((subject_requests::received_on, subject_requests::created_at))
                    .select(RequestRow::as_select())
                    .load(conn)?;
                let events: Vec<(Option<String>, String, i64, Option<String>)> = audit_log::table
                    .filter(audit_log::tenant_id.eq(id::bind(&t)))
                    .filter(audit_log::object_type.eq("subject_request"))
                    .filter(audit_log::action.eq_any(["dsr.identity", "dsr.letter"]))
                    .order(audit_log::seq)
                    .select((
                        audit_log::object_id,
                        audit_log::action,
                        audit_log::at,
                        audit_log::detail,
                    ))
                    .load(conn)?;
                Ok((rows, events))
            })
            .await?;
        let mut steps: BTreeMap<String, Steps> = BTreeMap::new();
        for (id, action, at, detail) in events {
            let Some(id) = id else { continue };
            let step = steps.entry(id).or_default();
            match action.as_str() {
                "dsr.identity" if step.identity.is_none() => {
                    let how = detail
                        .as_deref()
                        .and_then(|d| d.strip_prefix("method="))
                        .and_then(IdentityCheck::parse);
                    step.identity = Some((day_of(at), how));
                }
                "dsr.letter" if step.letter.is_none() => step.letter = Some(day_of(at)),
                _ => {}
            }
        }
        let today = crate::i18n::local_date(self.infra.clock.now());
        let mut table = Table::new(
            "requests",
            lang.pick("Anträge", "Requests"),
            vec![
                ("no", lang.pick("Nr.", "No.")),
                ("kind", lang.pick("Art", "Kind")),
                ("received_on", lang.pick("Eingegangen", "Received")),
                (
                    "identity_on",
                    lang.pick("Identität bestätigt", "Identity confirmed"),
                ),
                ("identity_how", lang.pick("Wie bestätigt", "How confirmed")),
                ("due_on", lang.pick("Frist", "Due")),
                ("extended_to", lang.pick("Verlängert bis", "Extended to")),
                ("answered_on", lang.pick("Erledigt am", "Answered")),
                ("outcome", lang.pick("Ergebnis", "Outcome")),
                ("letter_on", lang.pick("Schreiben erstellt", "Letter made")),
                ("id", lang.pick("Kennung", "Id")),
            ],
        )
        .typed(&["no"], ValueType::Integer)
        .typed(
            &[
                "received_on",
                "identity_on",
                "due_on",
                "extended_to",
                "answered_on",
                "letter_on",
            ],
            ValueType::Date,
        );
        let none = || "–".to_string();
        let (mut pending, mut overdue) = (0, 0);
        let mut per_kind: BTreeMap<&'static str, i64> = BTreeMap::new();
        for (n, row) in rows.iter().enumerate() {
            let step = steps.remove(&row.id).unwrap_or_default();
            let kind = Kind::from_stored(&row.kind);
            *per_kind.entry(kind.as_str()).or_default() += 1;
            pending += i64::from(row.is_pending());
            overdue += i64::from(row.overdue_on(today));
            table.row(vec![
                (n + 1).to_string(),
                kind_label(kind, lang),
                row.received_on.clone(),
                step.identity.map(|(d, _)| iso_date(d)).unwrap_or_else(none),
                match step.identity {
                    Some((_, Some(how))) => how.label(lang),
                    Some((_, None)) => lang.pick("bestätigt", "confirmed"),
                    None => lang.pick("nicht erfasst", "not recorded"),
                },
                row.due_on.clone(),
                row.extended_due_on.clone().unwrap_or_else(none),
                row.completed_at
                    .map(|at| iso_date(day_of(at)))
                    .unwrap_or_else(none),
                outcome(row, today, lang),
                step.letter.map(iso_date).unwrap_or_else(none),
                row.id.clone(),
            ]);
        }
        let mut s = Section::new(
            "requests",
            lang.pick("Anträge betroffener Personen", "Data-subject requests"),
        )
        .field(
            "controller",
            lang.pick("Verantwortlicher", "Controller"),
            controller,
        )
        .count(
            "total",
            lang.pick("Anträge insgesamt", "Requests in total"),
            rows.len() as i64,
        );
        for kind in [
            Kind::Access,
            Kind::Portability,
            Kind::Erasure,
            Kind::Restriction,
        ] {
            s = s.count(
                &format!("total_{}", kind.as_str()),
                kind_label(kind, lang),
                per_kind.get(kind.as_str()).copied().unwrap_or(0),
            );
        }
        s = s
            .count(
                "pending",
                lang.pick("Noch nicht abgeschlossen", "Not yet answered"),
                pending,
            )
            .count(
                "overdue",
                lang.pick("Davon Frist überschritten", "Of these past the deadline"),
                overdue,
            )
            .table(table)
            .note(lang.pick(
                "Frist: ein Monat ab Eingang (Art. 12 Abs. 3 DSGVO), um zwei Monate verlängerbar, wenn die Person innerhalb des ersten Monats mit Gründen unterrichtet wird. „Schreiben erstellt“: der Tag, an dem das Antwortschreiben an die Person zuerst erzeugt wurde.",
                "Deadline: one month from receipt (Art. 12(3) GDPR), extendable by two months if the person is told why within the first month. \"Letter made\": the day the answer to the person was first produced.",
            ));
        if rows.is_empty() {
            s = s.note(lang.pick(
                "Bisher keine Anträge erfasst.",
                "No requests registered so far.",
            ));
        }
        Ok(vec![s])
    }
}

//! Consent statistics: requests, confirmations and withdrawals per purpose.

use super::*;
use crate::store::id;

impl Records {
    pub(super) async fn consent_statistics_sections(
        &self,
        ti: &TenantInputs,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = ti.facts.id.clone();
        let rows: Vec<(String, String)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .select((consents::purpose_id, consents::state))
                    .load(conn)?)
            })
            .await?;
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (p, s) in rows {
            *counts.entry((p, s)).or_default() += 1;
        }
        let states = ["requested", "confirmed", "withdrawn", "expired"];
        let mut table = Table::new(
            "purposes",
            lang.pick("Einwilligungen je Zweck", "Consents per purpose"),
            vec![
                ("purpose", lang.pick("Zweck", "Purpose")),
                (
                    "requested",
                    lang.pick("Angefragt (offen)", "Requested (pending)"),
                ),
                ("confirmed", lang.pick("Bestätigt", "Confirmed")),
                ("withdrawn", lang.pick("Widerrufen", "Withdrawn")),
                ("expired", lang.pick("Abgelaufen", "Expired")),
                (
                    "confirmation_rate",
                    lang.pick("Bestätigungsquote", "Confirmation rate"),
                ),
            ],
        )
        .typed(
            &["requested", "confirmed", "withdrawn", "expired"],
            ValueType::Integer,
        )
        .typed(&["confirmation_rate"], ValueType::Percent);
        for (id, name) in &ti.facts.purposes {
            let n = |s: &str| {
                counts
                    .get(&(id.clone(), s.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            let total: u64 = states.iter().map(|s| n(s)).sum();
            let ever_confirmed = n("confirmed") + n("withdrawn");
            let rate = if total == 0 {
                "–".to_string()
            } else {
                iso_percent(100.0 * ever_confirmed as f64 / total as f64)
            };
            table.row(vec![
                name.clone(),
                n("requested").to_string(),
                n("confirmed").to_string(),
                n("withdrawn").to_string(),
                n("expired").to_string(),
                rate,
            ]);
        }
        Ok(vec![Section::new(
            "consent",
            lang.pick("Einwilligungen", "Consents"),
        )
        .field("controller", lang.pick("Verantwortlicher", "Controller"), ti.facts.name.clone())
        .count(
            "purposes",
            lang.pick("Zwecke", "Purposes"),
            ti.facts.purposes.len() as i64,
        )
        .table(table)
        .note(lang.pick(
            "Bestätigungsquote: Anteil der Anfragen, die bestätigt wurden (auch wenn später widerrufen).",
            "Confirmation rate: share of requests that were confirmed (even if withdrawn later).",
        ))])
    }
}

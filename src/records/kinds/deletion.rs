//! The deletion concept (what ends when, and why) and the report of what was deleted.

use super::*;

impl Records {
    pub(super) async fn deletion_concept_sections(
        &self,
        ti: &TenantInputs,
        posture: &live::Posture,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = ti.facts.id.clone();
        let own = self
            .infra
            .store
            .read(move |conn| crate::retention::own_categories(conn, &t))
            .await?;
        let mut rules = Table::new(
            "rules",
            lang.pick("Löschregeln", "Deletion rules"),
            vec![
                ("category", lang.pick("Datenart", "Data category")),
                ("channel", lang.pick("Kanal", "Channel")),
                (
                    "rule",
                    lang.pick(
                        "Regellöschfrist und Startpunkt",
                        "Standard period and start point",
                    ),
                ),
                ("legal_basis", lang.pick("Rechtsgrundlage", "Legal basis")),
                ("deletion_class", lang.pick("Löschklasse", "Deletion class")),
                (
                    "ground",
                    lang.pick(
                        "Aufbewahrung bei Löschverlangen",
                        "Kept on an erasure request",
                    ),
                ),
                ("source", lang.pick("Quelle", "Source")),
            ],
        );
        let yes_no = |b: bool| {
            if b {
                lang.pick("ja", "yes")
            } else {
                lang.pick("nein", "no")
            }
        };
        for r in &ti.facts.rules.rules {
            rules.row(vec![
                format!(
                    "{}{}",
                    r.category.label(lang),
                    if r.category.has_class() {
                        live::class_label(r.business_letters, lang)
                    } else {
                        String::new()
                    }
                ),
                r.channel
                    .as_ref()
                    .map(|c| crate::channels::registry::channel_label(c.as_str()))
                    .unwrap_or_else(|| lang.pick("alle", "all")),
                live::describe_rule(r, lang),
                r.legal_basis.clone(),
                r.deletion_class.clone().unwrap_or_default(),
                if r.ground.keeps_on_erasure() {
                    r.citation(lang)
                } else {
                    r.ground.citation(lang)
                },
                if own.contains(&r.category) {
                    lang.pick(
                        &format!(
                            "Regelwerk des Mandanten, Version {}",
                            ti.facts.rules_version
                        ),
                        &format!("tenant's rules, version {}", ti.facts.rules_version),
                    )
                } else {
                    lang.pick("Standard der Installation", "install default")
                },
            ]);
        }
        let s = Section::new(
            "concept",
            lang.pick("Lösch- und Aufbewahrungskonzept", "Retention and deletion concept"),
        )
        .field("controller", lang.pick("Verantwortlicher", "Controller"), ti.facts.name.clone())
        .count(
            "rules_version",
            lang.pick("Version der Löschregeln", "Deletion rules version"),
            ti.facts.rules_version,
        )
        .field(
            "schedule",
            lang.pick("Zeitplan der Löschläufe (cron)", "Deletion run schedule (cron)"),
            if posture.retention_schedule.is_empty() {
                lang.pick(
                    "keiner – Löschläufe nur von Hand",
                    "none – deletion runs by hand only",
                )
            } else {
                posture.retention_schedule.clone()
            },
        )
        .field(
            "approval",
            lang.pick("Freigabe durch zweite Person", "Approval by a second person"),
            yes_no(posture.require_approval),
        )
        .count(
            "active_holds",
            lang.pick("Aktive Aufbewahrungssperren (Legal Holds)", "Active legal holds"),
            ti.facts.active_holds,
        )
        .count(
            "restricted_contacts",
            lang.pick("Eingeschränkte Kontakte (Art. 18)", "Restricted contacts (Art. 18)"),
            ti.facts.restricted_contacts,
        )
        .table(rules)
        .note(lang.pick(
            "Löschung durch Entfernen der Datensätze und Vernichtung der Schlüssel (Crypto-Shredding nach NIST SP 800-88). Auf ein Löschverlangen werden Daten gelöscht, soweit keine Regel sie hält: Daten mit gesetzlicher Aufbewahrungspflicht (Art. 17 Abs. 3 lit. b DSGVO) und Daten für Rechtsansprüche (Art. 17 Abs. 3 lit. e DSGVO) werden bis zum Ende ihrer Frist nur noch für diesen Zweck aufbewahrt und eingeschränkt; bei vertraglichen oder satzungsgemäßen Fristen tritt die Einschränkung an die Stelle der Löschung (§ 35 Abs. 3 BDSG).",
            "Deletion removes the records and destroys their keys (crypto-shredding, NIST SP 800-88). On an erasure request data is erased unless a rule keeps it: data under a statutory duty to retain (Art. 17(3)(b) GDPR) and data kept for legal claims (Art. 17(3)(e) GDPR) is kept for that purpose only, restricted, until its period ends; for contractual or by-law periods restriction takes the place of erasure (section 35(3) BDSG).",
        ));
        Ok(vec![s])
    }

    pub(super) async fn deletion_report_sections(
        &self,
        tenant: &TenantId,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = tenant.as_str().to_string();
        let (list, chain, kept): (Vec<CertificateView>, _, _) = self
            .infra
            .store
            .read(move |conn| {
                Ok((
                    certificates::list(conn, &t)?,
                    certificates::verify(conn)?,
                    crate::requests::erase::kept_by_requests(conn, &t)?,
                ))
            })
            .await?;
        let mut table = Table::new(
            "certificates",
            lang.pick("Löschprotokolle", "Deletion certificates"),
            vec![
                ("seq", lang.pick("Nr.", "No.")),
                ("run", lang.pick("Lauf", "Run")),
                ("state", lang.pick("Status", "State")),
                ("started_at", lang.pick("Beginn", "Started")),
                ("finished_at", lang.pick("Ende", "Finished")),
                ("deleted", lang.pick("Gelöscht", "Deleted")),
                (
                    "keys_shredded",
                    lang.pick("Vernichtete Schlüssel", "Keys destroyed"),
                ),
                ("hash", lang.pick("Hash", "Hash")),
            ],
        )
        .typed(&["seq", "keys_shredded"], ValueType::Integer)
        .typed(&["started_at", "finished_at"], ValueType::DateTime);
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for c in &list {
            for (k, v) in &c.counts {
                *totals.entry(k.clone()).or_default() += v;
            }
            let deleted: Vec<String> = c
                .counts
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(
                    |(k, v)| match Category::ALL.into_iter().find(|c| c.as_str() == k) {
                        Some(category) => format!("{}: {v}", category.label(lang)),
                        None => format!("{k}: {v}"),
                    },
                )
                .collect();
            table.row(vec![
                c.seq.map(|s| s.to_string()).unwrap_or_default(),
                c.source_label(lang),
                c.state_label(lang),
                iso_moment(c.started_at),
                c.finished_at.map(iso_moment).unwrap_or_default(),
                if deleted.is_empty() {
                    lang.pick("nichts", "nothing")
                } else {
                    deleted.join("; ")
                },
                c.keys_shredded.len().to_string(),
                c.hash.clone().unwrap_or_default(),
            ]);
        }
        let mut s = Section::new("deletions", lang.pick("Löschungen", "Deletions"))
            .count(
                "certificates",
                lang.pick("Anzahl Löschprotokolle", "Number of certificates"),
                list.len() as i64,
            )
            .field(
                "chain_intact",
                lang.pick(
                    "Hashkette der Protokolle unversehrt",
                    "Certificate chain intact",
                ),
                if chain.intact() {
                    lang.pick("ja", "yes")
                } else {
                    lang.pick(
                        "NEIN – Protokolle verändert oder entfernt",
                        "NO – certificates changed or removed",
                    )
                },
            );
        for c in Category::ALL {
            s = s.typed(
                &format!("total_{}", c.as_str()),
                lang.pick(
                    &format!("Summe gelöscht: {}", c.label(lang)),
                    &format!("Total deleted: {}", c.label(lang)),
                ),
                totals.get(c.as_str()).copied().unwrap_or(0).to_string(),
                ValueType::Integer,
            );
        }
        s = s.table(table);
        let mut restricted = Table::new(
            "kept_by_requests",
            lang.pick(
                "Auf Löschantrag aufbewahrte und eingeschränkte Daten",
                "Data kept and restricted on erasure requests",
            ),
            vec![
                ("request", lang.pick("Löschantrag", "Erasure request")),
                ("category", lang.pick("Datenart", "Data category")),
                ("kept", lang.pick("Anzahl", "Number")),
                (
                    "ground",
                    lang.pick("Grund der Aufbewahrung", "Ground for keeping"),
                ),
                ("until", lang.pick("Gelöscht ab", "Erased from")),
            ],
        )
        .typed(&["kept"], ValueType::Integer)
        .typed(&["until"], ValueType::Date)
        .sheet(lang.pick("Aufbewahrt auf Löschantrag", "Kept on erasure requests"));
        for k in &kept {
            let category = Category::ALL
                .into_iter()
                .find(|c| c.as_str() == k.category)
                .map(|c| c.label(lang))
                .unwrap_or_else(|| k.category.clone());
            restricted.row(vec![
                k.request_id.clone(),
                category,
                k.kept.to_string(),
                k.citation.get(lang).to_string(),
                match (k.until, k.decision_needed) {
                    (Some(u), _) => iso_date(crate::i18n::local_date(u)),
                    (None, true) => lang.pick(
                        "Entscheidung der/des DSB ausstehend",
                        "awaiting the DPO's decision",
                    ),
                    (None, false) => lang.pick(
                        "nach Ende der Aufbewahrungssperre",
                        "after the legal hold ends",
                    ),
                },
            ]);
        }
        if kept.is_empty() {
            s = s.note(lang.pick(
                "Derzeit hält kein Löschantrag Daten zurück.",
                "No erasure request keeps data back at present.",
            ));
        }
        Ok(vec![s.table(restricted)])
    }
}

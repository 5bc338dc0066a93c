//! The information Art. 15(1) and (2) GDPR owes with the copy: purposes, categories,
//! recipients, periods, rights, source, automated decisions — from the register and the rules
//! in force.

use super::*;
use crate::store::id;

/// The categories of data the person has (the contact itself always); message categories
/// once for business letters and once for the other messages, as the person has them.
pub(super) fn person_categories(
    conn: &mut crate::store::DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Vec<(crate::retention::rules::Category, Option<bool>)>, crate::store::StoreError> {
    use crate::retention::rules::Category;
    use crate::store::schema::{consents, message_statuses, messages};
    let classes: Vec<bool> = messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant)))
        .filter(messages::contact_id.eq(id::bind(contact)))
        .select(messages::business_letter)
        .distinct()
        .load(conn)?;
    // From the contact's messages to their files (not the other way: that walked every file of
    // the tenant and looked up its message).
    let file_classes: Vec<bool> = messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant)))
        .filter(messages::contact_id.eq(id::bind(contact)))
        .filter(diesel::dsl::exists(
            attachment_table::table
                .filter(attachment_table::tenant_id.eq(id::bind(tenant)))
                .filter(attachment_table::message_id.eq(messages::id)),
        ))
        .select(messages::business_letter)
        .distinct()
        .load(conn)?;
    let n_statuses: i64 = message_statuses::table
        .filter(message_statuses::tenant_id.eq(id::bind(tenant)))
        .filter(
            message_statuses::message_id.eq_any(
                messages::table
                    .filter(messages::tenant_id.eq(id::bind(tenant)))
                    .filter(messages::contact_id.eq(id::bind(contact)))
                    .select(messages::id.nullable()),
            ),
        )
        .count()
        .get_result(conn)?;
    let states: Vec<String> = consents::table
        .filter(consents::tenant_id.eq(id::bind(tenant)))
        .filter(consents::contact_id.eq(id::bind(contact)))
        .select(consents::state)
        .load(conn)?;
    let mut out = vec![(Category::Contacts, None)];
    for letters in [true, false] {
        if classes.contains(&letters) {
            out.push((Category::MessageContent, Some(letters)));
            out.push((Category::MessageMetadata, Some(letters)));
        }
        if file_classes.contains(&letters) {
            out.push((Category::Attachments, Some(letters)));
        }
    }
    if n_statuses > 0 {
        out.push((Category::DeliveryStatuses, None));
    }
    if states.iter().any(|s| s == "requested" || s == "expired") {
        out.push((Category::ConsentRequests, None));
    }
    if states.iter().any(|s| s == "confirmed" || s == "withdrawn") {
        out.push((Category::ConsentProofs, None));
    }
    Ok(out)
}

impl Requests {
    /// What Art. 15(1)(a)-(h) and (2) require, about this person: the purposes, categories,
    /// recipients, transfers and storage periods that concern the person's channel and
    /// consents (not every activity of the tenant), from the register and the live
    /// configuration.
    pub(super) async fn art15_information(
        &self,
        tenant: &TenantId,
        contact: &contacts::ContactRow,
        lang: Lang,
    ) -> Result<Information> {
        let now = self.infra.clock.now();
        let (t, c) = (tenant.as_str().to_string(), contact.id.clone());
        let (facts, purposes, categories, restriction, kept_until) = self
            .infra
            .store
            .read(move |conn| {
                let facts = live::tenant_facts(conn, &t, crate::clock::to_micros(now))?;
                let purposes: Vec<String> = {
                    use crate::store::schema::consents;
                    consents::table
                        .filter(consents::tenant_id.eq(id::bind(&t)))
                        .filter(consents::contact_id.eq(id::bind(&c)))
                        .select(consents::purpose_id)
                        .distinct()
                        .load(conn)?
                };
                let categories = person_categories(conn, &t, &c)?;
                let restriction: Option<Vec<u8>> = {
                    use crate::store::schema::contacts as ct;
                    ct::table
                        .filter(ct::tenant_id.eq(id::bind(&t)))
                        .filter(ct::id.eq(id::bind(&c)))
                        .select(ct::restriction_sealed)
                        .first::<Option<Vec<u8>>>(conn)
                        .optional()?
                        .flatten()
                };
                let kept_until = crate::requests::erase::kept_until(conn, &t, &c)?;
                Ok((facts, purposes, categories, restriction, kept_until))
            })
            .await?;
        let facts = facts.ok_or(Error::NotFound)?;
        let scope = Scope::Tenant(tenant.clone());
        let controller = match self
            .register
            .entry_internal(&scope, Part::Controller)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Controller(c)) => Some(c),
                _ => None,
            },
            None => None,
        };
        let manual = match self
            .register
            .entry_internal(&scope, Part::Activities)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Activities(a)) => a,
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let registered: Vec<SubProcessor> = match self
            .register
            .entry_internal(&scope, Part::Subprocessors)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Subprocessors(list)) => list,
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let processor = match self
            .register
            .entry_internal(&Scope::Processor, Part::Processor)
            .await?
            .and_then(|e| e.parsed)
        {
            Some(Document::Processor(p)) => Some(p),
            _ => None,
        };
        let platform = facts
            .channels
            .iter()
            .map(|ch| ch.platform)
            .find(|p| p.as_str() == contact.channel);
        // Only what concerns this person: the activities of the person's channel and of the
        // purposes the person was asked to consent to. Activities entered by hand say nothing
        // about which channel they use; they are not claimed for the person.
        let activities: Vec<live::ActivityRecord> = live::activities(&facts, &manual, lang)
            .into_iter()
            .filter(|a| a.generated)
            .filter(|a| match a.key.split_once(':') {
                Some(("channel", id)) => facts
                    .channels
                    .iter()
                    .any(|ch| ch.id == id && ch.platform.as_str() == contact.channel),
                Some(("consent", id)) => purposes.iter().any(|p| p == id),
                _ => false,
            })
            .collect();
        let uniq = |v: Vec<String>| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for x in v {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            out
        };
        // Recipients: the platform's operator (the register's confirmed entry where there is
        // one), the processor that runs Hafen, the register's other sub-processors (they see
        // every person's data), the controller's own systems.
        let platform_entry = platform.map(|p| {
            let pre = live::platform_subprocessor(p, lang);
            registered
                .iter()
                .find(|s| s.key == pre.key)
                .cloned()
                .map(|s| (s, true))
                .unwrap_or((pre, false))
        });
        let platform_keys = ["meta", "telegram"];
        let others: Vec<&SubProcessor> = registered
            .iter()
            .filter(|s| !platform_keys.contains(&s.key.as_str()))
            .collect();
        let mut recipients = Vec::new();
        if platform == Some(crate::channels::Platform::Messenger) {
            // A Facebook page's messages: Meta is a recipient in its own responsibility, not
            // the controller's processor (the register's Meta entry describes WhatsApp).
            recipients.push(lang.pick(
                "Meta Platforms Ireland Ltd. (Betreiberin der Messenger-Plattform; verarbeitet die Nachrichteninhalte in eigener Verantwortung)",
                "Meta Platforms Ireland Ltd. (operator of the Messenger Platform; processes the message contents under its own responsibility)",
            ));
        } else if let Some((s, confirmed)) = &platform_entry {
            recipients.push(format!(
                "{} ({}){}",
                s.name,
                s.service,
                if *confirmed {
                    String::new()
                } else {
                    lang.pick(
                        " [Angabe des Plattformbetreibers, vom Verantwortlichen noch nicht bestätigt]",
                        " [as stated by the platform, not yet confirmed by the controller]",
                    )
                }
            ));
        }
        if let Some(p) = &processor {
            recipients.push(lang.pick(
                &format!(
                    "{}, {} (Auftragsverarbeiter: Betrieb des Nachrichtensystems)",
                    p.name, p.address
                ),
                &format!(
                    "{}, {} (processor: operates the messaging system)",
                    p.name, p.address
                ),
            ));
        }
        for s in &others {
            recipients.push(lang.pick(
                &format!("{} ({}; Unterauftragsverarbeiter)", s.name, s.service),
                &format!("{} ({}; sub-processor)", s.name, s.service),
            ));
        }
        if facts.event_hooks > 0 {
            recipients.push(lang.pick(
                "Systeme des Verantwortlichen (angebundene Anwendungen über Event-Webhooks)",
                "The controller's own systems (applications connected through event webhooks)",
            ));
        }
        // The bots of the channels this person writes on: they receive the messages, and a bot
        // that decides automatically owes the person its logic and effects (Art. 15(1)(h)).
        let bots: Vec<&crate::bots::BotRow> = facts
            .bots
            .iter()
            .filter(|b| {
                facts
                    .channels
                    .iter()
                    .any(|ch| ch.id == b.channel_id && ch.platform.as_str() == contact.channel)
            })
            .collect();
        for bot in &bots {
            recipients.push(lang.pick(
                &format!(
                    "Chatbot „{}“ des Verantwortlichen (beantwortet Nachrichten automatisch)",
                    bot.name
                ),
                &format!(
                    "The controller's chatbot \u{201c}{}\u{201d} (answers messages automatically)",
                    bot.name
                ),
            ));
        }
        let decisions: Vec<String> = bots
            .iter()
            .filter_map(|b| b.automated_decisions().map(|d| (b, d)))
            .map(|(b, d)| {
                lang.pick(
                    &format!("Der Chatbot „{}“ trifft automatisierte Entscheidungen (Art. 22 DSGVO). Logik: {} Tragweite und Auswirkungen: {} Sie können verlangen, dass ein Mensch die Entscheidung überprüft.", b.name, d.logic, d.effects),
                    &format!("The chatbot \u{201c}{}\u{201d} takes automated decisions (Art. 22 GDPR). Logic: {} Significance and consequences: {} You may ask for a person to review the decision.", b.name, d.logic, d.effects),
                )
            })
            .collect();
        let mut third_country_transfers = Vec::new();
        for (s, _) in platform_entry.iter().map(|(s, c)| (s, c)) {
            if !s.third_countries.is_empty() {
                third_country_transfers.push(format!(
                    "{} ({}): {}",
                    s.name,
                    s.third_countries.join(", "),
                    s.transfer_mechanism.clone().unwrap_or_default()
                ));
            }
        }
        for s in &others {
            if !s.third_countries.is_empty() {
                third_country_transfers.push(format!(
                    "{} ({}): {}",
                    s.name,
                    s.third_countries.join(", "),
                    s.transfer_mechanism.clone().unwrap_or_default()
                ));
            }
        }
        let storage_periods = categories
            .iter()
            .filter_map(|(c, letters)| {
                facts
                    .rules
                    .rule_for(*c, &contact.channel, letters.unwrap_or(false))
                    .map(|rule| {
                        let class = match letters {
                            Some(true) => {
                                lang.pick(" (Handels- und Geschäftsbriefe)", " (business letters)")
                            }
                            Some(false) => lang.pick(" (übrige Nachrichten)", " (other messages)"),
                            None => String::new(),
                        };
                        format!(
                            "{}{class}: {}",
                            c.label(lang),
                            live::describe_rule(rule, lang)
                        )
                    })
            })
            .collect();
        let restriction = match (contact.restricted_at, restriction) {
            (Some(at), sealed) => {
                let keys = self.infra.tenant_keys(tenant).await?;
                let reason = sealed
                    .map(|s| {
                        keys.seal.open_string(
                            &contacts::binding(tenant.as_str(), &contact.id, "restriction"),
                            &s,
                        )
                    })
                    .transpose()?
                    .unwrap_or_default();
                let since = crate::i18n::day(crate::clock::from_micros(at), lang);
                Some(match kept_until {
                    Some(until) => lang.pick(
                        &format!("Die Verarbeitung Ihrer Daten ist seit {since} eingeschränkt (Art. 18 DSGVO). Grund: {reason}. Die aufbewahrten Daten werden bis spätestens {} gelöscht.", crate::i18n::day(until, lang)),
                        &format!("Processing of your data has been restricted since {since} (Art. 18 GDPR). Reason: {reason}. The kept data is erased by {} at the latest.", crate::i18n::day(until, lang)),
                    ),
                    None => lang.pick(
                        &format!("Die Verarbeitung Ihrer Daten ist seit {since} eingeschränkt (Art. 18 DSGVO). Grund: {reason}. Vor einer Aufhebung unterrichten wir Sie."),
                        &format!("Processing of your data has been restricted since {since} (Art. 18 GDPR). Reason: {reason}. We will inform you before it is lifted."),
                    ),
                })
            }
            (None, _) => None,
        };
        Ok(Information {
            controller: controller
                .as_ref()
                .map(|c| format!("{}, {}", c.party.name, c.party.address))
                .unwrap_or_else(|| facts.name.clone()),
            controller_contact: controller.as_ref().map(|c| c.party.contact.clone()),
            dpo: controller.as_ref().and_then(|c| {
                c.party.dpo_name.as_ref().map(|n| {
                    format!(
                        "{n}{}",
                        c.party
                            .dpo_contact
                            .as_ref()
                            .map(|x| format!(", {x}"))
                            .unwrap_or_default()
                    )
                })
            }),
            purposes: uniq(activities.iter().flat_map(|a| a.purposes.clone()).collect()),
            legal_bases: uniq(activities.iter().map(|a| a.legal_basis.clone()).collect()),
            data_categories: uniq(
                activities
                    .iter()
                    .flat_map(|a| a.data_categories.clone())
                    .collect(),
            ),
            recipients,
            joint_controllers: uniq(
                activities
                    .iter()
                    .flat_map(|a| a.joint_controllers.clone())
                    .collect(),
            ),
            third_country_transfers,
            storage_periods,
            automated_decisions: if decisions.is_empty() {
                lang.pick(
                    "Eine automatisierte Entscheidungsfindung einschließlich Profiling (Art. 22 Abs. 1 und 4 DSGVO) findet nicht statt.",
                    "No automated decision-making, including profiling (Art. 22(1) and (4) GDPR), takes place.",
                )
            } else {
                decisions.join(" ")
            },
            restriction,
            rights: vec![
                lang.pick("Auskunft (Art. 15 DSGVO)", "Access (Art. 15 GDPR)"),
                lang.pick("Berichtigung (Art. 16 DSGVO)", "Rectification (Art. 16 GDPR)"),
                lang.pick("Löschung (Art. 17 DSGVO)", "Erasure (Art. 17 GDPR)"),
                lang.pick(
                    "Einschränkung der Verarbeitung (Art. 18 DSGVO)",
                    "Restriction of processing (Art. 18 GDPR)",
                ),
                lang.pick("Datenübertragbarkeit (Art. 20 DSGVO)", "Data portability (Art. 20 GDPR)"),
                lang.pick("Widerspruch (Art. 21 DSGVO)", "Objection (Art. 21 GDPR)"),
                lang.pick(
                    "Widerruf einer Einwilligung mit Wirkung für die Zukunft (Art. 7 Abs. 3 DSGVO), z. B. mit der Nachricht STOP",
                    "Withdrawal of consent for the future (Art. 7(3) GDPR), e.g. by sending STOP",
                ),
            ],
            complaint: lang.pick(
                "Sie haben das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren (Art. 77 DSGVO).",
                "You have the right to lodge a complaint with a supervisory authority (Art. 77 GDPR).",
            ),
            source: {
                let platform = platform
                    .map(|p| p.label().to_string())
                    .unwrap_or_else(|| contact.channel.clone());
                lang.pick(
                    &format!("Die Daten stammen von Ihnen selbst: aus Ihren Nachrichten über {platform} und, bei Anmeldungen über ein Webformular, aus Ihren Angaben dort."),
                    &format!("The data comes from you: from your messages over {platform} and, for sign-ups through a web form, from what you entered there."),
                )
            },
        })
    }
}

#[cfg(test)]
mod tests {
    /// What a person has is read from the person's rows: every query of `person_categories`
    /// reaches the contact's messages through the contact's index, none walks what the whole
    /// tenant stored (the file classes walked every file of the tenant and looked up its
    /// message: one lookup per stored file for each access export). SQLite, whose planner has
    /// no statistics and so follows the indexes alone.
    #[test]
    fn what_a_person_has_is_read_from_the_persons_rows_only() {
        let mut conn = crate::store::plans::migrated_sqlite();
        crate::store::plans::assert_reads_only_named_rows(&mut conn, 3, |conn| {
            super::person_categories(
                conn,
                "00000000-0000-7000-b000-000000000001",
                "00000000-0000-7000-a000-000000000001",
            )
            .unwrap();
        });
    }
}

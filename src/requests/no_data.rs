//! The answer when Hafen holds nothing on a person: an access request (Art. 15 GDPR) is
//! answered too when the answer is "no data" — the controller must confirm whether it processes
//! data on the person at all. The DPO searched by what the person gave (a phone number, a chat
//! id, a name); this letter says so, in the person's language, and can be filed.
//!
//! The letter repeats the identifier the person gave (they gave it; the letter goes back to
//! them), but Hafen stores neither it nor the letter: the audit entry records that a no-data
//! letter was produced, with its hash.

use sha2::{Digest, Sha256};

use super::letters::{blocks, date, hash, Letter, RenderedLetter, SCHEMA};
use super::Requests;
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::documents;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::tenants::TenantId;

impl Requests {
    /// The "we hold no data on you" letter for `query`, as PDF. Searches again first and
    /// refuses (409) when the search now finds someone: the letter is only ever true.
    pub async fn no_data_letter(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        query: &str,
        lang: Lang,
    ) -> Result<RenderedLetter> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        if !self.contacts.find(actor, tenant, query).await?.is_empty() {
            return Err(Error::Conflict(
                "Hafen holds data on this person: register an access request instead".into(),
            ));
        }
        let (controller, sender, dpo) = self.letter_sender(tenant).await?;
        let today = crate::i18n::local_date(self.infra.clock.now());
        let letter = letter(query.trim(), today, (sender, &controller, dpo), lang);
        let document = documents::Document {
            title: letter.subject.clone(),
            lang,
            created: self.infra.clock.now(),
            footer: controller.clone(),
            blocks: blocks(&letter),
            letterhead: self.register.letterhead(tenant).await?,
        };
        let bytes = document.render()?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.infra
            .record(
                AuditEvent::new(actor, "dsr.no_data_letter")
                    .tenant(tenant)
                    .detail(format!("lang={} sha256={sha256}", lang.as_str())),
            )
            .await?;
        Ok(RenderedLetter {
            file_name: format!(
                "{}-{}.pdf",
                lang.pick("auskunft-keine-daten", "access-no-data"),
                today
            ),
            bytes,
            content_type: "application/pdf",
            sha256,
        })
    }
}

fn letter(
    given: &str,
    today: chrono::NaiveDate,
    (sender, controller, dpo): (Vec<String>, &str, Option<String>),
    lang: Lang,
) -> Letter {
    let on = date(today, lang);
    let mut paragraphs = vec![
        lang.pick(
            &format!("Sie haben uns gefragt, ob wir personenbezogene Daten über Sie verarbeiten. Dazu haben wir am {on} alle Nachrichten und Kontakte durchsucht, die wir über WhatsApp, Facebook Messenger und Telegram austauschen, nach der Angabe, die Sie uns genannt haben: „{given}“."),
            &format!("You asked us whether we process personal data about you. On {on} we searched all messages and contacts we exchange over WhatsApp, Facebook Messenger and Telegram for the detail you gave us: \u{201c}{given}\u{201d}."),
        ),
        lang.pick(
            "Wir haben dazu keine Daten gefunden: Über diese Kanäle verarbeiten wir keine personenbezogenen Daten zu Ihnen (Art. 15 Abs. 1 DSGVO).",
            "We found none: we do not process personal data about you over these channels (Art. 15(1) GDPR).",
        ),
        lang.pick(
            "Falls Sie uns unter einer anderen Telefonnummer, einem anderen Konto oder einem anderen Namen geschrieben haben, nennen Sie uns diese Angabe bitte; wir suchen dann erneut.",
            "If you wrote to us from another phone number, another account or under another name, please tell us; we will search again.",
        ),
        lang.pick(
            "Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren (Art. 77 DSGVO).",
            "You may lodge a complaint with a data protection supervisory authority (Art. 77 GDPR).",
        ),
    ];
    if let Some(dpo) = dpo {
        paragraphs.push(lang.pick(
            &format!("Bei Fragen erreichen Sie unsere/n Datenschutzbeauftragte/n: {dpo}."),
            &format!("For questions, contact our data protection officer: {dpo}."),
        ));
    }
    let mut l = Letter {
        schema: SCHEMA,
        kind: "no_data".into(),
        lang,
        request_id: String::new(),
        date: today,
        sender,
        subject: lang.pick(
            "Auskunft nach Art. 15 DSGVO: keine Daten gespeichert",
            "Access under Art. 15 GDPR: no data held",
        ),
        salutation: lang.pick("Guten Tag,", "Dear Sir or Madam,"),
        paragraphs,
        tables: Vec::new(),
        closing: vec![
            lang.pick("Mit freundlichen Grüßen", "Kind regards"),
            controller.to_string(),
        ],
        content_sha256: String::new(),
    };
    l.content_sha256 = hash(&l);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_names_what_was_searched_and_the_right_to_complain() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let sender = vec!["Muster GmbH".to_string()];
        let de = letter(
            "+49 151 2345678",
            today,
            (sender.clone(), "Muster GmbH", None),
            Lang::De,
        );
        let text = de.paragraphs.join(" ");
        assert!(text.contains("„+49 151 2345678“"), "{text}");
        assert!(text.contains("keine personenbezogenen Daten"), "{text}");
        assert!(text.contains("Art. 77 DSGVO"), "{text}");
        assert!(de.subject.contains("keine Daten"));
        let en = letter(
            "Anna Meier",
            today,
            (sender, "Muster GmbH", Some("Dr. Datenschutz".into())),
            Lang::En,
        );
        let text = en.paragraphs.join(" ");
        assert!(text.contains("we do not process personal data"), "{text}");
        assert!(text.contains("Dr. Datenschutz"), "{text}");
    }
}

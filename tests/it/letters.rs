//! Letters to the data subject: their text in German and English against golden files
//! (`tests/golden/letters/`; `HAFEN_UPDATE_GOLDEN=1` rewrites them after a deliberate change),
//! the PDF readable, every letter in the request's history.

use serde_json::{json, Value};

use crate::both_backends;
use crate::retention::{activate, message_at, rule};
use crate::support::{Backend, TestApp};

both_backends!(
    letters_say_what_was_erased_kept_and_why,
    the_art15_answer_is_about_the_person,
    an_install_words_its_letters_its_own_way
);

/// The letter as text: subject, paragraphs, tables, closing; ids replaced by `<id>`.
fn text(letter: &Value) -> String {
    let mut out = Vec::new();
    out.push(format!(
        "Betreff/Subject: {}",
        letter["subject"].as_str().unwrap()
    ));
    out.push(letter["salutation"].as_str().unwrap().to_string());
    for p in letter["paragraphs"].as_array().unwrap() {
        out.push(p.as_str().unwrap().to_string());
    }
    for t in letter["tables"].as_array().unwrap() {
        out.push(format!("[{}]", t["title"].as_str().unwrap()));
        for row in t["rows"].as_array().unwrap() {
            let cells: Vec<&str> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            out.push(format!("  {}", cells.join(" | ")));
        }
    }
    for c in letter["closing"].as_array().unwrap() {
        out.push(c.as_str().unwrap().to_string());
    }
    let s = out.join("\n") + "\n";
    without_ids(&s)
}

/// UUIDs differ per run: each becomes `<id>`.
fn without_ids(s: &str) -> String {
    let mut result = String::new();
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let candidate: String = bytes[i..bytes.len().min(i + 36)].iter().collect();
        if candidate.len() == 36 && uuid::Uuid::try_parse(&candidate).is_ok() {
            result.push_str("<id>");
            i += 36;
        } else {
            result.push(bytes[i]);
            i += 1;
        }
    }
    result
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(if name.starts_with("art15") {
            "art15"
        } else {
            "letters"
        })
        .join(name);
    if std::env::var("HAFEN_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run with HAFEN_UPDATE_GOLDEN=1\n{actual}",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

async fn letter(app: &TestApp, tenant: &str, token: &str, id: &str, lang: &str) -> Value {
    let (status, _, bytes) = app
        .get_bytes(
            &format!("/v1/tenants/{tenant}/requests/{id}/letter?lang={lang}&format=json"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap()
}

async fn request(app: &TestApp, tenant: &str, token: &str, kind: &str, contact: &str) -> String {
    let (status, r) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            token,
            &json!({"kind": kind, "contact_id": contact, "received_on": "2026-11-20"}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    r["id"].as_str().unwrap().to_string()
}

async fn letters_say_what_was_erased_kept_and_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let mut whatsapp = rule("message_content", Some("whatsapp"), "collection", "P6Y");
    whatsapp["ground"] = json!("statutory");
    whatsapp["norm"] = json!("§ 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB");
    whatsapp["end_of_year"] = json!(true);
    let rules = vec![
        whatsapp,
        rule("message_content", None, "collection", "P90D"),
        rule("message_metadata", None, "collection", "P1Y"),
        rule("contacts", None, "conversation_end", "P1Y"),
        rule("attachments", None, "collection", "P1Y"),
        rule("delivery_statuses", None, "collection", "P90D"),
        rule("consent_requests", None, "collection", "P30D"),
        rule("consent_proofs", None, "consent_withdrawal", "P1Y"),
        rule("webhook_logs", None, "collection", "P30D"),
    ];
    activate(&app, &tenant, &admin, &rules).await;

    // An erasure that keeps commercial letters.
    let (_, whatsapp_contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000010",
        "2026-03-01T10:00:00Z",
    )
    .await;
    let erasure = request(&app, &tenant, &dpo, "erasure", &whatsapp_contact).await;
    let (status, outcome) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{erasure}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");
    for lang in ["de", "en"] {
        let l = letter(&app, &tenant, &dpo, &erasure, lang).await;
        assert_eq!(l["schema"], json!("hafen.letter.v1"));
        golden(&format!("erasure-kept.{lang}.txt"), &text(&l));
    }

    // An erasure that erases everything (Telegram: no rule keeps it).
    let (_, telegram) =
        message_at(&app, &tenant, "telegram", "555001", "2026-11-20T10:00:00Z").await;
    let erased = request(&app, &tenant, &dpo, "erasure", &telegram).await;
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{erased}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    for lang in ["de", "en"] {
        golden(
            &format!("erasure-all.{lang}.txt"),
            &text(&letter(&app, &tenant, &dpo, &erased, lang).await),
        );
    }

    // The cover letter of an access export, and a rejection.
    let (_, someone) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000011",
        "2026-11-21T10:00:00Z",
    )
    .await;
    let access = request(&app, &tenant, &dpo, "access", &someone).await;
    let (status, _) = crate::records::export(&app, &tenant, &dpo, &access, None).await;
    assert_eq!(status, 200);
    let rejected = request(&app, &tenant, &dpo, "erasure", &someone).await;
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{rejected}/reject"),
            &dpo,
            &json!({"ground": "identity_not_verified"}),
        )
        .await;
    assert_eq!(status, 200);
    for lang in ["de", "en"] {
        golden(
            &format!("access.{lang}.txt"),
            &text(&letter(&app, &tenant, &dpo, &access, lang).await),
        );
        golden(
            &format!("rejection.{lang}.txt"),
            &text(&letter(&app, &tenant, &dpo, &rejected, lang).await),
        );
    }

    // An open request has no letter yet; a bad format or language is a 422.
    let open = request(&app, &tenant, &dpo, "restriction", &someone).await;
    let base = format!("/v1/tenants/{tenant}/requests/{open}/letter");
    assert_eq!(app.get_bytes(&base, &dpo).await.0, 409);
    let done = format!("/v1/tenants/{tenant}/requests/{erasure}/letter");
    assert_eq!(
        app.get_bytes(&format!("{done}?format=docx"), &dpo).await.0,
        422
    );
    assert_eq!(app.get_bytes(&format!("{done}?lang=fr"), &dpo).await.0, 422);
    let agent = app.token(&tenant, "agent").await;
    assert_eq!(app.get_bytes(&done, &agent).await.0, 403);

    // The PDF reads as the letter; the history shows every letter produced.
    let (status, content_type, pdf) = app.get_bytes(&done, &dpo).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    let text = crate::records::pdf_text(&pdf);
    assert!(text.contains("Art. 17 Abs. 3 lit. b DSGVO"), "{text}");
    assert!(text.contains("01.01.2033"), "{text}");
    let (_, view) = app
        .get(&format!("/v1/tenants/{tenant}/requests/{erasure}"), &dpo)
        .await;
    let letters: Vec<&Value> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == json!("dsr.letter"))
        .collect();
    assert_eq!(letters.len(), 3, "{view}");
    assert!(letters[2]["detail"]
        .as_str()
        .unwrap()
        .contains("format=pdf"));
    let _ = app.stop().await;
}

/// A WhatsApp-only customer who consented to the newsletter is told about WhatsApp and the
/// newsletter only (not the tenant's Telegram bot, Facebook page or other purposes), with Meta
/// once and as the register confirms it, the processor among the recipients, the storage
/// period of each category the person has, Art. 15(1)(h), and the consent evidence.
async fn the_art15_answer_is_about_the_person(backend: Backend) {
    use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
    let fake = crate::fake_platform::FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.whatsapp_api_base = base).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let whatsapp = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
        "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG"}}),
    )
    .await;
    create_channel(
        &app,
        &tenant,
        json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": "tgsecret-7f3a9c1e5b2d8f40"}}),
    )
    .await;
    create_channel(
        &app,
        &tenant,
        json!({"platform": "messenger", "name": "Seite", "account_id": "998877",
        "secrets": {"app_secret": "m-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG"}}),
    )
    .await;
    let (status, _) = app
        .post(&format!("/v1/tenants/{tenant}/consent-purposes"), &admin,
            &json!({"name": "Newsletter", "texts": {"de": "Ja, ich möchte den Newsletter per WhatsApp erhalten. Abmeldung mit STOP."}}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .put(
            "/v1/register/processor",
            &app.admin_token,
            &json!({"name": "Hafen Betrieb GmbH",
            "address": "Am Sandtorkai 1, 20457 Hamburg", "contact": "betrieb@hafen.example"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .put(&format!("/v1/tenants/{tenant}/register/subprocessors"), &dpo, &json!([{
            "key": "meta", "name": "Meta Platforms Ireland Ltd.", "address": "Merrion Road, Dublin 4, Irland",
            "country": "IE", "service": "WhatsApp Business Platform (Cloud API)",
            "data_categories": ["Telefonnummer", "Nachrichteninhalte"], "third_countries": ["US"],
            "transfer_mechanism": "EU-US Data Privacy Framework (Art. 45 DSGVO), laut AVV vom 15.01.2026",
            "authorised_on": "2026-01-15"}]))
        .await;
    assert_eq!(status, 201, "{body}");

    // The customer asks for the newsletter by keyword and confirms.
    let hook = format!("/hooks/whatsapp/{}", whatsapp["id"].as_str().unwrap());
    for (n, text) in [(1, "START"), (2, "JA")] {
        let raw = crate::consent::text_webhook(&app, "4915100000077", text, n);
        let (status, _) = post_hook(
            &app,
            &hook,
            raw.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
        )
        .await;
        assert_eq!(status, 200);
    }
    // A second purpose the customer never heard of.
    let (status, _) = app
        .post(&format!("/v1/tenants/{tenant}/consent-purposes"), &admin,
            &json!({"name": "Showroom-Einladungen", "texts": {"de": "Einladungen in den Showroom."}}))
        .await;
    assert_eq!(status, 201);
    let contact = crate::consent::contact_of(&app, &tenant, &dpo, "4915100000077").await;
    let id = request(&app, &tenant, &dpo, "access", &contact).await;
    for lang in ["de", "en"] {
        let (status, zip) =
            crate::records::export(&app, &tenant, &dpo, &id, Some(json!({"lang": lang}))).await;
        assert_eq!(status, 200);
        let files = crate::records::unzip(&zip);
        let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
        let info = &data["information"];
        let all = info.to_string();
        for absent in ["Telegram", "Messenger", "Showroom"] {
            assert!(
                !all.contains(absent),
                "{absent} does not concern this person: {all}"
            );
        }
        assert_eq!(
            all.matches("Meta Platforms Ireland").count(),
            2,
            "once as recipient, once as transfer: {all}"
        );
        assert!(
            all.contains("laut AVV vom 15.01.2026"),
            "the register's confirmed entry: {all}"
        );
        assert!(
            all.contains("Hafen Betrieb GmbH"),
            "the processor is a recipient: {all}"
        );
        assert!(info["automated_decisions"].as_str().unwrap().contains("22"));
        let step = &data["consents"][0]["history"][0];
        assert_eq!(step["evidence"]["keyword"], json!("START"), "{step}");
        assert_eq!(step["text_sha256"].as_str().unwrap().len(), 64);
        golden(
            &format!("art15-whatsapp-newsletter.{lang}.json"),
            &without_ids(&(serde_json::to_string_pretty(info).unwrap() + "\n")),
        );
    }

    // A Facebook page's visitor learns of the joint controllership with Meta (Art. 26); a
    // Telegram user learns that no safeguard covers the transfer, not of clauses that do not
    // exist.
    for (channel, address, expect) in [
        ("messenger", "24000111222333", "Art. 26"),
        ("telegram", "555777", "keine Standardvertragsklauseln"),
    ] {
        let (_, contact) =
            message_at(&app, &tenant, channel, address, "2026-11-21T10:00:00Z").await;
        let id = request(&app, &tenant, &dpo, "access", &contact).await;
        let (status, zip) = crate::records::export(&app, &tenant, &dpo, &id, None).await;
        assert_eq!(status, 200);
        let data: Value =
            serde_json::from_slice(&crate::records::unzip(&zip)["data.json"]).unwrap();
        let all = data["information"].to_string();
        assert!(all.contains(expect), "{channel}: {all}");
        assert!(!all.contains("WhatsApp"), "{channel}: {all}");
    }
    let _ = app.stop().await;
}

async fn an_install_words_its_letters_its_own_way(backend: Backend) {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("letters.toml"),
        "[de]\nsalutation = \"Sehr geehrte Damen und Herren,\"\n\
         extra = [\"Unser Zeichen: {request_id}, Ihr Schreiben vom {received}.\"]\n\
         closing = [\"Mit freundlichen Grüßen\", \"{controller}\", \"Datenschutzteam\"]\n",
    )
    .unwrap();
    let dir = templates.path().to_path_buf();
    let app = TestApp::spawn_configured(backend, move |c| c.templates_dir = Some(dir)).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let (_, contact) =
        message_at(&app, &tenant, "telegram", "555002", "2026-11-20T10:00:00Z").await;
    let erasure = request(&app, &tenant, &dpo, "erasure", &contact).await;
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{erasure}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let de = letter(&app, &tenant, &dpo, &erasure, "de").await;
    assert_eq!(de["salutation"], json!("Sehr geehrte Damen und Herren,"));
    assert_eq!(
        de["closing"],
        json!(["Mit freundlichen Grüßen", "Muster GmbH", "Datenschutzteam"])
    );
    let last = de["paragraphs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        last.starts_with(&format!("Unser Zeichen: {erasure}, Ihr Schreiben vom ")),
        "{last}"
    );
    assert!(!last.contains('{'), "every variable filled: {last}");
    // The legal content stays Hafen's; English keeps Hafen's wording (the file has no [en]).
    assert!(
        de["paragraphs"].to_string().contains("Art. 77 DSGVO"),
        "{de}"
    );
    let en = letter(&app, &tenant, &dpo, &erasure, "en").await;
    assert_eq!(en["salutation"], json!("Dear Sir or Madam,"));
    assert_eq!(en["closing"], json!(["Kind regards", "Muster GmbH"]));
}

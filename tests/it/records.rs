//! GDPR records and data-subject requests: the Art. 30(2) export holds every required field
//! for every tenant in all formats and both languages; TOM entries follow the live state;
//! register changes are versioned; access exports contain the subject's data and nothing of
//! others; erasure destroys or restricts by the rules; deadlines count months correctly.

use std::io::Read;

use hafen::auth::{Actor, Role};
use serde_json::{json, Value};

use crate::both_backends;
use crate::storage::{contains, disk_image};
use crate::support::{marker, phone_marker, text_message, Backend, TestApp};

both_backends!(
    processor_record_has_every_art_30_2_field_in_every_format_and_language,
    tom_entries_follow_what_is_switched_on,
    register_changes_are_versioned_and_subprocessor_changes_dated,
    access_export_contains_the_subjects_data_and_nothing_else,
    an_export_too_long_to_print_has_every_message_on_its_page,
    erasure_restricts_under_a_statutory_duty_and_erases_without_one,
    request_deadlines_count_months_and_overdue_requests_are_counted,
    request_log_shows_every_request_with_its_steps_in_every_format,
    controller_record_has_the_dsk_fields_and_the_processor_record_the_avv_terms,
    a_tenants_letterhead_heads_its_documents_and_bad_logos_are_refused,
    bad_register_and_report_input_is_refused_and_changes_nothing,
);

/// A token of the processor's DPO (install-wide).
async fn install_dpo(app: &TestApp) -> String {
    app.hafen
        .accounts
        .create_token(&Actor::Cli, None, Role::Dpo)
        .await
        .unwrap()
        .token
        .expose()
        .clone()
}

fn processor() -> Value {
    json!({
        "name": "Hafen Betrieb GmbH",
        "address": "Am Sandtorkai 1, 20457 Hamburg",
        "contact": "betrieb@hafen.example, +49 40 000000",
        "dpo_name": "Dr. Erika Datenschutz",
        "dpo_contact": "dsb@hafen.example",
    })
}

fn controller(name: &str) -> Value {
    json!({
        "party": {
            "name": name,
            "address": "Musterstraße 1, 10115 Berlin",
            "contact": "info@kunde.example",
            "dpo_name": format!("DSB von {name}"),
            "dpo_contact": "dsb@kunde.example",
            "representative": "keiner",
        },
        "avv": {
            "date": "2026-01-15",
            "subject_matter": "Betrieb der Messenger-Kommunikation",
            "duration": "unbefristet, kündbar mit 3 Monaten",
            "nature_and_purpose": "Speicherung und Versand von Nachrichten",
            "data_types": ["Telefonnummern", "Nachrichteninhalte"],
            "data_subject_categories": ["Kunden", "Interessenten"],
            "instruction_channel": "schriftlich per E-Mail",
        }
    })
}

/// Text of a PDF, after the checks every PDF passes (`documents::check_pdf`).
pub fn pdf_text(pdf: &[u8]) -> String {
    crate::documents::check_pdf(pdf)
}

/// Every cell of every sheet of an XLSX file, read with calamine.
fn xlsx_text(bytes: &[u8]) -> String {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .expect("the XLSX opens");
    let mut out = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("the sheet reads");
        for row in range.rows() {
            for cell in row {
                out.push_str(&cell.to_string());
                out.push('\n');
            }
        }
    }
    out
}

fn xlsx_sheet_names(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    let book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .expect("the XLSX opens");
    book.sheet_names()
}

/// A PDF line may wrap long values; compare with the whitespace squeezed out.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn two_tenants_with_records(app: &TestApp, dpo: &str) -> (String, String) {
    let (status, _) = app.put("/v1/register/processor", dpo, &processor()).await;
    assert_eq!(status, 201);
    let a = app.create_tenant("Alpha Handel GmbH").await;
    let b = app.create_tenant("Beta Service AG").await;
    for (t, name) in [(&a, "Alpha Handel GmbH"), (&b, "Beta Service AG")] {
        let (status, body) = app
            .put(
                &format!("/v1/tenants/{t}/register/controller"),
                dpo,
                &controller(name),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    crate::channels::whatsapp_channel(app, &a, "secret-a-7f3a9c1e5b2d8f40").await;
    crate::channels::create_channel(
        app,
        &b,
        json!({"platform": "telegram", "name": "Support-Bot", "account_id": "4242",
               "secrets": {"webhook_secret": "tg-secret-1234567890-7f3a9c1e", "bot_token": "123:abc"}}),
    )
    .await;
    (a, b)
}

async fn processor_record_has_every_art_30_2_field_in_every_format_and_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dpo = install_dpo(&app).await;
    two_tenants_with_records(&app, &dpo).await;

    // JSON: the structure names every field Art. 30(2) asks for.
    let (status, kind, bytes) = app
        .get_bytes("/v1/reports/processor-record?format=json&lang=de", &dpo)
        .await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/json"));
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(report["schema"], "hafen.report.v1");
    assert!(report["register_version"].as_i64().unwrap() >= 3);
    assert!(report["generated_at"].is_string());
    let field = |section: &str, key: &str| -> String {
        report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == section)
            .unwrap_or_else(|| panic!("section {section} missing"))["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{section}.{key} missing"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // (a) processor, its representative and DPO; each controller with its DPO.
    assert_eq!(field("processor", "name"), "Hafen Betrieb GmbH");
    assert!(field("processor", "contact").contains("betrieb@hafen.example"));
    assert!(!field("representative", "representative").is_empty());
    assert_eq!(field("dpo", "dpo_name"), "Dr. Erika Datenschutz");
    let controllers: Vec<&Value> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"].as_str().unwrap().starts_with("controller:"))
        .collect();
    assert_eq!(controllers.len(), 2);
    for c in &controllers {
        let keys: Vec<&str> = c["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        for k in [
            "name",
            "address",
            "contact",
            "representative",
            "dpo_name",
            "dpo_contact",
        ] {
            assert!(keys.contains(&k), "{k} missing from {c}");
        }
        // (b) the categories of processing for this controller.
        assert!(
            !c["tables"][0]["rows"].as_array().unwrap().is_empty(),
            "{c}"
        );
    }
    // (c) third-country transfers with their safeguards: Meta (US) and Telegram.
    let transfers = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "transfers")
        .unwrap();
    let rows = transfers["tables"][0]["rows"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r[1] == "Meta Platforms Ireland Ltd." && r[2] == "US"));
    let telegram = rows
        .iter()
        .find(|r| r[1] == "Telegram FZ-LLC / Telegram Messenger Inc.")
        .expect("Telegram's transfer is listed");
    assert!(
        telegram[3]
            .as_str()
            .unwrap()
            .contains("keine Standardvertragsklauseln"),
        "no safeguard that does not exist: {telegram}"
    );
    assert!(
        rows.iter()
            .all(|r| r[4].as_str().unwrap().starts_with("NICHT BESTÄTIGT")),
        "pre-filled entries are marked as not confirmed: {rows:?}"
    );
    // (d) the TOMs, generated from what runs.
    let toms = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "toms")
        .unwrap();
    assert!(toms["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r[4] == "encryption_at_rest" && r[3] == "aktiv"));

    // The hash covers the content and is the same in every format.
    let mut copy = report.clone();
    copy["content_sha256"] = json!("");
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        serde_json::to_vec(&copy).unwrap(),
    ));
    assert_eq!(report["content_sha256"], json!(hash));

    // Every format in both languages opens and shows the same required fields.
    for lang in ["de", "en"] {
        let heading = if lang == "de" {
            "Angaben zum Auftragsverarbeiter"
        } else {
            "The processor"
        };
        let transfers_heading = if lang == "de" {
            "Übermittlungen in Drittländer"
        } else {
            "Transfers to third countries"
        };
        for format in ["json", "csv", "xlsx", "pdf"] {
            let (status, _, bytes) = app
                .get_bytes(
                    &format!("/v1/reports/processor-record?format={format}&lang={lang}"),
                    &dpo,
                )
                .await;
            assert_eq!(status, 200, "{format} {lang}");
            let text = match format {
                "xlsx" => xlsx_text(&bytes),
                "pdf" => pdf_text(&bytes),
                _ => String::from_utf8(bytes).unwrap(),
            };
            let flat = squeeze(&text);
            for needle in [
                heading,
                transfers_heading,
                "Hafen Betrieb GmbH",
                "Dr. Erika Datenschutz",
                "Alpha Handel GmbH",
                "Beta Service AG",
                "DSB von Alpha Handel GmbH",
                "DSB von Beta Service AG",
                "Meta Platforms Ireland Ltd.",
                "Telegram Messenger Inc.",
                "XChaCha20-Poly1305",
            ] {
                assert!(
                    flat.contains(&squeeze(needle)),
                    "{needle} missing from the {format} ({lang}) report"
                );
            }
            if format == "pdf" {
                // Times in German time with the zone named, never a bare UTC timestamp.
                let zone = if lang == "de" {
                    ["MEZ", "MESZ"]
                } else {
                    ["CET", "CEST"]
                };
                assert!(zone.iter().any(|z| text.contains(z)), "no zone: {text}");
                assert!(!text.contains("UTC") && !text.contains("+00:00"), "{text}");
            }
            if format != "json" {
                let sha = report["content_sha256"].as_str().unwrap();
                // The English report has another hash; both carry theirs.
                assert!(
                    lang == "en" || flat.contains(&sha[..16]),
                    "{format} lacks the content hash"
                );
            }
        }
    }

    // The spreadsheet forms: one sheet per controller, named after it; a CSV German Excel
    // splits and reads as UTF-8; an RFC 4180 one for tools.
    let (_, _, bytes) = app
        .get_bytes("/v1/reports/processor-record?format=xlsx&lang=de", &dpo)
        .await;
    let sheets = xlsx_sheet_names(&bytes);
    for name in [
        "Übersicht",
        "Alpha Handel GmbH",
        "Beta Service AG",
        "Drittlandübermittlungen",
        "Maßnahmen (TOM)",
    ] {
        assert!(
            sheets.iter().any(|s| s == name),
            "no sheet {name}: {sheets:?}"
        );
    }
    let (_, kind, bytes) = app
        .get_bytes("/v1/reports/processor-record?format=csv&lang=de", &dpo)
        .await;
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert!(
        bytes.starts_with("\u{feff}Bericht;".as_bytes()),
        "{}",
        String::from_utf8_lossy(&bytes[..40])
    );
    let (_, _, bytes) = app
        .get_bytes(
            "/v1/reports/processor-record?format=csv&lang=de&csv=rfc4180",
            &dpo,
        )
        .await;
    assert!(bytes.starts_with(b"Bericht,"));
    let (status, problem) = app
        .get(
            "/v1/reports/processor-record?format=csv&csv=semicolon",
            &dpo,
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem.to_string().contains("excel or rfc4180"),
        "{problem}"
    );

    // A tenant's token cannot export the processor's record; each export was audited.
    let tenant_dpo = app.token(&controllers_tenant(&report), "dpo").await;
    let (status, _) = app.get("/v1/reports/processor-record", &tenant_dpo).await;
    assert_eq!(status, 403);
    let logged = app.counts().audit;
    let (status, _, _) = app
        .get_bytes("/v1/reports/processor-record?format=pdf", &dpo)
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.counts().audit, logged + 1, "the export is audited");
}

fn controllers_tenant(report: &Value) -> String {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["key"].as_str().unwrap().strip_prefix("controller:"))
        .unwrap()
        .to_string()
}

/// The ids of the measures the annex lists as active.
fn measure_ids(report: &Value) -> Vec<String> {
    measures_with_status(report, "aktiv")
}

fn measures_with_status(report: &Value, status: &str) -> Vec<String> {
    report["sections"][0]["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[3] == json!(status))
        .map(|r| r[4].as_str().unwrap().to_string())
        .collect()
}

async fn tom_entries_follow_what_is_switched_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let toms = format!("/v1/tenants/{tenant}/reports/toms");
    let (status, report) = app.get(&toms, &dpo).await;
    assert_eq!(status, 200, "{report}");
    let ids = measure_ids(&report);
    assert!(ids.contains(&"encryption_at_rest".to_string()));
    assert!(!ids.contains(&"webhook_signatures".to_string()), "{ids:?}");
    assert!(!ids.contains(&"four_eyes_retention".to_string()));
    assert!(
        !ids.contains(&"tls_listener".to_string()),
        "no TLS configured"
    );
    // What is off is said to be off, not left out.
    let off = measures_with_status(&report, "NICHT AKTIV");
    for id in ["four_eyes_retention", "tls_listener", "key_recovery"] {
        assert!(
            off.contains(&id.to_string()),
            "{id} not listed as off: {off:?}"
        );
    }
    let source = report["sections"][0]["fields"].to_string();
    assert!(
        source.contains("Einstellungen des laufenden Servers"),
        "{source}"
    );

    // The CLI in another shell, with other settings in its environment, describes the
    // running server, not itself.
    let out = app.dir.path().join("toms.json");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_hafen"))
        .args([
            "report", "toms", "--tenant", &tenant, "--format", "json", "--lang", "de", "--out",
        ])
        .arg(&out)
        .env_remove("HAFEN_CONFIG")
        .env("HAFEN_DATA_DIR", app.data_dir())
        .env("HAFEN_DATABASE_URL", &app.db.url)
        .env("HAFEN_RETENTION_REQUIRE_APPROVAL", "true")
        .env("HAFEN_RETENTION_SCHEDULE", "")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let from_cli: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(
        measures_with_status(&from_cli, "NICHT AKTIV").contains(&"four_eyes_retention".to_string()),
        "the server does not require approval, whatever the CLI's environment says"
    );
    // The server under test runs on the test's clock, the CLI on the system's: to the CLI the
    // server's heartbeat is old, so it names the server as the last one seen.
    let source = from_cli["sections"][0]["fields"].to_string();
    assert!(
        source.contains("Einstellungen des laufenden Servers")
            || source.contains("Einstellungen des zuletzt gelaufenen Servers"),
        "{source}"
    );

    // A channel switches webhook verification on; disabling it takes the claim away.
    let channel =
        crate::channels::whatsapp_channel(&app, &tenant, "s3cret-7f3a9c1e5b2d8f40a1").await;
    let (_, report) = app.get(&toms, &dpo).await;
    assert!(measure_ids(&report).contains(&"webhook_signatures".to_string()));
    let r = app
        .client
        .patch(app.url(&format!("/v1/tenants/{tenant}/channels/{channel}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, report) = app.get(&toms, &dpo).await;
    assert!(
        !measure_ids(&report).contains(&"webhook_signatures".to_string()),
        "a disabled channel's verification is not claimed"
    );

    // Organisational measures come from the register; an uncovered control is named.
    let (_, report) = app.get(&toms, &dpo).await;
    let notes = report["sections"][0]["notes"].to_string();
    assert!(notes.contains("Zutrittskontrolle"), "{notes}");
    let admin = install_dpo(&app).await;
    let (status, _) = app
        .put(
            "/v1/register/measures",
            &admin,
            &json!([{"control": "physical_access", "text": "Serverraum mit Chipkartenzugang"}]),
        )
        .await;
    assert_eq!(status, 201);
    let (_, report) = app.get(&toms, &dpo).await;
    assert!(report
        .to_string()
        .contains("Serverraum mit Chipkartenzugang"));
    assert!(!report["sections"][0]["notes"]
        .to_string()
        .contains("Zutrittskontrolle"));
    drop(app);

    // The four-eyes rule appears only where the configuration requires approval.
    let app = TestApp::spawn_configured(backend, |c| c.retention_require_approval = true).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let (_, report) = app
        .get(&format!("/v1/tenants/{tenant}/reports/toms"), &dpo)
        .await;
    assert!(measure_ids(&report).contains(&"four_eyes_retention".to_string()));
}

async fn register_changes_are_versioned_and_subprocessor_changes_dated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    crate::channels::whatsapp_channel(&app, &tenant, "s3cret-7f3a9c1e5b2d8f40a1").await;
    let base = format!("/v1/tenants/{tenant}/register/subprocessors");
    let report_path = format!("/v1/tenants/{tenant}/reports/subprocessors");

    // Before anything is entered: Meta is pre-filled from the platform in use.
    let (_, report) = app.get(&report_path, &dpo).await;
    let rows = report["sections"][0]["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "Meta Platforms Ireland Ltd.");
    assert!(rows[0][9].as_str().unwrap().contains("vorausgefüllt"));

    let meta = json!({"key": "meta", "name": "Meta Platforms Ireland Ltd.", "address": "Merrion Road, Dublin 4",
        "country": "IE", "service": "WhatsApp Cloud API", "data_categories": ["Nachrichten"],
        "third_countries": ["US"], "transfer_mechanism": "EU-US Data Privacy Framework", "authorised_on": "2026-02-01"});
    let backup = json!({"key": "backup", "name": "Sicher Backup GmbH", "address": "Frankfurt am Main",
        "country": "DE", "service": "Verschlüsselte Sicherungen", "data_categories": ["Sicherungen (verschlüsselt)"]});
    let (status, v1) = app.put(&base, &dpo, &json!([meta])).await;
    assert_eq!(status, 201, "{v1}");
    // The same document again: no new version.
    let (status, same) = app.put(&base, &dpo, &json!([meta])).await;
    assert_eq!(status, 200);
    assert_eq!(same["version"], v1["version"]);
    app.clock.advance(chrono::Duration::days(10));
    let (status, v2) = app.put(&base, &dpo, &json!([meta, backup])).await;
    assert_eq!(status, 201);
    assert!(v2["version"].as_i64() > v1["version"].as_i64());

    let (status, versions) = app.get(&format!("{base}/versions"), &dpo).await;
    assert_eq!(status, 200);
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2, "every change keeps the previous version");
    assert_eq!(versions[1]["document"].as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["document"].as_array().unwrap().len(), 2);

    let (_, report) = app.get(&report_path, &dpo).await;
    assert_eq!(report["register_version"], v2["version"]);
    let rows = report["sections"][0]["tables"][0]["rows"]
        .as_array()
        .unwrap();
    let backup_row = rows.iter().find(|r| r[0] == "Sicher Backup GmbH").unwrap();
    assert_eq!(
        backup_row[8], "2026-12-06",
        "listed since the day it was added"
    );
    let meta_row = rows
        .iter()
        .find(|r| r[0] == "Meta Platforms Ireland Ltd.")
        .unwrap();
    assert_eq!(meta_row[8], "2026-11-26");
    assert_eq!(meta_row[7], "2026-02-01");
    let changes = report["sections"][0]["tables"][1]["rows"]
        .as_array()
        .unwrap();
    assert_eq!(changes.len(), 2);
    assert!(changes[1][3]
        .as_str()
        .unwrap()
        .contains("hinzugefügt: Sicher Backup GmbH"));

    // Register contents name people: they are sealed on disk.
    let dpo_name = marker("DPONAME");
    let mut c = controller("Muster GmbH");
    c["party"]["dpo_name"] = json!(dpo_name);
    let (status, _) = app
        .put(
            &format!("/v1/tenants/{tenant}/register/controller"),
            &dpo,
            &c,
        )
        .await;
    assert_eq!(status, 201);
    let (_, back) = app
        .get(&format!("/v1/tenants/{tenant}/register/controller"), &dpo)
        .await;
    assert_eq!(back["document"]["party"]["dpo_name"], json!(dpo_name));
    assert!(
        !contains(&disk_image(&app), &dpo_name),
        "the DPO's name is on disk in clear"
    );
}

/// Stores a message; returns its id.
async fn store(app: &TestApp, tenant: &str, m: Value) -> String {
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &m,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn create_request(app: &TestApp, tenant: &str, token: &str, body: Value) -> Value {
    let (status, r) = app
        .post(&format!("/v1/tenants/{tenant}/requests"), token, &body)
        .await;
    assert_eq!(status, 201, "{r}");
    r
}

/// Opens an access request for the contact and exports it: the request's id and the ZIP's files.
async fn access_export(
    app: &TestApp,
    tenant: &str,
    token: &str,
    contact: &str,
) -> (String, std::collections::BTreeMap<String, Vec<u8>>) {
    let request = create_request(
        app,
        tenant,
        token,
        json!({"kind": "access", "contact_id": contact}),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let (status, zip) = export(app, tenant, token, &id, None).await;
    assert_eq!(status, 200);
    (id, unzip(&zip))
}

pub fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    let mut out = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        out.insert(f.name().to_string(), content);
    }
    out
}

pub async fn export(
    app: &TestApp,
    tenant: &str,
    token: &str,
    id: &str,
    body: Option<Value>,
) -> (u16, Vec<u8>) {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/tenants/{tenant}/requests/{id}/export")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

async fn access_export_contains_the_subjects_data_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let phone = phone_marker();
    let mine = marker("MINE");
    let reply = marker("REPLY");
    let other = marker("OTHERPERSON");
    let raw = marker("RAWPAYLOAD");
    let mut m = text_message("whatsapp", &phone, &mine, None);
    m["contact"]["display_name"] = json!("Erika Muster");
    m["raw"] = json!({"business_account": raw});
    store(&app, &tenant, m).await;
    let mut out = text_message("whatsapp", &phone, &reply, None);
    out["direction"] = json!("out");
    out["occurred_at"] = json!("2026-11-26T10:05:00Z");
    store(&app, &tenant, out).await;
    store(
        &app,
        &tenant,
        text_message("whatsapp", "+4915199999999", &other, None),
    )
    .await;

    // The DPO finds the contact by its number (blind index), audited.
    let audit_before = app.counts().audit;
    let (status, found) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "whatsapp", "address": phone}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(app.counts().audit, audit_before + 1);
    let contact = found["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "whatsapp", "address": "+4915100000001"}),
        )
        .await;
    assert_eq!(status, 404);

    let (id, files) = access_export(&app, &tenant, &dpo, &contact).await;
    for name in ["data.json", "auskunft.pdf", "LIESMICH.txt"] {
        assert!(
            files.contains_key(name),
            "{name} missing: {:?}",
            files.keys()
        );
    }
    let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
    assert_eq!(data["schema"], "hafen.subject-export.v1");
    assert_eq!(
        data["contact"]["address"]
            .as_str()
            .unwrap()
            .trim_start_matches('+'),
        phone.trim_start_matches('+')
    );
    assert_eq!(data["contact"]["display_name"], "Erika Muster");
    let bodies: Vec<&str> = data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec![mine.as_str(), reply.as_str()]);
    let text = String::from_utf8_lossy(&files["data.json"]).into_owned();
    assert!(!text.contains(&other), "another person's message leaked");
    assert!(!text.contains(&raw), "platform payloads are not exported");
    for key in [
        "purposes",
        "recipients",
        "storage_periods",
        "rights",
        "complaint",
        "source",
    ] {
        assert!(!data["information"][key].is_null(), "Art. 15 {key} missing");
    }
    let pdf = squeeze(&pdf_text(&files["auskunft.pdf"]));
    assert!(pdf.contains(&squeeze(&mine)) && pdf.contains("ErikaMuster"));
    let page = String::from_utf8(files["nachrichten.html"].clone()).unwrap();
    assert!(page.contains(&mine) && page.contains(&reply) && !page.contains(&other));
    let (_, done) = app
        .get(&format!("/v1/tenants/{tenant}/requests/{id}"), &dpo)
        .await;
    assert_eq!(done["status"], "completed");

    // Portability: what the subject provided, and encrypted to the subject's age key.
    let identity = age::x25519::Identity::generate();
    let request = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "portability", "contact_id": contact}),
    )
    .await;
    let id = request["id"].as_str().unwrap();
    let (status, sealed) = export(
        &app,
        &tenant,
        &dpo,
        id,
        Some(json!({"recipient": identity.to_public().to_string()})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        unzip_fails(&sealed),
        "the encrypted export is not a plain ZIP"
    );
    let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let copy = unzip(&plain);
    let data: Value = serde_json::from_slice(&copy["data.json"]).unwrap();
    let page = String::from_utf8(copy["nachrichten.html"].clone()).unwrap();
    assert!(page.contains("Die Nachrichten, die Sie uns geschickt haben"));
    assert!(page.contains(&mine) && !page.contains(&reply));
    let bodies: Vec<&str> = data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![mine.as_str()],
        "portability: the subject's own messages"
    );

    // A bad recipient is refused and the request stays open.
    let request = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "access", "contact_id": contact}),
    )
    .await;
    let id = request["id"].as_str().unwrap();
    let (status, _) = export(
        &app,
        &tenant,
        &dpo,
        id,
        Some(json!({"recipient": "age1nope"})),
    )
    .await;
    assert_eq!(status, 422);
    let (_, still) = app
        .get(&format!("/v1/tenants/{tenant}/requests/{id}"), &dpo)
        .await;
    assert_eq!(still["status"], "open");
    // An agent may not handle requests; another tenant's DPO does not see them.
    let agent = app.token(&tenant, "agent").await;
    assert_eq!(export(&app, &tenant, &agent, id, None).await.0, 403);
    let other_tenant = app.create_tenant("Andere GmbH").await;
    let foreign = app.token(&other_tenant, "dpo").await;
    assert_eq!(export(&app, &tenant, &foreign, id, None).await.0, 404);
}

/// A person with more message text than a readable PDF holds (over 256 KiB): the PDF says
/// how many messages there are, per channel, and where they are; `nachrichten.html` has every
/// one of them, escaped (a message with markup shows it as text, nothing runs), in order.
async fn an_export_too_long_to_print_has_every_message_on_its_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let phone = phone_marker();
    let long = marker("LONG");
    let filler = format!("{long} {}", "Wort ".repeat(200));
    let markup = "<script>alert('x')</script> & <b>fett</b>";
    let arabic = "مرحبا، أين طلبي؟";
    let mut bodies: Vec<String> = (0..300).map(|i| format!("{i:03} {filler}")).collect();
    bodies.push(markup.to_string());
    bodies.push(arabic.to_string());
    for chunk in bodies.chunks(40) {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|b| text_message("whatsapp", &phone, b, None))
            .collect();
        let (status, body) = app
            .post(
                &format!("/v1/tenants/{tenant}/messages"),
                &app.admin_token,
                &json!({ "messages": messages }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, found) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "whatsapp", "address": phone}),
        )
        .await;
    let contact = found["id"].as_str().unwrap().to_string();
    let (_, files) = access_export(&app, &tenant, &dpo, &contact).await;

    let pdf = squeeze(&pdf_text(&files["auskunft.pdf"]));
    assert!(!pdf.contains(&long), "the messages are not printed");
    for said in [
        "302Nachrichten",
        "nachrichten.html",
        "data.json",
        "WhatsApp",
    ] {
        assert!(pdf.contains(said), "{said} missing from the PDF: {pdf}");
    }

    let page = String::from_utf8(files["nachrichten.html"].clone()).unwrap();
    assert!(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"));
    assert!(
        !page.to_lowercase().contains("<script"),
        "markup must not run"
    );
    assert!(page.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;fett&lt;/b&gt;"));
    assert!(page.contains(arabic));
    let shown: Vec<usize> = bodies
        .iter()
        .take(300)
        .map(|b| page.find(&b[..20]).expect("every message is on the page"))
        .collect();
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert_eq!(page.matches("<li class=\"in\">").count(), 302);
    let readme = String::from_utf8(files["LIESMICH.txt"].clone()).unwrap();
    assert!(readme.contains("nachrichten.html"));
}

fn unzip_fails(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).is_err()
}

async fn erasure_restricts_under_a_statutory_duty_and_erases_without_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let kept_body = marker("KEPT");
    // An order confirmation: a business letter, which the install's defaults keep six years.
    let mut letter = text_message("whatsapp", "+4915111110001", &kept_body, None);
    letter["business_letter"] = json!(true);
    let m1 = store(&app, &tenant, letter).await;
    let contact = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{m1}"),
            &app.admin_token,
        )
        .await
        .1["contact_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The install's defaults keep business letters for 6 years (§ 257 HGB): restrict, not erase.
    let r = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "erasure", "contact_id": contact}),
    )
    .await;
    let (status, outcome) = app
        .post(
            &format!(
                "/v1/tenants/{tenant}/requests/{}/erase",
                r["id"].as_str().unwrap()
            ),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["erased"], false);
    assert_eq!(outcome["restricted"], true);
    let kept = outcome["categories"].as_array().unwrap();
    let content = kept
        .iter()
        .find(|k| k["category"] == "message_content")
        .unwrap();
    let reason = content["citation"]["de"].as_str().unwrap();
    assert!(
        reason.starts_with("Art. 17 Abs. 3 lit. b DSGVO") && reason.contains("§ 257 Abs. 1"),
        "a statutory duty, cited as Art. 17(3)(b) with its norm: {reason}"
    );
    assert!(!reason.contains("35"), "not § 35(3) BDSG: {reason}");
    assert_eq!(content["until"], "2033-01-01T00:00:00Z");
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{tenant}/messages/{m1}"),
            &app.admin_token
        )
        .await
        .0,
        403,
        "restricted data is no longer readable normally"
    );
    let (status, certs) = app
        .get(
            &format!("/v1/tenants/{tenant}/retention/certificates"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200);
    let cert = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == outcome["certificate_id"])
        .expect("the erasure has a certificate");
    assert_eq!(cert["state"], "restricted");

    // Without a statutory rule the same request destroys the contact.
    let loose: Vec<Value> = [
        ("contacts", "conversation_end"),
        ("message_content", "collection"),
        ("attachments", "collection"),
        ("message_metadata", "collection"),
        ("delivery_statuses", "collection"),
        ("webhook_logs", "collection"),
        ("consent_requests", "collection"),
        ("consent_proofs", "consent_withdrawal"),
    ]
    .iter()
    .map(|(c, s)| json!({"category": c, "start": s, "period": "P10Y", "legal_basis": "Vertrag", "statutory": false}))
    .collect();
    let admin = app.token(&tenant, "tenant_admin").await;
    let (_, preview) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/preview"),
            &admin,
            &json!({"rules": loose}),
        )
        .await;
    let (status, _) = app
        .put(
            &format!("/v1/tenants/{tenant}/retention/rules"),
            &admin,
            &json!({"rules": loose, "preview_id": preview["preview_id"]}),
        )
        .await;
    assert_eq!(status, 201);
    let gone_body = marker("GONE");
    let m2 = store(
        &app,
        &tenant,
        text_message("whatsapp", "+4915111110002", &gone_body, None),
    )
    .await;
    let contact2 = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{m2}"),
            &app.admin_token,
        )
        .await
        .1["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "erasure", "contact_id": contact2}),
    )
    .await;
    let rid = r["id"].as_str().unwrap();
    let (status, outcome) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{rid}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["erased"], true);
    assert!(outcome["categories"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["kept"] == 0));
    assert_eq!(outcome["deleted"]["message_metadata"], 1);
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{tenant}/messages/{m2}"),
            &app.admin_token
        )
        .await
        .0,
        404
    );
    let (_, c) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact2}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(c["erased"], true);
    assert!(c["address"].is_null());
    // Answered once: a second erase is a conflict.
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{rid}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 409);
    let chain = app.hafen.retention.verify_certificates().await.unwrap();
    assert!(chain.broken.is_none() && chain.verified >= 2, "{chain}");
    assert!(app
        .hafen
        .audit
        .verify_chain()
        .await
        .unwrap()
        .broken
        .is_none());
    let disk = disk_image(&app);
    assert!(!contains(&disk, &gone_body));
    // The deletion report lists both outcomes.
    let (status, report) = app
        .get(
            &format!("/v1/tenants/{tenant}/reports/deletion-report?lang=en"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        report["sections"][0]["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn request_deadlines_count_months_and_overdue_requests_are_counted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    store(
        &app,
        &tenant,
        text_message("whatsapp", "+4915111110003", "Hallo", None),
    )
    .await;
    let contact = app
        .get(&format!("/v1/tenants/{tenant}/contacts"), &dpo)
        .await
        .1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.set("2027-01-31T09:00:00Z".parse().unwrap());
    let late = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "access", "contact_id": contact}),
    )
    .await;
    assert_eq!(late["received_on"], "2027-01-31");
    assert_eq!(
        late["due_on"], "2027-02-28",
        "one month from 31 January ends on 28 February"
    );
    let extended = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "erasure", "contact_id": contact}),
    )
    .await;
    let (status, e) = app
        .post(
            &format!(
                "/v1/tenants/{tenant}/requests/{}/extend",
                extended["id"].as_str().unwrap()
            ),
            &dpo,
            &json!({"reason": "Umfangreiche Prüfung der Aufbewahrungspflichten"}),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["extended_due_on"], "2027-04-30");
    assert_eq!(
        e["extension_reason"],
        "Umfangreiche Prüfung der Aufbewahrungspflichten"
    );

    // On the due day nothing is overdue; the day after, the unextended one is.
    app.clock.set("2027-02-28T23:00:00Z".parse().unwrap());
    let (_, overdue) = app
        .get(&format!("/v1/tenants/{tenant}/requests?overdue=true"), &dpo)
        .await;
    assert!(overdue.as_array().unwrap().is_empty());
    app.clock.set("2027-03-01T08:00:00Z".parse().unwrap());
    let (_, overdue) = app
        .get(&format!("/v1/tenants/{tenant}/requests?overdue=true"), &dpo)
        .await;
    let overdue = overdue.as_array().unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], late["id"]);
    let (_, _, metrics) = app.get_bytes("/metrics", &app.admin_token).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("hafen_dsr_overdue_requests 1"),
        "{metrics}"
    );
    // Past the first month an extension is refused.
    let (status, problem) = app
        .post(
            &format!(
                "/v1/tenants/{tenant}/requests/{}/extend",
                late["id"].as_str().unwrap()
            ),
            &dpo,
            &json!({"reason": "zu spät"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    // A request received in the future, or for an unknown contact, is refused.
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            &dpo,
            &json!({"kind": "access", "contact_id": contact, "received_on": "2027-03-02"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, problem) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            &dpo,
            &json!({"kind": "access", "contact_id": "nope"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a contact id (a UUID)"),
        "{problem}"
    );
    let (_, all) = app
        .get(&format!("/v1/tenants/{tenant}/requests"), &dpo)
        .await;
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "refused requests were not stored"
    );
    // The contact named in another spelling of its UUID is the same contact, stored as Hafen
    // writes its id.
    let (status, spelled) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            &dpo,
            &json!({"kind": "access",
                "contact_id": contact.to_uppercase().replace('-', "")}),
        )
        .await;
    assert_eq!(status, 201, "{spelled}");
    assert_eq!(spelled["contact_id"], contact);
}

async fn request_log_shows_every_request_with_its_steps_in_every_format(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let address = phone_marker();
    store(
        &app,
        &tenant,
        text_message("whatsapp", &address, &marker("body"), None),
    )
    .await;
    let contact = app
        .get(&format!("/v1/tenants/{tenant}/contacts"), &dpo)
        .await
        .1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.set("2027-01-31T09:00:00Z".parse().unwrap());
    let base = format!("/v1/tenants/{tenant}/requests");
    let restriction = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "restriction", "contact_id": contact}),
    )
    .await;
    let restriction = restriction["id"].as_str().unwrap().to_string();
    let access = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "access", "contact_id": contact}),
    )
    .await;
    let access = access["id"].as_str().unwrap().to_string();
    let refused = create_request(
        &app,
        &tenant,
        &dpo,
        json!({"kind": "erasure", "contact_id": contact, "received_on": "2027-01-20"}),
    )
    .await;
    let refused = refused["id"].as_str().unwrap().to_string();

    // The identity step: recorded with how; a wrong method or tenant changes nothing.
    let other = app.create_tenant("Andere GmbH").await;
    let foreign = app.token(&other, "dpo").await;
    let audit = app.counts().audit;
    for (path, token, body, expected) in [
        (
            format!("{base}/{restriction}/identity"),
            &dpo,
            json!({"method": "looked trustworthy"}),
            422,
        ),
        (
            format!("{base}/{restriction}/identity"),
            &dpo,
            json!({"method": "callback", "note": "x"}),
            422,
        ),
        (
            format!("/v1/tenants/{other}/requests/{restriction}/identity"),
            &foreign,
            json!({"method": "callback"}),
            404,
        ),
        (
            format!("{base}/nope/identity"),
            &dpo,
            json!({"method": "callback"}),
            404,
        ),
    ] {
        let (status, problem) = app.post(&path, token, &body).await;
        assert_eq!(status, expected, "{path} {body}: {problem}");
    }
    assert_eq!(app.counts().audit, audit, "nothing refused was recorded");
    app.clock.set("2027-02-02T09:00:00Z".parse().unwrap());
    let (status, r) = app
        .post(
            &format!("{base}/{restriction}/identity"),
            &dpo,
            &json!({"method": "callback"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert!(r["history"].to_string().contains("dsr.identity"), "{r}");
    let (status, r) = app
        .post(&format!("{base}/{restriction}/restrict"), &dpo, &json!({}))
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, _, _) = app
        .get_bytes(&format!("{base}/{restriction}/letter?lang=de"), &dpo)
        .await;
    assert_eq!(status, 200);
    let (status, r) = app
        .post(
            &format!("{base}/{refused}/reject"),
            &dpo,
            &json!({"ground": "identity_not_verified"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, r) = app
        .post(
            &format!("{base}/{refused}/identity"),
            &dpo,
            &json!({"method": "callback"}),
        )
        .await;
    assert_eq!(status, 409, "a closed request takes no identity step: {r}");
    // The access request stays open past its deadline (28 February).
    app.clock.set("2027-03-02T09:00:00Z".parse().unwrap());

    let path = format!("/v1/tenants/{tenant}/reports/request-log");
    let (status, report) = app.get(&path, &dpo).await;
    assert_eq!(status, 200, "{report}");
    let section = &report["sections"][0];
    let fields: std::collections::BTreeMap<&str, &Value> = section["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["key"].as_str().unwrap(), &f["value"]))
        .collect();
    assert_eq!(fields["total"], &json!("3"));
    assert_eq!(fields["pending"], &json!("1"));
    assert_eq!(fields["overdue"], &json!("1"));
    let rows = section["tables"][0]["rows"].as_array().unwrap();
    let row = |id: &str| {
        rows.iter()
            .find(|r| r[10] == json!(id))
            .unwrap_or_else(|| panic!("{id}: {rows:?}"))
    };
    // Oldest received first.
    assert_eq!(rows[0][10], json!(refused));
    let r = row(&restriction);
    assert_eq!(r[1], json!("Einschränkung (Art. 18)"));
    assert_eq!(r[2], json!("2027-01-31"));
    assert_eq!(r[3], json!("2027-02-02"));
    assert_eq!(r[4], json!("Rückruf unter bekannter Nummer oder Adresse"));
    assert_eq!(r[5], json!("2027-02-28"));
    assert_eq!(r[7], json!("2027-02-02"));
    assert_eq!(r[8], json!("Verarbeitung eingeschränkt"));
    assert_eq!(r[9], json!("2027-02-02"), "the letter was made that day");
    let r = row(&access);
    assert_eq!(r[3], json!("–"));
    assert_eq!(r[8], json!("offen – FRIST ÜBERSCHRITTEN"));
    let r = row(&refused);
    assert_eq!(
        r[8],
        json!("abgelehnt: Identität nicht bestätigt (Art. 12 Abs. 6)")
    );

    // Every format, both languages; nothing personal in any.
    for lang in ["de", "en"] {
        for format in ["json", "csv", "xlsx", "pdf"] {
            let (status, _, bytes) = app
                .get_bytes(&format!("{path}?format={format}&lang={lang}"), &dpo)
                .await;
            assert_eq!(status, 200, "{format} {lang}");
            if let Ok(dir) = std::env::var("HAFEN_SAMPLE_DIR") {
                std::fs::write(format!("{dir}/request-log-{lang}.{format}"), &bytes).unwrap();
            }
            let text = match format {
                "xlsx" => xlsx_text(&bytes),
                "pdf" => pdf_text(&bytes),
                _ => String::from_utf8(bytes.clone()).unwrap(),
            };
            let flat = squeeze(&text);
            let (kind, outcome) = if lang == "de" {
                ("Einschränkung(Art.18)", "FRISTÜBERSCHRITTEN")
            } else {
                ("Restriction(Art.18)", "DEADLINEPASSED")
            };
            assert!(
                flat.contains(kind) && flat.contains(outcome),
                "{format} {lang}: {text}"
            );
            assert!(
                !text.contains(&address) && !text.contains(&address[1..]),
                "{format} {lang}"
            );
            match (format, lang) {
                ("pdf", "de") => assert!(flat.contains("31.01.2027"), "{text}"),
                ("pdf", "en") => assert!(flat.contains("31Jan2027"), "{text}"),
                ("csv", "de") => assert!(
                    text.starts_with("\u{feff}") && text.contains(";31.01.2027;"),
                    "{text}"
                ),
                ("xlsx", _) => {
                    use calamine::{Data, Reader};
                    let mut book: calamine::Xlsx<_> =
                        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone()))
                            .unwrap();
                    let name = book.sheet_names()[1].clone();
                    let sheet = book.worksheet_range(&name).unwrap();
                    assert!(
                        matches!(sheet.get((1, 0)), Some(Data::Float(_))),
                        "{:?}",
                        sheet.get((1, 0))
                    );
                    assert!(
                        matches!(sheet.get((1, 2)), Some(Data::DateTime(_))),
                        "{:?}",
                        sheet.get((1, 2))
                    );
                }
                _ => {}
            }
        }
    }
}

async fn controller_record_has_the_dsk_fields_and_the_processor_record_the_avv_terms(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let dpo = install_dpo(&app).await;
    app.clock.set("2027-01-10T10:00:00Z".parse().unwrap());
    let (alpha, _) = two_tenants_with_records(&app, &dpo).await;
    let channel_key = {
        let (_, channels) = app
            .get(&format!("/v1/tenants/{alpha}/channels"), &app.admin_token)
            .await;
        format!("channel:{}", channels[0]["id"].as_str().unwrap())
    };
    let activities = json!([
        {"key": channel_key, "department": "Kundenservice", "review_status": "approved", "reviewed_on": "2027-01-05"},
        {"key": "bewerbungen", "name": "Bewerbungen per Messenger", "purposes": ["Auswahl von Bewerbern"],
         "legal_basis": "§ 26 BDSG", "data_subject_categories": ["Bewerber"],
         "data_categories": ["Lebenslauf", "Gesundheitsangaben bei Schwerbehinderung"],
         "recipients": ["Fachabteilung"], "erasure": ["6 Monate nach Abschluss des Verfahrens (AGG)"],
         "joint_controllers": ["Konzernmutter AG: gemeinsame Bewerberauswahl"],
         "special_categories": true, "profiling": false, "dpia": "DSFA-2026-07",
         "department": "Personal", "contact_person": "Leitung Personal",
         "storage_location": "Bewerbermanagement, Rechenzentrum Frankfurt",
         "processor_contract": "AVV mit Recruiting GmbH vom 01.03.2026", "review_status": "draft"}
    ]);
    let (status, body) = app
        .put(
            &format!("/v1/tenants/{alpha}/register/activities"),
            &dpo,
            &activities,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A wrong review status is refused, naming what exists.
    let (status, problem) = app
        .put(
            &format!("/v1/tenants/{alpha}/register/activities"),
            &dpo,
            &json!([{"key": "x", "review_status": "ok"}]),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("`approved`"), "{problem}");

    let (status, report) = app
        .get(
            &format!("/v1/tenants/{alpha}/reports/controller-record"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let table = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "activities")
        .unwrap()["tables"][0]
        .clone();
    let keys: Vec<&str> = table["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    // The DSK template's order: name, dates and review, who is responsible, purposes and
    // basis, people and data, recipients, transfers, erasure, TOMs; then Art. 26, 22, 35.
    assert_eq!(
        keys,
        [
            "name",
            "created",
            "changed",
            "review_status",
            "reviewed_on",
            "department",
            "contact_person",
            "purposes",
            "legal_basis",
            "legitimate_interest_assessment",
            "data_subject_categories",
            "data_categories",
            "special_categories",
            "recipients",
            "transfers",
            "erasure",
            "toms",
            "joint_controllers",
            "profiling",
            "dpia",
            "storage_location",
            "processor_contract",
            "source"
        ]
    );
    let col = |k: &str| keys.iter().position(|c| *c == k).unwrap();
    let rows = table["rows"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r[0].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("{name}: {rows:?}"))
    };
    let hand = row("Bewerbungen");
    assert_eq!(hand[col("created")], json!("2027-01-10"));
    assert_eq!(
        hand[col("erasure")],
        json!("6 Monate nach Abschluss des Verfahrens (AGG)")
    );
    assert_eq!(hand[col("special_categories")], json!("ja"));
    assert_eq!(hand[col("dpia")], json!("DSFA-2026-07"));
    assert_eq!(hand[col("review_status")], json!("Entwurf"));
    assert_eq!(
        hand[col("joint_controllers")],
        json!("Konzernmutter AG: gemeinsame Bewerberauswahl")
    );
    assert_eq!(
        hand[col("legitimate_interest_assessment")],
        json!("nicht erforderlich (keine Verarbeitung nach lit. f)")
    );
    let wa = row("WhatsApp");
    assert_eq!(wa[col("department")], json!("Kundenservice"));
    assert_eq!(wa[col("reviewed_on")], json!("2027-01-05"));
    assert_eq!(wa[col("review_status")], json!("freigegeben"));
    assert!(
        wa[col("legitimate_interest_assessment")]
            .as_str()
            .unwrap()
            .contains("erforderlich: Art. 6 Abs. 1 lit. f"),
        "{wa}"
    );
    assert_eq!(wa[col("special_categories")], json!("— nicht erfasst —"));
    let recipients = wa[col("recipients")].as_str().unwrap();
    assert!(
        recipients.contains("Auftragsverarbeiter: Hafen Betrieb GmbH"),
        "{recipients}"
    );
    assert!(
        recipients.contains("Unterauftragsverarbeiter: Meta Platforms Ireland"),
        "{recipients}"
    );
    assert!(
        wa[col("processor_contract")]
            .as_str()
            .unwrap()
            .contains("AV-Vertrag mit Hafen Betrieb GmbH vom 15.01.2026"),
        "{wa}"
    );
    assert!(
        wa[col("storage_location")]
            .as_str()
            .unwrap()
            .contains("Am Sandtorkai 1"),
        "{wa}"
    );

    // The PDF shows each activity as a form; XLSX one row per activity.
    let (_, _, pdf) = app
        .get_bytes(
            &format!("/v1/tenants/{alpha}/reports/controller-record?format=pdf"),
            &dpo,
        )
        .await;
    let text = squeeze(&pdf_text(&pdf));
    assert!(
        text.contains(&squeeze("2. Bewerbungen per Messenger")),
        "{text}"
    );
    assert!(
        text.contains("Datenschutz-Folgenabschätzung") && text.contains("DSFA-2026-07"),
        "{text}"
    );
    let (_, _, xlsx) = app
        .get_bytes(
            &format!("/v1/tenants/{alpha}/reports/controller-record?format=xlsx"),
            &dpo,
        )
        .await;
    {
        use calamine::{Data, Reader};
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range("Verarbeitungstätigkeiten").unwrap();
        assert_eq!(
            sheet.get((0, 0)),
            Some(&Data::String(
                "Bezeichnung der Verarbeitungstätigkeit".into()
            ))
        );
        assert_eq!(sheet.height(), 3, "a header and one row per activity");
        assert!(
            matches!(sheet.get((2, 1)), Some(Data::DateTime(_))),
            "{:?}",
            sheet.get((2, 1))
        );
    }

    // The processor record: a nature of processing per channel, the AVV's terms, and only
    // what Hafen runs for the controller.
    let (_, record) = app.get("/v1/reports/processor-record", &dpo).await;
    let section = record["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == format!("controller:{alpha}"))
        .unwrap()
        .clone();
    let fields = section["fields"].to_string();
    for needle in [
        "Betrieb der Messenger-Kommunikation",
        "unbefristet, kündbar mit 3 Monaten",
        "schriftlich per E-Mail",
        "Kunden; Interessenten",
    ] {
        assert!(fields.contains(needle), "{needle}: {fields}");
    }
    let categories = section["tables"][0]["rows"].to_string();
    assert!(categories.contains("WhatsApp Cloud API"), "{categories}");
    assert!(!categories.contains("Bewerbungen"), "{categories}");

    // The AVV annex of its own, in every format.
    for format in ["json", "csv", "xlsx", "pdf"] {
        let (status, _, bytes) = app
            .get_bytes(
                &format!("/v1/tenants/{alpha}/reports/avv-terms?format={format}"),
                &dpo,
            )
            .await;
        assert_eq!(status, 200, "{format}");
        let text = squeeze(&match format {
            "xlsx" => xlsx_text(&bytes),
            "pdf" => pdf_text(&bytes),
            _ => String::from_utf8(bytes).unwrap(),
        });
        for needle in [
            "Gegenstand und Bedingungen der Auftragsverarbeitung",
            "Alpha Handel GmbH",
            "Hafen Betrieb GmbH",
            "Betrieb der Messenger-Kommunikation",
            "schriftlich per E-Mail",
            "WhatsApp Cloud API",
        ] {
            assert!(
                text.contains(&squeeze(needle)),
                "{needle} missing from the {format}"
            );
        }
    }
}

/// A 1×1 PNG, base64.
const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

async fn a_tenants_letterhead_heads_its_documents_and_bad_logos_are_refused(backend: Backend) {
    use base64::Engine;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster Handel GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let path = format!("/v1/tenants/{tenant}/register/letterhead");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let sender = json!(["Muster Handel GmbH", "Musterstraße 1", "10115 Berlin"]);
    for (body, field) in [
        (json!({"sender": sender, "logo": "kein base64!"}), "logo"),
        (
            json!({"sender": sender, "logo": b64(b"GIF89a not a logo")}),
            "logo",
        ),
        (
            json!({"sender": sender, "logo": b64(&vec![0x89; 44 * 1024])}),
            "40 KiB",
        ),
        (
            json!({"sender": ["1", "2", "3", "4", "5", "6", "7"]}),
            "sender",
        ),
        (json!({"sender": ["eine\nZeile"]}), "sender[0]"),
        (json!({"sender": sender, "colour": "blau"}), "colour"),
    ] {
        let (status, problem) = app.put(&path, &dpo, &body).await;
        assert_eq!(status, 422, "{problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (_, versions) = app.get(&format!("{path}/versions"), &dpo).await;
    assert_eq!(versions, json!([]), "nothing refused was stored");

    // Without a letterhead the first page starts with the title; with one, the sender
    // lines and the logo head the first page of every document of the tenant.
    let report = format!("/v1/tenants/{tenant}/reports/toms?format=pdf");
    let (_, _, plain) = app.get_bytes(&report, &dpo).await;
    assert!(!pdf_text(&plain).contains("Musterstraße 1"));
    let (status, body) = app
        .put(&path, &dpo, &json!({"sender": sender, "logo": TINY_PNG}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, headed) = app.get_bytes(&report, &dpo).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&headed));
    let text = pdf_text(&headed);
    let first = text.split('\u{c}').next().unwrap();
    assert!(
        first.contains("Musterstraße 1") && first.contains("10115 Berlin"),
        "{first}"
    );
    assert_eq!(pdf_images(&headed), 1, "the logo is on the first page only");
    // The other tenant's documents are not headed with it.
    let other = app.create_tenant("Andere GmbH").await;
    let other_dpo = app.token(&other, "dpo").await;
    let (_, _, theirs) = app
        .get_bytes(
            &format!("/v1/tenants/{other}/reports/toms?format=pdf"),
            &other_dpo,
        )
        .await;
    assert!(!pdf_text(&theirs).contains("Musterstraße 1"));
    assert_eq!(pdf_images(&theirs), 0);
}

/// How many images a PDF shows (pdfimages, from poppler-utils).
fn pdf_images(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&path)
        .output()
        .expect("pdfimages runs");
    // page num type …: an image with transparency is listed twice (image and smask).
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter(|l| l.split_whitespace().nth(2) == Some("image"))
        .inspect(|l| assert_eq!(l.split_whitespace().next(), Some("1"), "not on page 1: {l}"))
        .count()
}

async fn bad_register_and_report_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let agent = app.token(&tenant, "agent").await;
    let base = format!("/v1/tenants/{tenant}/register");
    let audit = app.counts().audit;
    for (path, token, body, expected) in [
        (
            format!("{base}/controller"),
            &dpo,
            json!({"party": {"name": ""}}),
            422,
        ),
        (format!("{base}/controller"), &agent, controller("X"), 403),
        (format!("{base}/processor"), &dpo, processor(), 422),
        (format!("{base}/nonsense"), &dpo, json!({}), 422),
        ("/v1/register/processor".to_string(), &dpo, processor(), 403),
        (
            format!("{base}/subprocessors"),
            &dpo,
            json!([{"key": "x", "name": "X", "address": "Y", "country": "Deutschland", "service": "S", "data_categories": ["D"]}]),
            422,
        ),
    ] {
        let (status, problem) = app.put(&path, token, &body).await;
        assert_eq!(status, expected, "{path}: {problem}");
        assert!(
            problem["title"].is_string(),
            "a problem document: {problem}"
        );
    }
    // A mistyped field is named, with the fields that exist (field names are not personal);
    // a wrong value is not repeated back (it may be).
    let mut typo = controller("X");
    typo["party"]["adress"] = json!("Musterweg 1");
    let (status, problem) = app.put(&format!("{base}/controller"), &dpo, &typo).await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem.to_string();
    assert!(detail.contains("unknown field `adress`"), "{detail}");
    assert!(
        detail.contains("`address`") && detail.contains("`dpo_name`"),
        "{detail}"
    );
    assert!(!detail.contains("Musterweg"), "{detail}");
    let mut wrong = controller("X");
    wrong["party"]["name"] = json!(4915112345678_u64);
    let (status, problem) = app.put(&format!("{base}/controller"), &dpo, &wrong).await;
    assert_eq!(status, 422, "{problem}");
    assert!(!problem.to_string().contains("4915112345678"), "{problem}");
    assert!(
        problem.to_string().contains("expected a string"),
        "{problem}"
    );

    let other = app.create_tenant("Andere GmbH").await;
    let foreign = app.token(&other, "dpo").await;
    let (status, _) = app
        .put(&format!("{base}/controller"), &foreign, &controller("X"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.counts().audit,
        audit + 2,
        "only the two create calls were audited"
    );
    let (_, versions) = app.get(&format!("{base}/controller/versions"), &dpo).await;
    assert_eq!(versions, json!([]), "nothing was stored");

    for (path, expected) in [
        (format!("/v1/tenants/{tenant}/reports/nonsense"), 422),
        (
            format!("/v1/tenants/{tenant}/reports/toms?format=docx"),
            422,
        ),
        (format!("/v1/tenants/{tenant}/reports/toms?lang=fr"), 422),
        (
            format!("/v1/tenants/{tenant}/reports/processor-record"),
            422,
        ),
        ("/v1/reports/toms".to_string(), 422),
    ] {
        let (status, problem) = app.get(&path, &dpo).await;
        assert_eq!(status, expected, "{path}: {problem}");
    }
    let (status, _) = app
        .get(&format!("/v1/tenants/{tenant}/reports/toms"), &agent)
        .await;
    assert_eq!(status, 403);
}

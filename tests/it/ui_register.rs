//! The GDPR register in the interface: the dashboard lists what the records still lack, the
//! controller's and the processor's details are entered on pages (a refused form keeps what
//! was typed), and what is saved is what the API and the records show.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(the_register_is_kept_in_the_interface_and_the_dashboard_says_what_is_missing);

async fn the_register_is_kept_in_the_interface_and_the_dashboard_says_what_is_missing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    add_user(&app, "admin@hafen.de", Role::Admin, None).await;
    let mut dpo = Browser::new(&app);
    assert_eq!(dpo.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = dpo.get("/ui/dashboard").await;
    assert!(
        html.contains("Für vollständige Verzeichnisse fehlt noch"),
        "{html}"
    );
    assert!(html.contains(&format!("/ui/t/{t}/register")), "{html}");
    assert!(
        !html.contains("href=\"/ui/register\""),
        "the processor is not the DPO's to enter: {html}"
    );

    let page = format!("/ui/t/{t}/register");
    let (status, html, _) = dpo.get(&page).await;
    assert_eq!(status, 200);
    let csrf = hidden(&html, "csrf");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Muster GmbH"),
        ("address", "Musterstraße 1, 10115 Berlin"),
        ("contact", ""),
        ("dpo_name", "Max Beispiel"),
        ("avv.date", "15.01.2026"),
        ("avv.subject_matter", "Messenger-Kommunikation mit Kunden"),
        ("avv.duration", "unbefristet"),
        (
            "avv.nature_and_purpose",
            "Empfang, Speicherung, Versand, Löschung",
        ),
        ("avv.data_types", "Telefonnummern\nNachrichteninhalte\n"),
        ("avv.data_subject_categories", "Kunden"),
        ("avv.instruction_channel", "schriftlich per E-Mail"),
    ];
    let r = dpo.post(&page, &fields, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Bitte ausfüllen."),
        "the empty contact: {html}"
    );
    assert!(html.contains("Das ist kein gültiges Datum."), "{html}");
    assert!(
        html.contains("value=\"Musterstraße 1, 10115 Berlin\""),
        "kept: {html}"
    );
    assert!(
        html.contains("Telefonnummern\nNachrichteninhalte"),
        "the list is kept: {html}"
    );
    let (status, _) = app
        .get(
            &format!("/v1/tenants/{t}/register/controller"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 404, "nothing stored");

    fields[3].1 = "datenschutz@muster.de";
    fields[5].1 = "2026-01-15";
    let r = dpo.post(&page, &fields, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 303);
    let (status, entry) = app
        .get(
            &format!("/v1/tenants/{t}/register/controller"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        entry["document"]["party"]["contact"],
        json!("datenschutz@muster.de")
    );
    assert_eq!(
        entry["document"]["avv"]["data_types"],
        json!(["Telefonnummern", "Nachrichteninhalte"])
    );
    let (_, html, _) = dpo.get(&page).await;
    assert!(
        html.contains("value=\"datenschutz@muster.de\""),
        "the page shows what is stored: {html}"
    );
    let (_, html, _) = dpo.get("/ui/dashboard").await;
    assert!(
        !html.contains("Für vollständige Verzeichnisse fehlt noch"),
        "{html}"
    );

    // The install's admin sees the processor missing, and enters it.
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("admin@hafen.de", PASSWORD, "").await, 303);
    let (_, html, _) = admin.get("/ui/dashboard").await;
    assert!(html.contains("href=\"/ui/register\""), "{html}");
    let (_, html, _) = admin.get("/ui/register").await;
    let csrf = hidden(&html, "csrf");
    let r = admin
        .post(
            "/ui/register",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Hafen Betrieb GmbH"),
                ("address", "Am Sandtorkai 1, 20457 Hamburg"),
                ("contact", "betrieb@hafen.example"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, html, _) = admin.get("/ui/dashboard").await;
    assert!(
        !html.contains("Für vollständige Verzeichnisse fehlt noch"),
        "{html}"
    );
    let _ = app.stop().await;
}

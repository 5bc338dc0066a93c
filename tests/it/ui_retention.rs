//! The retention editor in words: the rules in force read as sentences, a period is a number
//! and a unit, and a refused row comes back as typed with the reason beside it — in the page's
//! language, with nothing proposed.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(
    the_retention_editor_speaks_in_words_and_keeps_a_refused_form,
    a_run_on_demand_shows_what_is_due_and_deletes_only_after_confirmation
);

/// One editor row as the page posts it.
fn row(fields: &mut Vec<(&'static str, String)>, cells: [&str; 9]) {
    let names = [
        "r_category",
        "r_channel",
        "r_class",
        "r_start",
        "r_end_of_year",
        "r_amount",
        "r_unit",
        "r_legal_basis",
        "r_norm",
    ];
    for (name, value) in names.into_iter().zip(cells) {
        fields.push((name, value.to_string()));
    }
    fields.push(("r_ground", "none".into()));
}

async fn the_retention_editor_speaks_in_words_and_keeps_a_refused_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/retention");
    let (status, html, _) = browser.get(&page).await;
    assert_eq!(status, 200);
    // The install's defaults, in words: no ISO periods, no codes.
    assert!(
        html.contains("6 Jahre ab Ende des Kalenderjahres der Erhebung"),
        "{html}"
    );
    assert!(
        html.contains("Nachrichteninhalte") && html.contains("Kontakte (Adresse, Name)"),
        "{html}"
    );
    for code in [
        "P6Y",
        "P1Y",
        "message_content</td>",
        "conversation_end</td>",
        "(EOY)",
    ] {
        assert!(!html.contains(code), "{code} shown to people: {html}");
    }
    // Each category and start point is explained.
    assert!(
        html.contains("Der Text der Nachrichten und die Rohdaten der Plattform."),
        "{html}"
    );
    assert!(
        html.contains("Ab der letzten Nachricht im Verlauf mit dieser Person"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let preview = format!("{page}/preview");
    let versions = || async {
        let (status, list) = app
            .get(
                &format!("/v1/tenants/{t}/retention/rules/versions"),
                &app.admin_token,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array().unwrap().len()
    };

    // "6 Jahre" typed into the number, and a start point the category does not have.
    let mut fields = vec![("csrf", csrf.clone())];
    row(
        &mut fields,
        [
            "message_content",
            "",
            "",
            "collection",
            "0",
            "6 Jahre",
            "years",
            "Art. 5 Abs. 1 lit. e DSGVO",
            "",
        ],
    );
    row(
        &mut fields,
        [
            "delivery_statuses",
            "",
            "",
            "conversation_end",
            "0",
            "90",
            "days",
            "Zustellnachweis",
            "",
        ],
    );
    row(
        &mut fields,
        ["", "", "", "collection", "0", "", "years", "", ""],
    );
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post(&preview, &form, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Nicht gespeichert"), "{html}");
    assert!(
        html.contains("Bitte eine ganze Zahl ab 1 angeben"),
        "{html}"
    );
    assert!(
        html.contains("Für diese Daten kann die Frist nur so beginnen: Erhebung"),
        "{html}"
    );
    assert!(
        html.contains("value=\"6 Jahre\""),
        "the typed period is kept: {html}"
    );
    assert!(
        html.contains("value=\"Art. 5 Abs. 1 lit. e DSGVO\""),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"delivery_statuses\" selected"),
        "{html}"
    );
    assert_eq!(versions().await, 0, "nothing proposed");

    // A statutory ground without its provision.
    let mut fields = vec![("csrf", csrf.clone())];
    row(
        &mut fields,
        [
            "message_content",
            "",
            "business_letter",
            "collection",
            "1",
            "6",
            "years",
            "Handelsbriefe",
            "",
        ],
    );
    fields.retain(|(k, _)| *k != "r_ground");
    fields.push(("r_ground", "statutory".into()));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post(&preview, &form, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("bitte die Vorschrift nennen"));

    // The same rule, well typed, previews in words.
    let mut fields = vec![("csrf", csrf.clone())];
    row(
        &mut fields,
        [
            "message_content",
            "",
            "",
            "collection",
            "0",
            "2",
            "weeks",
            "Art. 5 Abs. 1 lit. e DSGVO",
            "",
        ],
    );
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post(&preview, &form, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("14 Tage ab der Erhebung"), "{html}");
    let rules = hidden(&html, "rules");
    let rules: serde_json::Value = serde_json::from_str(&rules.replace("&quot;", "\"")).unwrap();
    assert_eq!(rules[0]["period"], json!("P14D"), "{rules}");
    assert_eq!(versions().await, 0, "a preview proposes nothing");
    let _ = app.stop().await;
}

/// A retention run from the page: the first click lists what is due and deletes nothing; the
/// second deletes and shows the certificate. A DPO reads the rules but is not offered the run.
async fn a_run_on_demand_shows_what_is_due_and_deletes_only_after_confirmation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&t, "tenant_admin").await;
    let rules = crate::retention::keep_all_but(&[crate::retention::rule(
        "message_content",
        None,
        "collection",
        "P30D",
    )]);
    crate::retention::activate(&app, &t, &admin, &rules).await;
    let (message, _) = crate::retention::message_at(
        &app,
        &t,
        "whatsapp",
        "+4915140000009",
        "2025-01-10T10:00:00Z",
    )
    .await;
    let certificates = || async {
        let (status, list) = app
            .get(
                &format!("/v1/tenants/{t}/retention/certificates"),
                &app.admin_token,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array().unwrap().len()
    };
    let before = certificates().await;
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/retention");
    let (_, html, _) = browser.get(&page).await;
    assert!(html.contains("Prüfen, was jetzt fällig ist"), "{html}");
    let csrf = hidden(&html, "csrf");
    let run = format!("{page}/run");
    let r = browser
        .post(&run, &[("csrf", csrf.as_str())], Some(&app.base))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Sofort fällig") && html.contains("Nachrichteninhalte: 1"),
        "{html}"
    );
    assert_eq!(
        certificates().await,
        before,
        "the first click deletes nothing"
    );
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{t}/messages/{message}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(m["body"], json!("Rechnung anbei"), "{m}");
    let r = browser
        .post(
            &run,
            &[("csrf", csrf.as_str()), ("confirm", "yes")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Der Löschlauf ist abgeschlossen."), "{html}");
    assert_eq!(certificates().await, before + 1);
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{t}/messages/{message}"),
            &app.admin_token,
        )
        .await;
    assert_ne!(
        m["body"],
        json!("Rechnung anbei"),
        "the content is gone: {m}"
    );
    // Nothing due any more: said so.
    let r = browser
        .post(&run, &[("csrf", csrf.as_str())], Some(&app.base))
        .await;
    assert!(r.text().await.unwrap().contains("jetzt nichts fällig"));

    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut dpo = Browser::new(&app);
    assert_eq!(dpo.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = dpo.get(&page).await;
    assert!(!html.contains("Prüfen, was jetzt fällig ist"), "{html}");
    let _ = app.stop().await;
}

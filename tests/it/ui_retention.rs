//! The retention editor in words: the rules in force read as sentences, a period is a number
//! and a unit, and a refused row comes back as typed with the reason beside it — in the page's
//! language, with nothing proposed.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(the_retention_editor_speaks_in_words_and_keeps_a_refused_form);

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

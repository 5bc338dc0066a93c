//! Finding people in the interface by what a DPO knows about them — a phone number, a chat id,
//! a name, or Hafen's contact id — wherever a form asks "who?" (the contacts search, requests,
//! legal holds); the "no data held" letter when nobody matches; forms that keep what was typed
//! and say next to the field what is wrong.

use hafen::auth::Role;
use serde_json::{json, Value};

use crate::both_backends;
use crate::storage::{contains, disk_image};
use crate::support::{captured_logs, text_message, Backend, TestApp};
use crate::ui::{add_user, audit_actions, hidden, Browser, PASSWORD};

both_backends!(
    people_are_found_by_what_is_known_about_them_and_requests_need_no_id,
    a_hold_is_placed_on_a_person_found_by_phone_and_a_bad_day_keeps_the_form,
    contacts_stored_before_names_were_indexed_are_found_by_name,
    errors_are_told_in_the_page_language_with_the_detail_marked_english
);

/// Stores one incoming message from `address` on `channel`, from a person named `name`;
/// returns the contact id.
async fn message_from(app: &TestApp, t: &str, channel: &str, address: &str, name: &str) -> String {
    let mut m = text_message(channel, address, "Guten Tag", None);
    m["contact"]["display_name"] = json!(name);
    let (status, body) = app
        .post(&format!("/v1/tenants/{t}/messages"), &app.admin_token, &m)
        .await;
    assert_eq!(status, 201, "{body}");
    body["contact_id"].as_str().unwrap().to_string()
}

/// Posts a form as the page would; returns status and body.
async fn send(
    browser: &Browser<'_>,
    app: &TestApp,
    path: &str,
    fields: Vec<(&'static str, String)>,
) -> (u16, String) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post(path, &fields, Some(&app.base)).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn requests_of(app: &TestApp, t: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!("/v1/tenants/{t}/requests"), &app.admin_token)
        .await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .or(list.as_array())
        .cloned()
        .unwrap_or_default()
}

async fn people_are_found_by_what_is_known_about_them_and_requests_need_no_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let on_whatsapp = message_from(
        &app,
        &t,
        "whatsapp",
        "+49 151 4242 0001",
        "Erika Mustermann",
    )
    .await;
    let on_telegram = message_from(&app, &t, "telegram", "987650001", "Erika  Mustermann").await;
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (status, html, _) = browser.get(&format!("/ui/t/{t}/contacts")).await;
    assert_eq!(status, 200);
    let csrf = hidden(&html, "csrf");
    let find = format!("/ui/t/{t}/contacts/find");
    let search = |clue: String| {
        send(
            &browser,
            &app,
            &find,
            vec![("csrf", csrf.clone()), ("person", clue)],
        )
    };

    // A phone number, written as people write it.
    let (status, html) = search("0049 151 4242-0001".into()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&on_whatsapp) && !html.contains(&on_telegram),
        "{html}"
    );
    assert!(
        html.contains("Erika Mustermann") && html.contains("WhatsApp"),
        "{html}"
    );
    // A Telegram chat id.
    let (_, html) = search("987650001".into()).await;
    assert!(
        html.contains(&on_telegram) && !html.contains(&on_whatsapp),
        "{html}"
    );
    // A name, whatever its case and spacing: both people of that name.
    let (_, html) = search("  erika MUSTERMANN ".into()).await;
    assert!(
        html.contains(&on_whatsapp) && html.contains(&on_telegram),
        "{html}"
    );
    // Only part of the name finds nobody (a blind index matches whole names).
    let (_, html) = search("Mustermann".into()).await;
    assert!(!html.contains(&on_whatsapp), "{html}");
    // Hafen's own id still works.
    let (_, html) = search(on_telegram.to_uppercase()).await;
    assert!(html.contains(&on_telegram), "{html}");

    // Nobody: a normal answer, with the letter that says so.
    let unknown = "+49 170 5550 9999";
    let (status, html) = search(unknown.into()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Zu dieser Angabe hält Hafen keine Daten."),
        "{html}"
    );
    assert!(
        html.contains("Keine Daten gespeichert"),
        "the letter is offered: {html}"
    );
    let r = browser
        .post(
            &format!("/ui/t/{t}/contacts/no-data"),
            &[("csrf", csrf.as_str()), ("person", unknown)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let text = crate::documents::check_pdf(&r.bytes().await.unwrap());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("keine personenbezogenen Daten"), "{text}");
    assert!(
        text.contains(unknown),
        "the letter names what was searched: {text}"
    );
    assert!(text.contains("Art. 77 DSGVO"), "{text}");
    // For someone Hafen knows, there is no such letter.
    let r = browser
        .post(
            &format!("/ui/t/{t}/contacts/no-data"),
            &[("csrf", csrf.as_str()), ("person", "+4915142420001")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 409);

    // A request for the person behind a phone number.
    let page = format!("/ui/t/{t}/requests");
    let post = |mut fields: Vec<(&'static str, String)>| {
        fields.push(("csrf", csrf.clone()));
        send(&browser, &app, &page, fields)
    };
    let (status, _) = post(vec![
        ("kind", "access".into()),
        ("person", "+49 151 4242 0001".into()),
    ])
    .await;
    assert_eq!(status, 303);
    let list = requests_of(&app, &t).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["contact_id"], json!(on_whatsapp));
    assert_eq!(list[0]["kind"], json!("access"));

    // A name two people share: the form comes back with both to choose from, nothing stored.
    let (status, html) = post(vec![
        ("kind", "erasure".into()),
        ("person", "Erika Mustermann".into()),
    ])
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Mehrere Personen passen"), "{html}");
    assert!(
        html.contains(&format!("value=\"{on_whatsapp}\""))
            && html.contains(&format!("value=\"{on_telegram}\"")),
        "{html}"
    );
    assert!(
        html.contains("value=\"Erika Mustermann\""),
        "the typed name is kept: {html}"
    );
    assert!(
        html.contains("<option value=\"erasure\" selected"),
        "the kind is kept: {html}"
    );
    assert_eq!(requests_of(&app, &t).await.len(), 1);
    let (status, _) = post(vec![
        ("kind", "erasure".into()),
        ("person", "Erika Mustermann".into()),
        ("contact_id", on_telegram.clone()),
    ])
    .await;
    assert_eq!(status, 303);
    let list = requests_of(&app, &t).await;
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|r| r["contact_id"] == json!(on_telegram) && r["kind"] == json!("erasure")));

    // Nobody with that number, and a day that is not a day: said next to the fields.
    let (status, html) = post(vec![("kind", "access".into()), ("person", unknown.into())]).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Zu dieser Angabe ist keine Person gespeichert"),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{unknown}\"")), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    let (status, html) = post(vec![
        ("kind", "access".into()),
        ("person", "+49 151 4242 0001".into()),
        ("received_on", "gestern".into()),
    ])
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Das ist kein gültiges Datum."), "{html}");
    assert!(html.contains("value=\"gestern\""), "{html}");
    let (status, _) = post(vec![("kind", "access".into())]).await;
    assert_eq!(status, 422);
    let (status, _) = post(vec![
        ("kind", "sell".into()),
        ("person", "+49 151 4242 0001".into()),
    ])
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        requests_of(&app, &t).await.len(),
        2,
        "no refused form stored anything"
    );

    // The list speaks in words, and names the people.
    let (_, html, _) = browser.get(&page).await;
    assert!(
        html.contains("Auskunft (Art. 15 DSGVO)") && html.contains("Löschung (Art. 17 DSGVO)"),
        "{html}"
    );
    assert!(html.contains("Erika Mustermann"), "{html}");
    assert!(
        !html.contains("access (Art. 15)") && !html.contains(">open<"),
        "{html}"
    );

    // Searches are audited without what was searched for.
    let actions = audit_actions(&app);
    assert!(actions.iter().any(|a| a == "contact.lookup"));
    assert!(actions.iter().any(|a| a == "dsr.no_data_letter"));
    let image = disk_image(&app);
    let _ = app.stop().await;
    let logs = captured_logs().lock().unwrap().clone();
    for clue in ["5550 9999", "4917055509999", "1705550"] {
        assert!(
            !contains(&image, clue),
            "{clue} found on disk ({backend:?})"
        );
        assert!(!contains(&logs, clue), "{clue} found in the log");
    }
}

async fn a_hold_is_placed_on_a_person_found_by_phone_and_a_bad_day_keeps_the_form(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let contact = message_from(&app, &t, "whatsapp", "+49 151 4242 0002", "Max Muster").await;
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/holds");
    let (_, html, _) = browser.get(&page).await;
    let csrf = hidden(&html, "csrf");
    let holds = || async {
        let (status, list) = app
            .get(&format!("/v1/tenants/{t}/legal-holds"), &app.admin_token)
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .or(list["items"].as_array())
            .cloned()
            .unwrap_or_default()
    };
    let r = browser
        .post(
            &page,
            &[
                ("csrf", csrf.as_str()),
                ("person", "+49 151 4242 0002"),
                ("reason", "Klage LG Köln 12 O 34/26"),
                ("until", "31.01.2027"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Das ist kein gültiges Datum."), "{html}");
    assert!(
        html.contains("value=\"Klage LG Köln 12 O 34/26\""),
        "the reason is kept: {html}"
    );
    assert!(
        html.contains("value=\"+49 151 4242 0002\""),
        "the person is kept: {html}"
    );
    assert!(holds().await.is_empty(), "nothing stored");
    let r = browser
        .post(
            &page,
            &[
                ("csrf", csrf.as_str()),
                ("person", "+49 151 4242 0002"),
                ("reason", " "),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("Bitte ausfüllen."));
    assert!(holds().await.is_empty(), "nothing stored");
    let r = browser
        .post(
            &page,
            &[
                ("csrf", csrf.as_str()),
                ("person", "+49 151 4242 0002"),
                ("reason", "Klage LG Köln 12 O 34/26"),
                ("until", "2027-01-31"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let list = holds().await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["contact_id"], json!(contact));
    assert!(
        list[0]["until"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-31T23:59:59"),
        "{list:?}"
    );
    // The list names the person, and a hold on the whole tenant says so.
    let (_, html, _) = browser.get(&page).await;
    assert!(html.contains("Max Muster"), "{html}");
    let _ = app.stop().await;
}

/// Contacts stored before the name index existed get one after start, and are then found.
async fn contacts_stored_before_names_were_indexed_are_found_by_name(backend: Backend) {
    use diesel::prelude::*;
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let contact = message_from(&app, &t, "messenger", "psid-3141", "Jana Beispiel").await;
    {
        use hafen::store::schema::contacts as c;
        diesel::update(c::table)
            .set(c::name_index.eq(None::<Vec<u8>>))
            .execute(&mut app.db.connect())
            .unwrap();
    }
    let admin = hafen::auth::Actor::Cli;
    let tenant = hafen::tenants::TenantId::parse(&t).unwrap();
    let before = app
        .hafen
        .contacts
        .find(&admin, &tenant, "Jana Beispiel")
        .await
        .unwrap();
    assert!(before.is_empty(), "without an index the name is not found");
    assert_eq!(app.hafen.contacts.index_names(500).await.unwrap(), 1);
    assert_eq!(
        app.hafen.contacts.index_names(500).await.unwrap(),
        0,
        "done once"
    );
    let after = app
        .hafen
        .contacts
        .find(&admin, &tenant, "jana beispiel")
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, contact);
    let _ = app.stop().await;
}

/// A stale form and a refused entry: a page in German that says what happened and that nothing
/// was stored; the server's own words only as a detail marked English.
async fn errors_are_told_in_the_page_language_with_the_detail_marked_english(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/holds");
    let r = browser
        .post(
            &page,
            &[("csrf", "stale"), ("reason", "x")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("Das Formular ist abgelaufen"), "{html}");
    assert!(!html.contains("security token"), "{html}");
    // A hold that ends in the past: the domain refuses it.
    let (_, form, _) = browser.get(&page).await;
    let csrf = hidden(&form, "csrf");
    let r = browser
        .post(
            &page,
            &[
                ("csrf", csrf.as_str()),
                ("reason", "Prüfung"),
                ("until", "2001-01-01"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Eine Angabe wurde abgewiesen; es wurde nichts gespeichert."),
        "{html}"
    );
    assert!(html.contains("<span lang=\"en\">invalid until"), "{html}");
    let _ = app.stop().await;
}

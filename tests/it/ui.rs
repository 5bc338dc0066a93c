//! The web interface's security rules, page by page over HTTP (the browser test in
//! tests/browser/ui.mjs drives the same pages through Chromium): sign-in with its double-submit
//! token and origin check, lockout and session timeouts on the injected clock, TOTP, CSRF on
//! every form, tenant isolation, and no login name or password on disk or in the log.

use hafen::accounts::{LoginName, NewPassword};
use hafen::auth::{Actor, Role};

use hafen::clock::Clock;

use crate::both_backends;
use crate::storage::{contains, disk_image};
use crate::support::{captured_logs, marker, Backend, TestApp};

pub(crate) const PASSWORD: &str = "Leuchtturm am Hafen 2026";

both_backends!(
    sign_in_lockout_sessions_and_csrf,
    totp_is_required_once_enabled,
    people_see_only_their_tenant_and_role,
    own_account_password_totp_and_disabling,
    a_lost_account_is_reset_by_an_admin_or_the_command_line,
    the_dashboard_tells_retention_state_it_does_not_know,
    sign_in_returns_to_the_page_asked_for,
    a_dpo_decides_an_erasure_and_downloads_the_letter,
    a_tenant_admin_issues_and_revokes_tokens_in_the_interface,
    the_front_door_leads_to_the_interface_and_a_wrong_page_is_a_page,
    the_chosen_tenant_stays_chosen_across_other_pages,
    erasure_in_the_interface_asks_for_confirmation_with_what_goes_and_what_stays
);

/// A browser without a cookie jar: cookies are carried by hand, so each test states them.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    session: Option<String>,
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_string();
            (value, v.to_string())
        })
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in the page"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            client,
            session: None,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let mut request = self.client.get(self.app.url(path));
        if let Some(s) = &self.session {
            request = request.header("cookie", format!("hafen_session={s}"));
        }
        let r = request.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, r.text().await.unwrap(), headers)
    }

    /// Posts a form as a page of this site would (Origin set), with the session's cookie.
    pub(crate) async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.app.url(path)).form(fields);
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        if let Some(s) = &self.session {
            request = request.header("cookie", format!("hafen_session={s}"));
        }
        request.send().await.unwrap()
    }

    /// The account page asks a person whose password someone else set to choose their own;
    /// this does, through the form.
    async fn choose_own_password(&self, current: &str, new: &str) {
        let (status, html, _) = self.get("/ui/account").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Bitte wählen Sie jetzt ein eigenes"),
            "{html}"
        );
        let csrf = hidden(&html, "csrf");
        let fields = [("csrf", csrf.as_str()), ("current", current), ("new", new)];
        let r = self
            .post("/ui/account/password", &fields, Some(&self.app.base))
            .await;
        assert_eq!(r.status().as_u16(), 303);
    }

    /// One sign-in attempt through the real form; returns the status.
    pub(crate) async fn sign_in(&mut self, login: &str, password: &str, code: &str) -> u16 {
        let r = self
            .client
            .get(self.app.url("/ui/sign-in"))
            .send()
            .await
            .unwrap();
        let (token, _) =
            cookie_value(&r, "hafen_signin").expect("the sign-in form sets its token cookie");
        let html = r.text().await.unwrap();
        assert_eq!(
            hidden(&html, "token"),
            token,
            "the form carries the cookie's token"
        );
        let r = self
            .client
            .post(self.app.url("/ui/sign-in"))
            .header("origin", &self.app.base)
            .header("cookie", format!("hafen_signin={token}"))
            .form(&[
                ("token", token.as_str()),
                ("login", login),
                ("password", password),
                ("code", code),
            ])
            .send()
            .await
            .unwrap();
        if let Some((session, _)) = cookie_value(&r, "hafen_session") {
            self.session = Some(session);
        }
        r.status().as_u16()
    }
}

pub(crate) async fn add_user(app: &TestApp, login: &str, role: Role, tenant: Option<&str>) {
    let tenant = tenant.map(|t| hafen::tenants::TenantId::parse(t).unwrap());
    app.hafen
        .accounts
        .create_user(
            &Actor::Cli,
            &LoginName::parse(login).unwrap(),
            NewPassword::parse(PASSWORD).unwrap(),
            role,
            tenant.as_ref(),
        )
        .await
        .unwrap();
}

/// The stored password hash and TOTP secret of a user: what a refused reset must leave alone.
async fn credentials(app: &TestApp, login: &str) -> (String, Option<Vec<u8>>) {
    use diesel::prelude::*;
    use hafen::store::schema::ui_users;
    let id = users_by_login(app).await[login].clone();
    ui_users::table
        .filter(ui_users::id.eq(id))
        .select((ui_users::password_hash, ui_users::totp_sealed))
        .first(&mut app.db.connect())
        .unwrap()
}

async fn users_by_login(app: &TestApp) -> std::collections::HashMap<String, String> {
    let users = app.hafen.accounts.list_users(&Actor::Cli).await.unwrap();
    users.into_iter().map(|u| (u.login, u.id)).collect()
}

/// Turns TOTP on for `login` as the command line does; returns the secret.
async fn enable_totp(app: &TestApp, login: &str) -> Vec<u8> {
    let uri = app
        .hafen
        .accounts
        .enable_totp(&Actor::Cli, &LoginName::parse(login).unwrap())
        .await
        .unwrap();
    let encoded = uri
        .expose()
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    totp_rs::Secret::Encoded(encoded).to_bytes().unwrap()
}

fn sessions(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    hafen::store::schema::ui_sessions::table
        .count()
        .get_result(&mut app.db.connect())
        .unwrap()
}

pub(crate) fn audit_actions(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use hafen::store::schema::audit_log;
    audit_log::table
        .order(audit_log::seq.asc())
        .select(audit_log::action)
        .load(&mut app.db.connect())
        .unwrap()
}

async fn sign_in_lockout_sessions_and_csrf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = format!("{}@muster.de", marker("loginmarker"));
    add_user(&app, &login, Role::Admin, None).await;
    let mut browser = Browser::new(&app);
    let second = chrono::Duration::seconds(1);

    // The sign-in form refuses a post from another site and one without its token.
    let r = browser
        .client
        .post(app.url("/ui/sign-in"))
        .header("origin", "https://evil.example")
        .form(&[("login", login.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "a cross-site sign-in post is refused"
    );
    let r = browser
        .client
        .post(app.url("/ui/sign-in"))
        .header("origin", &app.base)
        .header("cookie", "hafen_signin=aaaa")
        .form(&[
            ("token", "bbbb"),
            ("login", login.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "a token that does not match the cookie is refused"
    );
    assert_eq!(sessions(&app), 0, "no session came of refused forms");

    // Five wrong passwords lock the name: the right one is then refused, with the same answer,
    // until 15 minutes have passed.
    for _ in 0..5 {
        assert_eq!(browser.sign_in(&login, "wrong password!", "").await, 401);
        app.clock.advance(second);
    }
    assert_eq!(browser.sign_in(&login, PASSWORD, "").await, 401, "locked");
    assert_eq!(
        browser.sign_in("nobody@muster.de", PASSWORD, "").await,
        401,
        "unknown names get the same answer"
    );
    assert!(browser.session.is_none());
    let anonymous: i64 = {
        use diesel::prelude::*;
        use hafen::store::schema::audit_log;
        audit_log::table
            .filter(audit_log::actor.eq("anonymous"))
            .filter(audit_log::action.eq("ui.sign_in_failed"))
            .count()
            .get_result(&mut app.db.connect())
            .unwrap()
    };
    assert_eq!(anonymous, 1, "an unknown name's attempt is audited too");
    let actions = audit_actions(&app);
    assert_eq!(
        actions.iter().filter(|a| *a == "ui.sign_in_failed").count(),
        6,
        "five for the name, one anonymous"
    );
    assert!(
        actions.contains(&"ui.locked".to_string())
            && actions.contains(&"ui.sign_in_refused".to_string())
    );
    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        browser.sign_in(&login, PASSWORD, "").await,
        303,
        "the lock ends after 15 minutes"
    );
    assert!(audit_actions(&app).contains(&"ui.sign_in".to_string()));

    // The session cookie's flags, and the page's CSP.
    let (_, raw) = {
        let r = browser
            .client
            .get(app.url("/ui/sign-in"))
            .send()
            .await
            .unwrap();
        cookie_value(&r, "hafen_signin").unwrap()
    };
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    let (status, html, headers) = browser.get("/ui/dashboard").await;
    assert_eq!(status, 200, "{html}");
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.starts_with("default-src 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline script or style"
    );

    // CSRF: a form without the token, or from another origin, changes nothing.
    let csrf = hidden(&html, "csrf");
    let tenants_before = app.counts().tenants;
    assert_eq!(
        browser
            .post(
                "/ui/tenants",
                &[("name", "Ohne Token GmbH")],
                Some(&app.base)
            )
            .await
            .status(),
        403
    );
    assert_eq!(
        browser
            .post(
                "/ui/tenants",
                &[("csrf", "forged"), ("name", "Falsch GmbH")],
                Some(&app.base)
            )
            .await
            .status(),
        403
    );
    assert_eq!(
        browser
            .post(
                "/ui/tenants",
                &[("csrf", &csrf), ("name", "Fremd GmbH")],
                Some("https://evil.example")
            )
            .await
            .status(),
        403
    );
    assert_eq!(
        browser
            .post(
                "/ui/tenants",
                &[("csrf", &csrf), ("name", "Fremd GmbH")],
                None
            )
            .await
            .status(),
        403
    );
    assert_eq!(
        app.counts().tenants,
        tenants_before,
        "refused forms created nothing"
    );
    let r = browser
        .post(
            "/ui/tenants",
            &[("csrf", &csrf), ("name", "Muster GmbH")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.counts().tenants, tenants_before + 1);
    let r = browser
        .client
        .post(app.url("/ui/tenants"))
        .header("origin", &app.base)
        .header(
            "cookie",
            format!("hafen_session={}", browser.session.clone().unwrap()),
        )
        .header("content-type", "application/json")
        .body(format!("{{\"csrf\":\"{csrf}\",\"name\":\"Json GmbH\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415, "only forms are read");
    let (status, _, headers) = browser.get("/ui/lang/en?back=/ui/%0d%0aSet-Cookie:x").await;
    assert_eq!(
        (status, headers.get("location").unwrap().to_str().unwrap()),
        (303, "/ui/")
    );
    // Bad input is a page that says why, and nothing is stored.
    let r = browser
        .post(
            "/ui/tenants",
            &[("csrf", &csrf), ("name", "   ")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("name"));
    assert_eq!(app.counts().tenants, tenants_before + 1);

    // Idle timeout: 29 minutes keep the session alive, 31 more end it.
    app.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(browser.get("/ui/dashboard").await.0, 200);
    app.clock.advance(chrono::Duration::minutes(31));
    let (status, _, headers) = browser.get("/ui/dashboard").await;
    assert_eq!(
        (status, headers.get("location").unwrap().to_str().unwrap()),
        (303, "/ui/sign-in")
    );

    // Absolute timeout: active every 20 minutes, the session still ends after 12 hours.
    assert_eq!(browser.sign_in(&login, PASSWORD, "").await, 303);
    for _ in 0..35 {
        app.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(browser.get("/ui/dashboard").await.0, 200);
    }
    app.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        browser.get("/ui/dashboard").await.0,
        303,
        "12 hours are the limit"
    );

    // Sign-out ends the session for good.
    assert_eq!(browser.sign_in(&login, PASSWORD, "").await, 303);
    let (_, html, _) = browser.get("/ui/dashboard").await;
    let csrf = hidden(&html, "csrf");
    assert_eq!(
        browser
            .post("/ui/sign-out", &[("csrf", &csrf)], Some(&app.base))
            .await
            .status(),
        303
    );
    assert_eq!(browser.get("/ui/dashboard").await.0, 303);
    assert!(audit_actions(&app).contains(&"ui.sign_out".to_string()));

    // Neither the login name nor the password is on disk or in the log.
    let on_disk = disk_image(&app);
    let local = login.split('@').next().unwrap().to_string();
    for m in [local.as_str(), PASSWORD] {
        assert!(
            !contains(&on_disk, m),
            "{m} found in the database ({backend:?})"
        );
    }
    // Stopped, not dropped: no server thread is left holding a connection at process exit.
    let _ = app.stop().await;
    let logs = captured_logs().lock().unwrap().clone();
    for m in [local.as_str(), PASSWORD] {
        assert!(!contains(&logs, m), "{m} found in the log");
    }
}

async fn totp_is_required_once_enabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    add_user(&app, "dpo@muster.de", Role::Dpo, None).await;
    let uri = app
        .hafen
        .accounts
        .enable_totp(&Actor::Cli, &LoginName::parse("dpo@muster.de").unwrap())
        .await
        .unwrap();
    let uri = uri.expose().clone();
    assert!(
        uri.starts_with("otpauth://totp/Hafen:dpo%40muster.de?secret="),
        "{uri}"
    );
    let encoded = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let secret = totp_rs::Secret::Encoded(encoded.to_string())
        .to_bytes()
        .unwrap();
    let mut browser = Browser::new(&app);
    let second = chrono::Duration::seconds(1);
    assert_eq!(
        browser.sign_in("dpo@muster.de", PASSWORD, "").await,
        401,
        "the password alone is not enough"
    );
    app.clock.advance(second);
    assert_eq!(
        browser.sign_in("dpo@muster.de", PASSWORD, "000000").await,
        401
    );
    app.clock.advance(second);
    let stale = hafen::accounts::Accounts::totp_code(
        &secret,
        app.clock.now() - chrono::Duration::minutes(5),
    )
    .unwrap();
    assert_eq!(
        browser.sign_in("dpo@muster.de", PASSWORD, &stale).await,
        401,
        "a code from five minutes ago is refused"
    );
    app.clock.advance(second);
    let code = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    assert_eq!(browser.sign_in("dpo@muster.de", PASSWORD, &code).await, 303);
    assert_eq!(browser.get("/ui/dashboard").await.0, 200);
    app.clock.advance(second);
    assert_eq!(
        Browser::new(&app)
            .sign_in("dpo@muster.de", PASSWORD, &code)
            .await,
        401,
        "a code works once (RFC 6238 §5.2)"
    );
    app.clock.advance(chrono::Duration::seconds(30));
    let next = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    assert_eq!(
        Browser::new(&app)
            .sign_in("dpo@muster.de", PASSWORD, &next)
            .await,
        303
    );

    // Guesses sent at once all count: five in parallel lock the name.
    app.clock.advance(second);
    let guesses: Vec<_> = (0..5)
        .map(|_| {
            let app = &app;
            async move {
                Browser::new(app)
                    .sign_in("dpo@muster.de", "parallel guess!", "")
                    .await
            }
        })
        .collect();
    let statuses = futures_util::future::join_all(guesses).await;
    assert_eq!(statuses, vec![401; 5]);
    app.clock.advance(chrono::Duration::seconds(30));
    let code = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    assert_eq!(
        Browser::new(&app)
            .sign_in("dpo@muster.de", PASSWORD, &code)
            .await,
        401,
        "locked after five parallel failures"
    );
    let _ = app.stop().await;
}

async fn people_see_only_their_tenant_and_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create_tenant("A GmbH").await;
    let b = app.create_tenant("B GmbH").await;
    add_user(&app, "agent@a.de", Role::Agent, Some(&a)).await;
    add_user(&app, "admin@a.de", Role::TenantAdmin, Some(&a)).await;
    let mut agent = Browser::new(&app);
    assert_eq!(agent.sign_in("agent@a.de", PASSWORD, "").await, 303);
    // Another tenant's pages do not exist for this person, whatever the page.
    for page in [
        "channels",
        "retention",
        "holds",
        "consent",
        "contacts",
        "requests",
        "certificates",
    ] {
        assert_eq!(
            agent.get(&format!("/ui/t/{b}/{page}")).await.0,
            404,
            "{page}"
        );
    }
    // Within the tenant, the role decides: an agent reads contacts but not retention rules.
    assert_eq!(agent.get(&format!("/ui/t/{a}/contacts")).await.0, 200);
    assert_eq!(agent.get(&format!("/ui/t/{a}/retention")).await.0, 403);
    assert_eq!(agent.get("/ui/users").await.0, 403);
    let (_, html, _) = agent.get("/ui/dashboard").await;
    assert!(
        html.contains("A GmbH") || !html.contains("B GmbH"),
        "the other tenant is not named"
    );
    assert!(!html.contains("B GmbH"));
    assert!(
        !html.contains("Letzte Sicherung") && !html.contains("Überfällige"),
        "install-wide figures are for install-wide roles"
    );
    // A tenant admin cannot create a tenant or an admin.
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("admin@a.de", PASSWORD, "").await, 303);
    // A link cannot put words on a page: the connection-test notice is only the answer to the
    // test's own form.
    let (status, html, _) = admin
        .get(&format!(
            "/ui/t/{a}/channels?checked=Konto+gesperrt%2C+bitte+0800+anrufen"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("Konto gesperrt") && !html.contains("p class=\"notice\""));
    let (_, html, _) = admin.get("/ui/users").await;
    let csrf = hidden(&html, "csrf");
    let before = app.counts().tenants;
    assert_eq!(
        admin
            .post(
                "/ui/tenants",
                &[("csrf", &csrf), ("name", "C GmbH")],
                Some(&app.base)
            )
            .await
            .status(),
        403
    );
    assert_eq!(app.counts().tenants, before);
    let r = admin
        .post(
            "/ui/users",
            &[
                ("csrf", &csrf),
                ("login", "boss@a.de"),
                ("password", PASSWORD),
                ("role", "admin"),
                ("tenant", ""),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = admin
        .post(
            "/ui/users",
            &[
                ("csrf", &csrf),
                ("login", "dpo@a.de"),
                ("password", PASSWORD),
                ("role", "dpo"),
                ("tenant", &a),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(
        r.status().as_u16(),
        303,
        "a tenant admin adds a DPO to its own tenant"
    );
    // The password the tenant admin chose opens only the account page, to choose one's own.
    let mut dpo = Browser::new(&app);
    assert_eq!(dpo.sign_in("dpo@a.de", PASSWORD, "").await, 303);
    let (status, _, headers) = dpo.get(&format!("/ui/t/{a}/requests")).await;
    assert_eq!(
        (status, &headers["location"]),
        (303, &"/ui/account".parse().unwrap())
    );
    dpo.choose_own_password(PASSWORD, "Mein eigenes Passwort 2026")
        .await;
    assert_eq!(dpo.get(&format!("/ui/t/{a}/requests")).await.0, 200);
    let _ = app.stop().await;
}

async fn own_account_password_totp_and_disabling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second = chrono::Duration::seconds(1);
    add_user(&app, "it@muster.de", Role::Admin, None).await;
    let mut a = Browser::new(&app);
    let mut b = Browser::new(&app);
    assert_eq!(a.sign_in("it@muster.de", PASSWORD, "").await, 303);
    assert_eq!(b.sign_in("it@muster.de", PASSWORD, "").await, 303);
    let (status, html, _) = a.get("/ui/account").await;
    assert_eq!(status, 200);
    assert!(html.contains("it@muster.de"), "the page names the account");
    let csrf = hidden(&html, "csrf");

    // Password change: the current one is checked; other sessions end, this one stays.
    let new = "Neuer Leuchtturm im Hafen";
    let r = a
        .post(
            "/ui/account/password",
            &[("csrf", &csrf), ("current", "not it at all"), ("new", new)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let r = a
        .post(
            "/ui/account/password",
            &[("csrf", &csrf), ("current", PASSWORD), ("new", "short")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let r = a
        .post(
            "/ui/account/password",
            &[("csrf", &csrf), ("current", PASSWORD), ("new", new)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(a.get("/ui/dashboard").await.0, 200, "this session stays");
    assert_eq!(
        b.get("/ui/dashboard").await.0,
        303,
        "the other session ended"
    );
    app.clock.advance(second);
    let mut c = Browser::new(&app);
    assert_eq!(
        c.sign_in("it@muster.de", PASSWORD, "").await,
        401,
        "the old password is gone"
    );
    assert_eq!(c.sign_in("it@muster.de", new, "").await, 303);
    let actions = audit_actions(&app);
    assert!(actions.contains(&"ui.password_change".to_string()));
    assert!(actions.contains(&"ui.password_change_refused".to_string()));

    // TOTP enrolment: a wrong code stores nothing; the right one turns it on.
    let r = a
        .post("/ui/account/totp", &[("csrf", &csrf)], Some(&app.base))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "no-store",
        "the page with the secret is kept in no cache"
    );
    let html = r.text().await.unwrap();
    // The app scans a QR code drawn on the server: inline SVG, no XML declaration in HTML.
    let svg = &html[html.find("<figure class=\"qr\"><svg").expect("a QR code")..];
    assert!(svg.contains("<path") && !html.contains("<?xml"), "{svg}");
    let secret_text = hidden(&html, "secret");
    let secret = totp_rs::Secret::Encoded(secret_text.clone())
        .to_bytes()
        .unwrap();
    let r = a
        .post(
            "/ui/account/totp/confirm",
            &[
                ("csrf", &csrf),
                ("current", new),
                ("secret", &secret_text),
                ("code", "123456"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let good = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    let r = a
        .post(
            "/ui/account/totp/confirm",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("secret", &secret_text),
                ("code", &good),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(
        r.status().as_u16(),
        422,
        "a borrowed session cannot bind TOTP without the password"
    );
    app.clock.advance(second);
    assert_eq!(
        Browser::new(&app).sign_in("it@muster.de", new, "").await,
        303,
        "no code needed yet"
    );
    let code = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    let r = a
        .post(
            "/ui/account/totp/confirm",
            &[
                ("csrf", &csrf),
                ("current", new),
                ("secret", &secret_text),
                ("code", &code),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // The next step: the enrolment's code does not sign in (it was used).
    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        Browser::new(&app).sign_in("it@muster.de", new, "").await,
        401,
        "now a code is needed"
    );
    let code = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    assert_eq!(
        Browser::new(&app).sign_in("it@muster.de", new, &code).await,
        303
    );

    // Disabling: the person's sessions end and they cannot sign in; nobody disables themselves.
    add_user(
        &app,
        "agent@muster.de",
        Role::Agent,
        Some(&app.create_tenant("Muster GmbH").await),
    )
    .await;
    app.clock.advance(second);
    let mut agent = Browser::new(&app);
    assert_eq!(agent.sign_in("agent@muster.de", PASSWORD, "").await, 303);
    let users = app.hafen.accounts.list_users(&Actor::Cli).await.unwrap();
    let id_of = |login: &str| users.iter().find(|u| u.login == login).unwrap().id.clone();
    let r = a
        .post(
            &format!("/ui/users/{}/disable", id_of("it@muster.de")),
            &[("csrf", &csrf)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 409);
    let r = agent
        .post(
            &format!("/ui/users/{}/disable", id_of("it@muster.de")),
            &[("csrf", "x")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = a
        .post(
            &format!("/ui/users/{}/disable", id_of("agent@muster.de")),
            &[("csrf", &csrf)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        agent.get("/ui/dashboard").await.0,
        303,
        "the disabled person's session ended"
    );
    app.clock.advance(second);
    assert_eq!(
        Browser::new(&app)
            .sign_in("agent@muster.de", PASSWORD, "")
            .await,
        401
    );
    assert!(audit_actions(&app).contains(&"ui.user_disable".to_string()));
    let _ = app.stop().await;
}

async fn a_lost_account_is_reset_by_an_admin_or_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second = chrono::Duration::seconds(1);
    let t = app.create_tenant("Muster GmbH").await;
    add_user(&app, "it@muster.de", Role::Admin, None).await;
    add_user(&app, "chef@muster.de", Role::TenantAdmin, Some(&t)).await;
    add_user(&app, "chef2@muster.de", Role::TenantAdmin, Some(&t)).await;
    add_user(&app, "agent@muster.de", Role::Agent, Some(&t)).await;
    let other = app.create_tenant("Fremd GmbH").await;
    add_user(&app, "agent@fremd.de", Role::Agent, Some(&other)).await;
    let secret = enable_totp(&app, "agent@muster.de").await;
    let mut agent = Browser::new(&app);
    let code = hafen::accounts::Accounts::totp_code(&secret, app.clock.now()).unwrap();
    assert_eq!(agent.sign_in("agent@muster.de", PASSWORD, &code).await, 303);
    // The agent then loses the authenticator and locks the name guessing.
    for _ in 0..5 {
        app.clock.advance(second);
        Browser::new(&app)
            .sign_in("agent@muster.de", "vergessen, vergessen", "")
            .await;
    }
    let mut chef = Browser::new(&app);
    assert_eq!(chef.sign_in("chef@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = chef.get("/ui/users").await;
    assert!(
        html.contains("Zugang zurücksetzen"),
        "the users page offers the reset"
    );
    let csrf = hidden(&html, "csrf");
    let ids = users_by_login(&app).await;
    let reset = |id: &str| format!("/ui/users/{id}/reset");
    let temporary = "Vorläufig und sicher 2026";

    // Refusals change nothing: too short, someone outside the tenant admin's reach, oneself,
    // a forged form.
    let logins = [
        "agent@muster.de",
        "it@muster.de",
        "agent@fremd.de",
        "chef2@muster.de",
    ];
    let mut before = Vec::new();
    for login in logins {
        before.push(credentials(&app, login).await);
    }
    for (path, password, csrf, status) in [
        (reset(&ids["agent@muster.de"]), "kurz", csrf.as_str(), 422),
        (reset(&ids["it@muster.de"]), temporary, csrf.as_str(), 403),
        (
            reset(&ids["chef2@muster.de"]),
            temporary,
            csrf.as_str(),
            403,
        ),
        (reset(&ids["agent@fremd.de"]), temporary, csrf.as_str(), 404),
        (reset(&ids["chef@muster.de"]), temporary, csrf.as_str(), 409),
        (reset(&ids["agent@muster.de"]), temporary, "forged", 403),
        (reset("no-such-user"), temporary, csrf.as_str(), 404),
    ] {
        let r = chef
            .post(
                &path,
                &[("csrf", csrf), ("password", password)],
                Some(&app.base),
            )
            .await;
        assert_eq!(r.status().as_u16(), status, "{path}");
    }
    for (login, before) in logins.iter().zip(&before) {
        assert_eq!(&credentials(&app, login).await, before, "{login} unchanged");
    }
    assert!(!audit_actions(&app).contains(&"ui.user_reset".to_string()));

    // The reset: the agent's session ends, the lock and the second factor are gone, and the
    // temporary password opens only the account page until the agent chooses their own.
    let r = chef
        .post(
            &reset(&ids["agent@muster.de"]),
            &[("csrf", &csrf), ("password", temporary)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        agent.get("/ui/dashboard").await.2["location"],
        "/ui/sign-in",
        "the old session ended"
    );
    let after = credentials(&app, "agent@muster.de").await;
    assert_ne!(after.0, before[0].0);
    assert_eq!(after.1, None, "the second factor is removed");
    app.clock.advance(second);
    let mut agent = Browser::new(&app);
    assert_eq!(agent.sign_in("agent@muster.de", temporary, "").await, 303);
    let (status, _, headers) = agent.get("/ui/dashboard").await;
    assert_eq!(
        (status, &headers["location"]),
        (303, &"/ui/account".parse().unwrap())
    );
    // Until then, forms other than the password's go nowhere and change nothing.
    let (_, html, _) = agent.get("/ui/account").await;
    let agent_csrf = hidden(&html, "csrf");
    let r = agent
        .post(
            "/ui/account/totp",
            &[("csrf", &agent_csrf)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.headers()["location"], "/ui/account");
    // Keeping the password the admin chose is not choosing one's own.
    let r = agent
        .post(
            "/ui/account/password",
            &[
                ("csrf", &agent_csrf),
                ("current", temporary),
                ("new", temporary),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(credentials(&app, "agent@muster.de").await, after);
    agent
        .choose_own_password(temporary, "Das eigene neue Passwort")
        .await;
    assert_eq!(agent.get("/ui/dashboard").await.0, 200);
    assert!(audit_actions(&app).contains(&"ui.user_reset".to_string()));
    let (_, html, _) = agent.get("/ui/account").await;
    let agent_csrf = hidden(&html, "csrf");
    for id in [ids["chef@muster.de"].as_str(), "no-such-user"] {
        let r = agent
            .post(
                &reset(id),
                &[("csrf", &agent_csrf), ("password", temporary)],
                Some(&app.base),
            )
            .await;
        assert_eq!(
            r.status().as_u16(),
            403,
            "an agent learns nothing about ids"
        );
    }

    // A sign-in whose password check raced a reset does not get a session: the reset ended
    // every session, and one started after it with the old password would outlive it.
    let checked = app
        .hafen
        .accounts
        .check_sign_in(
            "agent@muster.de",
            hafen::sensitive::Sensitive::new("Das eigene neue Passwort".to_string()),
            None,
        )
        .await
        .expect("the password is right");
    app.hafen
        .accounts
        .reset_user(
            &Actor::Cli,
            &ids["agent@muster.de"],
            NewPassword::parse("Noch ein Passwort 2026").unwrap(),
        )
        .await
        .unwrap();
    assert!(matches!(
        app.hafen.accounts.start_session(&checked).await,
        Err(hafen::error::Error::Unauthenticated)
    ));

    // The break-glass path: the operator at the machine resets the only admin.
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hafen"))
            .args(args)
            .env_remove("HAFEN_CONFIG")
            .env("HAFEN_DATA_DIR", app.data_dir())
            .env("HAFEN_DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let admin_secret = enable_totp(&app, "it@muster.de").await;
    let mut admin = Browser::new(&app);
    let code = hafen::accounts::Accounts::totp_code(&admin_secret, app.clock.now()).unwrap();
    assert_eq!(admin.sign_in("it@muster.de", PASSWORD, &code).await, 303);
    let admin_before = credentials(&app, "it@muster.de").await;
    let out = cli(
        &["user", "reset", "--login", "nobody@muster.de"],
        "Ein gutes Passwort\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active user"));
    let out = cli(&["user", "reset", "--login", "it@muster.de"], "kurz\n");
    assert!(!out.status.success());
    assert_eq!(
        credentials(&app, "it@muster.de").await,
        admin_before,
        "nothing changed"
    );
    let rescued = "Vom Server aus gerettet";
    let out = cli(
        &["user", "reset", "--login", "it@muster.de"],
        &format!("{rescued}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        admin.get("/ui/dashboard").await.2["location"],
        "/ui/sign-in",
        "the admin's session ended"
    );
    assert_eq!(
        credentials(&app, "it@muster.de").await.1,
        None,
        "TOTP removed"
    );
    app.clock.advance(second);
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("it@muster.de", PASSWORD, "").await, 401);
    assert_eq!(admin.sign_in("it@muster.de", rescued, "").await, 303);
    assert_eq!(
        admin.get("/ui/dashboard").await.0,
        200,
        "a password the operator set at the machine is the admin's own"
    );
    let _ = app.stop().await;
}

/// The text after `label` in a page, up to the next tag.
fn after<'h>(html: &'h str, label: &str) -> &'h str {
    let at = html
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {html}"))
        + label.len();
    html[at..].split('<').next().unwrap_or("")
}

async fn the_dashboard_tells_retention_state_it_does_not_know(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("Muster GmbH").await;
    add_user(&app, "it@muster.de", Role::Admin, None).await;
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("it@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = admin.get("/ui/dashboard").await;
    assert!(
        html.contains("bekannt nach dem nächsten Löschlauf dieser Instanz"),
        "no run yet: the overdue figure is unknown, not 0"
    );
    assert_eq!(after(&html, "Letzter erfolgreicher Lauf: "), "nie");

    // Another instance (a second process on the same database) sweeps: its certificate tells
    // this one when the last run was; what is overdue this one still cannot know.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hafen"))
        .args(["retention", "run"])
        .env_remove("HAFEN_CONFIG")
        .env("HAFEN_DATA_DIR", app.data_dir())
        .env("HAFEN_DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, html, _) = admin.get("/ui/dashboard").await;
    let last = after(&html, "Letzter erfolgreicher Lauf: ");
    assert!(last.starts_with("20"), "a time: {last}");
    assert!(html.contains("bekannt nach dem nächsten Löschlauf dieser Instanz"));

    // This instance sweeps: now it knows (nothing is overdue).
    app.hafen
        .retention
        .run(&Actor::System, None, false)
        .await
        .unwrap();
    let (_, html, _) = admin.get("/ui/dashboard").await;
    assert!(!html.contains("bekannt nach dem nächsten Löschlauf dieser Instanz"));
    let card = &html[html.find("id=\"overdue\"").unwrap()..];
    let card = &card[..card.find("</section>").unwrap()];
    assert!(card.contains("<p class=\"figure\">0</p>"), "{card}");
    let _ = app.stop().await;
}

async fn sign_in_returns_to_the_page_asked_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let wanted = format!("/ui/t/{t}/requests?kind=access");
    let browser = Browser::new(&app);
    let (status, _, headers) = browser.get(&wanted).await;
    assert_eq!(status, 303);
    let to_sign_in = headers["location"].to_str().unwrap().to_string();
    assert!(
        to_sign_in.starts_with("/ui/sign-in?next=%2Fui%2Ft%2F"),
        "{to_sign_in}"
    );
    let r = browser
        .post(
            &format!("/ui/t/{t}/holds"),
            &[("csrf", "x")],
            Some(&app.base),
        )
        .await;
    assert_eq!(
        r.headers()["location"],
        "/ui/sign-in",
        "a form posted without a session is not replayed after sign-in"
    );

    // The form carries the page along; only a page of this interface is a place to return to.
    let sign_in_via = |next_query: String| {
        let app = &app;
        async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let r = client.get(app.url(&next_query)).send().await.unwrap();
            let (token, _) = cookie_value(&r, "hafen_signin").unwrap();
            let html = r.text().await.unwrap();
            let next = if html.contains("name=\"next\"") {
                hidden(&html, "next")
            } else {
                String::new()
            };
            let r = client
                .post(app.url("/ui/sign-in"))
                .header("origin", &app.base)
                .header("cookie", format!("hafen_signin={token}"))
                .form(&[
                    ("token", token.as_str()),
                    ("login", "dpo@muster.de"),
                    ("password", PASSWORD),
                    ("code", ""),
                    ("next", next.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 303);
            app.clock.advance(chrono::Duration::seconds(1));
            r.headers()["location"].to_str().unwrap().to_string()
        }
    };
    assert_eq!(sign_in_via(to_sign_in).await, wanted);
    for foreign in [
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "/ui\\evil",
        "/v1/tenants",
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", foreign)
            .finish();
        assert_eq!(
            sign_in_via(format!("/ui/sign-in?{query}")).await,
            "/ui/dashboard",
            "{foreign}"
        );
    }
    let _ = app.stop().await;
}

/// An erasure whose end cannot be computed waits on the requests page; the DPO decides there,
/// and downloads the letter to the person.
async fn a_dpo_decides_an_erasure_and_downloads_the_letter(backend: Backend) {
    use serde_json::json;
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&t, "tenant_admin").await;
    let mut keep = crate::retention::rule("contacts", None, "relationship_end", "P6Y");
    keep["ground"] = json!("statutory");
    keep["norm"] = json!("§ 257 HGB");
    crate::retention::activate(&app, &t, &admin, &[keep]).await;
    let (_, contact) = crate::retention::message_at(
        &app,
        &t,
        "whatsapp",
        "+4915140000001",
        "2026-11-20T10:00:00Z",
    )
    .await;
    let dpo = app.token(&t, "dpo").await;
    let (status, request) = app
        .post(
            &format!("/v1/tenants/{t}/requests"),
            &dpo,
            &json!({"kind": "erasure", "contact_id": contact}),
        )
        .await;
    assert_eq!(status, 201);
    let id = request["id"].as_str().unwrap().to_string();
    let (status, outcome) = app
        .post(
            &format!("/v1/tenants/{t}/requests/{id}/erase"),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");

    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = browser.get("/ui/dashboard").await;
    assert!(
        html.contains("Offene Anfragen") && !html.contains("Kanalstatus"),
        "a DPO, who cannot see channels, is not told there are none: {html}"
    );
    let page = format!("/ui/t/{t}/requests");
    let (status, html, _) = browser.get(&page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Entscheidung nötig"), "{html}");
    assert!(
        html.contains("Ihre Kontaktdaten"),
        "the category in words: {html}"
    );
    let csrf = hidden(&html, "csrf");
    // Without a reason nothing is recorded.
    let action = format!("{page}/{id}/decide");
    let r = browser
        .post(
            &action,
            &[
                ("csrf", csrf.as_str()),
                ("category", "contacts"),
                ("decision", "keep_until"),
                ("until", "2030-12-31"),
                ("reason", ""),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let r = browser
        .post(
            &action,
            &[
                ("csrf", csrf.as_str()),
                ("category", "contacts"),
                ("decision", "keep_until"),
                ("until", "2030-12-31"),
                ("reason", "Rahmenvertrag bis Ende 2030"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, view) = app
        .get(&format!("/v1/tenants/{t}/requests/{id}"), &dpo)
        .await;
    assert_eq!(view["status"], json!("completed"), "{view}");
    let r = browser
        .post(
            &format!("{page}/{id}/letter"),
            &[("csrf", csrf.as_str())],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    crate::documents::check_pdf(&r.bytes().await.unwrap());
    let _ = app.stop().await;
}

/// The Tokens page: a tenant admin issues a named token (its secret shown once, on that page
/// only, never cached), sees it listed with its issuer and end, and revokes it; the API then
/// refuses it. Another tenant's admin sees none of it.
async fn a_tenant_admin_issues_and_revokes_tokens_in_the_interface(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let other = app.create_tenant("Andere GmbH").await;
    add_user(&app, "chefin@muster.de", Role::TenantAdmin, Some(&t)).await;
    add_user(&app, "chef@andere.de", Role::TenantAdmin, Some(&other)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("chefin@muster.de", PASSWORD, "").await, 303);
    let (status, html, _) = browser.get("/ui/tokens").await;
    assert_eq!(status, 200, "{html}");
    let csrf = hidden(&html, "csrf");
    let r = browser
        .post(
            "/ui/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Kassensystem"),
                ("role", "ingest"),
                ("tenant", t.as_str()),
                ("days", "30"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let secret = html
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new token is shown")
        .to_string();
    assert!(secret.starts_with("hfn_"), "{secret}");
    assert!(
        html.contains("Kassensystem") && html.contains("chefin@muster.de (tenant_admin)"),
        "{html}"
    );
    let messages = format!("/v1/tenants/{t}/messages");
    let probe = crate::support::text_message("whatsapp", "+4915140000077", "Bon", None);
    assert_eq!(app.post(&messages, &secret, &probe).await.0, 201);
    // Shown once: the list no longer carries it.
    let (_, html, _) = browser.get("/ui/tokens").await;
    assert!(!html.contains(&secret));
    let id = secret
        .trim_start_matches("hfn_")
        .split('_')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&html, "csrf");

    // Another tenant's admin neither sees nor revokes it.
    let mut stranger = Browser::new(&app);
    assert_eq!(stranger.sign_in("chef@andere.de", PASSWORD, "").await, 303);
    let (_, theirs, _) = stranger.get("/ui/tokens").await;
    assert!(!theirs.contains(&id) && !theirs.contains("Kassensystem"));
    let their_csrf = hidden(&theirs, "csrf");
    let r = stranger
        .post(
            &format!("/ui/tokens/{id}/revoke"),
            &[("csrf", their_csrf.as_str())],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.post(&messages, &secret, &probe).await.0, 201);

    let r = browser
        .post(
            &format!("/ui/tokens/{id}/revoke"),
            &[("csrf", csrf.as_str())],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (status, problem) = app.post(&messages, &secret, &probe).await;
    assert_eq!(status, 401, "{problem}");
    let (_, html, _) = browser.get("/ui/tokens").await;
    assert!(html.contains("widerrufen"), "{html}");
    // People are named by their login, in the header and in the audit log — never by a UUID.
    assert!(
        html.contains("Angemeldet als <strong>chefin@muster.de</strong>"),
        "{html}"
    );
    let (status, audit, _) = browser.get("/ui/audit").await;
    assert_eq!(status, 200);
    assert!(audit.contains("chefin@muster.de (tenant_admin)"), "{audit}");
    assert!(!audit.contains("user:"), "{audit}");
    // Filtered by area: only token entries.
    let (status, tokens_only, _) = browser.get("/ui/audit?area=tokens").await;
    assert_eq!(status, 200);
    assert!(
        tokens_only.contains("token.create") && tokens_only.contains("token.revoke"),
        "{tokens_only}"
    );
    assert!(!tokens_only.contains("ui.sign_in"), "{tokens_only}");
    let (_, sign_ins, _) = browser.get("/ui/audit?area=sign-ins").await;
    assert!(!sign_ins.contains("token.create"), "{sign_ins}");
    app.stop().await;
}

/// GET / leads to the interface; the favicon is there; an unknown page under /ui/ is an HTML
/// page in the reader's language with a way back, not a JSON problem (the API keeps those).
async fn the_front_door_leads_to_the_interface_and_a_wrong_page_is_a_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);
    let (status, _, headers) = browser.get("/").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/ui/sign-in");
    let (status, svg, headers) = browser.get("/favicon.ico").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(svg.starts_with("<svg"));
    let (status, html, headers) = browser.get("/ui/gibt-es-nicht").await;
    assert_eq!(status, 404);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        html.contains("Seite nicht gefunden") && html.contains("href=\"/ui/\""),
        "{html}"
    );
    let english = browser
        .client
        .get(app.url("/ui/nope"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("Page not found"), "{english}");
    let (status, problem, headers) = browser.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(problem.contains("not-found"));
    app.stop().await;
}

/// After working in the second tenant, a page of no tenant (reports, audit) keeps the
/// navigation on that tenant instead of falling back to the first: a rule or a hold is never
/// written into the wrong tenant by following the menu. The chosen tenant is always named.
async fn the_chosen_tenant_stays_chosen_across_other_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.create_tenant("Alpha GmbH").await;
    let second = app.create_tenant("Beta AG").await;
    add_user(&app, "admin@muster.de", Role::Admin, None).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let nav_tenant = |html: &str| {
        html.split("/ui/t/")
            .nth(1)
            .map(|rest| rest.chars().take(36).collect::<String>())
            .unwrap_or_default()
    };
    let (_, html, _) = browser.get("/ui/reports").await;
    assert_eq!(nav_tenant(&html), first, "nothing chosen yet: the first");

    // Picking the second tenant (or opening one of its pages) chooses it ...
    let r = browser
        .client
        .get(app.url(&format!("/ui/tenant?id={second}&area=holds")))
        .header(
            "cookie",
            format!("hafen_session={}", browser.session.clone().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (chosen, _) = cookie_value(&r, "hafen_tenant").expect("the choice is remembered");
    assert_eq!(chosen, second);
    // ... and it stays chosen on a page of no tenant, named in the navigation.
    let html = browser
        .client
        .get(app.url("/ui/reports"))
        .header(
            "cookie",
            format!(
                "hafen_session={}; hafen_tenant={second}",
                browser.session.clone().unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(nav_tenant(&html), second);
    assert!(html.contains("<strong>Beta AG</strong>"), "{html}");
    // A tenant the person can no longer see is not kept.
    let stranger = "01a00000-0000-7000-8000-000000000000";
    let html = browser
        .client
        .get(app.url("/ui/reports"))
        .header(
            "cookie",
            format!(
                "hafen_session={}; hafen_tenant={stranger}",
                browser.session.clone().unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(nav_tenant(&html), first);
    app.stop().await;
}

/// Erasing in the interface takes two clicks: the first shows, per kind of data, what will be
/// erased and what the rules in force keep (and why), and changes nothing; only the
/// confirmation erases.
async fn erasure_in_the_interface_asks_for_confirmation_with_what_goes_and_what_stays(
    backend: Backend,
) {
    use serde_json::json;
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&t, "tenant_admin").await;
    let mut keep = crate::retention::rule("message_metadata", None, "collection", "P6Y");
    keep["ground"] = json!("statutory");
    keep["norm"] = json!("§ 147 AO");
    crate::retention::activate(&app, &t, &admin, &[keep]).await;
    let (_, contact) = crate::retention::message_at(
        &app,
        &t,
        "whatsapp",
        "+4915140000002",
        "2026-11-20T10:00:00Z",
    )
    .await;
    let dpo = app.token(&t, "dpo").await;
    let (_, request) = app
        .post(
            &format!("/v1/tenants/{t}/requests"),
            &dpo,
            &json!({"kind": "erasure", "contact_id": contact}),
        )
        .await;
    let id = request["id"].as_str().unwrap().to_string();
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = browser.get("/ui/dashboard").await;
    assert!(
        html.contains("Offene Anfragen") && !html.contains("Kanalstatus"),
        "a DPO, who cannot see channels, is not told there are none: {html}"
    );
    let page = format!("/ui/t/{t}/requests");
    let (_, html, _) = browser.get(&page).await;
    let csrf = hidden(&html, "csrf");
    let action = format!("{page}/{id}/erase");
    let r = browser
        .post(&action, &[("csrf", csrf.as_str())], Some(&app.base))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let confirm = r.text().await.unwrap();
    assert!(confirm.contains("Löschung bestätigen"), "{confirm}");
    assert!(confirm.contains("wird gelöscht"), "{confirm}");
    assert!(
        confirm.contains("bleibt gesperrt aufbewahrt") && confirm.contains("§ 147 AO"),
        "what stays, and why: {confirm}"
    );
    let (_, still) = app
        .get(&format!("/v1/tenants/{t}/requests/{id}"), &dpo)
        .await;
    assert_eq!(
        still["status"],
        json!("open"),
        "the first click changes nothing"
    );
    let r = browser
        .post(
            &action,
            &[("csrf", csrf.as_str()), ("confirm", "yes")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, done) = app
        .get(&format!("/v1/tenants/{t}/requests/{id}"), &dpo)
        .await;
    assert_ne!(done["status"], json!("open"), "{done}");
    app.stop().await;
}

//! The signed-in person's own account: change the password (other sessions end), set up the
//! TOTP second factor (a fresh key, confirmed by a code from the app before it counts).

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::{layout, see_other, Area, Posted, SignedIn, UiError};
use crate::accounts::NewPassword;
use crate::i18n::Text;
use crate::sensitive::Sensitive;
use crate::service::Hafen;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/account", web::get().to(account))
        .route("/ui/account/password", web::post().to(change_password))
        .route("/ui/account/totp", web::post().to(begin_totp))
        .route("/ui/account/totp/confirm", web::post().to(confirm_totp));
}

async fn account(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
) -> Result<HttpResponse, UiError> {
    let (login, totp) = hafen
        .accounts
        .own_account(who.actor())
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let changed = req.query_string() == "changed=password";
    let content = html! {
        h1 { (t(Text::Account)) }
        p { (t(Text::Login)) ": " strong { (login) } }
        @if changed { p.notice role="status" { (t(Text::PasswordChanged)) } }
        @if who.session.must_change_password { p.notice.warn role="alert" { (t(Text::MustChangePassword)) } }
        h2 { (t(Text::ChangePassword)) }
        form method="post" action="/ui/account/password" {
            input type="hidden" name="csrf" value=(who.session.csrf);
            label for="a-current" { (t(Text::CurrentPassword)) }
            input #a-current type="password" name="current" required autocomplete="current-password";
            label for="a-new" { (t(Text::NewPasswordLabel)) }
            input #a-new type="password" name="new" required minlength="12" autocomplete="new-password";
            button type="submit" { (t(Text::ChangePassword)) }
        }
        h2 { (t(Text::TwoFactor)) }
        p #totp-state { @if totp { (t(Text::TotpOn)) } @else { (t(Text::TotpOff)) } }
        // Two-factor waits until the password is the person's own (the form would bounce).
        @if !who.session.must_change_password {
            form method="post" action="/ui/account/totp" {
                input type="hidden" name="csrf" value=(who.session.csrf);
                button type="submit" { (t(Text::EnrolTotp)) }
            }
        }
    };
    Ok(layout(&who, Area::Account, None, t(Text::Account), content))
}

async fn change_password(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let new = NewPassword::parse(form.untrimmed("new")).map_err(&e)?;
    let current = Sensitive::new(form.untrimmed("current").to_string());
    hafen
        .accounts
        .change_password(who.actor(), &who.session, current, new)
        .await
        .map_err(&e)?;
    Ok(see_other("/ui/account?changed=password"))
}

/// Shows a fresh key with a form to confirm it; the key travels back in that form, to the
/// person it was shown to, and is stored only when a code made from it matches.
async fn begin_totp(
    hafen: web::Data<Hafen>,
    Posted { who, .. }: Posted,
) -> Result<HttpResponse, UiError> {
    let (login, _) = hafen
        .accounts
        .own_account(who.actor())
        .await
        .map_err(UiError::domain(who.lang))?;
    let (secret, uri) = hafen.accounts.begin_totp(&login);
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (t(Text::EnrolTotp)) }
        p.hint { (t(Text::EnrolHint)) }
        @if let Some(svg) = qr_svg(uri.expose()) {
            figure.qr {
                (maud::PreEscaped(svg))
                figcaption { (t(Text::ScanWithApp)) }
            }
        }
        label for="t-key" { (t(Text::TotpKey)) }
        input #t-key.copy type="text" readonly value=(secret.expose());
        label for="t-uri" { (t(Text::TotpUri)) }
        input #t-uri.copy type="text" readonly value=(uri.expose());
        form method="post" action="/ui/account/totp/confirm" {
            input type="hidden" name="csrf" value=(who.session.csrf);
            input type="hidden" name="secret" value=(secret.expose());
            label for="t-current" { (t(Text::CurrentPassword)) }
            input #t-current type="password" name="current" required autocomplete="current-password";
            label for="t-code" { (t(Text::CodeFromApp)) }
            input #t-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
            button type="submit" { (t(Text::Confirm)) }
        }
    };
    let mut response = layout(&who, Area::Account, None, t(Text::EnrolTotp), content);
    // The page holds the new secret: no copy in any cache.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The otpauth address as a QR code an authenticator app scans: inline SVG drawn here (no
/// script, no image from elsewhere), with the quiet zone scanners need.
fn qr_svg(uri: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // The renderer starts with an XML declaration, which has no place inside HTML.
    svg.find("<svg").map(|at| svg[at..].to_string())
}

async fn confirm_totp(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let current = Sensitive::new(form.untrimmed("current").to_string());
    hafen
        .accounts
        .confirm_totp(who.actor(), current, form.get("secret"), form.get("code"))
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other("/ui/account"))
}

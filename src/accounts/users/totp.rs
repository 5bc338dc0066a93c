//! Two-factor sign-in: a TOTP secret per user (RFC 6238, 30-second steps, one step of drift
//! either way), its otpauth link for the authenticator app, and the codes.

use super::*;

pub(super) const TOTP_STEP: u64 = 30;

impl Accounts {
    /// Turns on TOTP for a user; returns the `otpauth://` URI to enrol an authenticator app.
    /// Only the command line and admins may do this for someone else.
    pub async fn enable_totp(&self, actor: &Actor, login: &LoginName) -> Result<Sensitive<String>> {
        actor.authorize_install(Permission::ManageTenants)?;
        let row = self.user_by_login(login).await?.ok_or(Error::NotFound)?;
        let secret = new_totp_secret();
        self.store_totp(actor, &row.id, &secret, None).await?;
        Ok(otpauth_uri(login.0.expose(), &secret))
    }

    pub(super) async fn store_totp(
        &self,
        actor: &Actor,
        user: &str,
        secret: &[u8],
        used_step: Option<i64>,
    ) -> Result<()> {
        let keys = self.ui_keys().await?;
        let sealed = keys.seal.seal(&binding(user, "totp"), secret)?;
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "ui.totp_enable").object("user", user.to_string());
        let id = user.to_string();
        self.infra
            .store
            .write(move |conn| {
                diesel::update(ui_users::table.filter(ui_users::id.eq(&id)))
                    .set((
                        ui_users::totp_sealed.eq(Some(&sealed)),
                        ui_users::totp_last_step.eq(used_step),
                    ))
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(())
    }

    /// A fresh TOTP secret for the signed-in person to enrol; nothing is stored until
    /// [`Hafen::confirm_totp`] sees a code made from it.
    pub fn begin_totp(&self, login: &str) -> (Sensitive<String>, Sensitive<String>) {
        let secret = new_totp_secret();
        (
            Sensitive::new(
                totp_rs::Secret::Raw(secret.to_vec())
                    .to_encoded()
                    .to_string(),
            ),
            otpauth_uri(login, &secret),
        )
    }

    /// Turns TOTP on (or moves it to a new app) for the signed-in person, once their current
    /// password is checked and `code` proves their app has `secret`. The password keeps a
    /// borrowed session from binding the account to someone else's app.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        current: Sensitive<String>,
        secret_base32: &str,
        code: &str,
    ) -> Result<()> {
        let row = self
            .own_row_confirmed(actor, current, "ui.totp_enable_refused")
            .await?;
        let secret = totp_rs::Secret::Encoded(secret_base32.trim().to_string())
            .to_bytes()
            .ok()
            .filter(|s| s.len() >= 16)
            .ok_or_else(|| Error::invalid("secret", "start the enrolment again"))?;
        let Some(step) = totp_step(&secret, code.trim(), self.infra.clock.now()) else {
            return Err(Error::invalid(
                "code",
                "the code does not match; check the app's clock and enter the current code",
            ));
        };
        self.store_totp(actor, &row.id, &secret, Some(step)).await
    }

    /// The current TOTP code of a secret at `at` (tests and `hafen user totp-code`).
    pub fn totp_code(secret: &[u8], at: chrono::DateTime<chrono::Utc>) -> Option<String> {
        totp(secret).map(|t| t.generate(at.timestamp().max(0) as u64))
    }
}

pub(super) fn new_totp_secret() -> [u8; 20] {
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The enrolment URI authenticator apps read (as a QR code or pasted).
pub(super) fn otpauth_uri(login: &str, secret: &[u8]) -> Sensitive<String> {
    let encoded = totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string();
    Sensitive::new(format!(
        "otpauth://totp/Hafen:{}?secret={encoded}&issuer=Hafen&algorithm=SHA1&digits=6&period={TOTP_STEP}",
        url::form_urlencoded::byte_serialize(login.as_bytes()).collect::<String>()
    ))
}

pub(super) fn totp(secret: &[u8]) -> Option<totp_rs::TOTP> {
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, TOTP_STEP, secret.to_vec()).ok()
}

/// RFC 6238 with one step of clock skew either way, on the injected clock: the time step the
/// code belongs to, so the caller can refuse a step already used.
pub(super) fn totp_step(
    secret: &[u8],
    code: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<i64> {
    use subtle::ConstantTimeEq;
    if code.len() != 6 {
        return None;
    }
    let totp = totp(secret)?;
    let now = at.timestamp().max(0) as u64 / TOTP_STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|step| {
            bool::from(
                totp.generate(step * TOTP_STEP)
                    .as_bytes()
                    .ct_eq(code.as_bytes()),
            )
        })
        .map(|step| step as i64)
}

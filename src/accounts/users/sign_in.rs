//! Signing in: the password (checked against a decoy hash for unknown names, so the answer
//! takes as long), the one-time code, and the lockout after repeated failures.

use super::totp::totp_step;
use super::*;

/// Why a sign-in failed. The person sees one message for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFailure {
    Wrong,
    Locked,
}

impl Accounts {
    /// Checks name, password and (when the user has one) the TOTP code. Every outcome is
    /// audited; five failures in a row lock the name for 15 minutes. Unknown names, wrong
    /// passwords, wrong codes and locked names all take the same time and the same answer.
    pub async fn check_sign_in(
        &self,
        login: &str,
        password: Sensitive<String>,
        code: Option<&str>,
    ) -> std::result::Result<UserRow, SignInFailure> {
        match self.try_sign_in(login, password, code).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %crate::telemetry::chain(&e), "sign-in could not be checked");
                Err(SignInFailure::Wrong)
            }
        }
    }

    pub(super) async fn try_sign_in(
        &self,
        login: &str,
        password: Sensitive<String>,
        code: Option<&str>,
    ) -> Result<std::result::Result<UserRow, SignInFailure>> {
        let keys = self.ui_keys().await?;
        let row = match LoginName::parse(login) {
            Ok(name) => self.user_by_login(&name).await?,
            Err(_) => None,
        };
        let row = row.filter(|r| r.disabled_at.is_none());
        let stored = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| decoy_hash().to_string());
        let password_ok =
            tokio::task::spawn_blocking(move || password_matches(&stored, password.expose()))
                .await
                .map_err(Error::internal)?;
        let now = self.infra.clock.now();
        let Some(row) = row else {
            // Audited like any failure; the write also makes this path as slow as a known
            // name's, so timing does not tell which names exist.
            self.infra
                .record(
                    AuditEvent::new(&Actor::Anonymous, "ui.sign_in_failed").detail("unknown name"),
                )
                .await?;
            return Ok(Err(SignInFailure::Wrong));
        };
        // The TOTP step the code matches (None: no TOTP, or no match).
        let code_step = match &row.totp_sealed {
            None => None,
            Some(sealed) => {
                let secret = keys.seal.open(&binding(&row.id, "totp"), sealed)?;
                code.and_then(|c| totp_step(&secret, c.trim(), now))
            }
        };
        let needs_code = row.totp_sealed.is_some();
        let actor = row.actor()?;
        let (id, at) = (row.id.clone(), to_micros(now));
        // Decided inside one write, on the row as it is then: parallel attempts each count,
        // a lock placed meanwhile holds, and a TOTP code works only once.
        let outcome = self
            .infra
            .store
            .write(move |conn| {
                let (locked_until, last_step): (Option<i64>, Option<i64>) = ui_users::table
                    .filter(ui_users::id.eq(&id))
                    .select((ui_users::locked_until, ui_users::totp_last_step))
                    .first(conn)?;
                if locked_until.is_some_and(|t| t > at) {
                    audit::append(
                        conn,
                        now,
                        AuditEvent::new(&actor, "ui.sign_in_refused")
                            .object("user", id.clone())
                            .detail("locked"),
                    )?;
                    return Ok(Err(SignInFailure::Locked));
                }
                let code_ok =
                    !needs_code || code_step.is_some_and(|s| last_step.is_none_or(|last| s > last));
                if password_ok && code_ok {
                    diesel::update(ui_users::table.filter(ui_users::id.eq(&id)))
                        .set((
                            ui_users::failed_attempts.eq(0),
                            ui_users::locked_until.eq(None::<i64>),
                            ui_users::totp_last_step.eq(code_step.or(last_step)),
                        ))
                        .execute(conn)?;
                    audit::append(
                        conn,
                        now,
                        AuditEvent::new(&actor, "ui.sign_in").object("user", id.clone()),
                    )?;
                    return Ok(Ok(()));
                }
                diesel::update(ui_users::table.filter(ui_users::id.eq(&id)))
                    .set(ui_users::failed_attempts.eq(ui_users::failed_attempts + 1))
                    .execute(conn)?;
                let failures: i32 = ui_users::table
                    .filter(ui_users::id.eq(&id))
                    .select(ui_users::failed_attempts)
                    .first(conn)?;
                audit::append(
                    conn,
                    now,
                    AuditEvent::new(&actor, "ui.sign_in_failed")
                        .object("user", id.clone())
                        .detail(if password_ok { "code" } else { "password" }),
                )?;
                if failures >= MAX_FAILURES {
                    diesel::update(ui_users::table.filter(ui_users::id.eq(&id)))
                        .set((
                            ui_users::failed_attempts.eq(0),
                            ui_users::locked_until.eq(Some(to_micros(now + LOCKOUT))),
                        ))
                        .execute(conn)?;
                    audit::append(
                        conn,
                        now,
                        AuditEvent::new(&actor, "ui.locked").object("user", id.clone()),
                    )?;
                }
                Ok(Err(SignInFailure::Wrong))
            })
            .await?;
        Ok(outcome.map(|()| row))
    }
}

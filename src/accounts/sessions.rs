//! Web interface sessions: a random 256-bit id in a cookie, only its SHA-256 in the database,
//! an idle timeout and an absolute one on the injected clock, and a CSRF token derived from
//! the session so forms need no server-side state of their own.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::users::UserRow;
use super::Accounts;
use crate::audit::{self, AuditEvent};
use crate::auth::Actor;
use crate::clock::to_micros;
use crate::error::Result;
use crate::sensitive::Sensitive;
use crate::store::schema::{ui_sessions, ui_users};

/// A session ends after this long without a request.
pub const IDLE: chrono::Duration = chrono::Duration::minutes(30);
/// And after this long in any case.
pub const ABSOLUTE: chrono::Duration = chrono::Duration::hours(12);
/// `last_seen_at` is written at most this often (one write a minute, not one per page).
const TOUCH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// A signed-in person's session, resolved from the cookie.
#[derive(Debug, Clone)]
pub struct Session {
    id_hash: Vec<u8>,
    pub actor: Actor,
    pub user_id: String,
    /// Someone else chose the password: the person must set their own first.
    pub must_change_password: bool,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// The stored form of the session id (to keep this session when others end).
    pub fn id_hash(&self) -> &[u8] {
        &self.id_hash
    }
}

fn hash_id(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

impl Accounts {
    fn csrf_for(&self, id_hash: &[u8]) -> String {
        let key = self.infra.keys.master().derive("ui-csrf");
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()) else {
            return String::new();
        };
        mac.update(id_hash);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether a form's token belongs to this session (constant time).
    pub fn csrf_valid(&self, session: &Session, presented: &str) -> bool {
        !session.csrf.is_empty() && bool::from(session.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Starts a session for a user who just signed in, unless their password changed or they
    /// were disabled since it was checked; returns the cookie value.
    pub async fn start_session(&self, user: &UserRow) -> Result<Sensitive<String>> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = URL_SAFE_NO_PAD.encode(raw);
        let now = to_micros(self.infra.clock.now());
        let (hash, user_id) = (hash_id(&id), user.id.clone());
        let verified = user.password_hash.clone();
        let expired = to_micros(self.infra.clock.now() - ABSOLUTE);
        self.infra
            .store
            .write(move |conn| {
                // The password was checked outside this transaction: a reset or disabling that
                // came in between (and ended every session) must not be outlived by this one.
                let unchanged: i64 = ui_users::table
                    .filter(ui_users::id.eq(&user_id))
                    .filter(ui_users::password_hash.eq(&verified))
                    .filter(ui_users::disabled_at.is_null())
                    .count()
                    .get_result(conn)?;
                if unchanged == 0 {
                    return Err(crate::error::Error::Unauthenticated.into());
                }
                // Expired sessions of anyone go with every sign-in: the table stays small.
                diesel::delete(ui_sessions::table.filter(ui_sessions::created_at.lt(expired)))
                    .execute(conn)?;
                diesel::insert_into(ui_sessions::table)
                    .values((
                        ui_sessions::id_hash.eq(hash.clone()),
                        ui_sessions::user_id.eq(user_id.clone()),
                        ui_sessions::created_at.eq(now),
                        ui_sessions::last_seen_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(Sensitive::new(id))
    }

    /// The live session for a cookie value, or None (unknown, idle too long, too old, user
    /// disabled). A live session's last-seen time moves forward.
    pub async fn session(&self, presented: &str) -> Result<Option<Session>> {
        if presented.len() != 43 {
            return Ok(None);
        }
        let hash = hash_id(presented);
        let lookup = hash.clone();
        let found: Option<(i64, i64, UserRow)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(ui_sessions::table
                    .inner_join(ui_users::table)
                    .filter(ui_sessions::id_hash.eq(lookup))
                    .select((
                        ui_sessions::created_at,
                        ui_sessions::last_seen_at,
                        UserRow::as_select(),
                    ))
                    .first(conn)
                    .optional()?)
            })
            .await?;
        let Some((created, seen, user)) = found else {
            return Ok(None);
        };
        let now = self.infra.clock.now();
        let live = user.disabled_at.is_none()
            && created > to_micros(now - ABSOLUTE)
            && seen > to_micros(now - IDLE);
        if !live {
            let gone = hash.clone();
            self.infra
                .store
                .write(move |conn| {
                    diesel::delete(
                        ui_sessions::table.filter(ui_sessions::id_hash.eq(gone.clone())),
                    )
                    .execute(conn)?;
                    Ok(())
                })
                .await?;
            return Ok(None);
        }
        if seen < to_micros(now - TOUCH_AFTER) {
            let (touched, at) = (hash.clone(), to_micros(now));
            self.infra
                .store
                .write(move |conn| {
                    diesel::update(
                        ui_sessions::table.filter(ui_sessions::id_hash.eq(touched.clone())),
                    )
                    .set(ui_sessions::last_seen_at.eq(at))
                    .execute(conn)?;
                    Ok(())
                })
                .await?;
        }
        Ok(Some(Session {
            csrf: self.csrf_for(&hash),
            actor: user.actor()?,
            must_change_password: user.password_must_change,
            user_id: user.id,
            id_hash: hash,
        }))
    }

    /// Signs out: the session is deleted and the sign-out audited.
    pub async fn end_session(&self, session: &Session) -> Result<()> {
        let hash = session.id_hash.clone();
        let now = self.infra.clock.now();
        let event =
            AuditEvent::new(&session.actor, "ui.sign_out").object("user", session.user_id.clone());
        self.infra
            .store
            .write(move |conn| {
                diesel::delete(ui_sessions::table.filter(ui_sessions::id_hash.eq(hash.clone())))
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(())
    }
}

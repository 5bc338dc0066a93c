//! Local users of the web interface: login names sealed under the install's interface key and
//! found by a keyed blind index, passwords as argon2id hashes, an optional TOTP secret, and a
//! lockout after repeated failures. Roles and tenant binding are the API's (see `auth`).

mod sign_in;
mod totp;
pub use sign_in::*;

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use diesel::prelude::*;
use rand::RngCore;

use super::Accounts;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission, Role};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::sensitive::Sensitive;
use crate::store::id;
use crate::store::schema::{ui_keys, ui_sessions, ui_users};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// Failed sign-ins in a row before the name is locked.
pub const MAX_FAILURES: i32 = 5;
/// How long a locked name stays locked.
pub const LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);
const INSTALL_KEY: &str = "ui-users";

/// A login name: an e-mail address or a short name, compared case-insensitively.
#[derive(Clone)]
pub struct LoginName(Sensitive<String>);

impl LoginName {
    pub fn parse(text: &str) -> Result<Self> {
        let name = text.trim().to_lowercase();
        if name.chars().count() < 3 || name.len() > 254 {
            return Err(Error::invalid(
                "login",
                "must be between 3 and 254 characters",
            ));
        }
        if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::invalid(
                "login",
                "must not contain spaces or control characters",
            ));
        }
        Ok(Self(Sensitive::new(name)))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.expose().as_bytes()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ui_users)]
pub struct UserRow {
    pub id: String,
    pub login_index: Vec<u8>,
    pub login_sealed: Vec<u8>,
    pub password_hash: String,
    pub role: String,
    #[diesel(serialize_as = crate::store::id::BoundOptionalId)]
    pub tenant_id: Option<String>,
    pub totp_sealed: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub failed_attempts: i32,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    pub disabled_at: Option<i64>,
    pub password_must_change: bool,
}

impl UserRow {
    /// The person as an actor: role and tenant as stored.
    pub fn actor(&self) -> Result<Actor> {
        let role: Role = self.role.parse().map_err(|_| {
            Error::internal(anyhow::anyhow!("user {} has an unknown role", self.id))
        })?;
        let tenant = self.tenant_id.as_deref().map(TenantId::parse).transpose()?;
        Ok(Actor::User {
            id: self.id.clone(),
            role,
            tenant,
        })
    }
}

/// A user as the interface lists them (the login name opened for the admin).
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub totp: bool,
    pub locked: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Whether a password set by `actor` was chosen by someone other than the person who will use
/// it: an admin in the interface. Such a password works once, to set one's own.
fn chosen_by_someone_else(actor: &Actor) -> bool {
    matches!(actor, Actor::User { .. })
}

/// The row of user `id` unless disabled: what disabling and resetting may change.
fn active_user(
    id: &str,
) -> diesel::dsl::Filter<
    diesel::dsl::Filter<ui_users::table, diesel::dsl::Eq<ui_users::id, &str>>,
    diesel::dsl::IsNull<ui_users::disabled_at>,
> {
    ui_users::table
        .filter(ui_users::id.eq(id))
        .filter(ui_users::disabled_at.is_null())
}

/// The keyed blind index a login name is found by.
fn login_index(keys: &OwnerKeys, login: &LoginName) -> Vec<u8> {
    keys.blind.index(&[b"login", login.as_bytes()])
}

/// Users live outside any tenant; the row id binds each sealed field to its row.
pub(super) fn binding<'a>(id: &'a str, column: &'static str) -> FieldBinding<'a> {
    FieldBinding {
        tenant: "",
        table: "ui_users",
        column,
        row: id,
    }
}

impl Accounts {
    /// The install key that seals login names and TOTP secrets, created on first use. Several
    /// instances may race to create it: the first insert wins and everyone reads it back.
    pub(super) async fn ui_keys(&self) -> Result<Arc<OwnerKeys>> {
        let owner = KeyOwner::Install(INSTALL_KEY.into());
        if let Some(keys) = self.infra.keys.cached(&owner) {
            return Ok(keys);
        }
        let existing: Option<Vec<u8>> = self
            .infra
            .store
            .read(|conn| {
                Ok(ui_keys::table
                    .filter(ui_keys::id.eq(INSTALL_KEY))
                    .select(ui_keys::wrapped_key)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        let wrapped = match existing {
            Some(w) => w,
            None => {
                let fresh = self.infra.keys.generate()?;
                let at = to_micros(self.infra.clock.now());
                let candidate = fresh.wrapped.clone();
                self.infra
                    .store
                    .write(move |conn| {
                        let stored: Option<Vec<u8>> = ui_keys::table
                            .filter(ui_keys::id.eq(INSTALL_KEY))
                            .select(ui_keys::wrapped_key)
                            .first(conn)
                            .optional()?;
                        if let Some(w) = stored {
                            return Ok(w);
                        }
                        diesel::insert_into(ui_keys::table)
                            .values((
                                ui_keys::id.eq(INSTALL_KEY),
                                ui_keys::wrapped_key.eq(&candidate),
                                ui_keys::created_at.eq(at),
                            ))
                            .execute(conn)?;
                        Ok(candidate.clone())
                    })
                    .await?
            }
        };
        Ok(self.infra.keys.open(owner, &wrapped)?)
    }

    /// Creates a user. The same rules as for tokens: admins create anyone; a tenant admin
    /// creates non-admin users of its own tenant.
    pub async fn create_user(
        &self,
        actor: &Actor,
        login: &LoginName,
        password: NewPassword,
        role: Role,
        tenant: Option<&TenantId>,
    ) -> Result<UserView> {
        match (tenant, role.is_install_wide()) {
            (Some(t), false) => actor.authorize(t, Permission::ManageTokens)?,
            (None, true) => actor.authorize_install(Permission::ManageTenants)?,
            (None, false) if role == Role::Dpo => {
                actor.authorize_install(Permission::ManageTenants)?
            }
            (Some(_), true) => return Err(Error::invalid("tenant", "admins belong to no tenant")),
            (None, false) => return Err(Error::invalid("tenant", "this role needs a tenant")),
        }
        if matches!(role, Role::Ingest | Role::Bot) {
            return Err(Error::invalid(
                "role",
                "ingest and bot are for machines: create an API token or register a bot instead",
            ));
        }
        if let Some(t) = tenant {
            self.infra.ensure_tenant(t).await?;
        }
        let keys = self.ui_keys().await?;
        let id = uuid::Uuid::now_v7().to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(password.0.expose()))
            .await
            .map_err(Error::internal)??;
        let now = self.infra.clock.now();
        let row = UserRow {
            login_index: login_index(&keys, login),
            login_sealed: keys.seal.seal(&binding(&id, "login"), login.as_bytes())?,
            password_hash: hash,
            role: role.as_str().into(),
            tenant_id: tenant.map(|t| t.as_str().to_string()),
            totp_sealed: None,
            totp_last_step: None,
            failed_attempts: 0,
            locked_until: None,
            created_at: to_micros(now),
            created_by: actor.audit_label(),
            disabled_at: None,
            password_must_change: chosen_by_someone_else(actor),
            id: id.clone(),
        };
        let mut event = AuditEvent::new(actor, "ui.user_create")
            .object("user", id.clone())
            .detail(format!("role={role}"));
        if let Some(t) = tenant {
            event = event.tenant(t);
        }
        self.infra
            .store
            .write(move |conn| {
                if user_by_index(conn, &row.login_index)?.is_some() {
                    return Err(Error::Conflict(
                        "a user with this login name already exists".into(),
                    )
                    .into());
                }
                diesel::insert_into(ui_users::table)
                    .values(row.clone())
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(UserView {
            id,
            login: login.0.expose().clone(),
            role,
            tenant: tenant.cloned(),
            totp: false,
            locked: false,
            created_at: now,
        })
    }

    /// The users an actor may manage: all for an admin, its tenant's for a tenant admin.
    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>> {
        let scope = match actor.person() {
            Some((_, Some(t))) => {
                actor.authorize(t, Permission::ManageTokens)?;
                Some(t.as_str().to_string())
            }
            _ => {
                actor.authorize_install(Permission::ManageTenants)?;
                None
            }
        };
        let keys = self.ui_keys().await?;
        let rows: Vec<UserRow> = self
            .infra
            .store
            .read(move |conn| {
                let mut q = ui_users::table.into_boxed();
                if let Some(t) = scope {
                    q = q.filter(ui_users::tenant_id.eq(id::bind(t)));
                }
                Ok(q.filter(ui_users::disabled_at.is_null())
                    .order(ui_users::created_at.asc())
                    .select(UserRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let now = to_micros(self.infra.clock.now());
        rows.into_iter()
            .map(|row| {
                let login = keys
                    .seal
                    .open_string(&binding(&row.id, "login"), &row.login_sealed)?;
                let Actor::User { role, tenant, .. } = row.actor()? else {
                    return Err(Error::internal(anyhow::anyhow!("not a user")));
                };
                Ok(UserView {
                    login,
                    role,
                    tenant,
                    totp: row.totp_sealed.is_some(),
                    locked: row.locked_until.is_some_and(|t| t > now),
                    created_at: from_micros(row.created_at),
                    id: row.id,
                })
            })
            .collect()
    }

    /// The signed-in person's own account: login name and whether TOTP is on.
    pub async fn own_account(&self, actor: &Actor) -> Result<(String, bool)> {
        let row = self.own_row(actor).await?;
        let keys = self.ui_keys().await?;
        let login = keys
            .seal
            .open_string(&binding(&row.id, "login"), &row.login_sealed)?;
        Ok((login, row.totp_sealed.is_some()))
    }

    async fn own_row(&self, actor: &Actor) -> Result<UserRow> {
        let Actor::User { id, .. } = actor else {
            return Err(Error::Forbidden(
                "only a signed-in person has an account here".into(),
            ));
        };
        let id = id.clone();
        self.infra
            .store
            .read(move |conn| {
                Ok(ui_users::table
                    .filter(ui_users::id.eq(id))
                    .filter(ui_users::disabled_at.is_null())
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?
            .ok_or(Error::NotFound)
    }

    /// The signed-in person's row, once `current` is their password. A wrong one is audited
    /// as `refused` and answered as an invalid field: account changes need the password, so a
    /// borrowed session cannot take the account over.
    async fn own_row_confirmed(
        &self,
        actor: &Actor,
        current: Sensitive<String>,
        refused: &'static str,
    ) -> Result<UserRow> {
        let row = self.own_row(actor).await?;
        let stored = row.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || password_matches(&stored, current.expose()))
            .await
            .map_err(Error::internal)?;
        if !ok {
            self.infra
                .record(AuditEvent::new(actor, refused).object("user", row.id.clone()))
                .await?;
            return Err(Error::invalid(
                "current_password",
                "the current password is not right",
            ));
        }
        Ok(row)
    }

    /// Changes the signed-in person's password after checking the current one; every other
    /// session of theirs ends.
    pub async fn change_password(
        &self,
        actor: &Actor,
        session: &super::Session,
        current: Sensitive<String>,
        new: NewPassword,
    ) -> Result<()> {
        // Otherwise a temporary password an admin chose could be kept as one's own.
        if new.0.expose() == current.expose() {
            return Err(Error::invalid(
                "new",
                "the new password must differ from the current one",
            ));
        }
        let row = self
            .own_row_confirmed(actor, current, "ui.password_change_refused")
            .await?;
        let hash = tokio::task::spawn_blocking(move || hash_password(new.0.expose()))
            .await
            .map_err(Error::internal)??;
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "ui.password_change").object("user", row.id.clone());
        let (id, keep) = (row.id.clone(), session.id_hash().to_vec());
        self.infra
            .store
            .write(move |conn| {
                diesel::update(ui_users::table.filter(ui_users::id.eq(&id)))
                    .set((
                        ui_users::password_hash.eq(hash.clone()),
                        ui_users::password_must_change.eq(false),
                    ))
                    .execute(conn)?;
                diesel::delete(
                    ui_sessions::table
                        .filter(ui_sessions::user_id.eq(&id))
                        .filter(ui_sessions::id_hash.ne(keep.clone())),
                )
                .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(())
    }

    /// The active user `id` if `actor` may manage them: admins manage anyone, a tenant admin
    /// the non-admins of its own tenant (others are "not found", as in the API). Nobody manages
    /// their own account here; `own_account_refusal` says where to go instead.
    async fn managed_user(
        &self,
        actor: &Actor,
        id: &str,
        own_account_refusal: &'static str,
    ) -> Result<UserRow> {
        // The role first: someone who may manage nobody learns nothing about which ids exist.
        actor.authorize_install(Permission::ManageTokens)?;
        let target = id.to_string();
        let row: UserRow = self
            .infra
            .store
            .read(move |conn| {
                Ok(ui_users::table
                    .filter(ui_users::id.eq(target))
                    .filter(ui_users::disabled_at.is_null())
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?
            .ok_or(Error::NotFound)?;
        match row.actor()?.person() {
            Some((_, Some(t))) => actor.authorize(t, Permission::ManageTokens)?,
            _ => actor.authorize_install(Permission::ManageTenants)?,
        }
        if matches!(actor, Actor::User { id, .. } if *id == row.id) {
            return Err(Error::Conflict(own_account_refusal.into()));
        }
        Ok(row)
    }

    /// An audit event about the managed user `row`, under its tenant when it has one.
    fn user_event(actor: &Actor, action: &'static str, row: &UserRow) -> Result<AuditEvent> {
        let mut event = AuditEvent::new(actor, action).object("user", row.id.clone());
        if let Some((_, Some(t))) = row.actor()?.person() {
            event = event.tenant(t);
        }
        Ok(event)
    }

    /// Disables a user: they cannot sign in and their sessions end at once. Admins disable
    /// anyone but themselves; a tenant admin only non-admins of its own tenant.
    pub async fn disable_user(&self, actor: &Actor, id: &str) -> Result<()> {
        let row = self
            .managed_user(actor, id, "you cannot disable yourself")
            .await?;
        let now = self.infra.clock.now();
        let event = Self::user_event(actor, "ui.user_disable", &row)?;
        self.change_user_ending_sessions(row.id, now, event, move |conn, id| {
            diesel::update(active_user(id))
                .set(ui_users::disabled_at.eq(Some(to_micros(now))))
                .execute(conn)
        })
        .await
    }

    /// Applies `change` to the user `id` (an update that must leave disabled users alone and
    /// return the rows it changed), ends every session of theirs and appends `event`, in one
    /// transaction: a person who lost access never keeps a session.
    async fn change_user_ending_sessions(
        &self,
        id: String,
        now: chrono::DateTime<chrono::Utc>,
        event: AuditEvent,
        mut change: impl FnMut(&mut DbConn, &str) -> diesel::QueryResult<usize> + Send + 'static,
    ) -> Result<()> {
        self.infra
            .store
            .write(move |conn| {
                // Disabled meanwhile: nothing to change, nothing to audit.
                if change(conn, &id)? == 0 {
                    return Err(Error::NotFound.into());
                }
                diesel::delete(ui_sessions::table.filter(ui_sessions::user_id.eq(&id)))
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(())
    }

    /// Recovers an account whose password or authenticator was lost: a new password, the TOTP
    /// second factor removed, a lockout lifted, every session ended. A password set in the
    /// interface by someone else must be replaced by the person at their next sign-in; the
    /// command line (the operator at the machine, the break-glass path) sets it for good.
    /// The same people may do this as may disable the user.
    pub async fn reset_user(&self, actor: &Actor, id: &str, password: NewPassword) -> Result<()> {
        let row = self
            .managed_user(
                actor,
                id,
                "change your own password and second factor under 'My account'",
            )
            .await?;
        // A reset lets whoever did it sign in as the person: a tenant admin may do that to the
        // people below it, not to another tenant admin.
        if matches!(actor.person(), Some((_, Some(_)))) && row.role == Role::TenantAdmin.as_str() {
            return Err(Error::Forbidden(
                "only an admin may reset a tenant admin".into(),
            ));
        }
        let hash = tokio::task::spawn_blocking(move || hash_password(password.0.expose()))
            .await
            .map_err(Error::internal)??;
        let now = self.infra.clock.now();
        let event =
            Self::user_event(actor, "ui.user_reset", &row)?.detail(if row.totp_sealed.is_some() {
                "password set, second factor removed"
            } else {
                "password set"
            });
        let must_change = chosen_by_someone_else(actor);
        self.change_user_ending_sessions(row.id, now, event, move |conn, id| {
            diesel::update(active_user(id))
                .set((
                    ui_users::password_hash.eq(&hash),
                    ui_users::password_must_change.eq(must_change),
                    ui_users::totp_sealed.eq(None::<Vec<u8>>),
                    ui_users::totp_last_step.eq(None::<i64>),
                    ui_users::failed_attempts.eq(0),
                    ui_users::locked_until.eq(None::<i64>),
                ))
                .execute(conn)
        })
        .await
    }

    /// The id of the active user with this login name (install-wide roles and the command line).
    pub async fn user_id_by_login(&self, actor: &Actor, login: &LoginName) -> Result<String> {
        actor.authorize_install(Permission::ManageTenants)?;
        match self.user_by_login(login).await? {
            Some(row) if row.disabled_at.is_none() => Ok(row.id),
            _ => Err(Error::NotFound),
        }
    }

    /// The user with this login name, disabled or not.
    async fn user_by_login(&self, login: &LoginName) -> Result<Option<UserRow>> {
        let index = login_index(&*self.ui_keys().await?, login);
        Ok(self
            .infra
            .store
            .read(move |conn| user_by_index(conn, &index))
            .await?)
    }
}

fn user_by_index(conn: &mut DbConn, index: &[u8]) -> Result<Option<UserRow>, StoreError> {
    Ok(ui_users::table
        .filter(ui_users::login_index.eq(index))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

mod password;
#[cfg(test)]
mod tests;
pub use password::*;

//! Who may do what: roles, permissions and API tokens.

pub mod token;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tenants::TenantId;

pub use token::{ApiToken, TokenId};

/// A token's role. `admin` is install-wide; all others belong to exactly one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the install: creates tenants and tokens for any tenant.
    Admin,
    /// Manages one tenant: its tokens and configuration; reads its conversations.
    TenantAdmin,
    /// The data protection officer: reports, exports, data-subject requests. A DPO token of a
    /// tenant is the controller's DPO; one without a tenant is the processor's (the install
    /// operator's) DPO, who keeps the processor record and helps every controller.
    Dpo,
    /// Reads and writes conversations.
    Agent,
    /// A system that only delivers messages (webhook relays, integrations).
    Ingest,
    /// A channel's chatbot: sends replies on its channel and hands conversations over to a
    /// person. Its token is issued with the bot (`POST …/bots`), never on its own.
    Bot,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageTenants,
    ManageTokens,
    ManageChannels,
    WriteMessages,
    /// Send through a platform (outbound messages to contacts).
    SendMessages,
    /// Withdraw consent on a person's behalf (data-subject requests, phone calls).
    ManageConsent,
    ReadContent,
    /// Write retention rules, approve them, run sweeps.
    ManageRetention,
    /// See retention rules, previews and deletion certificates.
    ViewRetention,
    /// Place and release legal holds; restrict and lift restriction (Art. 18).
    ManageHolds,
    /// Read restricted data, for the documented purpose (the DPO only).
    ReadRestricted,
    /// Keep the GDPR register: processor and controller details, AVV, activities,
    /// sub-processors, organisational measures.
    ManageRecords,
    /// Export the GDPR reports (Art. 30 records, AVV annexes, deletion and consent reports).
    ExportRecords,
    /// Register and answer data-subject requests (access, portability, erasure, restriction).
    HandleRequests,
}

impl Permission {
    fn describe(self) -> &'static str {
        match self {
            Self::ManageTenants => "manage tenants",
            Self::ManageTokens => "manage tokens",
            Self::ManageChannels => "manage channels",
            Self::SendMessages => "send messages",
            Self::ManageConsent => "withdraw consent",
            Self::WriteMessages => "write messages",
            Self::ReadContent => "read contacts and messages",
            Self::ManageRetention => "manage retention rules",
            Self::ViewRetention => "view retention rules and certificates",
            Self::ManageHolds => "manage legal holds and restrictions",
            Self::ReadRestricted => "read restricted data",
            Self::ManageRecords => "edit the GDPR register",
            Self::ExportRecords => "export GDPR reports",
            Self::HandleRequests => "handle data-subject requests",
        }
    }
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::TenantAdmin,
        Role::Dpo,
        Role::Agent,
        Role::Ingest,
        Role::Bot,
    ];

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            // Restricted data is for the DPO alone (§ 35(3) BDSG, Art. 18 DSGVO).
            Role::Admin => !matches!(permission, ReadRestricted),
            Role::TenantAdmin => !matches!(permission, ManageTenants | ReadRestricted),
            Role::Dpo => matches!(
                permission,
                ReadContent
                    | ManageConsent
                    | ViewRetention
                    | ManageHolds
                    | ReadRestricted
                    | ManageRecords
                    | ExportRecords
                    | HandleRequests
            ),
            Role::Agent => matches!(
                permission,
                WriteMessages | SendMessages | ReadContent | ManageConsent
            ),
            Role::Ingest => matches!(permission, WriteMessages),
            Role::Bot => matches!(permission, SendMessages),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Dpo => "dpo",
            Role::Agent => "agent",
            Role::Ingest => "ingest",
            Role::Bot => "bot",
        }
    }

    /// Admin tokens are install-wide; every other role needs a tenant.
    pub fn is_install_wide(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    "must be one of admin, tenant_admin, dpo, agent, ingest, bot",
                )
            })
    }
}

/// Who is acting: a verified API token, a person signed in to the web interface, the local
/// command line, or Hafen itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Token {
        id: TokenId,
        role: Role,
        tenant: Option<TenantId>,
    },
    /// A person signed in to the web interface: the same roles and tenant binding as a token.
    User {
        id: String,
        role: Role,
        tenant: Option<TenantId>,
    },
    /// A platform webhook whose signature verified: may only deliver messages to its tenant.
    Channel { id: String, tenant: TenantId },
    /// An operator at the server's shell (`hafen token create`, `hafen init`).
    Cli,
    /// Scheduled work (retention runs and the like).
    System,
    /// Someone not (yet) known: a sign-in attempt with a name that matches no user. May do
    /// nothing; exists so such attempts are audited too.
    Anonymous,
}

impl Actor {
    /// How the actor is written into the audit log: ids and roles, never secrets.
    pub fn audit_label(&self) -> String {
        match self {
            Actor::Token { id, role, .. } => format!("token:{}/{}", id.as_str(), role),
            Actor::User { id, role, .. } => format!("user:{id}/{role}"),
            Actor::Channel { id, .. } => format!("channel:{id}"),
            Actor::Cli => "cli".into(),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }

    /// Checks that the actor may do `permission` within `tenant`. A token of another tenant
    /// gets "not found", so it cannot even learn that the tenant exists.
    pub fn authorize(&self, tenant: &TenantId, permission: Permission) -> Result<()> {
        match self {
            Actor::Cli | Actor::System => Ok(()),
            Actor::Anonymous => Err(Error::Unauthenticated),
            Actor::Channel { tenant: own, .. } if own != tenant => Err(Error::NotFound),
            Actor::Channel { .. } if permission == Permission::WriteMessages => Ok(()),
            Actor::Channel { .. } => Err(Error::Forbidden(
                "a webhook may only deliver messages".into(),
            )),
            Actor::Token { tenant: own, .. } | Actor::User { tenant: own, .. } => {
                if own.as_ref().is_some_and(|own| own != tenant) {
                    return Err(Error::NotFound);
                }
                self.authorize_install(permission)
            }
        }
    }

    /// The role and tenant binding of a token or a signed-in person.
    pub fn person(&self) -> Option<(Role, Option<&TenantId>)> {
        match self {
            Actor::Token { role, tenant, .. } | Actor::User { role, tenant, .. } => {
                Some((*role, tenant.as_ref()))
            }
            Actor::Channel { .. } | Actor::Cli | Actor::System | Actor::Anonymous => None,
        }
    }

    /// Checks a permission over the processor's own records (the install as a whole): only
    /// the command line and tokens without a tenant (admin, the processor's DPO) qualify.
    pub fn authorize_processor(&self, permission: Permission) -> Result<()> {
        if let Some((_, Some(_))) = self.person() {
            return Err(Error::Forbidden(
                "a tenant's token cannot act on the processor's records; use an install-wide token"
                    .into(),
            ));
        }
        self.authorize_install(permission)
    }

    /// Checks an install-wide permission (no tenant involved).
    pub fn authorize_install(&self, permission: Permission) -> Result<()> {
        match self {
            Actor::Cli | Actor::System => Ok(()),
            Actor::Anonymous => Err(Error::Unauthenticated),
            Actor::Channel { .. } => Err(Error::Forbidden(
                "a webhook may only deliver messages".into(),
            )),
            Actor::Token { role, .. } | Actor::User { role, .. } if role.allows(permission) => {
                Ok(())
            }
            Actor::Token { role, .. } | Actor::User { role, .. } => Err(Error::Forbidden(format!(
                "the role '{role}' may not {}",
                permission.describe()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Role, tenant: Option<&TenantId>) -> Actor {
        Actor::Token {
            id: TokenId::generate(),
            role,
            tenant: tenant.cloned(),
        }
    }

    #[test]
    fn foreign_tenant_is_not_found_before_role_is_checked() {
        let a = TenantId::generate();
        let b = TenantId::generate();
        let agent = token(Role::Agent, Some(&a));
        assert!(agent.authorize(&a, Permission::ReadContent).is_ok());
        assert!(matches!(
            agent.authorize(&b, Permission::ReadContent),
            Err(Error::NotFound)
        ));
        assert!(matches!(
            agent.authorize(&b, Permission::ManageTokens),
            Err(Error::NotFound)
        ));
        assert!(matches!(
            agent.authorize(&a, Permission::ManageTokens),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn role_matrix() {
        let t = TenantId::generate();
        let ingest = token(Role::Ingest, Some(&t));
        assert!(ingest.authorize(&t, Permission::WriteMessages).is_ok());
        assert!(ingest.authorize(&t, Permission::ReadContent).is_err());
        let dpo = token(Role::Dpo, Some(&t));
        assert!(dpo.authorize(&t, Permission::ReadContent).is_ok());
        assert!(dpo.authorize(&t, Permission::WriteMessages).is_err());
        let admin = token(Role::Admin, None);
        assert!(admin.authorize(&t, Permission::ManageTokens).is_ok());
        assert!(admin.authorize_install(Permission::ManageTenants).is_ok());
        assert!(token(Role::TenantAdmin, Some(&t))
            .authorize_install(Permission::ManageTenants)
            .is_err());
        assert_eq!("tenant_admin".parse::<Role>().unwrap(), Role::TenantAdmin);
        assert!("root".parse::<Role>().is_err());
    }
}

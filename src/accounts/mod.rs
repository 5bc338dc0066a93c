//! Who signs in and what they may do: the interface's users (local accounts with argon2id
//! passwords and an optional TOTP factor) and their sessions, the API's tokens (issued, used,
//! listed, revoked), and who an audit label names. The [`Accounts`] service owns these; the
//! pages (`http::ui`) and the API (`http::tokens`) call it.

pub mod actors;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod users;

pub use sessions::Session;
pub use tenants::{TenantView, Tenants};
pub use tokens::{CreatedToken, TokenPolicy, TokenView};
pub use users::{LoginName, NewPassword, SignInFailure, UserRow, UserView};

use crate::infra::Infra;

/// The accounts service: users, sessions and tokens of the install.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) infra: Infra,
    /// Who may issue which tokens, for how long.
    pub(crate) token_policy: TokenPolicy,
}

impl Accounts {
    pub fn new(infra: Infra, token_policy: TokenPolicy) -> Self {
        Self {
            infra,
            token_policy,
        }
    }
}

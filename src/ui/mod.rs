//! The web interface's own domain: its users (local accounts with argon2id passwords and an
//! optional TOTP factor), their sessions, the dashboard's figures, and the interface's words
//! in German and English. The pages themselves are in `http::ui`; they call the same domain
//! operations as the API, as an [`crate::auth::Actor::User`].

pub mod audit_words;
pub mod dashboard;
pub mod text;

pub use text::Text;

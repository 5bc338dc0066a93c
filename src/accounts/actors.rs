//! Who did something, as a person reads it: a login name, a token's name, "the command line" —
//! never `user:<uuid>/admin` or `token:<id>/admin`. The audit log and the register keep the
//! stable labels; the pages name them.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use super::users::binding;
use super::Accounts;
use crate::error::Result;
use crate::i18n::{Lang, Text};
use crate::store::schema::{api_tokens, ui_users};

/// An actor label resolved for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorName {
    Person {
        login: String,
        role: String,
    },
    Token {
        name: Option<String>,
        id: String,
        role: String,
    },
    CommandLine,
    System,
    Webhook,
    Anonymous,
    /// A label of an account or token that no longer exists, shown as stored.
    Unknown(String),
}

impl ActorName {
    /// The name in the page's language: "erika@muster.de (dpo)", "Token „CRM" (agent)".
    pub fn show(&self, lang: Lang) -> String {
        match self {
            Self::Person { login, role } => format!("{login} ({role})"),
            Self::Token {
                name: Some(n),
                role,
                ..
            } => {
                format!("{} „{n}“ ({role})", Text::ApiToken.get(lang))
            }
            Self::Token {
                name: None,
                id,
                role,
            } => {
                let short: String = id.chars().take(8).collect();
                format!("{} {short}… ({role})", Text::ApiToken.get(lang))
            }
            Self::CommandLine => Text::CommandLine.get(lang).to_string(),
            Self::System => Text::SystemActor.get(lang).to_string(),
            Self::Webhook => Text::WebhookActor.get(lang).to_string(),
            Self::Anonymous => Text::Unknown.get(lang).to_string(),
            Self::Unknown(label) => label.clone(),
        }
    }
}

/// `kind:id/role` → (kind, id, role).
fn split(label: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = label.split_once(':')?;
    let (id, role) = rest.split_once('/').unwrap_or((rest, ""));
    Some((kind, id, role))
}

impl Accounts {
    /// Display names for actor labels (as stored in the audit log, rule versions, tokens).
    pub async fn actor_names<'a>(
        &self,
        labels: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, ActorName>> {
        let labels: BTreeSet<String> = labels.into_iter().map(str::to_string).collect();
        let (mut users, mut tokens) = (Vec::new(), Vec::new());
        for label in &labels {
            match split(label) {
                Some(("user", id, _)) => users.push(id.to_string()),
                Some(("token", id, _)) => tokens.push(id.to_string()),
                _ => {}
            }
        }
        let (user_rows, token_rows) = self
            .infra
            .store
            .read(move |conn| {
                let users: Vec<(String, Vec<u8>)> = if users.is_empty() {
                    Vec::new()
                } else {
                    ui_users::table
                        .filter(ui_users::id.eq_any(&users))
                        .select((ui_users::id, ui_users::login_sealed))
                        .load(conn)?
                };
                let tokens: Vec<(String, Option<String>)> = if tokens.is_empty() {
                    Vec::new()
                } else {
                    api_tokens::table
                        .filter(api_tokens::id.eq_any(&tokens))
                        .select((api_tokens::id, api_tokens::name))
                        .load(conn)?
                };
                Ok((users, tokens))
            })
            .await?;
        let logins: HashMap<String, String> = if user_rows.is_empty() {
            HashMap::new()
        } else {
            let keys = self.ui_keys().await?;
            user_rows
                .into_iter()
                .filter_map(|(id, sealed)| {
                    let login = keys
                        .seal
                        .open_string(&binding(&id, "login"), &sealed)
                        .ok()?;
                    Some((id, login))
                })
                .collect()
        };
        let token_names: HashMap<String, Option<String>> = token_rows.into_iter().collect();
        Ok(labels
            .into_iter()
            .map(|label| {
                let name = match (label.as_str(), split(&label)) {
                    ("cli", _) => ActorName::CommandLine,
                    ("system", _) => ActorName::System,
                    ("anonymous", _) => ActorName::Anonymous,
                    (_, Some(("channel", _, _))) => ActorName::Webhook,
                    (_, Some(("user", id, role))) => match logins.get(id) {
                        Some(login) => ActorName::Person {
                            login: login.clone(),
                            role: role.to_string(),
                        },
                        None => ActorName::Unknown(label.clone()),
                    },
                    (_, Some(("token", id, role))) => match token_names.get(id) {
                        Some(name) => ActorName::Token {
                            name: name.clone(),
                            id: id.to_string(),
                            role: role.to_string(),
                        },
                        None => ActorName::Unknown(label.clone()),
                    },
                    _ => ActorName::Unknown(label.clone()),
                };
                (label, name)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_and_show() {
        assert_eq!(split("user:abc/dpo"), Some(("user", "abc", "dpo")));
        assert_eq!(split("channel:xyz"), Some(("channel", "xyz", "")));
        assert_eq!(split("cli"), None);
        let token = ActorName::Token {
            name: Some("CRM".into()),
            id: "0123456789".into(),
            role: "agent".into(),
        };
        assert_eq!(token.show(Lang::De), "API-Token „CRM“ (agent)");
        let unnamed = ActorName::Token {
            name: None,
            id: "0123456789".into(),
            role: "agent".into(),
        };
        assert_eq!(unnamed.show(Lang::En), "API token 01234567… (agent)");
        assert_eq!(
            ActorName::CommandLine.show(Lang::De),
            "Kommandozeile (hafen)"
        );
    }
}

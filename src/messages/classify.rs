//! Business letters: a message that prepares, concludes, executes or cancels a deal is a
//! Handels- oder Geschäftsbrief (§ 257 HGB, § 147 AO) and is kept under the statutory rules;
//! every other message under the shorter rules for ordinary chats (docs/retention.md).
//! A message is marked at ingest (the API's `business_letter`, a channel whose every
//! message is one), or afterwards by people: an agent marks, only those who answer for the
//! deletion concept (tenant admin, DPO) take a mark away, since that shortens how long a
//! document the law may require is kept.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Messages;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::messages;
use crate::store::StoreError;
use crate::tenants::TenantId;

/// Most messages one call may name.
pub const MAX_IDS: usize = 1000;

/// Which of a contact's messages to mark or unmark.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyInput {
    /// true: these messages are business letters; false: they are not.
    pub business_letter: bool,
    /// The messages (ids of this contact); absent: every message of the contact.
    #[serde(default)]
    pub message_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClassifyOutcome {
    /// Messages whose mark changed.
    pub changed: u64,
}

/// The messages a call names, each as its canonical id: 1 to [`MAX_IDS`] UUIDs in any spelling.
/// Anything else is refused here, before any query, naming the entry.
fn message_ids(ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(Error::invalid(
            "message_ids",
            format!("must name 1 to {MAX_IDS} messages, or be left out for all"),
        ));
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| Error::named_id(format!("message_ids[{i}]"), "message", id))
        .collect()
}

impl Messages {
    /// Marks (or unmarks) a contact's messages as business letters; audited.
    pub async fn classify(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact: &str,
        input: ClassifyInput,
    ) -> Result<ClassifyOutcome> {
        if input.business_letter {
            actor
                .authorize(tenant, Permission::WriteMessages)
                .or_else(|_| actor.authorize(tenant, Permission::ManageHolds))?;
        } else {
            // Taking a mark away shortens retention: the deletion concept's people decide.
            actor.authorize(tenant, Permission::ManageHolds)?;
        }
        let ids = input.message_ids.as_deref().map(message_ids).transpose()?;
        self.infra.ensure_tenant(tenant).await?;
        let (tid, t, c) = (
            tenant.clone(),
            tenant.as_str().to_string(),
            contact.to_string(),
        );
        let letters = input.business_letter;
        let event = AuditEvent::new(actor, "messages.classify")
            .tenant(tenant)
            .object("contact", contact);
        let at = self.infra.clock.now();
        let changed = self
            .infra
            .store
            .write(move |conn| {
                if crate::contacts::find(conn, &tid, &c)?.is_none() {
                    return Err(StoreError::from(Error::NotFound));
                }
                let of_contact = messages::table
                    .filter(messages::tenant_id.eq(id::bind(&t)))
                    .filter(messages::contact_id.eq(id::bind(&c)));
                if let Some(ids) = &ids {
                    let known: Vec<String> = of_contact
                        .filter(messages::id.eq_any(id::bind_all(ids)))
                        .select(messages::id)
                        .load(conn)?;
                    if let Some((i, _)) = ids.iter().enumerate().find(|(_, id)| !known.contains(id))
                    {
                        return Err(StoreError::from(Error::invalid(
                            format!("message_ids[{i}]"),
                            "is not a message of this contact",
                        )));
                    }
                }
                let changed = match &ids {
                    Some(ids) => diesel::update(
                        messages::table
                            .filter(messages::tenant_id.eq(id::bind(&t)))
                            .filter(messages::contact_id.eq(id::bind(&c)))
                            .filter(messages::id.eq_any(id::bind_all(ids)))
                            .filter(messages::business_letter.ne(letters)),
                    )
                    .set(messages::business_letter.eq(letters))
                    .execute(conn)?,
                    None => diesel::update(
                        messages::table
                            .filter(messages::tenant_id.eq(id::bind(&t)))
                            .filter(messages::contact_id.eq(id::bind(&c)))
                            .filter(messages::business_letter.ne(letters)),
                    )
                    .set(messages::business_letter.eq(letters))
                    .execute(conn)?,
                };
                audit::append(
                    conn,
                    at,
                    event
                        .clone()
                        .detail(format!("business_letter={letters} changed={changed}")),
                )?;
                Ok(changed as u64)
            })
            .await?;
        Ok(ClassifyOutcome { changed })
    }
}

//! Who has a conversation: the channel's bot, or a person who took it over. While a person has
//! it, the bot gets no `bot.message` and may send nothing.

use super::*;
use crate::store::id;

impl Bots {
    /// A person takes the conversation with `contact_id` over: the bot gets nothing more from
    /// them and may send nothing to them. Asked by the bot (the person wants a human) or by an
    /// agent; taking over a conversation a person has already is no change.
    pub async fn take_over(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<HandoverView> {
        self.set_handover(actor, tenant, contact_id, true).await
    }

    /// An agent hands the conversation back to the bot. A bot cannot take it back itself.
    pub async fn hand_back(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<HandoverView> {
        if matches!(actor.person(), Some((Role::Bot, _))) {
            return Err(Error::Forbidden(
                "a person hands a conversation back to the bot, not the bot itself".into(),
            ));
        }
        self.set_handover(actor, tenant, contact_id, false).await
    }

    pub(super) async fn set_handover(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        to_person: bool,
    ) -> Result<HandoverView> {
        actor.authorize(tenant, Permission::SendMessages)?;
        let (t, c) = (tenant.clone(), contact_id.to_string());
        let now = self.infra.clock.now();
        let action = if to_person {
            "conversation.take_over"
        } else {
            "conversation.hand_back"
        };
        let by = match actor.person() {
            Some((Role::Bot, _)) => "the bot",
            _ => "a person",
        };
        let event = AuditEvent::new(actor, action)
            .tenant(tenant)
            .object("contact", contact_id)
            .detail(format!("by {by}"));
        let since = self
            .infra
            .store
            .write(move |conn| {
                let Some(current) = contacts::table
                    .filter(contacts::tenant_id.eq(id::bind(t.as_str())))
                    .filter(contacts::id.eq(id::bind(&c)))
                    .select(contacts::handed_over_at)
                    .first::<Option<i64>>(conn)
                    .optional()?
                else {
                    return Err(StoreError::from(Error::NotFound));
                };
                let wanted = if to_person {
                    current.or(Some(to_micros(now)))
                } else {
                    None
                };
                if wanted != current {
                    diesel::update(contacts::table.filter(contacts::id.eq(id::bind(&c))))
                        .set(contacts::handed_over_at.eq(wanted))
                        .execute(conn)?;
                    audit::append(conn, now, event.clone())?;
                }
                Ok(wanted)
            })
            .await?;
        Ok(HandoverView {
            contact_id: contact_id.to_string(),
            handed_over_at: since.map(from_micros),
        })
    }

    /// Who has the conversation: the bot, or since when a person.
    pub async fn handover_state(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<HandoverView> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (t, c) = (tenant.clone(), contact_id.to_string());
        let since = self
            .infra
            .store
            .read(move |conn| crate::contacts::handed_over_at(conn, t.as_str(), &c))
            .await?;
        Ok(HandoverView {
            contact_id: contact_id.to_string(),
            handed_over_at: since.map(from_micros),
        })
    }
}

//! Which items a rule makes due: one query per category, shared by the dry-run (which pages
//! through them) and the sweep (which deletes them page by page inside its write). Because
//! both ask the same question, a preview at a moment lists exactly what a run at that moment
//! deletes.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::holds::ActiveHolds;
use super::rules::{Category, Rule, StartPoint};
use crate::store::id;
use crate::store::schema::{
    attachments, consents, contacts, event_deliveries, legal_holds, message_statuses, messages,
    outbox,
};
use crate::store::{DbConn, StoreError};

/// One due item: its id and what the preview groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub channel: Option<String>,
    /// The item's own time (message time, receipt, request), micros.
    pub at: i64,
    pub contact_id: Option<String>,
}

/// One rule applied to one tenant.
#[derive(Debug, Clone)]
pub struct Selection {
    pub tenant: String,
    pub rule: Rule,
    /// Channels with a rule of their own (excluded from a tenant-wide rule).
    pub other_channels: Vec<String>,
    /// Start time window: due items start before `before` and, when given, at or after
    /// `not_before` (to list what becomes due later, not what is due already).
    pub before: i64,
    pub not_before: Option<i64>,
    pub holds: ActiveHolds,
    /// Only this contact's items (an erasure request, docs/retention.md). Webhook logs are
    /// not linked to contacts: none are selected for one.
    pub contact: Option<String>,
    /// Message categories: only business letters (true), only the other messages (false), or
    /// both (None).
    pub letters: Option<bool>,
    /// Pages in id order (the dry-run pages by id). A sweep takes any due rows: without the
    /// sort, a page of a million due rows costs a LIMIT, not a sort.
    pub ordered: bool,
}

impl Selection {
    /// Due items after `after` (by id), at most `limit`.
    pub fn page(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        if self.holds.whole_tenant {
            return Ok(Vec::new());
        }
        match self.rule.category {
            Category::MessageContent | Category::Attachments | Category::MessageMetadata => {
                self.messages(conn, after, limit)
            }
            Category::Contacts => self.contacts(conn, after, limit),
            Category::DeliveryStatuses => self.statuses(conn, after, limit),
            Category::WebhookLogs => self.webhook_logs(conn, after, limit),
            Category::ConsentRequests | Category::ConsentProofs => {
                self.consents(conn, after, limit)
            }
        }
    }

    fn messages(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let t = self.tenant.to_string();
        let mut q = messages::table
            .filter(messages::tenant_id.eq(id::bind(&t)))
            .into_boxed();
        match &self.rule.channel {
            Some(c) => q = q.filter(messages::channel.eq(c.as_str().to_string())),
            None if !self.other_channels.is_empty() => {
                q = q.filter(messages::channel.ne_all(self.other_channels.clone()))
            }
            None => {}
        }
        q = match self.rule.start {
            StartPoint::Collection => {
                let mut q = q.filter(messages::occurred_at.lt(self.before));
                if let Some(lower) = self.not_before {
                    q = q.filter(messages::occurred_at.ge(lower));
                }
                q
            }
            // Subqueries cannot be boxed across both backends; an absent lower bound is the
            // smallest time.
            StartPoint::ConversationEnd => q.filter(
                messages::contact_id.eq_any(
                    contacts::table
                        .filter(contacts::tenant_id.eq(id::bind(&t)))
                        .filter(contacts::last_message_at.lt(self.before))
                        .filter(contacts::last_message_at.ge(self.not_before.unwrap_or(i64::MIN)))
                        .select(contacts::id),
                ),
            ),
            StartPoint::RelationshipEnd => q.filter(
                messages::contact_id.eq_any(
                    contacts::table
                        .filter(contacts::tenant_id.eq(id::bind(&t)))
                        .filter(contacts::closed_at.lt(self.before))
                        .filter(contacts::closed_at.ge(self.not_before.unwrap_or(i64::MIN)))
                        .select(contacts::id),
                ),
            ),
            StartPoint::ConsentWithdrawal => return Ok(Vec::new()),
        };
        if !self.holds.contacts.is_empty() {
            q = q.filter(messages::contact_id.ne_all(id::bind_all(&self.holds.contacts)));
        }
        if let Some(contact) = &self.contact {
            q = q.filter(messages::contact_id.eq(id::bind(contact)));
        }
        if let Some(letters) = self.letters {
            q = q.filter(messages::business_letter.eq(letters));
        }
        for range in &self.holds.ranges {
            q = match *range {
                (Some(f), Some(u)) => {
                    q.filter(messages::occurred_at.lt(f).or(messages::occurred_at.ge(u)))
                }
                (Some(f), None) => q.filter(messages::occurred_at.lt(f)),
                (None, Some(u)) => q.filter(messages::occurred_at.ge(u)),
                (None, None) => return Ok(Vec::new()),
            };
        }
        q = match self.rule.category {
            Category::MessageContent => q.filter(messages::content_deleted_at.is_null()).filter(
                messages::body_sealed
                    .is_not_null()
                    .or(messages::raw_sealed.is_not_null())
                    .or(messages::external_id_sealed.is_not_null()),
            ),
            Category::Attachments => q.filter(
                messages::id.eq_any(
                    attachments::table
                        .filter(attachments::tenant_id.eq(id::bind(&t)))
                        .select(attachments::message_id),
                ),
            ),
            // A message still waiting in the outbox is not deleted under the sender's feet.
            _ => q.filter(not(exists(
                outbox::table.filter(outbox::message_id.eq(messages::id)),
            ))),
        };
        if let Some(after) = after {
            q = q.filter(messages::id.gt(id::bind(after)));
        }
        let rows: Vec<(String, String, i64, String)> = if self.ordered {
            q.order(messages::id)
        } else {
            q
        }
        .limit(limit)
        .select((
            messages::id,
            messages::channel,
            messages::occurred_at,
            messages::contact_id,
        ))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, channel, at, contact)| Item {
                id,
                channel: Some(channel),
                at,
                contact_id: Some(contact),
            })
            .collect())
    }

    fn contacts(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let mut q = contacts::table
            .filter(contacts::tenant_id.eq(id::bind(&self.tenant)))
            .into_boxed();
        match &self.rule.channel {
            Some(c) => q = q.filter(contacts::channel.eq(c.as_str().to_string())),
            None if !self.other_channels.is_empty() => {
                q = q.filter(contacts::channel.ne_all(self.other_channels.clone()))
            }
            None => {}
        }
        q = match self.rule.start {
            StartPoint::Collection => {
                let mut q = q.filter(contacts::first_seen_at.lt(self.before));
                if let Some(lower) = self.not_before {
                    q = q.filter(contacts::first_seen_at.ge(lower));
                }
                q
            }
            StartPoint::ConversationEnd => {
                let mut q = q.filter(contacts::last_message_at.lt(self.before));
                if let Some(lower) = self.not_before {
                    q = q.filter(contacts::last_message_at.ge(lower));
                }
                q
            }
            StartPoint::RelationshipEnd => {
                let mut q = q.filter(contacts::closed_at.lt(self.before));
                if let Some(lower) = self.not_before {
                    q = q.filter(contacts::closed_at.ge(lower));
                }
                q
            }
            StartPoint::ConsentWithdrawal => return Ok(Vec::new()),
        };
        if !self.holds.contacts.is_empty() {
            q = q.filter(contacts::id.ne_all(id::bind_all(&self.holds.contacts)));
        }
        if let Some(contact) = &self.contact {
            q = q.filter(contacts::id.eq(id::bind(contact)));
        }
        for range in &self.holds.ranges {
            // Held when the contact's time [first seen, last message] meets the range.
            q = match *range {
                (Some(f), Some(u)) => q.filter(
                    contacts::first_seen_at
                        .ge(u)
                        .or(contacts::last_message_at.lt(f)),
                ),
                (Some(f), None) => q.filter(contacts::last_message_at.lt(f)),
                (None, Some(u)) => q.filter(contacts::first_seen_at.ge(u)),
                (None, None) => return Ok(Vec::new()),
            };
        }
        // Only once nothing refers to the contact any more.
        q = q
            .filter(not(exists(
                messages::table.filter(messages::contact_id.eq(contacts::id)),
            )))
            .filter(not(exists(
                consents::table.filter(consents::contact_id.eq(contacts::id)),
            )))
            .filter(not(exists(
                legal_holds::table.filter(legal_holds::contact_id.eq(contacts::id.nullable())),
            )));
        if let Some(after) = after {
            q = q.filter(contacts::id.gt(id::bind(after)));
        }
        let rows: Vec<(String, String, i64)> = if self.ordered {
            q.order(contacts::id)
        } else {
            q
        }
        .limit(limit)
        .select((contacts::id, contacts::channel, contacts::last_message_at))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, channel, at)| Item {
                contact_id: Some(id.clone()),
                id,
                channel: Some(channel),
                at,
            })
            .collect())
    }

    fn statuses(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let t = self.tenant.to_string();
        let mut q = message_statuses::table
            .filter(message_statuses::tenant_id.eq(id::bind(&t)))
            .filter(message_statuses::received_at.lt(self.before))
            .into_boxed();
        if let Some(lower) = self.not_before {
            q = q.filter(message_statuses::received_at.ge(lower));
        }
        match &self.rule.channel {
            Some(c) => q = q.filter(message_statuses::channel.eq(c.as_str().to_string())),
            None if !self.other_channels.is_empty() => {
                q = q.filter(message_statuses::channel.ne_all(self.other_channels.clone()))
            }
            None => {}
        }
        if !self.holds.contacts.is_empty() {
            let held = messages::table
                .filter(messages::tenant_id.eq(id::bind(&t)))
                .filter(messages::contact_id.eq_any(id::bind_all(&self.holds.contacts)))
                .select(messages::id.nullable());
            q = q.filter(
                message_statuses::message_id
                    .is_null()
                    .or(message_statuses::message_id.ne_all(held)),
            );
        }
        if let Some(contact) = &self.contact {
            let own = messages::table
                .filter(messages::tenant_id.eq(id::bind(t)))
                .filter(messages::contact_id.eq(id::bind(contact)))
                .select(messages::id.nullable());
            q = q.filter(message_statuses::message_id.eq_any(own));
        }
        for range in &self.holds.ranges {
            let at = message_statuses::received_at;
            q = match *range {
                (Some(f), Some(u)) => q.filter(at.lt(f).or(at.ge(u))),
                (Some(f), None) => q.filter(at.lt(f)),
                (None, Some(u)) => q.filter(at.ge(u)),
                (None, None) => return Ok(Vec::new()),
            };
        }
        if let Some(after) = after {
            q = q.filter(message_statuses::id.gt(id::bind(after)));
        }
        let rows: Vec<(String, String, i64)> = if self.ordered {
            q.order(message_statuses::id)
        } else {
            q
        }
        .limit(limit)
        .select((
            message_statuses::id,
            message_statuses::channel,
            message_statuses::received_at,
        ))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, channel, at)| Item {
                id,
                channel: Some(channel),
                at,
                contact_id: None,
            })
            .collect())
    }

    fn webhook_logs(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        if self.contact.is_some() {
            return Ok(Vec::new());
        }
        let at = event_deliveries::created_at;
        let mut q = event_deliveries::table
            .filter(event_deliveries::tenant_id.eq(id::bind(&self.tenant)))
            // Pending deliveries are still work to do, not a log.
            .filter(event_deliveries::state.ne("pending"))
            .filter(at.lt(self.before))
            .into_boxed();
        if let Some(lower) = self.not_before {
            q = q.filter(at.ge(lower));
        }
        for range in &self.holds.ranges {
            q = match *range {
                (Some(f), Some(u)) => q.filter(at.lt(f).or(at.ge(u))),
                (Some(f), None) => q.filter(at.lt(f)),
                (None, Some(u)) => q.filter(at.ge(u)),
                (None, None) => return Ok(Vec::new()),
            };
        }
        if let Some(after) = after {
            q = q.filter(event_deliveries::id.gt(id::bind(after)));
        }
        let rows: Vec<(String, i64)> = if self.ordered {
            q.order(event_deliveries::id)
        } else {
            q
        }
        .limit(limit)
        .select((event_deliveries::id, at))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| Item {
                id,
                channel: None,
                at,
                contact_id: None,
            })
            .collect())
    }

    fn consents(
        &self,
        conn: &mut DbConn,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let proofs = self.rule.category == Category::ConsentProofs;
        let mut q = consents::table
            .filter(consents::tenant_id.eq(id::bind(&self.tenant)))
            .into_boxed();
        if proofs {
            q = q
                .filter(consents::state.eq("withdrawn"))
                .filter(consents::withdrawn_at.lt(self.before));
            if let Some(lower) = self.not_before {
                q = q.filter(consents::withdrawn_at.ge(lower));
            }
        } else {
            q = q
                .filter(consents::state.eq_any(["requested", "expired"]))
                .filter(consents::confirmed_at.is_null())
                .filter(consents::requested_at.lt(self.before));
            if let Some(lower) = self.not_before {
                q = q.filter(consents::requested_at.ge(lower));
            }
        }
        if !self.holds.contacts.is_empty() {
            q = q.filter(consents::contact_id.ne_all(id::bind_all(&self.holds.contacts)));
        }
        if let Some(contact) = &self.contact {
            q = q.filter(consents::contact_id.eq(id::bind(contact)));
        }
        for range in &self.holds.ranges {
            let at = consents::requested_at;
            q = match *range {
                (Some(f), Some(u)) => q.filter(at.lt(f).or(at.ge(u))),
                (Some(f), None) => q.filter(at.lt(f)),
                (None, Some(u)) => q.filter(at.ge(u)),
                (None, None) => return Ok(Vec::new()),
            };
        }
        if let Some(after) = after {
            q = q.filter(consents::id.gt(after.to_string()));
        }
        let rows: Vec<(String, i64, String)> = if self.ordered {
            q.order(consents::id)
        } else {
            q
        }
        .limit(limit)
        .select((consents::id, consents::requested_at, consents::contact_id))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, at, contact)| Item {
                id,
                channel: None,
                at,
                contact_id: Some(contact),
            })
            .collect())
    }
}

/// Attachments of the given messages: (attachment id, message id).
pub fn attachments_of(
    conn: &mut DbConn,
    tenant: &str,
    message_ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(attachments::table
        .filter(attachments::tenant_id.eq(id::bind(tenant)))
        .filter(attachments::message_id.eq_any(id::bind_all(message_ids)))
        .filter(crate::store::backend::plan_with_actual_values())
        .order(attachments::id)
        .select((attachments::id, attachments::message_id))
        .load(conn)?)
}

//! Shred first: a run destroys the period keys of whole expired months before it deletes a row,
//! so a month's messages are unreadable from the run's first write (in every backup too), not
//! from its last batch.
//!
//! A period key (tenant × channel × month) goes first only when everything sealed under it is
//! due now, which the rules and a few index lookups tell without reading its rows:
//! - its month has closed (the grace for late data has passed: nothing new is sealed under it);
//! - every message under it leaves the key: its row goes by a `message_metadata` rule, or its
//!   content (which unbinds the row from the key) by a `message_content` rule, counted from
//!   collection with a cutoff at or after the month's end — for business letters too, unless no
//!   business letter was sealed under the key (a partial index answers that at once);
//! - its files go with their message's row or by their own rule in the same way, or there are
//!   none;
//! - delivery statuses sealed under it (those received in that month; some belong to no stored
//!   message) are due under their own rule in the same way, or there are none;
//! - no hold reaches it (the whole tenant, a time range meeting the month, a held contact with a
//!   message under the key), and no message under it still waits in the outbox.
//!
//! Any other case keeps the order of
//! before (delete the rows, then destroy the keys nothing refers to any more). The rows under a
//! shredded key are then deleted by the same run's batches, which count them in the certificate
//! as before; a batch that fails leaves rows nobody can read, deleted by the next run.

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;

use super::holds::{self, ActiveHolds};
use super::rules::{Category, Retain, RuleSet, StartPoint};
use crate::clock::to_micros;
use crate::periods::{self, EVENTS_SCOPE};
use crate::store::id;
use crate::store::schema::{attachments, message_statuses, messages, outbox};
use crate::store::{DbConn, StoreError};

/// A month of one channel whose period key a run destroys before deleting its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeMonth {
    /// The period key's id.
    pub key: String,
    pub channel: String,
    /// `YYYY-MM`, UTC.
    pub month: String,
}

/// The months of `tenant` (live period keys) whose whole content a run at `now` deletes (see the
/// module).
pub fn whole_expired(
    conn: &mut DbConn,
    tenant: &str,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Result<Vec<WholeMonth>, StoreError> {
    let holds = holds::active(conn, tenant, to_micros(now))?;
    if holds.whole_tenant {
        return Ok(Vec::new());
    }
    let waiting = waiting_in_outbox(conn, tenant)?;
    let mut expired = Vec::new();
    for (id, scope, period) in periods::live_of_tenant(conn, tenant)? {
        // Event deliveries are few and kept only until they finished: their keys go the old way.
        if scope == EVENTS_SCOPE || !periods::month_closed(&period, now) {
            continue;
        }
        let Some((start, end)) = periods::month_bounds(&period) else {
            continue;
        };
        let month = (to_micros(start), to_micros(end));
        let due = |category, letters| due_through(rules, category, &scope, letters, now, month.1);
        // A message leaves its key when its row goes, or its content (which unbinds the row).
        let message_goes = |letters| {
            due(Category::MessageMetadata, letters) || due(Category::MessageContent, letters)
        };
        // A file goes with its message's row, or by its own rule.
        let file_goes = |letters| {
            due(Category::MessageMetadata, letters) || due(Category::Attachments, letters)
        };
        let whole = message_goes(false)
            && (file_goes(false) || !has_attachments(conn, &id)?)
            && ((message_goes(true) && file_goes(true)) || !has_letters(conn, &id)?)
            && (due(Category::DeliveryStatuses, false) || !has_statuses(conn, &id)?)
            && !held(conn, &holds, &id, month)?
            && !has_message_in(conn, &id, &waiting)?;
        if whole {
            expired.push(WholeMonth {
                key: id,
                channel: scope,
                month: period,
            });
        }
    }
    Ok(expired)
}

/// Whether the rule in force for `category` on `channel` deletes everything collected before
/// `end` now: counted from collection, with a period, its cutoff not before `end`.
fn due_through(
    rules: &RuleSet,
    category: Category,
    channel: &str,
    business_letters: bool,
    now: DateTime<Utc>,
    end: i64,
) -> bool {
    let Some(rule) = rules.rule_for(category, channel, business_letters) else {
        return false;
    };
    // For letters `rule_for` gives the letters' own rule, or the other messages' rule when the
    // set has none for them: the rule the sweep deletes them by.
    rule.start == StartPoint::Collection
        && matches!(rule.retain, Retain::For(_))
        && rule.cutoff(now).is_some_and(|c| c.before >= end)
}

fn has_letters(conn: &mut DbConn, key: &str) -> Result<bool, StoreError> {
    // `WHERE business_letter` as the partial index `messages_letters_by_period` says it.
    Ok(diesel::select(exists(
        messages::table
            .filter(messages::period_key_id.eq(key))
            .filter(messages::business_letter),
    ))
    .get_result(conn)?)
}

fn has_attachments(conn: &mut DbConn, key: &str) -> Result<bool, StoreError> {
    Ok(diesel::select(exists(
        attachments::table.filter(attachments::period_key_id.eq(key)),
    ))
    .get_result(conn)?)
}

fn has_statuses(conn: &mut DbConn, key: &str) -> Result<bool, StoreError> {
    Ok(diesel::select(exists(
        message_statuses::table.filter(message_statuses::period_key_id.eq(key)),
    ))
    .get_result(conn)?)
}

/// Whether a hold in force reaches data under the key of the month [start, end).
fn held(
    conn: &mut DbConn,
    holds: &ActiveHolds,
    key: &str,
    (start, end): (i64, i64),
) -> Result<bool, StoreError> {
    let meets_month = holds
        .ranges
        .iter()
        .any(|(from, until)| from.is_none_or(|f| f < end) && until.is_none_or(|u| u > start));
    if meets_month {
        return Ok(true);
    }
    if holds.contacts.is_empty() {
        return Ok(false);
    }
    Ok(diesel::select(exists(
        messages::table
            .filter(messages::period_key_id.eq(key))
            .filter(messages::contact_id.eq_any(id::bind_all(&holds.contacts))),
    ))
    .get_result(conn)?)
}

/// The tenant's messages still waiting to be sent (the outbox is short: a few pending sends).
fn waiting_in_outbox(conn: &mut DbConn, tenant: &str) -> Result<Vec<String>, StoreError> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(id::bind(tenant)))
        .select(outbox::message_id)
        .load(conn)?)
}

fn has_message_in(conn: &mut DbConn, key: &str, ids: &[String]) -> Result<bool, StoreError> {
    if ids.is_empty() {
        return Ok(false);
    }
    Ok(diesel::select(exists(
        messages::table
            .filter(messages::id.eq_any(id::bind_all(ids)))
            .filter(crate::store::backend::only_checked(messages::period_key_id).eq(key)),
    ))
    .get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use crate::store::plans;

    /// Whether a month's key still seals a message waiting in the outbox is asked for those
    /// few messages by id, not by reading the month's messages (SQLite, without statistics,
    /// preferred the period key's index).
    #[test]
    fn messages_waiting_to_be_sent_are_looked_up_by_id() {
        let mut conn = plans::migrated_sqlite();
        let plans = plans::plans_of(&mut conn, |conn| {
            // A broadcast's messages waiting to be sent (with a handful of ids SQLite still
            // probed each one).
            let waiting: Vec<String> = (0..50)
                .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
                .collect();
            super::has_message_in(conn, "key", &waiting).unwrap();
        });
        assert_eq!(plans.len(), 1, "{plans:#?}");
        let steps = plans[0].1.join(" | ");
        assert!(
            steps.contains("sqlite_autoindex_messages_1 (id=?)") && !steps.contains("period_key"),
            "{steps}"
        );
    }
}

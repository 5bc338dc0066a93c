//! Dry-runs and sweeps.
//!
//! A sweep takes one category after another; within a category it deletes in batches, each
//! batch one write transaction that selects the due items afresh (with the holds in force at
//! that moment), deletes them, and moves the run's certificate forward. Ingest keeps going
//! between batches. A crash loses at most the batch in flight, which rolls back whole: a
//! message is never left half-deleted. The next run finishes the work.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::certificates::{self, CertificateProgress};
use super::holds::{self, ActiveHolds};
use super::rules::{Category, RuleSet};
use super::select::{attachments_of, Item, Selection};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::KeyOwner;
use crate::periods as keys;
use crate::store::{DbConn, StoreError};

/// Rows a preview reads per query.
const PREVIEW_PAGE: i64 = 5_000;

/// The selections of one rule set for one tenant at `now`: per category, channel rules first.
pub fn selections(
    tenant: &str,
    set: &RuleSet,
    holds: &ActiveHolds,
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
) -> Vec<(Category, Selection)> {
    let mut out = Vec::new();
    for category in Category::ALL {
        let rules = set.for_category(category);
        // Business letters follow their own rules: the others then leave them alone.
        let has_letter_rules = rules.iter().any(|r| r.business_letters);
        for rule in rules.iter().copied() {
            let own_channels: Vec<String> = rules
                .iter()
                .filter(|r| r.business_letters == rule.business_letters)
                .filter_map(|r| r.channel.as_ref().map(|c| c.as_str().to_string()))
                .collect();
            let Some(cutoff) = rule.cutoff(now) else {
                continue; // "keep"
            };
            let not_before = since.and_then(|s| rule.cutoff(s)).map(|c| c.before);
            out.push((
                category,
                Selection {
                    tenant: tenant.to_string(),
                    rule: rule.clone(),
                    other_channels: if rule.channel.is_none() {
                        own_channels.clone()
                    } else {
                        Vec::new()
                    },
                    before: cutoff.before,
                    not_before,
                    holds: holds.clone(),
                    contact: None,
                    letters: (category.has_class() && has_letter_rules)
                        .then_some(rule.business_letters),
                    ordered: true,
                },
            ));
        }
    }
    out
}

/// What a rule set would delete, per category.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Forecast {
    pub categories: Vec<CategoryForecast>,
    /// Distinct contacts with at least one item in the forecast.
    pub contacts_affected: u64,
    pub total: u64,
    /// Months whose every item is due: a run destroys their period key in its first write, so
    /// they are unreadable (in every copy) before their rows are deleted. Empty in a forecast of
    /// what becomes due later.
    pub unreadable_at_once: Vec<MonthForecast>,
}

/// One channel's month, as the forecast names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MonthForecast {
    pub channel: String,
    /// `YYYY-MM`, UTC.
    pub month: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CategoryForecast {
    pub category: &'static str,
    pub count: u64,
    pub by_channel: BTreeMap<String, u64>,
    /// By month of the item's own time (`YYYY-MM`).
    pub by_month: BTreeMap<String, u64>,
    pub contacts_affected: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

impl CategoryForecast {
    fn new(category: Category) -> Self {
        Self {
            category: category.as_str(),
            count: 0,
            by_channel: BTreeMap::new(),
            by_month: BTreeMap::new(),
            contacts_affected: 0,
            oldest: None,
            newest: None,
        }
    }

    fn add(&mut self, item: &Item, contacts: &mut BTreeSet<String>) {
        self.count += 1;
        let channel = item.channel.clone().unwrap_or_else(|| "-".into());
        *self.by_channel.entry(channel).or_default() += 1;
        let slot = keys::PeriodSlot::new("", item.at);
        *self.by_month.entry(slot.period).or_default() += 1;
        if let Some(c) = &item.contact_id {
            contacts.insert(c.clone());
        }
        let at = from_micros(item.at);
        self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
    }
}

/// Lists, without changing anything, what `set` makes due at `now` (or, with `since`, what
/// becomes due between `since` and `now`).
pub fn forecast(
    conn: &mut DbConn,
    tenant: &str,
    set: &RuleSet,
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
) -> Result<Forecast, StoreError> {
    let holds = holds::active(conn, tenant, to_micros(since.unwrap_or(now)))?;
    let mut per_category: BTreeMap<Category, (CategoryForecast, BTreeSet<String>)> =
        BTreeMap::new();
    let mut everyone = BTreeSet::new();
    for (category, selection) in selections(tenant, set, &holds, now, since) {
        let (entry, contacts) = per_category
            .entry(category)
            .or_insert_with(|| (CategoryForecast::new(category), BTreeSet::new()));
        let mut after: Option<String> = None;
        loop {
            let page = selection.page(conn, after.as_deref(), PREVIEW_PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id.clone());
            if category == Category::Attachments {
                let ids: Vec<String> = page.iter().map(|i| i.id.clone()).collect();
                let by_message: BTreeMap<&str, &Item> =
                    page.iter().map(|i| (i.id.as_str(), i)).collect();
                for (_, message) in attachments_of(conn, tenant, &ids)? {
                    if let Some(item) = by_message.get(message.as_str()) {
                        entry.add(item, contacts);
                    }
                }
            } else {
                for item in &page {
                    entry.add(item, contacts);
                }
            }
            if (page.len() as i64) < PREVIEW_PAGE {
                break;
            }
        }
    }
    let mut forecast = Forecast::default();
    for category in Category::ALL {
        let (mut entry, contacts) = per_category
            .remove(&category)
            .unwrap_or_else(|| (CategoryForecast::new(category), BTreeSet::new()));
        entry.contacts_affected = contacts.len() as u64;
        forecast.total += entry.count;
        everyone.extend(contacts);
        forecast.categories.push(entry);
    }
    forecast.contacts_affected = everyone.len() as u64;
    if since.is_none() {
        forecast.unreadable_at_once = super::shred::whole_expired(conn, tenant, set, now)?
            .into_iter()
            .map(|m| MonthForecast {
                channel: m.channel,
                month: m.month,
            })
            .collect();
    }
    Ok(forecast)
}

/// One batch of a sweep, inside the writer's transaction: select what is due now (holds
/// re-read) after `after` in id order, delete it, and record the progress. Returns the number
/// of items deleted and the last id looked at (None: nothing left).
///
/// Paging by id matters on PostgreSQL: deleted rows stay as dead tuples until vacuum, and a
/// query that started from the beginning each time would walk them all again.
pub fn delete_batch(
    conn: &mut DbConn,
    category: Category,
    selection: &Selection,
    after: Option<&str>,
    limit: i64,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<(u64, Option<String>), StoreError> {
    let mut selection = selection.clone();
    // SQLite removes deleted rows from its indexes at once: taking the first due rows each
    // time is cheapest (no sort). PostgreSQL keeps them as dead tuples until vacuum, so it
    // continues after the last id instead of walking them again.
    let keyset = matches!(conn, DbConn::Postgres(_));
    selection.ordered = keyset;
    selection.holds = holds::active(conn, &selection.tenant, to_micros(now))?;
    let items = selection.page(conn, after.filter(|_| keyset), limit)?;
    let Some(last) = items.last().map(|i| i.id.clone()) else {
        return Ok((0, None));
    };
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let deleted_ids = delete_items(conn, &selection.tenant, category, ids, now, progress)?;
    certificates::save_progress(conn, progress)?;
    Ok((deleted_ids.len() as u64, Some(last)))
}

/// Deletes the given due items of one category with whatever hangs off them, inside the
/// caller's transaction, through each table's owner (`retention::coverage` names them): what
/// retention runs and erasure requests alike call. Returns the ids deleted (for attachments: the files' ids), which
/// `progress` (the certificate) records, with the contact keys destroyed.
pub fn delete_items(
    conn: &mut DbConn,
    tenant: &str,
    category: Category,
    ids: Vec<String>,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<Vec<String>, StoreError> {
    let t = tenant;
    let deleted_ids: Vec<String> = match category {
        Category::MessageContent => {
            crate::messages::delete_content(conn, t, &ids, to_micros(now))?;
            ids
        }
        Category::Attachments => {
            let gone: Vec<String> = attachments_of(conn, t, &ids)?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            crate::messages::attachments::delete(conn, t, &gone)?;
            gone
        }
        Category::MessageMetadata => {
            crate::messages::delete_with_dependants(conn, t, &ids)?;
            ids
        }
        Category::DeliveryStatuses => {
            crate::messages::status::delete(conn, t, &ids)?;
            ids
        }
        Category::WebhookLogs => {
            crate::events::delete_deliveries(conn, t, &ids)?;
            ids
        }
        Category::ConsentRequests | Category::ConsentProofs => {
            crate::consent::ledger::erase(conn, t, &ids, to_micros(now))?;
            ids
        }
        Category::Contacts => {
            crate::contacts::delete(conn, t, &ids)?;
            for id in &ids {
                progress.keys_shredded.push(KeyOwner::Contact(id.clone()));
            }
            ids
        }
    };
    progress.record(category, &deleted_ids);
    Ok(deleted_ids)
}

/// Folds deleted ids into the running hash of the certificate: per batch,
/// SHA-256(previous ‖ category ‖ each id, length-prefixed).
pub fn fold_ids(previous: &[u8], category: Category, ids: &[String]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(category.as_str().as_bytes());
    for id in ids {
        h.update((id.len() as u64).to_be_bytes());
        h.update(id.as_bytes());
    }
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::plans;

    /// Retention and erasure name the items they delete by id; each statement that deletes
    /// them, and what hangs off them, must find those rows by their ids, not read the tenant's
    /// rows to pick them out. SQLite (no statistics) answered the messages' `tenant_id = ? AND
    /// id IN (…)` from the tenant's time index: every batch of a sweep read all of the tenant's
    /// messages (1 000 000 expired: 11 551 deleted/s in batches of 10 000, ~500/s in batches of
    /// 1 000; docs/benchmarks.md).
    #[test]
    fn every_category_deletes_its_items_by_their_ids() {
        let now = crate::clock::from_micros(1_764_000_000_000_000);
        for category in Category::ALL {
            let mut conn = plans::migrated_sqlite();
            plans::assert_reads_only_named_rows(&mut conn, 1, |conn| {
                // Ids as Hafen writes them: UUIDs (`store::id` binds some as their bytes).
                let tenant = "01900000-0000-7000-8000-000000000001";
                let mut progress = CertificateProgress::new("run", tenant, String::new(), now);
                let ids = (0..5)
                    .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
                    .collect();
                delete_items(conn, tenant, category, ids, now, &mut progress).unwrap();
            });
        }
        // The files category found no files above, so its delete of files by id ran no
        // statement: checked here on its own.
        let mut conn = plans::migrated_sqlite();
        plans::assert_reads_only_named_rows(&mut conn, 1, |conn| {
            let files: Vec<String> = (0..5)
                .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
                .collect();
            crate::messages::attachments::delete(
                conn,
                "00000000-0000-7000-b000-000000000001",
                &files,
            )
            .unwrap();
        });
    }
}

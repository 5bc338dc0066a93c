//! Erasing one person's data category by category: what is due, what a hold, a rule or
//! another category's dependency keeps, and the deletion itself (through each table's owner).

use super::*;
use crate::store::id;

/// The contact's items of `rule`'s category that the rule makes due before `before` (the
/// start of their period, as the rule measures it).
pub(super) fn due(
    tenant: &str,
    contact: &str,
    rule: &Rule,
    letters: Option<bool>,
    before: i64,
    holds: ActiveHolds,
) -> Selection {
    Selection {
        tenant: tenant.to_string(),
        rule: rule.clone(),
        other_channels: Vec::new(),
        before,
        not_before: None,
        holds,
        contact: Some(contact.to_string()),
        letters,
        ordered: true,
    }
}

/// All of the contact's items of `category` collected before `before`, whatever a rule says.
pub(super) fn all_of(
    tenant: &str,
    contact: &str,
    category: Category,
    letters: Option<bool>,
    before: i64,
    holds: ActiveHolds,
) -> Selection {
    let rule = Rule {
        category,
        channel: None,
        business_letters: false,
        start: if category == Category::ConsentProofs {
            StartPoint::ConsentWithdrawal
        } else {
            StartPoint::Collection
        },
        end_of_year: false,
        retain: Retain::Keep,
        legal_basis: String::new(),
        deletion_class: None,
        ground: Ground::None,
        norm: None,
    };
    due(tenant, contact, &rule, letters, before, holds)
}

/// How many items a selection finds.
pub(super) fn count(conn: &mut DbConn, selection: &Selection) -> Result<u64, StoreError> {
    let mut total = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(total);
        };
        after = Some(last.id.clone());
        total += page.len() as u64;
    }
}

/// The newest item time (micros) a selection finds; for consent proofs, the newest
/// withdrawal.
pub(super) fn newest(conn: &mut DbConn, selection: &Selection) -> Result<Option<i64>, StoreError> {
    if selection.rule.category == Category::ConsentProofs {
        let contact = selection.contact.clone().unwrap_or_default();
        return Ok(consents::table
            .filter(consents::tenant_id.eq(id::bind(&selection.tenant)))
            .filter(consents::contact_id.eq(id::bind(&contact)))
            .filter(consents::state.eq("withdrawn"))
            .select(diesel::dsl::max(consents::withdrawn_at))
            .first(conn)?);
    }
    let mut newest: Option<i64> = None;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(newest);
        };
        after = Some(last.id.clone());
        newest = page.iter().map(|i| i.at).chain(newest).max();
    }
}

/// Messages whose content or files are still kept: their rows stay while those do.
pub(super) fn protected_messages(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    content: bool,
    files: bool,
) -> Result<HashSet<String>, StoreError> {
    let mut ids = HashSet::new();
    if content {
        let with_content: Vec<String> = messages::table
            .filter(messages::tenant_id.eq(id::bind(tenant)))
            .filter(messages::contact_id.eq(id::bind(contact)))
            .filter(messages::content_deleted_at.is_null())
            .filter(
                messages::body_sealed
                    .is_not_null()
                    .or(messages::raw_sealed.is_not_null())
                    .or(messages::external_id_sealed.is_not_null()),
            )
            .select(messages::id)
            .load(conn)?;
        ids.extend(with_content);
    }
    if files {
        let with_files: Vec<String> = attachments::table
            .filter(attachments::tenant_id.eq(id::bind(tenant)))
            .filter(
                attachments::message_id.eq_any(
                    messages::table
                        .filter(messages::tenant_id.eq(id::bind(tenant)))
                        .filter(messages::contact_id.eq(id::bind(contact)))
                        .select(messages::id),
                ),
            )
            .select(attachments::message_id)
            .load(conn)?;
        ids.extend(with_files);
    }
    Ok(ids)
}

/// Deletes what `selection` finds, except `spare` (message ids), page by page; returns how
/// many items went.
pub(super) fn delete_selected(
    conn: &mut DbConn,
    selection: &Selection,
    spare: &HashSet<String>,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<u64, StoreError> {
    let category = selection.rule.category;
    let mut deleted = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(deleted);
        };
        after = Some(last.id.clone());
        let ids: Vec<String> = page
            .into_iter()
            .map(|i| i.id)
            .filter(|id| !spare.contains(id))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let n = ids.len() as u64;
        delete_items(conn, &selection.tenant, category, ids, now, progress)?;
        deleted += n;
    }
}

/// The fixed start of a rule's period for the contact, where it is not the item's own time.
pub(super) fn fixed_start(rule: &Rule, contact: &ContactRow) -> Option<i64> {
    match rule.start {
        StartPoint::ConversationEnd => Some(contact.last_message_at),
        StartPoint::RelationshipEnd => contact.closed_at,
        StartPoint::Collection | StartPoint::ConsentWithdrawal => None,
    }
}

/// Whether the contact's data (address, name, key) is still there: its row goes only once
/// nothing refers to it, and an erased contact stays as an empty tombstone.
pub(super) fn contact_remains(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
) -> Result<bool, StoreError> {
    use crate::store::schema::contacts;
    let sealed: Option<Vec<u8>> = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .filter(contacts::id.eq(id::bind(contact)))
        .select(contacts::address_sealed)
        .first(conn)
        .optional()?;
    Ok(sealed.is_some_and(|s| !s.is_empty()))
}

/// Items of `category` the contact has that were collected before `before` (the contact
/// itself counts as one).
pub(super) fn remaining(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    category: Category,
    letters: Option<bool>,
    before: i64,
) -> Result<u64, StoreError> {
    if category == Category::Contacts {
        return Ok(u64::from(contact_remains(conn, tenant, contact)?));
    }
    count(
        conn,
        &all_of(
            tenant,
            contact,
            category,
            letters,
            before,
            ActiveHolds::default(),
        ),
    )
}

/// Erases the contact's own data once no message or consent of it is left and no active hold
/// names it: destroys its key and empties its row, which stays as a tombstone (requests, hold
/// records and ledger entries name it).
pub(super) fn erase_contact(
    conn: &mut DbConn,
    selection: &Selection,
    progress: &mut CertificateProgress,
) -> Result<u64, StoreError> {
    let (t, contact) = (
        selection.tenant.as_str(),
        selection.contact.clone().unwrap_or_default(),
    );
    let holds = &selection.holds;
    let held = holds.whole_tenant || holds.contacts.iter().any(|h| h == &contact);
    let referred: i64 = messages::table
        .filter(messages::tenant_id.eq(id::bind(t)))
        .filter(messages::contact_id.eq(id::bind(&contact)))
        .count()
        .get_result(conn)?;
    let consented: i64 = consents::table
        .filter(consents::tenant_id.eq(id::bind(t)))
        .filter(consents::contact_id.eq(id::bind(&contact)))
        .count()
        .get_result(conn)?;
    use crate::store::schema::contacts;
    let times: Option<(i64, i64, Option<i64>)> = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(t)))
        .filter(contacts::id.eq(id::bind(&contact)))
        .select((
            contacts::first_seen_at,
            contacts::last_message_at,
            contacts::closed_at,
        ))
        .first(conn)
        .optional()?;
    // The selection's rule decides when the contact's own period has run out.
    let due = times.is_some_and(|(first_seen, last_message, closed)| {
        let start = match selection.rule.start {
            StartPoint::Collection => Some(first_seen),
            StartPoint::ConversationEnd => Some(last_message),
            StartPoint::RelationshipEnd => closed,
            StartPoint::ConsentWithdrawal => None,
        };
        start.is_some_and(|s| s < selection.before)
    });
    if !due || held || referred > 0 || consented > 0 || !contact_remains(conn, t, &contact)? {
        return Ok(0);
    }
    crate::contacts::erase::tombstone(conn, t, &contact)?;
    progress.record(Category::Contacts, std::slice::from_ref(&contact));
    progress
        .keys_shredded
        .push(KeyOwner::Contact(contact.to_string()));
    Ok(1)
}

/// One category's erasure inside the request's write: deletes what may go now and measures
/// what stays. The answer's `until` for data kept only because other data needs it is filled
/// in by the caller, once every category is measured.
#[allow(clippy::too_many_arguments)]
pub(super) fn erase_category(
    conn: &mut DbConn,
    contact: &ContactRow,
    rule: &Rule,
    letters: Option<bool>,
    present_before: u64,
    holds: &ActiveHolds,
    spare: &HashSet<String>,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<CategoryAnswer, StoreError> {
    let (t, c) = (contact.tenant_id.as_str(), contact.id.as_str());
    let category = rule.category;
    let n = to_micros(now);
    let keeps = rule.ground.keeps_on_erasure();
    let cutoff = if keeps {
        rule.cutoff(now).map(|c| c.before).unwrap_or(i64::MIN)
    } else {
        i64::MAX
    };
    let may_go = |holds: &ActiveHolds| {
        if keeps {
            due(t, c, rule, letters, cutoff, holds.clone())
        } else {
            all_of(t, c, category, letters, i64::MAX, holds.clone())
        }
    };
    let erased = if category == Category::Contacts {
        erase_contact(conn, &may_go(holds), progress)?
    } else {
        delete_selected(conn, &may_go(holds), spare, now, progress)?
    };
    let kept = remaining(conn, t, c, category, letters, n + 1)?;
    // Held: what could go now but for a hold; for the contact, a hold naming it.
    let held = if category == Category::Contacts {
        let named = holds.contacts.iter().any(|h| h == c) || holds.whole_tenant;
        u64::from(kept > 0 && named)
    } else {
        count(conn, &may_go(&ActiveHolds::default()))?
            .saturating_sub(spare.len() as u64)
            .min(kept)
    };
    let mut answer = CategoryAnswer {
        category: category.as_str().into(),
        class: class_name(letters),
        present: present_before,
        erased,
        kept,
        held,
        ground: rule.ground.as_str().into(),
        norm: rule.norm.clone(),
        citation: None,
        until: None,
        decision_needed: false,
        decision: None,
    };
    if kept == 0 {
        return Ok(answer);
    }
    if !keeps {
        answer.citation = Some(if held == kept {
            hold_citation()
        } else {
            dependency_citation(category)
        });
        return Ok(answer);
    }
    answer.citation = Some(Citation::of(|lang| rule.citation(lang)));
    let start = match rule.start {
        StartPoint::Collection | StartPoint::ConsentWithdrawal => newest(
            conn,
            &all_of(t, c, category, letters, i64::MAX, ActiveHolds::default()),
        )?,
        _ => fixed_start(rule, contact),
    };
    match start.and_then(|s| rule.release(from_micros(s))) {
        // Past its end: what is left is held.
        Some(end) if end <= now => answer.citation = Some(hold_citation()),
        Some(end) => answer.until = Some(end),
        // Every kept item needs an end: without one the DPO decides.
        None => answer.decision_needed = kept > held,
    }
    Ok(answer)
}

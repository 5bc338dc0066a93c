//! Which sealed data ends how. Every table with a sealed (`_sealed`) column — personal data or
//! a secret — is listed here with the module that deletes its rows and what ends them: a
//! retention category (the rules decide when), its parent's end (deleted with the row it hangs
//! off), or a documented reason it is kept. A unit test reads `store/schema.rs` and fails when a
//! table with a sealed column is missing here, or an entry names a table that has none, so new
//! personal data cannot be added without deciding its end (issue 23, "one owner per table").

use super::rules::Category;

/// How the rows of a table end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// By the retention rules of these categories (and by erasure, through the contact's key).
    Retention(&'static [Category]),
    /// With the row it belongs to (deleted in the same transaction).
    WithParent(&'static str),
    /// Kept on purpose, for the reason given (or open: then the reason says so).
    Kept(&'static str),
}

/// A table holding sealed data, who deletes its rows, and how they end.
#[derive(Debug, Clone, Copy)]
pub struct SealedTable {
    pub table: &'static str,
    /// The module that owns the rows: the only one that deletes them or blanks their sealed
    /// columns (`tests/it/architecture.rs` checks); retention and erasure call it.
    pub owner: &'static str,
    pub ends: Ends,
}

pub const SEALED_TABLES: &[SealedTable] = &[
    SealedTable {
        table: "messages",
        owner: "messages",
        ends: Ends::Retention(&[Category::MessageContent, Category::MessageMetadata]),
    },
    SealedTable {
        table: "attachments",
        owner: "messages::attachments",
        ends: Ends::Retention(&[Category::Attachments]),
    },
    SealedTable {
        table: "message_statuses",
        owner: "messages::status",
        ends: Ends::Retention(&[Category::DeliveryStatuses]),
    },
    SealedTable {
        table: "contacts",
        owner: "contacts",
        ends: Ends::Retention(&[Category::Contacts]),
    },
    SealedTable {
        table: "event_deliveries",
        owner: "events",
        ends: Ends::Retention(&[Category::WebhookLogs]),
    },
    SealedTable {
        table: "consent_ledger",
        owner: "consent::ledger",
        ends: Ends::Retention(&[Category::ConsentProofs]),
    },
    SealedTable {
        table: "outbox",
        owner: "channels::send",
        ends: Ends::WithParent("messages: removed once the message is sent or has failed"),
    },
    SealedTable {
        table: "channels",
        owner: "channels::registry",
        ends: Ends::Kept("the company's platform credentials, deleted with the channel"),
    },
    SealedTable {
        table: "event_hooks",
        owner: "events",
        ends: Ends::Kept("the company's own endpoints and signing secrets, deleted with the hook"),
    },
    SealedTable {
        table: "broadcasts",
        owner: "consent::broadcast",
        ends: Ends::Kept(
            "the company's broadcast (purpose, text or template), no recipient in it; open: no retention category yet",
        ),
    },
    SealedTable {
        table: "legal_holds",
        owner: "retention::holds",
        ends: Ends::Kept(
            "why data is held: kept as proof of the hold, released holds too; open: no retention category yet",
        ),
    },
    SealedTable {
        table: "subject_requests",
        owner: "requests",
        ends: Ends::Kept(
            "how a data-subject request was answered (Art. 5(2) accountability); open: no retention category yet",
        ),
    },
    SealedTable {
        table: "erasure_items",
        owner: "requests::erase",
        ends: Ends::WithParent("subject_requests: what an erasure erased or kept, and why"),
    },
    SealedTable {
        table: "register_entries",
        owner: "register",
        ends: Ends::Kept("the GDPR register itself (Art. 30), every version kept as its history"),
    },
    SealedTable {
        table: "ui_users",
        owner: "accounts::users",
        ends: Ends::Kept("the people who use the interface, until an admin removes them"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables of `store/schema.rs` that have a `_sealed` column.
    fn sealed_in_schema() -> std::collections::BTreeSet<String> {
        let source = include_str!("../store/schema.rs");
        let mut current = None;
        let mut sealed = std::collections::BTreeSet::new();
        for line in source.lines().map(str::trim) {
            if line.ends_with(") {") && !line.starts_with("diesel") {
                current = line.split_whitespace().next().map(str::to_string);
            } else if line == "}" {
                current = None;
            } else if let Some(table) = &current {
                if line
                    .split(" -> ")
                    .next()
                    .is_some_and(|c| c.ends_with("_sealed"))
                {
                    sealed.insert(table.clone());
                }
            }
        }
        sealed
    }

    #[test]
    fn every_sealed_table_has_an_owner_and_an_end() {
        let in_schema = sealed_in_schema();
        assert!(in_schema.len() >= 10, "{in_schema:?}");
        let listed: std::collections::BTreeSet<String> =
            SEALED_TABLES.iter().map(|t| t.table.to_string()).collect();
        let missing: Vec<_> = in_schema.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "tables with sealed columns and no decided end (add them to SEALED_TABLES): {missing:?}"
        );
        let stale: Vec<_> = listed.difference(&in_schema).collect();
        assert!(stale.is_empty(), "listed, but no sealed column: {stale:?}");
        for t in SEALED_TABLES {
            assert!(!t.owner.is_empty(), "{}", t.table);
            match t.ends {
                Ends::Retention(categories) => assert!(!categories.is_empty(), "{}", t.table),
                Ends::WithParent(why) | Ends::Kept(why) => assert!(why.len() > 10, "{}", t.table),
            }
        }
        assert_eq!(
            SEALED_TABLES.len(),
            listed.len(),
            "each table once in SEALED_TABLES"
        );
    }

    #[test]
    fn every_retention_category_ends_some_sealed_table() {
        for category in Category::ALL {
            let covered = SEALED_TABLES.iter().any(|t| match t.ends {
                Ends::Retention(c) => c.contains(&category),
                _ => false,
            }) || category == Category::ConsentRequests;
            assert!(covered, "{category:?} deletes no sealed table");
        }
    }
}

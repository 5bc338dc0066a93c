//! Retention and deletion (DIN 66398): versioned rule sets that take effect only after their
//! dry-run was viewed, legal holds, sweeps in batches, crypto-shredding of period keys, and
//! hash-chained deletion certificates. See docs/retention.md.

pub mod certificates;
pub mod coverage;
pub mod holds;
pub mod rules;
pub mod run;
pub mod select;
pub mod shred;

mod sweep;
mod versions;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::audit::{self, AuditEvent, ChainReport};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::periods::{self as keys, PeriodKeys};
use crate::store::schema::{retention_previews, retention_rule_sets, tenants};
use crate::store::{backend, DbConn, StoreError};
use crate::tenants::TenantId;

use certificates::{CertificateProgress, CertificateView};
use rules::{Category, RuleInput, RuleSet};
use run::Forecast;

pub use sweep::*;
pub use versions::*;

/// Install-wide retention settings (config `retention.*`).
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// Items deleted per transaction.
    pub batch: i64,
    /// A rule set needs a second admin's approval before it applies.
    pub require_approval: bool,
    /// Shortest period a rule may have (`retention_min_period_days`).
    pub min_period: Duration,
    /// A rule set deleting more than this share of a tenant's messages at once needs a second
    /// admin's approval even when `require_approval` is off (`retention_approval_above_percent`).
    pub approval_above_share: f64,
    /// How long a preview id may be cited by an activation.
    pub preview_valid_for: Duration,
    /// Audit entries are kept this many years after the end of their year (0: for ever);
    /// pruned by install-wide runs.
    pub audit_years: u32,
    /// Serialises sweeps within this process (PostgreSQL adds an advisory lock across
    /// instances).
    pub(crate) local_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            batch: 10_000,
            require_approval: false,
            min_period: Duration::days(1),
            approval_above_share: 0.10,
            preview_valid_for: Duration::hours(24),
            audit_years: 10,
            local_lock: Arc::default(),
        }
    }
}

/// Rule set states.
const PENDING: &str = "pending_approval";

const ACTIVE: &str = "active";

const SUPERSEDED: &str = "superseded";

const REJECTED: &str = "rejected";

/// The rules a sweep applies to `tenant` now, and the version they come from (0: defaults).
pub(crate) fn rules_in_force(
    conn: &mut DbConn,
    tenant: &str,
) -> Result<(RuleSet, i32), StoreError> {
    match active_row(conn, tenant)? {
        Some(row) => Ok((row.rule_set()?.effective(), row.version)),
        None => Ok((rules::defaults(), 0)),
    }
}

/// The categories `tenant`'s own active rules name (the rest follow the install's defaults).
pub(crate) fn own_categories(conn: &mut DbConn, tenant: &str) -> Result<Vec<Category>, StoreError> {
    Ok(match active_row(conn, tenant)? {
        Some(row) => row.rule_set()?.rules.iter().map(|r| r.category).collect(),
        None => Vec::new(),
    })
}

/// What erasure requests kept back (under a hold or a statutory period) and erase once that
/// has passed: each tenant's run asks for it after its own categories. Requests sit above
/// retention (erasure uses its rules, holds and deletion), so they hand this in when the
/// services are built instead of retention calling up.
pub trait KeptErasures: std::fmt::Debug + Send + Sync {
    /// Erases the kept items of `tenant` whose end has passed by `now`, naming `run_id` in
    /// their certificates; the number of items erased.
    fn erase_due<'a>(
        &'a self,
        tenant: &'a str,
        run_id: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<u64>>;
}

/// The retention service: rule sets (proposed, previewed, approved), legal holds, the sweep
/// that deletes what is due and certifies it, the certificates' chain.
#[derive(Debug, Clone)]
pub struct Retention {
    pub(crate) infra: Infra,
    pub(crate) periods: PeriodKeys,
    /// What erasure requests kept back is erased by the sweep when its end has passed.
    pub(crate) kept: Arc<dyn KeptErasures>,
    pub(crate) settings: RetentionSettings,
}

impl Retention {
    pub fn new(
        infra: Infra,
        periods: PeriodKeys,
        kept: Arc<dyn KeptErasures>,
        settings: RetentionSettings,
    ) -> Self {
        Self {
            infra,
            periods,
            kept,
            settings,
        }
    }

    fn approval_reason(&self, share: f64) -> Option<String> {
        approval_reason(&self.settings, share)
    }
}

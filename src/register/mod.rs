//! The GDPR register: what only a person can say about the processing — who the processor and
//! each controller are, the AVV's terms, processing activities beyond what Hafen sees, the
//! sub-processors and their authorisation, and the organisational measures.
//!
//! Every change is a new version; no version is ever overwritten, so a report can name the
//! register version it was built from and an authority can be shown what was recorded when.
//! Versions are numbered install-wide (one counter), so "register version 17" identifies the
//! state of the whole register. Documents name people (DPOs, contact persons): each version is
//! sealed under its own data key, age-wrapped like every other key.

mod documents;
mod letterhead;
pub mod live;
pub use documents::*;
pub use letterhead::*;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::KeyOwner;
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::store::id;
use crate::store::schema::register_entries;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

const MAX_TEXT: usize = 2_000;
const MAX_ITEMS: usize = 200;

/// Whose record: the processor (the install) or one controller (a tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Processor,
    Tenant(TenantId),
}

impl Scope {
    fn tenant_str(&self) -> Option<String> {
        match self {
            Scope::Processor => None,
            Scope::Tenant(t) => Some(t.as_str().to_string()),
        }
    }

    fn binding_tenant(&self) -> &str {
        match self {
            Scope::Processor => "install",
            Scope::Tenant(t) => t.as_str(),
        }
    }
}

/// A part of the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The processor (install-wide): name, address, contact, DPO, EU representative.
    Processor,
    /// Organisational measures entered by hand (install-wide).
    Measures,
    /// The controller (a tenant) and its AVV.
    Controller,
    /// Processing activities completed or added by hand (per tenant).
    Activities,
    /// Sub-processors as authorised by the controller (per tenant).
    Subprocessors,
    /// The tenant's letterhead: sender lines and a logo on every document it gets.
    Letterhead,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Processor,
        Section::Measures,
        Section::Controller,
        Section::Activities,
        Section::Subprocessors,
        Section::Letterhead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Processor => "processor",
            Section::Measures => "measures",
            Section::Controller => "controller",
            Section::Activities => "activities",
            Section::Subprocessors => "subprocessors",
            Section::Letterhead => "letterhead",
        }
    }

    pub fn is_install_wide(self) -> bool {
        matches!(self, Section::Processor | Section::Measures)
    }

    /// Checks that `scope` is where this section lives.
    pub fn check_scope(self, scope: &Scope) -> Result<()> {
        match (self.is_install_wide(), scope) {
            (true, Scope::Processor) | (false, Scope::Tenant(_)) => Ok(()),
            (true, Scope::Tenant(_)) => Err(Error::invalid(
                "section",
                format!(
                    "{} is kept once for the install: use /v1/register/{}",
                    self.as_str(),
                    self.as_str()
                ),
            )),
            (false, Scope::Processor) => Err(Error::invalid(
                "section",
                format!(
                    "{} is kept per tenant: use /v1/tenants/{{tenant}}/register/{}",
                    self.as_str(),
                    self.as_str()
                ),
            )),
        }
    }
}

impl FromStr for Section {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Section::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "section",
                    "must be processor, measures, controller, activities, subprocessors or letterhead",
                )
            })
    }
}

/// One version of one section.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub section: Section,
    /// The install-wide register version this change created.
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// SHA-256 of the document's canonical JSON (hex).
    pub document_sha256: String,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    #[serde(skip)]
    pub parsed: Option<Document>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = register_entries)]
struct EntryRow {
    id: String,
    version: i64,
    #[diesel(serialize_as = crate::store::id::BoundOptionalId)]
    tenant_id: Option<String>,
    section: String,
    wrapped_key: Vec<u8>,
    document_sealed: Vec<u8>,
    document_sha256: Vec<u8>,
    created_by: String,
    created_at: i64,
}

fn binding<'a>(scope: &'a Scope, id: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant: scope.binding_tenant(),
        table: "register_entries",
        column: "document",
        row: id,
    }
}

fn section_rows(
    conn: &mut DbConn,
    scope: &Scope,
    section: Section,
    latest_only: bool,
) -> Result<Vec<EntryRow>, StoreError> {
    let mut q = register_entries::table
        .filter(register_entries::section.eq(section.as_str()))
        .into_boxed();
    q = match scope.tenant_str() {
        None => q.filter(register_entries::tenant_id.is_null()),
        Some(t) => q.filter(register_entries::tenant_id.eq(id::bind(t))),
    };
    if latest_only {
        q = q.limit(1);
    }
    Ok(q.order(register_entries::version.desc())
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// The highest register version among `scope`'s entries and the processor's (what a report
/// for `scope` is built from); 0 when nothing was entered.
pub fn version_for(conn: &mut DbConn, scope: &Scope) -> Result<i64, StoreError> {
    let mut q = register_entries::table.into_boxed();
    q = match scope.tenant_str() {
        None => q.filter(register_entries::tenant_id.is_null()),
        Some(t) => q.filter(
            register_entries::tenant_id
                .is_null()
                .or(register_entries::tenant_id.eq(id::bind(t))),
        ),
    };
    let v: Option<i64> = q
        .select(diesel::dsl::max(register_entries::version))
        .first(conn)?;
    Ok(v.unwrap_or(0))
}

/// The register service: the versions of what people entered, sealed, audited, numbered
/// install-wide.
#[derive(Debug, Clone)]
pub struct Register {
    pub(crate) infra: Infra,
}

impl Register {
    pub fn new(infra: Infra) -> Self {
        Self { infra }
    }
}

impl Register {
    fn authorize(&self, actor: &Actor, scope: &Scope, p: Permission) -> Result<()> {
        match scope {
            Scope::Processor => actor.authorize_processor(p),
            Scope::Tenant(t) => actor.authorize(t, p),
        }
    }

    fn open_entry(&self, scope: &Scope, section: Section, row: EntryRow) -> Result<EntryView> {
        let keys = self
            .infra
            .keys
            .open(KeyOwner::Record(row.id.clone()), &row.wrapped_key)?;
        let json = keys
            .seal
            .open(&binding(scope, &row.id), &row.document_sealed)?;
        let document = Document::from_stored(section, &json)?;
        Ok(EntryView {
            section,
            version: row.version,
            created_by: row.created_by,
            created_at: from_micros(row.created_at),
            document_sha256: hex::encode(&row.document_sha256),
            document: serde_json::from_slice(&json).map_err(Error::internal)?,
            parsed: Some(document),
        })
    }

    /// Stores a new version of a section; true when one was created (an unchanged document
    /// creates none and answers the current version).
    pub async fn put(
        &self,
        actor: &Actor,
        scope: &Scope,
        section: Section,
        value: serde_json::Value,
    ) -> Result<(EntryView, bool)> {
        self.authorize(actor, scope, Permission::ManageRecords)?;
        section.check_scope(scope)?;
        if let Scope::Tenant(t) = scope {
            self.infra.ensure_tenant(t).await?;
        }
        let document = Document::parse(section, value)?;
        let json = document.to_json();
        let sha = Sha256::digest(&json).to_vec();
        if let Some(current) = self.entry_internal(scope, section).await? {
            if hex::encode(&sha) == current.document_sha256 {
                return Ok((current, false));
            }
        }
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let key = self.infra.keys.generate()?;
        let sealed = key.keys.seal.seal(&binding(scope, &id), &json)?;
        let at = self.infra.clock.now();
        let mut event = AuditEvent::new(actor, "register.update")
            .object("register", section.as_str())
            .detail(format!("sha256={}", hex::encode(&sha)));
        if let Scope::Tenant(t) = scope {
            event = event.tenant(t);
        }
        let mut row = EntryRow {
            id: id.clone(),
            version: 0,
            tenant_id: scope.tenant_str(),
            section: section.as_str().to_string(),
            wrapped_key: key.wrapped,
            document_sealed: sealed,
            document_sha256: sha,
            created_by: actor.audit_label(),
            created_at: to_micros(at),
        };
        let stored = row.clone();
        let version = self
            .infra
            .store
            .write(move |conn| {
                // The audit append takes the chain lock first, so versions are numbered in
                // the same order on every instance.
                audit::append(conn, at, event.clone())?;
                let last: Option<i64> = register_entries::table
                    .select(diesel::dsl::max(register_entries::version))
                    .first(conn)?;
                let mut stored = stored.clone();
                stored.version = last.unwrap_or(0) + 1;
                diesel::insert_into(register_entries::table)
                    .values(stored.clone())
                    .execute(conn)?;
                Ok(stored.version)
            })
            .await?;
        self.infra.keys.remember(KeyOwner::Record(id), key.keys);
        row.version = version;
        let entry = EntryView {
            section,
            version,
            created_by: row.created_by,
            created_at: at,
            document_sha256: hex::encode(&row.document_sha256),
            document: serde_json::from_slice(&json).map_err(Error::internal)?,
            parsed: Some(document),
        };
        Ok((entry, true))
    }

    /// The current version of a section, if one was entered.
    pub async fn entry(
        &self,
        actor: &Actor,
        scope: &Scope,
        section: Section,
    ) -> Result<Option<EntryView>> {
        self.authorize(actor, scope, Permission::ManageRecords)?;
        section.check_scope(scope)?;
        if let Scope::Tenant(t) = scope {
            self.infra.ensure_tenant(t).await?;
        }
        self.entry_internal(scope, section).await
    }

    /// Every version of a section, newest first.
    pub async fn history(
        &self,
        actor: &Actor,
        scope: &Scope,
        section: Section,
    ) -> Result<Vec<EntryView>> {
        self.authorize(actor, scope, Permission::ManageRecords)?;
        section.check_scope(scope)?;
        if let Scope::Tenant(t) = scope {
            self.infra.ensure_tenant(t).await?;
        }
        self.history_internal(scope, section).await
    }

    pub(crate) async fn entry_internal(
        &self,
        scope: &Scope,
        section: Section,
    ) -> Result<Option<EntryView>> {
        let s = scope.clone();
        let rows = self
            .infra
            .store
            .read(move |conn| section_rows(conn, &s, section, true))
            .await?;
        rows.into_iter()
            .next()
            .map(|r| self.open_entry(scope, section, r))
            .transpose()
    }

    /// The tenant's letterhead for its documents, if the register has one.
    pub async fn letterhead(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<crate::documents::Letterhead>> {
        Ok(
            match self
                .entry_internal(&Scope::Tenant(tenant.clone()), Section::Letterhead)
                .await?
            {
                Some(EntryView {
                    parsed: Some(Document::Letterhead(l)),
                    ..
                }) => Some(l.for_documents()),
                _ => None,
            },
        )
    }

    pub(crate) async fn history_internal(
        &self,
        scope: &Scope,
        section: Section,
    ) -> Result<Vec<EntryView>> {
        let s = scope.clone();
        let rows = self
            .infra
            .store
            .read(move |conn| section_rows(conn, &s, section, false))
            .await?;
        rows.into_iter()
            .map(|r| self.open_entry(scope, section, r))
            .collect()
    }

    pub(crate) async fn version(&self, scope: &Scope) -> Result<i64> {
        let s = scope.clone();
        Ok(self
            .infra
            .store
            .read(move |conn| version_for(conn, &s))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sections_validate_their_documents() {
        let party = json!({"name": "Hafen Betrieb GmbH", "address": "Hafenstr. 1, 20457 Hamburg", "contact": "datenschutz@example.de"});
        assert!(matches!(
            Document::parse(Section::Processor, party.clone()),
            Ok(Document::Processor(_))
        ));
        let empty = json!({"name": " ", "address": "x", "contact": "y"});
        assert!(
            matches!(Document::parse(Section::Processor, empty), Err(Error::Invalid { field, .. }) if field == "name")
        );
        let unknown = json!({"name": "a", "address": "b", "contact": "c", "extra": 1});
        assert!(Document::parse(Section::Processor, unknown).is_err());
        let sub = json!([{"key": "meta", "name": "Meta", "address": "Dublin", "country": "ie",
            "service": "WhatsApp", "data_categories": ["Nachrichten"], "third_countries": ["US"]}]);
        assert!(
            matches!(Document::parse(Section::Subprocessors, sub), Err(Error::Invalid { field, .. }) if field.ends_with("transfer_mechanism"))
        );
        let twice = json!([{"key": "a"}, {"key": "a"}]);
        assert!(Document::parse(Section::Activities, twice).is_err());
        let measures = json!([{"control": "physical_access", "text": "Serverraum mit Chipkarte"}]);
        assert!(Document::parse(Section::Measures, measures).is_ok());
        assert!(Section::Processor
            .check_scope(&Scope::Tenant(TenantId::generate()))
            .is_err());
        assert!(Section::Controller.check_scope(&Scope::Processor).is_err());
    }
}

//! The GDPR register: what only a person can say about the processing — who the processor and
//! each controller are, the AVV's terms, processing activities beyond what Hafen sees, the
//! sub-processors and their authorisation, and the organisational measures.
//!
//! Every change is a new version; no version is ever overwritten, so a report can name the
//! register version it was built from and an authority can be shown what was recorded when.
//! Versions are numbered install-wide (one counter), so "register version 17" identifies the
//! state of the whole register. Documents name people (DPOs, contact persons): each version is
//! sealed under its own data key, age-wrapped like every other key.

pub mod live;

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

/// Name and contact details of a party (processor or controller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub name: String,
    /// Postal address.
    pub address: String,
    /// How to reach the party (e-mail, phone).
    pub contact: String,
    /// The data protection officer's name, if one is appointed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo_contact: Option<String>,
    /// The representative in the Union (Art. 27), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
}

/// The controller and the terms of its AVV (Art. 28(3)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    pub party: Party,
    pub avv: Avv,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Avv {
    /// Date the contract was signed.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub subject_matter: String,
    /// E.g. "unbefristet, kündbar mit 3 Monaten zum Quartalsende".
    pub duration: String,
    pub nature_and_purpose: String,
    pub data_types: Vec<String>,
    pub data_subject_categories: Vec<String>,
    /// How the controller gives instructions (e.g. "schriftlich per E-Mail an …").
    pub instruction_channel: String,
}

/// A processing activity entered by hand, or the completion of a generated one (same `key`,
/// e.g. `channel:<id>` or `consent:<purpose id>`): the fields given replace the generated ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<String>>,
    /// Art. 6(1) basis, e.g. "Art. 6 Abs. 1 lit. b DSGVO".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_subject_categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
    /// Time limits for erasure (Art. 30(1)(f)); for a generated activity they come from the
    /// deletion rules and this replaces them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<Vec<String>>,
    /// Joint controllers (Art. 26) and what each is jointly responsible for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint_controllers: Option<Vec<String>>,
    /// Special categories of data (Art. 9) or criminal offence data (Art. 10) are processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_categories: Option<bool>,
    /// Profiling or automated individual decisions (Art. 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling: Option<bool>,
    /// The data protection impact assessment (Art. 35): its reference, or why none is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpia: Option<String>,
    /// The legitimate-interest assessment, where Art. 6(1)(f) is a basis: its reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legitimate_interest_assessment: Option<String>,
    /// The department responsible for the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Whom to ask about the activity (a role or a name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_person: Option<String>,
    /// Where the data is kept (system, site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// The processing contract (AVV) the activity runs under, if a processor is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_contract: Option<String>,
    /// Where the entry stands: `draft`, `approved` or `review_due`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_status: Option<ReviewStatus>,
    /// When the entry was last reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub reviewed_on: Option<NaiveDate>,
}

/// Where a register entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Being written; not yet approved.
    Draft,
    /// Checked and approved by the DPO or the controller.
    Approved,
    /// Due for its regular review.
    ReviewDue,
}

impl ReviewStatus {
    pub fn label(self, lang: crate::i18n::Lang) -> String {
        match self {
            ReviewStatus::Draft => lang.pick("Entwurf", "draft"),
            ReviewStatus::Approved => lang.pick("freigegeben", "approved"),
            ReviewStatus::ReviewDue => lang.pick("Überprüfung fällig", "review due"),
        }
    }
}

/// A sub-processor as authorised by the controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubProcessor {
    /// Stable key (`meta`, `telegram` for the pre-filled ones; any slug for others).
    pub key: String,
    pub name: String,
    pub address: String,
    /// ISO 3166-1 alpha-2 country of the contracting entity.
    pub country: String,
    pub service: String,
    pub data_categories: Vec<String>,
    /// Countries outside the EEA the data goes to (onward transfers), if any.
    #[serde(default)]
    pub third_countries: Vec<String>,
    /// The Chapter V safeguard for those transfers (adequacy decision, SCCs, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_mechanism: Option<String>,
    /// When the controller authorised this sub-processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub authorised_on: Option<NaiveDate>,
}

/// The control objectives measures are filed under: Art. 32(1) GDPR and the control
/// categories German checklists use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Art. 32(1)(a): pseudonymisation and encryption.
    Encryption,
    /// Zutrittskontrolle: physical access to the systems.
    PhysicalAccess,
    /// Zugangskontrolle: use of the systems.
    SystemAccess,
    /// Zugriffskontrolle: only authorised data.
    DataAccess,
    /// Weitergabekontrolle: transfer and transport.
    Transfer,
    /// Eingabekontrolle: who entered, changed or removed what.
    Input,
    /// Auftragskontrolle: processing only as instructed.
    Instructions,
    /// Verfügbarkeitskontrolle: protection against loss.
    Availability,
    /// Trennungsgebot: separation by purpose and client.
    Separation,
    /// Art. 32(1)(c): restoring availability after an incident.
    Recovery,
    /// Art. 32(1)(d): regular testing and evaluation.
    Evaluation,
    /// Art. 5(1)(e), Art. 17: erasure and storage limitation.
    Erasure,
}

impl Control {
    pub const ALL: [Control; 12] = [
        Control::Encryption,
        Control::PhysicalAccess,
        Control::SystemAccess,
        Control::DataAccess,
        Control::Transfer,
        Control::Input,
        Control::Instructions,
        Control::Availability,
        Control::Separation,
        Control::Recovery,
        Control::Evaluation,
        Control::Erasure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Control::Encryption => "encryption",
            Control::PhysicalAccess => "physical_access",
            Control::SystemAccess => "system_access",
            Control::DataAccess => "data_access",
            Control::Transfer => "transfer",
            Control::Input => "input",
            Control::Instructions => "instructions",
            Control::Availability => "availability",
            Control::Separation => "separation",
            Control::Recovery => "recovery",
            Control::Evaluation => "evaluation",
            Control::Erasure => "erasure",
        }
    }
}

/// An organisational measure, entered by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub control: Control,
    pub text: String,
}

/// A register document, one of each section's shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Document {
    Processor(Party),
    Controller(Controller),
    Activities(Vec<Activity>),
    Subprocessors(Vec<SubProcessor>),
    Measures(Vec<Measure>),
    Letterhead(Letterhead),
}

/// The head of every document a tenant gets: who sends it, and the company's logo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Letterhead {
    /// The sender block, one line each (1 to 6): company, street, town, …
    pub sender: Vec<String>,
    /// A PNG or JPEG logo, base64-encoded (at most 40 KiB decoded), shown top right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// The largest logo accepted (decoded): a letterhead logo is a few kilobytes, and its base64
/// must fit the register's 64 KiB request body.
pub const MAX_LOGO: usize = 40 * 1024;

impl Letterhead {
    fn validated(&self) -> Result<Self> {
        if self.sender.is_empty() || self.sender.len() > 6 {
            return Err(Error::invalid("sender", "needs 1 to 6 lines"));
        }
        let sender = self
            .sender
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let line = text(&format!("sender[{i}]"), l, true)?;
                if line.contains('\n') || line.chars().count() > 120 {
                    return Err(Error::invalid(
                        format!("sender[{i}]"),
                        "must be one line of at most 120 characters",
                    ));
                }
                Ok(line)
            })
            .collect::<Result<Vec<_>>>()?;
        if self.logo.is_some() {
            let bytes = self
                .logo_bytes()
                .ok_or_else(|| Error::invalid("logo", "must be base64 (standard alphabet)"))?;
            crate::documents::check_logo(&bytes, MAX_LOGO)?;
        }
        Ok(Self {
            sender,
            logo: self.logo.clone(),
        })
    }

    /// The logo's bytes.
    pub fn logo_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let logo = self.logo.as_deref()?;
        base64::engine::general_purpose::STANDARD
            .decode(logo.trim())
            .ok()
    }

    /// As the document layer draws it.
    pub fn for_documents(&self) -> crate::documents::Letterhead {
        crate::documents::Letterhead {
            sender: self.sender.clone(),
            logo: self.logo_bytes(),
        }
    }
}

fn text(field: &str, value: &str, required: bool) -> Result<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.chars().count() > MAX_TEXT {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

fn opt_text(field: &str, value: &Option<String>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = text(field, v, false)?;
            Ok((!v.is_empty()).then_some(v))
        }
    }
}

fn list(field: &str, values: &[String], required: bool) -> Result<Vec<String>> {
    if values.len() > MAX_ITEMS {
        return Err(Error::invalid(
            field,
            format!("must have at most {MAX_ITEMS} entries"),
        ));
    }
    let out = values
        .iter()
        .enumerate()
        .map(|(i, v)| text(&format!("{field}[{i}]"), v, true))
        .collect::<Result<Vec<_>>>()?;
    if required && out.is_empty() {
        return Err(Error::invalid(field, "needs at least one entry"));
    }
    Ok(out)
}

fn key(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !ok {
        return Err(Error::invalid(
            field,
            "must be 1 to 100 characters of a-z, 0-9, '-', '_', ':' and '.'",
        ));
    }
    Ok(value.to_string())
}

fn unique_keys<'a>(field: &str, keys: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !seen.insert(k) {
            return Err(Error::invalid(field, format!("key '{k}' appears twice")));
        }
    }
    Ok(())
}

fn max_items<T>(field: &str, items: &[T]) -> Result<()> {
    if items.len() > MAX_ITEMS {
        return Err(Error::invalid(
            field,
            format!("must have at most {MAX_ITEMS} entries"),
        ));
    }
    Ok(())
}

impl Party {
    fn validated(&self, at: &str) -> Result<Self> {
        Ok(Self {
            name: text(&format!("{at}name"), &self.name, true)?,
            address: text(&format!("{at}address"), &self.address, true)?,
            contact: text(&format!("{at}contact"), &self.contact, true)?,
            dpo_name: opt_text(&format!("{at}dpo_name"), &self.dpo_name)?,
            dpo_contact: opt_text(&format!("{at}dpo_contact"), &self.dpo_contact)?,
            representative: opt_text(&format!("{at}representative"), &self.representative)?,
        })
    }
}

/// ISO 3166-1 alpha-2: two capital letters.
fn country(field: &str, value: &str) -> Result<String> {
    let v = value.trim().to_ascii_uppercase();
    if v.len() != 2 || !v.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid(
            field,
            "must be an ISO 3166-1 alpha-2 country code (e.g. DE, IE, US)",
        ));
    }
    Ok(v)
}

impl Document {
    /// Parses and validates a section's document from JSON.
    pub fn parse(section: Section, value: serde_json::Value) -> Result<Self> {
        let shape =
            |e: serde_json::Error| Error::invalid("document", crate::error::shape_error(&e));
        Ok(match section {
            Section::Processor => {
                let p: Party = serde_json::from_value(value).map_err(shape)?;
                Document::Processor(p.validated("")?)
            }
            Section::Controller => {
                let c: Controller = serde_json::from_value(value).map_err(shape)?;
                let a = &c.avv;
                Document::Controller(Controller {
                    party: c.party.validated("party.")?,
                    avv: Avv {
                        date: a.date,
                        subject_matter: text("avv.subject_matter", &a.subject_matter, true)?,
                        duration: text("avv.duration", &a.duration, true)?,
                        nature_and_purpose: text(
                            "avv.nature_and_purpose",
                            &a.nature_and_purpose,
                            true,
                        )?,
                        data_types: list("avv.data_types", &a.data_types, true)?,
                        data_subject_categories: list(
                            "avv.data_subject_categories",
                            &a.data_subject_categories,
                            true,
                        )?,
                        instruction_channel: text(
                            "avv.instruction_channel",
                            &a.instruction_channel,
                            true,
                        )?,
                    },
                })
            }
            Section::Activities => {
                let items: Vec<Activity> = serde_json::from_value(value).map_err(shape)?;
                max_items("activities", &items)?;
                unique_keys("activities", items.iter().map(|a| a.key.as_str()))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, a) in items.iter().enumerate() {
                    let at = format!("activities[{i}].");
                    let opt_list = |f: &str, v: &Option<Vec<String>>| {
                        v.as_ref()
                            .map(|l| list(&format!("{at}{f}"), l, false))
                            .transpose()
                    };
                    out.push(Activity {
                        key: key(&format!("{at}key"), &a.key)?,
                        name: opt_text(&format!("{at}name"), &a.name)?,
                        purposes: opt_list("purposes", &a.purposes)?,
                        legal_basis: opt_text(&format!("{at}legal_basis"), &a.legal_basis)?,
                        data_subject_categories: opt_list(
                            "data_subject_categories",
                            &a.data_subject_categories,
                        )?,
                        data_categories: opt_list("data_categories", &a.data_categories)?,
                        recipients: opt_list("recipients", &a.recipients)?,
                        erasure: opt_list("erasure", &a.erasure)?,
                        joint_controllers: opt_list("joint_controllers", &a.joint_controllers)?,
                        special_categories: a.special_categories,
                        profiling: a.profiling,
                        dpia: opt_text(&format!("{at}dpia"), &a.dpia)?,
                        legitimate_interest_assessment: opt_text(
                            &format!("{at}legitimate_interest_assessment"),
                            &a.legitimate_interest_assessment,
                        )?,
                        department: opt_text(&format!("{at}department"), &a.department)?,
                        contact_person: opt_text(
                            &format!("{at}contact_person"),
                            &a.contact_person,
                        )?,
                        storage_location: opt_text(
                            &format!("{at}storage_location"),
                            &a.storage_location,
                        )?,
                        processor_contract: opt_text(
                            &format!("{at}processor_contract"),
                            &a.processor_contract,
                        )?,
                        review_status: a.review_status,
                        reviewed_on: a.reviewed_on,
                    });
                }
                Document::Activities(out)
            }
            Section::Subprocessors => {
                let items: Vec<SubProcessor> = serde_json::from_value(value).map_err(shape)?;
                max_items("subprocessors", &items)?;
                unique_keys("subprocessors", items.iter().map(|s| s.key.as_str()))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, s) in items.iter().enumerate() {
                    let at = format!("subprocessors[{i}].");
                    let third_countries = s
                        .third_countries
                        .iter()
                        .map(|c| country(&format!("{at}third_countries"), c))
                        .collect::<Result<Vec<_>>>()?;
                    let transfer_mechanism =
                        opt_text(&format!("{at}transfer_mechanism"), &s.transfer_mechanism)?;
                    if !third_countries.is_empty() && transfer_mechanism.is_none() {
                        return Err(Error::invalid(
                            format!("{at}transfer_mechanism"),
                            "is required when data goes to a third country (Art. 44-49 GDPR)",
                        ));
                    }
                    out.push(SubProcessor {
                        key: key(&format!("{at}key"), &s.key)?,
                        name: text(&format!("{at}name"), &s.name, true)?,
                        address: text(&format!("{at}address"), &s.address, true)?,
                        country: country(&format!("{at}country"), &s.country)?,
                        service: text(&format!("{at}service"), &s.service, true)?,
                        data_categories: list(
                            &format!("{at}data_categories"),
                            &s.data_categories,
                            true,
                        )?,
                        third_countries,
                        transfer_mechanism,
                        authorised_on: s.authorised_on,
                    });
                }
                Document::Subprocessors(out)
            }
            Section::Measures => {
                let items: Vec<Measure> = serde_json::from_value(value).map_err(shape)?;
                max_items("measures", &items)?;
                Document::Measures(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, m)| {
                            Ok(Measure {
                                control: m.control,
                                text: text(&format!("measures[{i}].text"), &m.text, true)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?,
                )
            }
            Section::Letterhead => {
                let l: Letterhead = serde_json::from_value(value).map_err(shape)?;
                Document::Letterhead(l.validated()?)
            }
        })
    }

    fn from_stored(section: Section, json: &[u8]) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_slice(json).map_err(Error::internal)?;
        let shape = |e: serde_json::Error| Error::internal(e);
        Ok(match section {
            Section::Processor => {
                Document::Processor(serde_json::from_value(value).map_err(shape)?)
            }
            Section::Controller => {
                Document::Controller(serde_json::from_value(value).map_err(shape)?)
            }
            Section::Activities => {
                Document::Activities(serde_json::from_value(value).map_err(shape)?)
            }
            Section::Subprocessors => {
                Document::Subprocessors(serde_json::from_value(value).map_err(shape)?)
            }
            Section::Measures => Document::Measures(serde_json::from_value(value).map_err(shape)?),
            Section::Letterhead => {
                Document::Letterhead(serde_json::from_value(value).map_err(shape)?)
            }
        })
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
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
        Some(t) => q.filter(register_entries::tenant_id.eq(t)),
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
                .or(register_entries::tenant_id.eq(t)),
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
                    .values(&stored)
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

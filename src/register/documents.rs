//! What each section of the register holds, and the checks every document passes before a
//! version is stored (lengths, keys, lists, countries).

use super::*;

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

pub(super) fn text(field: &str, value: &str, required: bool) -> Result<String> {
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

pub(super) fn opt_text(field: &str, value: &Option<String>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = text(field, v, false)?;
            Ok((!v.is_empty()).then_some(v))
        }
    }
}

pub(super) fn list(field: &str, values: &[String], required: bool) -> Result<Vec<String>> {
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

pub(super) fn key(field: &str, value: &str) -> Result<String> {
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

pub(super) fn unique_keys<'a>(field: &str, keys: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !seen.insert(k) {
            return Err(Error::invalid(field, format!("key '{k}' appears twice")));
        }
    }
    Ok(())
}

pub(super) fn max_items<T>(field: &str, items: &[T]) -> Result<()> {
    if items.len() > MAX_ITEMS {
        return Err(Error::invalid(
            field,
            format!("must have at most {MAX_ITEMS} entries"),
        ));
    }
    Ok(())
}

impl Party {
    pub(super) fn validated(&self, at: &str) -> Result<Self> {
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
pub(super) fn country(field: &str, value: &str) -> Result<String> {
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

    pub(super) fn from_stored(section: Section, json: &[u8]) -> Result<Self> {
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

    pub(super) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

//! Double opt-in: consent purposes with versioned texts, the consent state per contact and
//! purpose (`requested` → `confirmed` → `withdrawn`, or `expired`), and the ledger that proves
//! every transition ([`ledger`]). Keyword handling ([`keywords`]) turns START / JA / STOP in a
//! chat into these transitions; the send path asks [`Hafen::consent_state`] before any push.

pub mod broadcast;
pub mod flow;
pub mod keywords;
pub mod ledger;
pub mod proof;
pub mod widget;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::channels::Channels;
use crate::clock::{from_micros, to_micros};
use crate::contacts::Contacts;
use crate::crypto::keyring::OwnerKeys;
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::messages::Messages;
use crate::store::schema::{consent_purposes, consent_settings, consent_texts, consents};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

pub use keywords::{Intent, Keywords};

/// Unconfirmed requests expire after this long unless the tenant sets another time.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::hours(48);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Requested,
    Confirmed,
    Withdrawn,
    Expired,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Confirmed => "confirmed",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "confirmed" => Self::Confirmed,
            "withdrawn" => Self::Withdrawn,
            "expired" => Self::Expired,
            _ => Self::Requested,
        }
    }
}

/// How a transition came about (kept in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Widget,
    Keyword,
    Api,
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Widget => "widget",
            Self::Keyword => "keyword",
            Self::Api => "api",
            Self::System => "system",
        }
    }
}

/// A consent event or state ("requested", …) as a person reads it in a document.
pub fn event_label(event: &str, lang: crate::i18n::Lang) -> String {
    match event {
        "requested" => lang.pick("Einwilligung angefragt", "consent requested"),
        "confirmed" => lang.pick(
            "Einwilligung bestätigt (Double-Opt-in)",
            "consent confirmed (double opt-in)",
        ),
        "withdrawn" => lang.pick("Einwilligung widerrufen", "consent withdrawn"),
        "expired" => lang.pick(
            "Anfrage abgelaufen (nicht bestätigt)",
            "request expired (not confirmed)",
        ),
        other => other.to_string(),
    }
}

/// How a consent event came about, as a person reads it.
pub fn source_label(source: &str, lang: crate::i18n::Lang) -> String {
    match source {
        "widget" => lang.pick("Anmeldeformular (Widget)", "sign-up form (widget)"),
        "keyword" => lang.pick("Stichwort im Chat", "keyword in the chat"),
        "api" => lang.pick("Schnittstelle (API)", "interface (API)"),
        "system" => lang.pick("automatisch (Hafen)", "automatic (Hafen)"),
        other => other.to_string(),
    }
}

/// Evidence of how consent was asked for or given; sealed under the contact's key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The page or widget the request came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The keyword the person wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentTextsInput {
    /// The consent text in German, exactly as shown to the person.
    pub de: String,
    #[serde(default)]
    pub en: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeInput {
    /// e.g. "Newsletter", "Bestellinformationen".
    pub name: String,
    pub texts: ConsentTextsInput,
    /// WhatsApp template that asks for confirmation when the person has not written in the
    /// last 24 hours (e.g. after a widget sign-up).
    #[serde(default)]
    pub confirm_template: Option<String>,
    /// How the hosted sign-up widget looks.
    #[serde(default)]
    pub widget: Option<WidgetStyle>,
}

/// The sign-up widget's look; every field optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetStyle {
    pub title: Option<String>,
    pub intro: Option<String>,
    /// `#rrggbb`.
    pub color: Option<String>,
    /// Link to the privacy policy (https).
    pub privacy_url: Option<String>,
}

impl WidgetStyle {
    fn validate(&self) -> Result<()> {
        for (field, value, max) in [
            ("widget.title", &self.title, 200),
            ("widget.intro", &self.intro, 2000),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(Error::invalid(
                    field,
                    format!("must be at most {max} characters"),
                ));
            }
        }
        if let Some(c) = &self.color {
            if !(c.len() == 7
                && c.starts_with('#')
                && c[1..].bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(Error::invalid(
                    "widget.color",
                    "must be a colour like #005f73",
                ));
            }
        }
        if let Some(u) = &self.privacy_url {
            if !u.starts_with("https://")
                || u.len() > 2048
                || u.chars().any(|c| c.is_control() || c == '"' || c == '<')
            {
                return Err(Error::invalid(
                    "widget.privacy_url",
                    "must be an https:// URL",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentTextView {
    pub id: String,
    pub version: i32,
    pub language: String,
    pub text: String,
    /// SHA-256 of the text, hex: what the ledger refers to.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurposeView {
    pub id: String,
    pub name: String,
    pub confirm_template: Option<String>,
    pub widget: Option<WidgetStyle>,
    /// Every version of the consent text, newest first.
    pub texts: Vec<ConsentTextView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerEntryView {
    pub seq: i64,
    pub event: String,
    pub at: DateTime<Utc>,
    pub source: String,
    pub text_id: String,
    pub text_sha256: String,
    pub message_id: Option<String>,
    pub evidence: Option<Evidence>,
    pub hash: String,
    pub prev_hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub purpose_id: String,
    pub state: ConsentState,
    pub text_id: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Every transition, oldest first (in the per-contact listing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<LedgerEntryView>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = consents)]
#[diesel(treat_none_as_null = true)]
pub struct ConsentRow {
    pub id: String,
    pub tenant_id: String,
    pub contact_id: String,
    pub purpose_id: String,
    pub state: String,
    pub text_id: String,
    pub requested_at: i64,
    pub expires_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub updated_at: i64,
}

impl ConsentRow {
    pub fn view(&self) -> ConsentView {
        ConsentView {
            id: self.id.clone(),
            purpose_id: self.purpose_id.clone(),
            state: ConsentState::parse(&self.state),
            text_id: self.text_id.clone(),
            requested_at: from_micros(self.requested_at),
            expires_at: self.expires_at.map(from_micros),
            confirmed_at: self.confirmed_at.map(from_micros),
            withdrawn_at: self.withdrawn_at.map(from_micros),
            last_used_at: self.last_used_at.map(from_micros),
            history: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_texts)]
struct TextRow {
    id: String,
    tenant_id: String,
    purpose_id: String,
    version: i32,
    language: String,
    text: String,
    text_hash: Vec<u8>,
    created_at: i64,
}

impl TextRow {
    fn view(&self) -> ConsentTextView {
        ConsentTextView {
            id: self.id.clone(),
            version: self.version,
            language: self.language.clone(),
            text: self.text.clone(),
            sha256: hex::encode(&self.text_hash),
            created_at: from_micros(self.created_at),
        }
    }
}

/// A tenant's consent settings, with defaults filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keywords: Keywords,
    pub request_ttl: Duration,
    pub default_purpose: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub opt_in_keywords: Vec<String>,
    pub confirm_keywords: Vec<String>,
    pub opt_out_keywords: Vec<String>,
    /// How long a request waits for confirmation (default 48 hours).
    pub request_ttl_hours: i64,
    /// The purpose a keyword opt-in (START) subscribes to.
    #[serde(default)]
    pub default_purpose_id: Option<String>,
}

fn validate_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > 10_000 {
        return Err(Error::invalid(field, "must be 1-10000 characters"));
    }
    Ok(())
}

fn evidence_binding<'a>(tenant: &'a str, row: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: "consent_ledger",
        column: "evidence",
        row,
    }
}

/// Seals evidence for a ledger entry; bound to the consent and the instant of the event.
pub fn seal_evidence(
    keys: &OwnerKeys,
    tenant: &str,
    consent_id: &str,
    event: &str,
    at: DateTime<Utc>,
    evidence: &Evidence,
) -> Result<Vec<u8>> {
    let row = format!("{consent_id}:{event}:{}", to_micros(at));
    let json = serde_json::to_vec(evidence).map_err(Error::internal)?;
    Ok(keys.seal.seal(&evidence_binding(tenant, &row), &json)?)
}

fn load_texts(conn: &mut DbConn, tenant: &str, purpose: &str) -> Result<Vec<TextRow>, StoreError> {
    Ok(consent_texts::table
        .filter(consent_texts::tenant_id.eq(tenant))
        .filter(consent_texts::purpose_id.eq(purpose))
        .order((consent_texts::version.desc(), consent_texts::language.asc()))
        .select(TextRow::as_select())
        .load(conn)?)
}

/// (name, confirm template, created at, widget JSON) of a purpose.
type PurposeRow = (String, Option<String>, i64, Option<String>);

fn purpose_exists(
    conn: &mut DbConn,
    tenant: &str,
    purpose: &str,
) -> Result<Option<PurposeRow>, StoreError> {
    Ok(consent_purposes::table
        .filter(consent_purposes::tenant_id.eq(tenant))
        .filter(consent_purposes::id.eq(purpose))
        .select((
            consent_purposes::name,
            consent_purposes::confirm_template,
            consent_purposes::created_at,
            consent_purposes::widget,
        ))
        .first(conn)
        .optional()?)
}

/// The text shown now: the newest version, in `language` if it has one, else in German
/// (the widget picks the same one, so the proof names exactly what was shown).
fn current_text<'a>(texts: &'a [TextRow], language: &str) -> Option<&'a TextRow> {
    let latest = texts.iter().map(|t| t.version).max()?;
    let current = || texts.iter().filter(move |t| t.version == latest);
    current()
        .find(|t| t.language == language)
        .or_else(|| current().find(|t| t.language == "de"))
}

fn new_texts(
    tenant: &str,
    purpose: &str,
    version: i32,
    texts: &ConsentTextsInput,
    now: i64,
) -> Result<Vec<TextRow>> {
    validate_text("texts.de", &texts.de)?;
    let mut rows = Vec::new();
    for (language, text) in [("de", Some(&texts.de)), ("en", texts.en.as_ref())] {
        if let Some(text) = text {
            validate_text(&format!("texts.{language}"), text)?;
            rows.push(TextRow {
                id: uuid::Uuid::now_v7().hyphenated().to_string(),
                tenant_id: tenant.to_string(),
                purpose_id: purpose.to_string(),
                version,
                language: language.to_string(),
                text: text.clone(),
                text_hash: Sha256::digest(text.as_bytes()).to_vec(),
                created_at: now,
            });
        }
    }
    Ok(rows)
}

/// The consent service: purposes and their texts, the double opt-in flow and its ledger,
/// keywords, the sign-up widget, broadcasts to those who consented, proofs.
#[derive(Debug, Clone)]
pub struct Consent {
    pub(crate) infra: Infra,
    /// Confirmation requests and replies are sent through a channel.
    pub(crate) channels: Channels,
    pub(crate) contacts: Contacts,
    pub(crate) messages: Messages,
    /// Broadcast messages per second (0: unpaced).
    pub(crate) broadcast_rate: u32,
    pub(crate) widget_rate: std::sync::Arc<widget::RateLimiter>,
    pub(crate) widget_limits: widget::WidgetLimits,
}

impl Consent {
    pub fn new(
        infra: Infra,
        channels: Channels,
        contacts: Contacts,
        messages: Messages,
        broadcast_rate: u32,
    ) -> Self {
        Self {
            infra,
            channels,
            contacts,
            messages,
            broadcast_rate,
            widget_rate: Default::default(),
            widget_limits: Default::default(),
        }
    }
}

impl Consent {
    pub async fn create_purpose(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: PurposeInput,
    ) -> Result<PurposeView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        self.infra.ensure_tenant(tenant).await?;
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1-200 characters"));
        }
        if let Some(t) = &input.confirm_template {
            if t.is_empty()
                || t.len() > 512
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(Error::invalid(
                    "confirm_template",
                    "must be a WhatsApp template name: a-z, 0-9, '_'",
                ));
            }
        }
        if let Some(w) = &input.widget {
            w.validate()?;
        }
        let widget = input
            .widget
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(Error::internal)?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let now = self.infra.clock.now();
        let texts = new_texts(tenant.as_str(), &id, 1, &input.texts, to_micros(now))?;
        let (t, pid, template) = (
            tenant.as_str().to_string(),
            id.clone(),
            input.confirm_template.clone(),
        );
        let event = AuditEvent::new(actor, "consent_purpose.create")
            .tenant(tenant)
            .object("consent_purpose", &id);
        let stored = texts.clone();
        self.infra
            .store
            .write(move |conn| {
                diesel::insert_into(consent_purposes::table)
                    .values((
                        consent_purposes::id.eq(&pid),
                        consent_purposes::tenant_id.eq(&t),
                        consent_purposes::name.eq(&name),
                        consent_purposes::confirm_template.eq(template.clone()),
                        consent_purposes::widget.eq(widget.clone()),
                        consent_purposes::created_at.eq(to_micros(now)),
                    ))
                    .execute(conn)?;
                for row in &stored {
                    diesel::insert_into(consent_texts::table)
                        .values(row)
                        .execute(conn)?;
                }
                audit::append(conn, now, event.clone())
            })
            .await?;
        self.read_purpose(tenant, &id).await
    }

    /// A new version of the purpose's texts; earlier versions stay, proofs refer to them.
    pub async fn add_purpose_texts(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        purpose: &str,
        texts: ConsentTextsInput,
    ) -> Result<PurposeView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let (t, p) = (tenant.as_str().to_string(), purpose.to_string());
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "consent_purpose.new_text")
            .tenant(tenant)
            .object("consent_purpose", purpose);
        let validated = new_texts(&t, &p, 0, &texts, to_micros(now))?;
        self.infra
            .store
            .write(move |conn| {
                if purpose_exists(conn, &t, &p)?.is_none() {
                    return Err(Error::NotFound.into());
                }
                let latest: Option<i32> = consent_texts::table
                    .filter(consent_texts::purpose_id.eq(&p))
                    .select(diesel::dsl::max(consent_texts::version))
                    .first(conn)?;
                for mut row in validated.clone() {
                    row.version = latest.unwrap_or(0) + 1;
                    diesel::insert_into(consent_texts::table)
                        .values(&row)
                        .execute(conn)?;
                }
                audit::append(conn, now, event.clone())?;
                Ok(())
            })
            .await?;
        self.read_purpose(tenant, purpose).await
    }

    async fn read_purpose(&self, tenant: &TenantId, purpose: &str) -> Result<PurposeView> {
        let (t, p) = (tenant.as_str().to_string(), purpose.to_string());
        self.infra
            .store
            .read(move |conn| {
                let Some((name, confirm_template, created_at, widget)) =
                    purpose_exists(conn, &t, &p)?
                else {
                    return Ok(Err(Error::NotFound));
                };
                let texts = load_texts(conn, &t, &p)?;
                Ok(Ok(PurposeView {
                    id: p.clone(),
                    name,
                    confirm_template,
                    widget: widget.and_then(|w| serde_json::from_str(&w).ok()),
                    texts: texts.iter().map(TextRow::view).collect(),
                    created_at: from_micros(created_at),
                }))
            })
            .await?
    }

    pub async fn list_purposes(
        &self,
        actor: &Actor,
        tenant: &TenantId,
    ) -> Result<Vec<PurposeView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let ids: Vec<String> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consent_purposes::table
                    .filter(consent_purposes::tenant_id.eq(&t))
                    .order(consent_purposes::id.asc())
                    .select(consent_purposes::id)
                    .load(conn)?)
            })
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.read_purpose(tenant, &id).await?);
        }
        Ok(out)
    }

    pub async fn settings(&self, tenant: &TenantId) -> Result<Settings> {
        let t = tenant.as_str().to_string();
        type Stored = (String, String, String, i64, Option<String>);
        let stored: Option<Stored> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consent_settings::table
                    .filter(consent_settings::tenant_id.eq(&t))
                    .select((
                        consent_settings::opt_in_keywords,
                        consent_settings::confirm_keywords,
                        consent_settings::opt_out_keywords,
                        consent_settings::request_ttl_secs,
                        consent_settings::default_purpose_id,
                    ))
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(match stored {
            None => Settings {
                keywords: Keywords::default(),
                request_ttl: DEFAULT_REQUEST_TTL,
                default_purpose: None,
            },
            Some((opt_in, confirm, opt_out, ttl, default_purpose)) => Settings {
                keywords: Keywords {
                    opt_in: Keywords::parse_list(&opt_in),
                    confirm: Keywords::parse_list(&confirm),
                    opt_out: Keywords::parse_list(&opt_out),
                },
                request_ttl: Duration::seconds(ttl),
                default_purpose,
            },
        })
    }

    pub async fn put_settings(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: SettingsInput,
    ) -> Result<()> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        self.infra.ensure_tenant(tenant).await?;
        if input
            .opt_out_keywords
            .iter()
            .all(|k| keywords::normalize(k).is_empty())
        {
            return Err(Error::invalid(
                "opt_out_keywords",
                "withdrawal must stay possible: name at least one keyword",
            ));
        }
        let too_long = [
            ("opt_in_keywords", &input.opt_in_keywords),
            ("confirm_keywords", &input.confirm_keywords),
            ("opt_out_keywords", &input.opt_out_keywords),
        ]
        .into_iter()
        .find(|(_, words)| {
            words
                .iter()
                .any(|w| w.trim().chars().count() > keywords::MAX_KEYWORD_CHARS)
        });
        if let Some((field, _)) = too_long {
            return Err(Error::invalid(
                field,
                format!(
                    "keywords are single words of at most {} characters",
                    keywords::MAX_KEYWORD_CHARS
                ),
            ));
        }
        if !(1..=24 * 30).contains(&input.request_ttl_hours) {
            return Err(Error::invalid(
                "request_ttl_hours",
                "must be 1 to 720 hours",
            ));
        }
        let join = |words: &[String]| {
            words
                .iter()
                .map(|w| keywords::normalize(w))
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        };
        let (opt_in, confirm, opt_out) = (
            join(&input.opt_in_keywords),
            join(&input.confirm_keywords),
            join(&input.opt_out_keywords),
        );
        let (t, now) = (tenant.as_str().to_string(), self.infra.clock.now());
        let ttl = input.request_ttl_hours * 3600;
        let default_purpose = input.default_purpose_id.clone();
        let event = AuditEvent::new(actor, "consent_settings.update").tenant(tenant);
        self.infra
            .store
            .write(move |conn| {
                if let Some(p) = &default_purpose {
                    if purpose_exists(conn, &t, p)?.is_none() {
                        return Err(Error::invalid("default_purpose_id", "no such purpose").into());
                    }
                }
                diesel::delete(consent_settings::table.filter(consent_settings::tenant_id.eq(&t)))
                    .execute(conn)?;
                diesel::insert_into(consent_settings::table)
                    .values((
                        consent_settings::tenant_id.eq(&t),
                        consent_settings::opt_in_keywords.eq(opt_in.clone()),
                        consent_settings::confirm_keywords.eq(confirm.clone()),
                        consent_settings::opt_out_keywords.eq(opt_out.clone()),
                        consent_settings::request_ttl_secs.eq(ttl),
                        consent_settings::default_purpose_id.eq(default_purpose.clone()),
                        consent_settings::updated_at.eq(to_micros(now)),
                    ))
                    .execute(conn)?;
                audit::append(conn, now, event.clone())?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Asks `contact` to consent to `purpose`: records the request (ledger), returns the text to
    /// send. An already confirmed consent is left as it is (and the answer looks the same).
    #[allow(clippy::too_many_arguments)] // each is a distinct fact of the proof
    pub(crate) async fn record_request(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        purpose: &str,
        language: &str,
        source: Source,
        evidence: Evidence,
        message_id: Option<String>,
    ) -> Result<(ConsentRow, String, Option<String>)> {
        let settings = self.settings(tenant).await?;
        let keys = self.contacts.keys_for(tenant, contact_id).await?;
        let now = self.infra.clock.now();
        let (t, c, p, lang) = (
            tenant.as_str().to_string(),
            contact_id.to_string(),
            purpose.to_string(),
            language.to_string(),
        );
        self.infra
            .store
            .write(move |conn| {
                let Some((_, template, _, _)) = purpose_exists(conn, &t, &p)? else {
                    return Err(Error::NotFound.into());
                };
                let texts = load_texts(conn, &t, &p)?;
                let text = current_text(&texts, &lang).cloned().ok_or_else(|| {
                    StoreError::from(Error::internal(anyhow::anyhow!("purpose without text")))
                })?;
                let existing: Option<ConsentRow> = consents::table
                    .filter(consents::tenant_id.eq(&t))
                    .filter(consents::contact_id.eq(&c))
                    .filter(consents::purpose_id.eq(&p))
                    .select(ConsentRow::as_select())
                    .first(conn)
                    .optional()?;
                if let Some(row) = existing.as_ref().filter(|r| r.state == "confirmed") {
                    return Ok((row.clone(), text.text, template));
                }
                let at = to_micros(now);
                let row = ConsentRow {
                    id: existing
                        .as_ref()
                        .map(|r| r.id.clone())
                        .unwrap_or_else(|| uuid::Uuid::now_v7().hyphenated().to_string()),
                    tenant_id: t.clone(),
                    contact_id: c.clone(),
                    purpose_id: p.clone(),
                    state: ConsentState::Requested.as_str().into(),
                    text_id: text.id.clone(),
                    requested_at: at,
                    expires_at: Some(to_micros(now + settings.request_ttl)),
                    confirmed_at: None,
                    withdrawn_at: existing.as_ref().and_then(|r| r.withdrawn_at),
                    last_used_at: existing.as_ref().and_then(|r| r.last_used_at),
                    updated_at: at,
                };
                if existing.is_some() {
                    diesel::update(consents::table.filter(consents::id.eq(&row.id)))
                        .set(&row)
                        .execute(conn)?;
                } else {
                    diesel::insert_into(consents::table)
                        .values(&row)
                        .execute(conn)?;
                }
                let sealed = seal_evidence(&keys, &t, &row.id, "requested", now, &evidence)
                    .map_err(StoreError::from)?;
                ledger::append(
                    conn,
                    ledger::LedgerEvent {
                        tenant_id: t.clone(),
                        consent_id: row.id.clone(),
                        contact_id: c.clone(),
                        purpose_id: p.clone(),
                        event: "requested",
                        at: now,
                        source: source.as_str().into(),
                        text_id: text.id.clone(),
                        text_hash: text.text_hash.clone(),
                        message_id: message_id.clone(),
                        evidence_sealed: Some(sealed),
                    },
                )?;
                Ok((row, text.text, template))
            })
            .await
            .map_err(Error::from)
    }

    /// Moves consents of `contact` from `from` states to `to`, one ledger entry each; returns
    /// the purposes changed. `purpose` limits it to one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn transition(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        purpose: Option<&str>,
        from: &'static [&'static str],
        to: ConsentState,
        source: Source,
        evidence: Evidence,
        message_id: Option<String>,
    ) -> Result<Vec<String>> {
        let keys = self.contacts.keys_for(tenant, contact_id).await?;
        let now = self.infra.clock.now();
        let (t, c, p) = (
            tenant.as_str().to_string(),
            contact_id.to_string(),
            purpose.map(str::to_string),
        );
        Ok(self
            .infra
            .store
            .write(move |conn| {
                let mut query = consents::table
                    .filter(consents::tenant_id.eq(&t))
                    .filter(consents::contact_id.eq(&c))
                    .filter(consents::state.eq_any(from))
                    .into_boxed();
                if let Some(p) = &p {
                    query = query.filter(consents::purpose_id.eq(p.clone()));
                }
                let rows: Vec<ConsentRow> = query.select(ConsentRow::as_select()).load(conn)?;
                let at = to_micros(now);
                let mut changed = Vec::new();
                for mut row in rows {
                    // A request past its expiry can no longer be confirmed.
                    if to == ConsentState::Confirmed && row.expires_at.is_some_and(|e| e < at) {
                        continue;
                    }
                    row.state = to.as_str().into();
                    row.updated_at = at;
                    match to {
                        ConsentState::Confirmed => {
                            row.confirmed_at = Some(at);
                            row.expires_at = None;
                        }
                        ConsentState::Withdrawn => row.withdrawn_at = Some(at),
                        _ => {}
                    }
                    diesel::update(consents::table.filter(consents::id.eq(&row.id)))
                        .set(&row)
                        .execute(conn)?;
                    let text_hash: Vec<u8> = consent_texts::table
                        .filter(consent_texts::id.eq(&row.text_id))
                        .select(consent_texts::text_hash)
                        .first(conn)?;
                    let sealed = seal_evidence(&keys, &t, &row.id, to.as_str(), now, &evidence)
                        .map_err(StoreError::from)?;
                    ledger::append(
                        conn,
                        ledger::LedgerEvent {
                            tenant_id: t.clone(),
                            consent_id: row.id.clone(),
                            contact_id: c.clone(),
                            purpose_id: row.purpose_id.clone(),
                            event: to.as_str(),
                            at: now,
                            source: source.as_str().into(),
                            text_id: row.text_id.clone(),
                            text_hash,
                            message_id: message_id.clone(),
                            evidence_sealed: Some(sealed),
                        },
                    )?;
                    changed.push(row.purpose_id);
                }
                Ok(changed)
            })
            .await?)
    }

    /// Withdraws consent for one purpose or all (API, agent on the person's behalf).
    pub async fn withdraw(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        purpose: Option<&str>,
    ) -> Result<Vec<String>> {
        actor.authorize(tenant, Permission::ManageConsent)?;
        let evidence = Evidence {
            note: Some(format!(
                "withdrawn through the API by {}",
                actor.audit_label()
            )),
            ..Evidence::default()
        };
        self.transition(
            tenant,
            contact_id,
            purpose,
            &["requested", "confirmed"],
            ConsentState::Withdrawn,
            Source::Api,
            evidence,
            None,
        )
        .await
    }

    /// Marks requests past their expiry as expired; returns how many.
    pub async fn expire_requests(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<(String, String)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::state.eq("requested"))
                    .filter(consents::expires_at.le(now))
                    .select((consents::tenant_id, consents::contact_id))
                    .limit(1000)
                    .load(conn)?)
            })
            .await?;
        let mut expired = 0;
        for (tenant, contact) in due {
            let tenant = TenantId::parse(&tenant)?;
            let evidence = Evidence {
                note: Some("not confirmed in time".into()),
                ..Evidence::default()
            };
            expired += self.expire_for(&tenant, &contact, evidence).await?;
        }
        Ok(expired)
    }

    async fn expire_for(
        &self,
        tenant: &TenantId,
        contact: &str,
        evidence: Evidence,
    ) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let (t, c) = (tenant.as_str().to_string(), contact.to_string());
        let purposes: Vec<String> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(&t))
                    .filter(consents::contact_id.eq(&c))
                    .filter(consents::state.eq("requested"))
                    .filter(consents::expires_at.le(now))
                    .select(consents::purpose_id)
                    .load(conn)?)
            })
            .await?;
        let mut n = 0;
        for p in purposes {
            n += self
                .transition(
                    tenant,
                    contact,
                    Some(&p),
                    &["requested"],
                    ConsentState::Expired,
                    Source::System,
                    evidence.clone(),
                    None,
                )
                .await?
                .len();
        }
        Ok(n)
    }

    /// A contact's consents with their full history (the proof).
    pub async fn of_contact(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<Vec<ConsentView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (t, c) = (tenant.clone(), contact_id.to_string());
        let rows = self
            .infra
            .store
            .read(move |conn| {
                if crate::contacts::find(conn, &t, &c)?.is_none() {
                    return Ok(None);
                }
                let rows: Vec<ConsentRow> = consents::table
                    .filter(consents::tenant_id.eq(t.as_str()))
                    .filter(consents::contact_id.eq(&c))
                    .order(consents::purpose_id.asc())
                    .select(ConsentRow::as_select())
                    .load(conn)?;
                let mut out = Vec::new();
                for row in rows {
                    let history = ledger::history(conn, &row.id)?;
                    out.push((row, history));
                }
                Ok(Some(out))
            })
            .await?
            .ok_or(Error::NotFound)?;
        let keys = self.contacts.keys_for(tenant, contact_id).await.ok();
        self.infra
            .record(
                AuditEvent::new(actor, "consent.read")
                    .tenant(tenant)
                    .object("contact", contact_id),
            )
            .await?;
        rows.into_iter()
            .map(|(row, history)| {
                let mut view = row.view();
                view.history = Some(
                    history
                        .into_iter()
                        .map(|e| {
                            let evidence = match (&keys, &e.evidence_sealed) {
                                (Some(k), Some(sealed)) => {
                                    let at = from_micros(e.at);
                                    let binding_row =
                                        format!("{}:{}:{}", e.consent_id, e.event, to_micros(at));
                                    let bytes = k.seal.open(
                                        &evidence_binding(&e.tenant_id, &binding_row),
                                        sealed,
                                    )?;
                                    Some(serde_json::from_slice(&bytes).map_err(Error::internal)?)
                                }
                                _ => None,
                            };
                            Ok(LedgerEntryView {
                                seq: e.seq,
                                event: e.event,
                                at: from_micros(e.at),
                                source: e.source,
                                text_id: e.text_id,
                                text_sha256: hex::encode(&e.text_hash),
                                message_id: e.message_id,
                                evidence,
                                hash: hex::encode(&e.hash),
                                prev_hash: hex::encode(&e.prev_hash),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?,
                );
                Ok(view)
            })
            .collect()
    }

    /// Checks the consent ledger from the first entry to the last.
    pub async fn verify_ledger(&self) -> Result<crate::audit::ChainReport> {
        Ok(self.infra.store.read(ledger::verify).await?)
    }
}

/// The state of `contact`'s consent for `purpose`, if any (the send path asks this).
pub(crate) fn state_of(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    purpose: &str,
) -> Result<Option<ConsentState>, StoreError> {
    let state: Option<String> = consents::table
        .filter(consents::tenant_id.eq(tenant))
        .filter(consents::contact_id.eq(contact))
        .filter(consents::purpose_id.eq(purpose))
        .select(consents::state)
        .first(conn)
        .optional()?;
    Ok(state.map(|s| ConsentState::parse(&s)))
}

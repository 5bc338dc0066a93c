//! Purposes a person consents to, and the texts they are asked in (per language, versioned:
//! a proof names the exact text a person saw).

use super::*;
use crate::store::id;

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

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_texts)]
pub(super) struct TextRow {
    pub(super) id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) tenant_id: String,
    pub(super) purpose_id: String,
    pub(super) version: i32,
    pub(super) language: String,
    pub(super) text: String,
    pub(super) text_hash: Vec<u8>,
    pub(super) created_at: i64,
}

impl TextRow {
    pub(super) fn view(&self) -> ConsentTextView {
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

pub(super) fn validate_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > 10_000 {
        return Err(Error::invalid(field, "must be 1-10000 characters"));
    }
    Ok(())
}

pub(super) fn load_texts(
    conn: &mut DbConn,
    tenant: &str,
    purpose: &str,
) -> Result<Vec<TextRow>, StoreError> {
    Ok(consent_texts::table
        .filter(consent_texts::tenant_id.eq(id::bind(tenant)))
        .filter(consent_texts::purpose_id.eq(purpose))
        .order((consent_texts::version.desc(), consent_texts::language.asc()))
        .select(TextRow::as_select())
        .load(conn)?)
}

/// (name, confirm template, created at, widget JSON) of a purpose.
pub(super) type PurposeRow = (String, Option<String>, i64, Option<String>);

pub(super) fn purpose_exists(
    conn: &mut DbConn,
    tenant: &str,
    purpose: &str,
) -> Result<Option<PurposeRow>, StoreError> {
    Ok(consent_purposes::table
        .filter(consent_purposes::tenant_id.eq(id::bind(tenant)))
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
pub(super) fn current_text<'a>(texts: &'a [TextRow], language: &str) -> Option<&'a TextRow> {
    let latest = texts.iter().map(|t| t.version).max()?;
    let current = || texts.iter().filter(move |t| t.version == latest);
    current()
        .find(|t| t.language == language)
        .or_else(|| current().find(|t| t.language == "de"))
}

pub(super) fn new_texts(
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
                        consent_purposes::tenant_id.eq(id::bind(&t)),
                        consent_purposes::name.eq(&name),
                        consent_purposes::confirm_template.eq(template.clone()),
                        consent_purposes::widget.eq(widget.clone()),
                        consent_purposes::created_at.eq(to_micros(now)),
                    ))
                    .execute(conn)?;
                for row in &stored {
                    diesel::insert_into(consent_texts::table)
                        .values(row.clone())
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
                        .values(row)
                        .execute(conn)?;
                }
                audit::append(conn, now, event.clone())?;
                Ok(())
            })
            .await?;
        self.read_purpose(tenant, purpose).await
    }

    pub(super) async fn read_purpose(
        &self,
        tenant: &TenantId,
        purpose: &str,
    ) -> Result<PurposeView> {
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
                    .filter(consent_purposes::tenant_id.eq(id::bind(&t)))
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
}

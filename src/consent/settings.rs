//! A tenant's consent settings: the keywords, the confirmation's time to live, the default
//! purpose and the widget's style.

use super::*;
use crate::store::id;

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
    pub(super) fn validate(&self) -> Result<()> {
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

impl Consent {
    pub async fn settings(&self, tenant: &TenantId) -> Result<Settings> {
        let t = tenant.as_str().to_string();
        type Stored = (String, String, String, i64, Option<String>);
        let stored: Option<Stored> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consent_settings::table
                    .filter(consent_settings::tenant_id.eq(id::bind(&t)))
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
                diesel::delete(
                    consent_settings::table.filter(consent_settings::tenant_id.eq(id::bind(&t))),
                )
                .execute(conn)?;
                diesel::insert_into(consent_settings::table)
                    .values((
                        consent_settings::tenant_id.eq(id::bind(&t)),
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
}

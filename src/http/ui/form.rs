//! Posted forms: same origin, url-encoded, within the body limit, and carrying the session's
//! CSRF token. Anything else is refused before a domain operation runs.

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::{SignedIn, UiError};
use crate::accounts::Session;
use crate::http::extract::raw_body;
use crate::i18n::{Lang, Text};

/// A form posted by a signed-in person: who (settled first: no session, no form read), then
/// the form, its origin, type, size and CSRF token checked ([`Form::read`]). A handler that
/// takes it gets a form that is safe to act on, in one argument.
pub struct Posted {
    pub who: SignedIn,
    pub form: Form,
}

impl FromRequest for Posted {
    type Error = UiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let who = SignedIn::from_request(req, payload);
        let body = web::Payload::from_request(req, payload).into_inner();
        let hafen = req.app_data::<web::Data<crate::service::Hafen>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let who = who.await?;
            let lang = who.lang;
            let (Some(hafen), Ok(body)) = (hafen, body) else {
                return Err(UiError::Form(Text::FormStale, lang));
            };
            let form = Form::read(&req, body, &hafen, &who.session, lang).await?;
            Ok(Posted { who, form })
        })
    }
}

/// The fields of a posted form, in order (names may repeat).
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Reads a form posted by a signed-in person: origin, type and CSRF token checked.
    pub async fn read(
        req: &HttpRequest,
        payload: web::Payload,
        hafen: &crate::service::Hafen,
        session: &Session,
        lang: Lang,
    ) -> Result<Self, UiError> {
        let form = Self::read_unchecked(req, payload, lang).await?;
        if !hafen.accounts.csrf_valid(session, form.get("csrf")) {
            return Err(UiError::Form(Text::FormStale, lang));
        }
        Ok(form)
    }

    /// Reads a form with the origin check only (the sign-in form checks its own token).
    pub async fn read_unchecked(
        req: &HttpRequest,
        payload: web::Payload,
        lang: Lang,
    ) -> Result<Self, UiError> {
        if !same_origin(req) {
            return Err(UiError::Form(Text::FormForeign, lang));
        }
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(UiError::Refused(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Text::FormNotAForm,
                lang,
            ));
        }
        let body = raw_body(req, payload).await.map_err(|e| {
            use actix_web::ResponseError;
            tracing::debug!(error = %e, "form body refused");
            let status = e.status_code();
            UiError::Refused(status, Text::FormUnreadable, lang)
        })?;
        Ok(Self(
            url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of a field, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// A field exactly as sent (passwords are not trimmed).
    pub fn untrimmed(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The value of a field, or None when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// A state-changing request must come from a page of this site: `Sec-Fetch-Site:
/// same-origin`, or an `Origin` whose host is this request's host. Requests with neither (not
/// a browser) are refused too.
pub fn same_origin(req: &HttpRequest) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let host = crate::http::forwarded::host(req);
    url::Url::parse(origin).is_ok_and(|o| {
        let port = o.port().map(|p| format!(":{p}")).unwrap_or_default();
        o.host_str().is_some_and(|h| format!("{h}{port}") == host)
    })
}

/// What a refused form keeps: the values typed, and what is wrong next to each field (in the
/// page's language). A page renders its form from this, so nothing typed is lost.
#[derive(Debug, Default)]
pub struct Kept {
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

impl Kept {
    /// A form filled with stored values (field name, value).
    pub fn with_values(values: Vec<(String, String)>) -> Self {
        Self {
            values,
            errors: Vec::new(),
        }
    }

    /// The same values without the errors.
    pub fn from_values(other: &Kept) -> Self {
        Self::with_values(other.values.clone())
    }

    /// The values of a posted form (never the CSRF token or a password).
    pub fn from_form(form: &Form) -> Self {
        Self {
            values: form
                .0
                .iter()
                .filter(|(k, _)| k != "csrf" && !k.contains("password"))
                .cloned()
                .collect(),
            errors: Vec::new(),
        }
    }

    /// Adds what is wrong with `field`.
    pub fn wrong(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push((field.into(), message.into()));
        self
    }

    /// The value typed into `name`; empty when nothing was.
    pub fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// What is wrong with `field`, if anything.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// A labelled text field that shows what was typed and, below it, what is wrong with it.
pub fn text_field(
    kept: &Kept,
    (id, label, name): (&str, &str, &str),
    required: bool,
    hint: Option<&str>,
) -> maud::Markup {
    field_of("text", kept, (id, label, name), required, hint)
}

/// [`text_field`] for another input type (`date`, `email`), or `textarea`.
pub fn field_of(
    kind: &str,
    kept: &Kept,
    (id, label, name): (&str, &str, &str),
    required: bool,
    hint: Option<&str>,
) -> maud::Markup {
    let error = kept.error(name);
    let described = match (hint.is_some(), error.is_some()) {
        (_, true) => Some(format!("{id}-error")),
        (true, false) => Some(format!("{id}-hint")),
        _ => None,
    };
    maud::html! {
        label for=(id) { (label) }
        @if let Some(hint) = hint { p.hint.field-hint id={ (id) "-hint" } { (hint) } }
        @if kind == "textarea" {
            textarea id=(id) name=(name) rows="3" required[required]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[described.clone()] { (kept.value(name)) }
        } @else {
            input id=(id) type=(kind) name=(name) value=(kept.value(name)) required[required]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
        }
        @if let Some(error) = error { p.field-error id={ (id) "-error" } role="alert" { (error) } }
    }
}

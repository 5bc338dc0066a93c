//! Request parsing done by hand where actix's extractors would answer in their own format or
//! in the wrong order: authentication first, then the body, each failure as problem+json.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::problem::ApiError;
use crate::auth::Actor;
use crate::error::Error;
use crate::page::PageRequest;
use crate::service::Hafen;
use crate::tenants::TenantId;

/// The authenticated caller. Extracted before anything else of the request is looked at.
pub struct Caller(pub Actor);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let hafen = req.app_data::<web::Data<Hafen>>().cloned();
        let path_tenant = req.match_info().get("tenant").map(str::to_string);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| crate::sensitive::Sensitive::new(t.trim().to_string()));
        Box::pin(async move {
            let hafen = hafen
                .ok_or_else(|| Error::internal(anyhow::anyhow!("application state missing")))?;
            let bearer = bearer.ok_or(Error::Unauthenticated)?;
            let actor = hafen.accounts.authenticate(bearer.expose()).await?;
            // A token bound to one tenant learns nothing about another: every route under
            // /v1/tenants/{tenant} answers 404 before its body is even read (the handlers
            // check again, with the permission).
            if let (
                Some(path_tenant),
                Actor::Token {
                    tenant: Some(own), ..
                },
            ) = (path_tenant.as_deref(), &actor)
            {
                if own.as_str() != path_tenant {
                    return Err(Error::NotFound.into());
                }
            }
            Ok(Caller(actor))
        })
    }
}

/// The caller and the tenant of the path (`/v1/tenants/{tenant}/…`), settled in that order:
/// who asks is decided before the path is judged, so a request without a valid token gets 401
/// whatever tenant it names, and a token of another tenant gets 404 (see [`Caller`]).
pub struct InTenant {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl FromRequest for InTenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let path_tenant = req
            .match_info()
            .get("tenant")
            .unwrap_or_default()
            .to_string();
        Box::pin(async move {
            let Caller(actor) = caller.await?;
            let tenant = TenantId::parse(&path_tenant)?;
            Ok(InTenant { actor, tenant })
        })
    }
}

/// The `{id}` of a path under a tenant (`/v1/tenants/{tenant}/bots/{id}`). Taken after
/// [`InTenant`] in a handler's arguments, so the caller and the tenant are settled first.
///
/// Every item Hafen keeps is named by a UUID: anything else names nothing and is a 404 here,
/// before any query (the database holds ids as their 16 bytes, `store::id`, and could not even
/// bind it). A UUID in another spelling (upper case, without hyphens) is the same item, in its
/// canonical text from here on.
pub struct ItemId(pub String);

impl FromRequest for ItemId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.match_info()
                .get("id")
                .and_then(crate::store::id::canonical)
                .map(ItemId)
                .ok_or_else(|| Error::NotFound.into()),
        )
    }
}

/// The `{id}` of a path under a tenant for the one item not named by a UUID: an API token, whose
/// public id is 24 hexadecimal digits (`auth::token::TokenId`); unknown ids are answered by the
/// lookup itself.
pub struct TokenPathId(pub String);

impl FromRequest for TokenPathId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.match_info()
                .get("id")
                .map(|id| TokenPathId(id.to_string()))
                .ok_or_else(|| Error::NotFound.into()),
        )
    }
}

/// Limits for request bodies: size in bytes, and the time the whole body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize, pub std::time::Duration);

/// Reads a JSON body: 415 unless it is JSON, 413 past the limit (checked against
/// Content-Length before reading), 400 if it does not parse, 422 if it has the wrong shape.
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let value = json_value(req, payload).await?;
    from_json_value(value)
}

/// Like [`json_body`] but stops at a generic JSON value (for bodies with several shapes).
pub async fn json_value(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<serde_json::Value, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = raw_body(req, payload).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))
}

/// Reads the raw body up to the configured limit: 413 past it (checked against
/// Content-Length before reading, and while reading for chunked bodies).
pub async fn raw_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Bytes, ApiError> {
    let (limit, patience) = req
        .app_data::<BodyLimit>()
        .map(|l| (l.0, l.1))
        .unwrap_or((1024 * 1024, std::time::Duration::from_secs(10)));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let read = async move {
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::Malformed(format!("the body could not be read: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    // A client trickling its body (slow POST) would otherwise hold the connection for ever.
    tokio::time::timeout(patience, read)
        .await
        .map_err(|_| ApiError::BodyTimeout {
            secs: patience.as_secs(),
        })?
}

/// Converts a parsed JSON value into `T`; a mismatch is an invalid field (422).
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| Error::invalid("body", crate::error::shape_error(&e)).into())
}

/// Parses the query string; a malformed one is a 400.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::Malformed(format!("invalid query string: {e}")))
}

/// `?limit=…&after=…` of every paged list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

impl PageQuery {
    pub fn into_request(self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::new(self.after, self.limit)?)
    }
}

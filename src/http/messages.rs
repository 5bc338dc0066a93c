//! Messages: ingest (one or a batch) and read one back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::extract::{from_json_value, json_value, InTenant, ItemId};
use super::problem::ApiError;
use crate::error::Error;
use crate::messages::ingest::IngestOutcome;
use crate::messages::read::MessageView;
use crate::messages::{MessageInput, NewMessage};
use crate::service::Hafen;

/// A batch of messages, stored atomically: all or none.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBatch {
    pub messages: Vec<MessageInput>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchOutcome {
    pub messages: Vec<IngestOutcome>,
}

/// Either one message or `{"messages": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the request shape for OpenAPI only
pub enum IngestRequest {
    One(MessageInput),
    Batch(MessageBatch),
}

/// Store one message or a batch. Answers 201 once committed (200 when every message was
/// already stored under its external_id).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/messages", tag = "messages",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = IngestRequest,
    responses(
        (status = 201, description = "Stored (a single message answers with one IngestOutcome)", body = BatchOutcome),
        (status = 200, description = "Every message was a duplicate", body = BatchOutcome),
        (status = 400, body = super::problem::Problem), (status = 409, description = "An external_id is already stored for another contact", body = super::problem::Problem),
        (status = 413, body = super::problem::Problem), (status = 415, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn ingest(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let value = json_value(&req, body).await?;
    let is_batch = value.get("messages").is_some();
    let now = hafen.clock().now();
    let batch = if is_batch {
        let batch: MessageBatch = from_json_value(value)?;
        batch
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| NewMessage::parse(m, &format!("messages[{i}]."), now))
            .collect::<Result<Vec<_>, Error>>()?
    } else {
        vec![NewMessage::parse(from_json_value(value)?, "", now)?]
    };
    let outcomes = hafen.messages.ingest_batch(&actor, &tenant, batch).await?;
    let mut response = if outcomes.iter().all(|o| o.duplicate) {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(if is_batch {
        response.json(BatchOutcome { messages: outcomes })
    } else {
        response.json(&outcomes[0])
    })
}

/// One message, decrypted.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/messages/{id}", tag = "messages",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView)),
    security(("bearer" = [])))]
pub async fn read(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let message = hafen.messages.read(&actor, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(message))
}

/// The decrypted file of a message's attachment `n` (0-based).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/messages/{id}/attachments/{n}", tag = "messages",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Message id"),
        ("n" = i32, Path, description = "Attachment number, from 0")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 409, description = "Not downloaded (yet)", body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn attachment(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, id, n) = path.into_inner();
    let n: i32 = n.parse().map_err(|_| Error::NotFound)?;
    let file = hafen
        .messages
        .read_attachment(&actor, &tenant, &id, n)
        .await?;
    Ok(file_response(file))
}

/// A decrypted file as a download (the API's and the interface's).
pub(crate) fn file_response(file: crate::messages::read::AttachmentContent) -> HttpResponse {
    // A type stored before parsing dropped unsafe ones (a CR/LF) must not break the headers.
    let mime = file
        .mime_type
        .filter(|m| crate::messages::parse::header_safe_mime(m));
    HttpResponse::Ok()
        .content_type(mime.unwrap_or_else(|| "application/octet-stream".into()))
        .insert_header(content_disposition(file.filename.as_deref()))
        .body(file.bytes)
}

/// `attachment`, with the sender's file name when there is one: RFC 6266's `filename*` in
/// UTF-8 for every client, and an ASCII `filename` fallback without quotes, slashes or
/// control characters (a name never reaches the header as it came).
fn content_disposition(filename: Option<&str>) -> actix_web::http::header::ContentDisposition {
    use actix_web::http::header::{
        Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    };
    let mut parameters = Vec::new();
    if let Some(name) = filename {
        // The last path segment only: a name is never a path.
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
        let ascii: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if !ascii.trim().is_empty() {
            parameters.push(DispositionParam::Filename(ascii));
            parameters.push(DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }));
        }
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

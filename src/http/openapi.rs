//! The OpenAPI document: every operation, its schemas, and the modifiers that add the bearer
//! scheme and the generic refusals (401 and 403 where a token is asked for, 404 where the path
//! names something) to every operation.

use super::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "Hafen API", description = "On-premises, encrypted home for messenger data."),
    paths(
        health,
        ready,
        tenants::create_tenant,
        tokens::create,
        tokens::list_tenant,
        tokens::revoke_tenant,
        tokens::list_all,
        tokens::revoke_any,
        messages::ingest,
        messages::read,
        messages::attachment,
        contacts::list,
        contacts::read,
        contacts::messages,
        contacts::send,
        contacts::business_letters,
        channels::create,
        channels::list,
        channels::read,
        channels::update,
        channels::delete,
        events::create,
        consent::create_purpose,
        consent::list_purposes,
        consent::add_texts,
        consent::put_settings,
        consent::act,
        consent::list,
        consent::start_broadcast,
        consent::proof,
        consent::read_broadcast,
        events::list,
        events::delete,
        events::deliveries,
        bots::create,
        bots::list,
        bots::delete,
        bots::deliveries,
        bots::handover_state,
        bots::take_over,
        bots::hand_back,
        retention::preview,
        retention::rules,
        retention::put_rules,
        retention::versions,
        retention::approve,
        retention::reject,
        retention::run_tenant,
        retention::run_all,
        retention::certificates,
        retention::place_hold,
        retention::list_holds,
        retention::release_hold,
        retention::restrict,
        retention::lift_restriction,
        retention::read_restricted,
        retention::relationship,
        records::get_install,
        records::put_install,
        records::history_install,
        records::get_tenant,
        records::put_tenant,
        records::history_tenant,
        records::install_report,
        records::tenant_report,
        requests::create,
        requests::list,
        requests::read,
        requests::extend,
        requests::identity,
        requests::reject,
        requests::export,
        requests::erase,
        requests::decide,
        requests::letter,
        requests::restrict,
        requests::lookup,
        hooks::handshake,
        hooks::receive,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth, &ProblemResponses),
    tags(
        (name = "tenants", description = "Controllers"),
        (name = "tokens", description = "API tokens: issued, listed, revoked"),
        (name = "messages", description = "Storing and reading messages"),
        (name = "contacts", description = "Data subjects and their conversations"),
        (name = "channels", description = "WhatsApp numbers, Facebook pages and Telegram bots"),
        (name = "event-hooks", description = "Events for the company's own systems"),
        (name = "bots", description = "Chatbots of a channel, and the hand-over of a conversation to a person"),
        (name = "consent", description = "Double opt-in: purposes, texts, consents and their proof"),
        (name = "records", description = "The GDPR register and reports: Art. 30 records, AVV annexes, deletion and consent reports"),
        (name = "requests", description = "Data-subject requests: access, portability, erasure, restriction, with deadlines"),
        (name = "retention", description = "Deletion rules, dry-runs, legal holds, sweeps and deletion certificates"),
        (name = "webhooks", description = "Called by WhatsApp, Messenger and Telegram, not by the company's systems: authenticated by the platform's signature"),
    )
)]
pub struct ApiDoc;

pub(super) struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every error is a problem document (RFC 9457, `application/problem+json`), and any
/// operation can meet the generic ones (a malformed request, a body too large or too slow, a
/// full disk; with a token: 401 and 403; with a path parameter: 404). The document says so here, once, rather than in each handler's annotation;
/// schemathesis checks every answer against it (tests/schema/run.sh).
pub(super) struct ProblemResponses;

impl utoipa::Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
        let generic = |op: &Operation| {
            let mut statuses = vec![
                ("400", "Malformed request: path, query or body"),
                (
                    "503",
                    "Unavailable (shutting down, the disk is full) or busy (concurrent writes kept \
                     conflicting); nothing was stored. Retry-After says when to send it again",
                ),
            ];
            if op.security.is_some() {
                statuses.extend([
                    ("401", "Missing or invalid API token"),
                    ("403", "The token's role may not do this"),
                ]);
            }
            if op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
            {
                statuses.push((
                    "404",
                    "No such tenant or object, or one the token may not see",
                ));
            }
            if op.request_body.is_some() {
                statuses.extend([
                    ("408", "The body did not arrive in time"),
                    ("413", "The body is too large"),
                    ("415", "The body is not JSON"),
                    ("422", "A field is invalid"),
                ]);
            }
            if op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
            {
                statuses.push(("422", "A query parameter is invalid"));
            }
            statuses
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for (status, description) in generic(op) {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content("application/problem+json", problem())
                                    .build(),
                            )
                        });
                }
                for response in op.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                    });
                    if is_problem {
                        response.content.shift_remove("application/json");
                        response
                            .content
                            .insert("application/problem+json".into(), problem());
                    }
                }
            }
        }
    }
}

pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Mistakes in the API document that stop a generated client from calling an operation.
/// `tests/schema/run.sh` fails on the same list before it sends anything.
#[cfg(test)]
mod document_tests {
    use super::ApiDoc;
    use serde_json::Value;
    use utoipa::OpenApi;

    /// Each parameter declared where the request carries it: a path parameter is in the path
    /// and every `{name}` in the path is declared; a page size states the 1–500 the server takes.
    fn mistakes(doc: &Value) -> Vec<String> {
        let mut found = Vec::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            let templated: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().into_iter().flatten() {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let declared: Vec<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for name in &declared {
                    if !templated.contains(name) {
                        found.push(format!(
                            "{method} {path}: `{name}` is declared in the path but is not in it"
                        ));
                    }
                }
                for name in &templated {
                    if !declared.contains(name) {
                        found.push(format!("{method} {path}: `{{{name}}}` is not declared"));
                    }
                }
                for p in params.iter().filter(|p| p["name"] == "limit") {
                    if p["schema"]["minimum"] != 1 || p["schema"]["maximum"] != 500 {
                        found.push(format!("{method} {path}: `limit` does not say 1–500"));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_parameter_is_declared_where_it_is_sent() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(mistakes(&doc), Vec::<String>::new());
        for method in ["get", "post"] {
            assert!(
                doc["paths"]["/hooks/{platform}/{channel}"][method].is_object(),
                "the webhook route ({method}) is in the document"
            );
        }
        let list = &doc["paths"]["/v1/tenants/{tenant}/contacts"]["get"]["parameters"];
        let limit = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["required"], false);
    }

    #[test]
    fn a_query_parameter_declared_in_the_path_is_found() {
        let doc = serde_json::json!({"paths": {"/v1/x/{id}": {"get": {"parameters": [
            {"name": "id", "in": "path"},
            {"name": "limit", "in": "path", "schema": {"minimum": 0}}]}}}});
        let found = mistakes(&doc);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`limit` is declared in the path"));
        assert!(found[1].contains("`limit` does not say 1–500"));
    }
}

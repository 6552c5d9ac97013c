//! The OpenAPI 3.1 document of gateway-api, served at `GET /api/openapi.json` without a token
//! (like `/health`: clients read it to learn how to log in). Each handler's `#[utoipa::path]`
//! describes its parameters, body and answers; who may call it comes from the route table
//! (`routes::ROUTES`), so the document cannot disagree with the checks the tests run.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::Method;
use domain::ApiError;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use crate::routes::{Access, Handlers, ROUTES};

/// The name of the token scheme in `components.securitySchemes`.
pub const TOKEN_SCHEME: &str = "token";

/// The document: the handlers' annotations, the token scheme, and each operation's access from the
/// route table (security requirement, 401/403 answers, the least role in the description).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Handlers::openapi();
    doc.info.title = "ffsec gateway-api".into();
    doc.info.description = Some(
        "The REST API of the web interface. Log in with HTTP Basic at POST /auth/login/, then send \
         `Authorization: Token <token>` on every call. Errors are `ApiError` bodies."
            .into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        TOKEN_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "`Token <token>`, the token POST /auth/login/ answers with",
        ))),
    );
    for route in ROUTES {
        let Some(item) = doc.paths.paths.get_mut(&route.openapi_path()) else { continue };
        let Some(operation) = operation_mut(item, &route.method) else { continue };
        apply_access(operation, route.access);
    }
    doc
}

/// The operation of `item` for `method`, if the handler's annotation declared one.
pub fn operation_mut<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        Method::HEAD => item.head.as_mut(),
        Method::OPTIONS => item.options.as_mut(),
        _ => None,
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build()
}

fn apply_access(operation: &mut Operation, access: Access) {
    let note = match access {
        Access::Public => {
            // An empty requirement: callable without credentials.
            operation.security = Some(vec![SecurityRequirement::default()]);
            return;
        }
        Access::SocketToken => {
            "Any valid token, sent in the first message (`{\"type\": \"auth\", \"data\": {\"token\": ...}}`); \
             a bad one is answered `token_invalid` and the socket closes."
                .to_string()
        }
        Access::Role(role) => {
            operation.security = Some(vec![SecurityRequirement::new(TOKEN_SCHEME, Vec::<String>::new())]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".into()).or_insert_with(|| error_response("no valid token").into());
            if role > crate::auth::Role::Viewer {
                responses.entry("403".into()).or_insert_with(|| error_response("the role is too low").into());
            }
            format!("Needs the {} role or higher.", role.as_str())
        }
    };
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
        _ => note,
    });
}

/// The document, serialized once.
static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops",
    responses((status = 200, description = "this document", body = Object)))]
pub async fn get_openapi() -> Result<HttpResponse, ApiError> {
    let json = DOCUMENT.get_or_init(|| document().to_json().map_err(|e| e.to_string()));
    match json {
        Ok(json) => Ok(HttpResponse::Ok().content_type("application/json").body(json.clone())),
        Err(e) => Err(ApiError::internal(format!("cannot serialize the OpenAPI document: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn documented() -> BTreeSet<(String, String)> {
        let mut doc = document();
        let mut found = BTreeSet::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD] {
                if operation_mut(item, &method).is_some() {
                    found.insert((method.to_string(), path.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn the_document_has_exactly_the_routes_of_the_table() {
        let table: BTreeSet<(String, String)> =
            ROUTES.iter().map(|r| (r.method.to_string(), r.openapi_path())).collect();
        let documented = documented();
        let missing: Vec<_> = table.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&table).collect();
        assert!(missing.is_empty(), "routes without a matching #[utoipa::path]: {missing:?}");
        assert!(extra.is_empty(), "documented operations no route serves: {extra:?}");
    }

    #[test]
    fn operations_carry_the_token_scheme_and_the_error_body() {
        let json: serde_json::Value = serde_json::from_str(&document().to_json().unwrap()).unwrap();
        let scheme = &json["components"]["securitySchemes"][TOKEN_SCHEME];
        assert_eq!((scheme["type"].as_str(), scheme["in"].as_str()), (Some("apiKey"), Some("header")));
        assert_eq!(scheme["name"], "Authorization");
        assert!(json["components"]["schemas"]["ApiError"]["properties"]["code"].is_object());
        let hooks = &json["paths"]["/hooks/"]["post"];
        assert_eq!(hooks["security"], serde_json::json!([{TOKEN_SCHEME: []}]));
        assert_eq!(
            hooks["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiError"
        );
        assert!(hooks["description"].as_str().unwrap().contains("admin"));
        assert_eq!(json["paths"]["/auth/login/"]["post"]["security"], serde_json::json!([{}]));
        assert!(json["paths"]["/users/me/"]["get"]["responses"]["403"].is_null(), "any token may read /users/me/");
    }
}

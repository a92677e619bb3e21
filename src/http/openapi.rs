//! The answers every operation of both servers' `/openapi.json` can get from the layers in
//! front of its handler, added to each operation by [`CommonResponses`] so that no handler
//! has to repeat them and none can forget one:
//!
//! - 400: a query or path parameter that does not parse (`invalid_query`, `invalid_path`), a
//!   body that is not JSON (`malformed_json`, `empty_body`);
//! - 401: an operation that needs a credential, without a valid one;
//! - 403: the agent's Host and Origin guards (`forbidden_host`, `forbidden_origin`), the
//!   cloud's role and CSRF checks of the admin API (`role_forbidden`, `csrf_required`);
//! - 413, 415, 422: a JSON body that is too large, not declared `application/json`, or of the
//!   wrong shape (`body_too_large`, `unsupported_media_type`, `invalid_field`);
//! - 503: the server is busy, ran past its deadline or lost its storage; retry.
//!
//! A handler's own answers (201, 404, 409, a 422 of its own checks …) stay in its
//! `#[utoipa::path]`; a status it already lists keeps its description. The error body is the
//! one the operation already documents for its errors (MoySklad's `{"errors": […]}` for the
//! adapter), else ours, `ErrorBody`.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

/// Adds the layers' answers to every operation (see the module's text).
pub struct CommonResponses {
    /// The agent's Host and Origin guards run in front of every route: 403.
    pub host_and_origin_guards: bool,
    /// Paths under this prefix check the caller's role and a session's CSRF value (the
    /// cloud's `/v1/admin/`): 403.
    pub role_checked: Option<&'static str>,
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let secured_by_default = openapi.security.as_deref().is_some_and(requires_credential);
        for (path, item) in openapi.paths.paths.iter_mut() {
            let role_checked = self.role_checked.is_some_and(|prefix| path.starts_with(prefix));
            let path_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
            for operation in operations_mut(item) {
                let secured = match &operation.security {
                    Some(requirements) => requires_credential(requirements),
                    None => secured_by_default,
                };
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.keys().any(|media| media.starts_with("application/json")));
                let parameters = path_parameters || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let body = error_content(operation);
                let mut add = |status: &str, description: &str| {
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content("application/json", body.clone())
                                .build(),
                        )
                    });
                };
                if json_body || parameters {
                    add("400", "The body is not JSON, or a query or path parameter does not parse");
                }
                if secured {
                    add(
                        "401",
                        "No valid credential (\"Authorization: Bearer <token>\", or the key the operation names)",
                    );
                }
                if self.host_and_origin_guards {
                    add("403", "The Host header or the web page's origin is not allowed");
                }
                if role_checked {
                    add(
                        "403",
                        "The caller's role may not do this (role_forbidden), or a session's change lacks its X-CSRF-Token (csrf_required)",
                    );
                }
                if json_body {
                    add("413", "The body is larger than the server accepts");
                    add("415", "The body is not declared as \"Content-Type: application/json\"");
                    add("422", "The body is JSON of the wrong shape, or its values are refused");
                }
                add("503", "The server is busy, could not answer in time, or its storage is unavailable; retry");
            }
        }
    }
}

/// Whether these requirements demand a credential: none of them is the empty `{}` that
/// marks a public operation.
fn requires_credential(requirements: &[SecurityRequirement]) -> bool {
    !requirements.is_empty()
        && requirements
            .iter()
            .all(|r| serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|m| !m.is_empty())))
}

/// The content of the operation's own documented error answers, else ours (`ErrorBody`).
fn error_content(operation: &Operation) -> Content {
    let own = operation.responses.responses.iter().find_map(|(status, response)| match response {
        RefOr::T(response) if status.starts_with('4') || status.starts_with('5') => {
            response.content.get("application/json").cloned()
        }
        _ => None,
    });
    own.unwrap_or_else(|| Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))))
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

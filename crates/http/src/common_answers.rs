//! The error answers an operation gives because of the extractors it uses, documented once for
//! every operation of the OpenAPI document rather than by hand on each route, where one forgotten
//! line would leave a status a client generator or a fuzzer calls undocumented.
//!
//! They follow the order of checks of API.md: a bearer-secured operation can answer 401, one with
//! a body 400, 413, 415 and 422, one with query parameters 422, one with a path id 404 (an unknown
//! id, or one the caller may not see). A route that documents one of these itself, with its own
//! description, keeps it.
//!
//! The same pass makes operation ids unique, as OpenAPI requires: they are the handlers' names,
//! and two resources' `list` would otherwise share one.

use std::collections::HashMap;

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Ref;
use utoipa::openapi::{Content, OpenApi, PathItem, RefOr};

/// Adds the extractors' answers to every operation of `doc` that lacks them, and makes its
/// operation ids unique.
pub fn document(doc: &mut OpenApi) {
    let mut ids: HashMap<String, usize> = HashMap::new();
    for operation in operations(doc) {
        document_operation(operation);
        if let Some(id) = &operation.operation_id {
            *ids.entry(id.clone()).or_default() += 1;
        }
    }
    // A shared id takes the words of its path after it (`list_v1_offers`, `list_v1_sessions`):
    // a method and a path name one operation.
    for (path, item) in doc.paths.paths.iter_mut() {
        let words: Vec<&str> = path
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        for operation in path_operations(item) {
            if let Some(id) = operation.operation_id.as_mut()
                && ids.get(id.as_str()).copied().unwrap_or(0) > 1
            {
                *id = format!("{id}_{}", words.join("_"));
            }
        }
    }
}

fn operations(doc: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(path_operations)
}

fn path_operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

fn document_operation(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        add(
            operation,
            "401",
            "no access token, or one invalid, expired or revoked",
        );
    }
    if operation.request_body.is_some() {
        add(operation, "400", "the body is not JSON");
        add(
            operation,
            "413",
            "the body is larger than this endpoint accepts",
        );
        add(operation, "415", "the body is not sent as application/json");
        add(
            operation,
            "422",
            "the body's values are not valid (`errors` names each field)",
        );
    }
    let has = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let (query, path) = (has(ParameterIn::Query), has(ParameterIn::Path));
    if query {
        add(operation, "422", "a query parameter's value is not valid");
    }
    if path {
        add(
            operation,
            "404",
            "no such resource, or not visible to the caller",
        );
    }
}

/// Documents `status` as problem details, unless the operation documents it already.
fn add(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .into()
        });
}

//! Dragoman's delivery layer: the HTTP API of API.md.
//!
//! [`router`] assembles every resource, the OpenAPI document generated from the handlers, and
//! the envelope each request passes through (request id, logging, metrics, body limit, panic
//! containment). [`serve`] runs it until a shutdown signal, draining requests in flight.

pub mod auth;
mod common_answers;
pub mod extract;
mod observe;
pub mod problem;
pub mod routes;
mod secure;
pub mod state;
pub mod transport;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use observe::REQUEST_ID;
pub use problem::ApiError;
pub use state::{AppState, HttpSettings};
pub use transport::{Transport, serve};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dragoman",
        description = "On-demand interpreting: clients ask for an interpreter of a language, interpreters online with it are offered the request in real time.",
    ),
    modifiers(&BearerAuth),
    paths(routes::assets::asset),
    tags(
        (name = "accounts", description = "Sign-up, login, tokens"),
        (name = "interpreters", description = "Interpreter profiles and status"),
        (name = "requests", description = "Requests for an interpreter, availability"),
        (name = "offers", description = "Offers to interpreters and their answers"),
        (name = "sessions", description = "Sessions and ratings"),
        (name = "files", description = "Pre-signed uploads (avatar, session documents) and app assets"),
        (name = "admin", description = "Operators' views"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes and their OpenAPI document, before state and middleware.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::accounts::router())
        .merge(routes::interpreters::router())
        .merge(routes::requests::router())
        .merge(routes::offers::router())
        .merge(routes::sessions::router())
        .merge(routes::files::router())
        .merge(routes::assets::router())
        .merge(routes::availability::router())
        .merge(routes::jobs::router())
        .merge(routes::operations::router())
        .merge(ws::router())
        .split_for_parts();
    common_answers::document(&mut doc);
    (routes, doc)
}

/// The OpenAPI document as served at /openapi.json.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The complete application.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = api();
    let doc: Arc<str> = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        .into();
    let body_limit = state.settings.body_limit_bytes;
    let transport = state.settings.transport;
    let hsts = state.settings.hsts;
    let clock = state.clock.clone();
    let routes = routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route("/v1/ws", get(ws::upgrade))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn_with_state(transport, transport::hygiene));
    // The embedded storage's own signed upload and download URLs, under the upload timeouts; in
    // S3 mode there are none and no file byte reaches this process.
    let storage = state.storage_routes.clone();
    let routes = routes.with_state(state);
    let routes = match storage {
        Some(storage) => routes.merge(storage.layer(from_fn_with_state(
            transport.for_uploads(),
            transport::hygiene,
        ))),
        None => routes,
    };
    routes
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(hsts, secure::headers))
        .layer(from_fn_with_state(clock, observe::observe))
}

/// A handler that panicked answers 500 like any other internal failure; the process and
/// every other request go on.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

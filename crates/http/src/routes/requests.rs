//! Requests for an interpreter.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dragoman_domain::matching::{Need, Priority, RequestId};
use dragoman_domain::{Invalid, LanguageCode, Modality, Role, Specialization};
use dragoman_engine::views::RequestView;
use dragoman_engine::{Created, NewRequest};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, ClientCaller, Json, PathId};
use crate::problem::{ApiError, Checks, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(read))
        .routes(routes!(cancel))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// BCP 47 primary language subtag.
    #[schema(example = "es")]
    pub language: String,
    /// Default `general`.
    pub specialization: Option<String>,
    /// Default `video`.
    pub modality: Option<String>,
}

/// The longest `Idempotency-Key` kept.
const MAX_KEY_LEN: usize = 255;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Invalid> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            Invalid::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// Asks for an interpreter. With an `Idempotency-Key`, a retry within 24 h answers the
/// original response and creates nothing.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = NewRequestBody,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for 24 h")),
    responses(
        (status = 201, description = "the request, queued (or the original answer for a repeated Idempotency-Key)", body = RequestView),
        (status = 403, description = "not a client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the client already has an open request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "unknown language, specialization or modality", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create(
    State(state): State<AppState>,
    ClientCaller(caller): ClientCaller,
    headers: HeaderMap,
    Json(body): Json<NewRequestBody>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::default();
    let language = checks.check(LanguageCode::parse(&body.language));
    let specialization = match body.specialization.as_deref() {
        Some(s) => checks.check(Specialization::parse(s)).map(Some),
        None => Some(None),
    };
    let modality = match body.modality.as_deref() {
        Some(m) => checks.check(Modality::parse(m)).map(Some),
        None => Some(None),
    };
    let key = checks.check(idempotency_key(&headers));
    let (language, specialization, modality, key) =
        checks.finish((language, specialization, modality, key))?;
    let created = state
        .requests
        .create_request(NewRequest {
            client: caller.id,
            need: Need::new(language, specialization, modality),
            priority: Priority::NORMAL,
            idempotency_key: key,
        })
        .await?;
    Ok(match created {
        Created::New(view) | Created::Replayed(Err(view)) => {
            (StatusCode::CREATED, Json(view)).into_response()
        }
        Created::Replayed(Ok(body)) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
    })
}

/// A request: for its client, the interpreters it was offered to or matched with, and admins.
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "the request", body = RequestView),
        (status = 404, description = "no such request, or not visible to the caller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<RequestView>, ApiError> {
    let view = state
        .requests
        .visible_request(RequestId(id), caller.id, caller.role == Role::Admin)
        .await?;
    Ok(Json(view))
}

/// Cancels the caller's request while it is queued or offered.
#[utoipa::path(post, path = "/v1/requests/{id}/cancel", tag = "requests", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "the request, cancelled", body = RequestView),
        (status = 403, description = "not a client", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such request, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already matched, cancelled or expired", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel(
    State(state): State<AppState>,
    ClientCaller(caller): ClientCaller,
    PathId(id): PathId,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(
        state
            .requests
            .cancel_request(RequestId(id), caller.id)
            .await?,
    ))
}

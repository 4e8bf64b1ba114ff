//! Sessions between a client and an interpreter.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use dragoman_domain::Role;
use dragoman_domain::matching::{Rating, SessionId, Stars};
use dragoman_engine::views::SessionView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, ClientCaller, Json, PathId};
use crate::problem::{ApiError, Checks, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(end))
        .routes(routes!(rate))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 200, default 50.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    /// 1 to 5.
    pub stars: i64,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    pub stars: u8,
    pub comment: Option<String>,
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "a page of the caller's sessions, newest first", body = SessionPage), (status = 422, description = "a limit that is not 1 to 200, or a cursor this API did not give", body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SessionPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 200"));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(SessionId(uuid::Uuid::parse_str(c).map_err(|_| {
            ApiError::invalid("cursor", "is not a cursor this API gave")
        })?)),
    };
    let items = state.sessions.sessions_of(caller.id, before, limit).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|s| s.id.to_string()))
        .flatten();
    Ok(Json(SessionPage { items, next_cursor }))
}

/// A session, for its two participants and admins.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "the session", body = SessionView), (status = 404, description = "no such session, or the caller is neither a participant nor an administrator", body = Problem, content_type = "application/problem+json")))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(
        state
            .sessions
            .visible_session(SessionId(id), caller.id, caller.role == Role::Admin)
            .await?,
    ))
}

/// Ends a session (either participant).
#[utoipa::path(post, path = "/v1/sessions/{id}/end", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "the session, ended", body = SessionView),
        (status = 404, description = "no such session, or the caller is not a participant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already ended", body = Problem, content_type = "application/problem+json"),
    ))]
async fn end(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(
        state.sessions.end_session(SessionId(id), caller.id).await?,
    ))
}

/// Rates an ended session (its client, once).
#[utoipa::path(post, path = "/v1/sessions/{id}/rating", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RatingBody,
    responses(
        (status = 201, description = "the rating", body = RatingView),
        (status = 403, description = "not a client", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such session, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not ended yet, or already rated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "stars outside 1 to 5, or a comment too long", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rate(
    State(state): State<AppState>,
    ClientCaller(caller): ClientCaller,
    id: Result<PathId, ApiError>,
    Json(body): Json<RatingBody>,
) -> Result<(StatusCode, Json<RatingView>), ApiError> {
    let mut checks = Checks::default();
    let stars = checks.check(Stars::parse(body.stars));
    let (stars,) = checks.finish((stars,))?;
    let rating = Rating::new(stars, body.comment.as_deref())?;
    let PathId(id) = id?;
    state
        .sessions
        .rate_session(SessionId(id), caller.id, rating.clone())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RatingView {
            stars: rating.stars.get(),
            comment: rating.comment,
        }),
    ))
}

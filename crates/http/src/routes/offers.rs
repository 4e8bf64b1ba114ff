//! Offers to interpreters, and their answers.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use dragoman_domain::matching::OfferId;
use dragoman_engine::views::{OfferView, SessionView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{InterpreterCaller, Json, PathId};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(accept))
        .routes(routes!(decline))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferQuery {
    /// Only `pending` is listed (the default).
    pub status: Option<String>,
}

/// A page of offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferPage {
    pub items: Vec<OfferView>,
    /// Always null: an interpreter has at most one pending offer.
    pub next_cursor: Option<String>,
}

/// The caller's pending offers.
#[utoipa::path(get, path = "/v1/offers", tag = "offers", security(("bearer" = [])), params(OfferQuery),
    responses(
        (status = 200, description = "the caller's pending offers", body = OfferPage),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a status other than pending", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
    query: Result<Query<OfferQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OfferPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    if query.status.as_deref().is_some_and(|s| s != "pending") {
        return Err(ApiError::invalid(
            "status",
            "only pending offers are listed",
        ));
    }
    Ok(Json(OfferPage {
        items: state.offers.pending_offers(caller.id).await?,
        next_cursor: None,
    }))
}

/// Accepts an offer: the session starts.
#[utoipa::path(post, path = "/v1/offers/{id}/accept", tag = "offers", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "the session the accepted offer started", body = SessionView),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such offer, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the offer expired or was answered or rescinded", body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
    PathId(id): PathId,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(
        state.offers.accept_offer(OfferId(id), caller.id).await?,
    ))
}

/// Declines an offer: it goes at once to the next candidate.
#[utoipa::path(post, path = "/v1/offers/{id}/decline", tag = "offers", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "declined; the request goes to the next candidate"),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such offer, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the offer is no longer pending", body = Problem, content_type = "application/problem+json"),
    ))]
async fn decline(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.offers.decline_offer(OfferId(id), caller.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The durable job queue as operators see it: jobs by state, and replay of a dead job.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use dragoman_engine::jobs::JobView;
use dragoman_ports::JobState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AdminCaller, Json};
use crate::problem::{ApiError, Checks, Problem};
use crate::state::AppState;

/// The most jobs one page answers, and the default (the contract's conventions for lists).
pub const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 50;
/// How deep the pages reach: the cursor is a position in the list, and every page reads the
/// list from its start (the queues list oldest first and take no position), so the depth is
/// bounded. `dragoman jobs list --limit` reads further.
pub const MAX_POSITION: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `dead` (the default), `delayed` or `active`.
    pub state: Option<String>,
    /// At most this many, oldest first: 1 to 200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// Jobs in one state: dead-lettered (with their last error), delayed, or active.
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", security(("bearer" = [])), params(JobQuery),
    responses(
        (status = 200, description = "a page of jobs, oldest first", body = JobList),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an unknown state, a limit that is not 1 to 200, or a cursor this API did not give", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let mut checks = Checks::default();
    let job_state = match query.state.as_deref().unwrap_or("dead") {
        "dead" => Some(JobState::Dead),
        "delayed" => Some(JobState::Delayed),
        "active" => Some(JobState::Active),
        other => {
            checks.push(
                "state",
                format!(
                    "must be dead, delayed or active, not {:?}",
                    truncated(other)
                ),
            );
            None
        }
    };
    let limit = match query.limit.as_deref() {
        None => Some(DEFAULT_LIMIT),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
            _ => {
                checks.push("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
                None
            }
        },
    };
    let position = match query.cursor.as_deref() {
        None => Some(0),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_POSITION).contains(&n) && raw.bytes().all(|b| b.is_ascii_digit()) => {
                Some(n)
            }
            _ => {
                checks.push("cursor", "is not a cursor this API gave");
                None
            }
        },
    };
    let (job_state, limit, position) = checks.finish((job_state, limit, position))?;
    // One more than the page, to know whether another follows.
    let listed = state.jobs.jobs(job_state, position + limit + 1).await?;
    let more = listed.len() > position + limit;
    let items: Vec<JobView> = listed.into_iter().skip(position).take(limit).collect();
    let next = position + limit;
    let next_cursor = (more && next <= MAX_POSITION).then(|| next.to_string());
    Ok(Json(JobList { items, next_cursor }))
}

/// At most 40 characters of what the caller sent, for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Hands a dead job back to the queue, its attempts reset; 404 unless a dead job has this id.
#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 202, description = "the job is back in the queue, due now, its attempts reset"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no dead job has this id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry(
    State(state): State<AppState>,
    _admin: AdminCaller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::NotFound);
    }
    state.jobs.retry_dead_job(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

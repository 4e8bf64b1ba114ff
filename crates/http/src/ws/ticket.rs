//! POST /v1/ws/ticket: a single-use ticket that opens one WebSocket, so that an access token
//! never needs to travel in a URL (where load balancers and proxies log it).
//!
//! The ticket is 256 random bits; the connection registry keeps only its SHA-256, for
//! [`TICKET_TTL`], with what it grants: the user, the role and the expiry of the access token
//! it was taken with (a socket opened with the ticket closes when that token expires). Redeeming
//! takes it atomically (GETDEL on Redis), so it opens one socket on one instance, whichever.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use dragoman_domain::{Role, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, Json, bearer_token};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// How long a ticket may wait to be used.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(take_ticket))
}

/// A ticket for one WebSocket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Send as `GET /v1/ws?ticket=...`; valid once.
    pub ticket: String,
    /// Seconds the ticket stays valid.
    pub expires_in: u64,
}

/// What a ticket grants, as the registry keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct Grant {
    user: UserId,
    role: Role,
    /// When the access token behind the ticket expires, in Unix seconds.
    expires: i64,
}

/// The registry's key for a ticket: its SHA-256, so what is stored cannot be used.
fn key(ticket: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(ticket.as_bytes()))
}

/// Takes a single-use WebSocket ticket, valid 30 s.
#[utoipa::path(post, path = "/v1/ws/ticket", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 201, description = "A single-use ticket for `GET /v1/ws?ticket=`, valid `expires_in` seconds", body = Ticket),
        (status = 401, description = "No access token, or one that is malformed, expired or not ours", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Tickets cannot be issued right now; retry", body = Problem, content_type = "application/problem+json"),
    ))]
async fn take_ticket(
    State(state): State<AppState>,
    _caller: Caller,
    parts: Parts,
) -> Result<(StatusCode, Json<Ticket>), ApiError> {
    let (caller, expires) = state.tokens.verify_access_until(bearer_token(&parts)?)?;
    let grant = serde_json::to_string(&Grant {
        user: caller.id,
        role: caller.role,
        expires: expires.timestamp(),
    })
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("a ticket's grant")))?;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    // 256 random bits never collide in practice; a refused key is a failure, not a retry.
    let kept = state
        .connections
        .put_ticket(&key(&ticket), &grant, TICKET_TTL)
        .await
        .map_err(ApiError::Unavailable)?;
    if !kept {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a new WebSocket ticket's key was already in use"
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(Ticket {
            ticket,
            expires_in: TICKET_TTL.as_secs(),
        }),
    ))
}

/// The user a ticket was taken for and when their access token expires, taking the ticket (it
/// opens one socket). Unknown, used or expired: 401.
pub async fn redeem(state: &AppState, ticket: &str) -> Result<(Caller, DateTime<Utc>), ApiError> {
    const REFUSED: ApiError = ApiError::Unauthenticated(
        "the ticket is unknown, used or expired; take a new one with POST /v1/ws/ticket",
    );
    let grant = state
        .connections
        .take_ticket(&key(ticket))
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(REFUSED)?;
    let grant: Grant = serde_json::from_str(&grant).map_err(|_| REFUSED)?;
    let expires = DateTime::from_timestamp(grant.expires, 0).ok_or(REFUSED)?;
    if expires <= state.clock.now() {
        return Err(ApiError::Unauthenticated(
            "the access token behind the ticket has expired; refresh it",
        ));
    }
    Ok((
        Caller {
            id: grant.user,
            role: grant.role,
        },
        expires,
    ))
}

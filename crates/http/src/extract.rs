//! Extractors that turn a request into values a handler can trust, failing with the answer
//! API.md prescribes. Their order in a handler's arguments is the order of checks: the caller
//! (401), then the role (403), then the body (400/413/415/422).

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use dragoman_domain::{Role, UserId};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON body, whose rejections are problem details: 400 for malformed JSON, 415 for another
/// content type, 413 past the body limit, 422 for the wrong types or missing or unknown fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => ApiError::invalid("body", e.body_text()),
                JsonRejection::JsonSyntaxError(e) => ApiError::Malformed(e.body_text()),
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send the body as Content-Type: application/json".to_owned(),
                ),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::TooLarge("the body is larger than this endpoint accepts".to_owned())
                }
                other => ApiError::Malformed(other.body_text()),
            }),
        }
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// The signed-in caller, from a valid access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub role: Role,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let caller = state.tokens.verify_access(token)?;
        tracing::Span::current().record("userId", tracing::field::display(caller.id));
        parts.extensions.insert(caller);
        Ok(caller)
    }
}

/// The bearer token of the `Authorization` header.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "send Authorization: Bearer <access_token>",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("the Authorization header is not valid text"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthenticated(
        "the Authorization header must be Bearer <access_token>",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated(
            "the Authorization header must be Bearer <access_token>",
        ));
    }
    Ok(token.trim())
}

/// Declares an extractor that admits only callers of one role (403 for the others).
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr, $why:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let caller = Caller::from_request_parts(parts, state).await?;
                if caller.role != $role {
                    return Err(ApiError::Forbidden($why));
                }
                Ok($name(caller))
            }
        }
    };
}

role_extractor!(
    /// A signed-in interpreter.
    InterpreterCaller,
    Role::Interpreter,
    "only interpreters may do this"
);

role_extractor!(
    /// A signed-in client.
    ClientCaller,
    Role::Client,
    "only clients may do this"
);

role_extractor!(
    /// A signed-in administrator.
    AdminCaller,
    Role::Admin,
    "only administrators may do this"
);

/// An id in a path. A value that is not an id names nothing, so it is a 404 like an unknown
/// one, never a 400 that would tell a prober the route exists with another shape.
///
/// That 404 is a visibility answer, which comes after the body's checks: a handler that reads a
/// body takes `Result<PathId, ApiError>` and applies `?` to it only once the body is found valid,
/// so a malformed id with an invalid body is 422 like an unknown id with one.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        uuid::Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| ApiError::NotFound)
    }
}

/// The address a request came from: the peer's, or behind a trusted proxy the last address
/// of `X-Forwarded-For` (the one the proxy itself appended; earlier entries are the client's
/// own claims and are never trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.settings.trust_forwarded_for {
            // Only the very last entry: an unparsable one falls back to the peer rather than to an
            // earlier, client-written entry.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientIp(peer))
    }
}

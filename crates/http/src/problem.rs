//! One error type for the whole API, answered as RFC 9457 problem details.
//!
//! Every failure a client can cause maps to a 4xx with a `type` it can switch on and a `detail`
//! it can show. Failures of ours (a database down, a bug) are logged with their cause and
//! answered with a bare 500 or 503 that reveals nothing of the internals.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dragoman_domain::Invalid;
use dragoman_ports::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, stable across versions: `urn:dragoman:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For 422: each invalid field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Everything a handler can answer other than success.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the JSON this endpoint reads.
    Malformed(String),
    /// 401: no token, or one that is malformed, expired or not ours.
    Unauthenticated(&'static str),
    /// 401 on login: one answer for every wrong credential.
    BadCredentials,
    /// 403: signed in, but the role may not do this.
    Forbidden(&'static str),
    /// 404: unknown, or not visible to the caller (the two are never told apart).
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 409: the request is valid but the state forbids it now.
    Conflict { slug: &'static str, detail: String },
    /// 413.
    TooLarge(String),
    /// 415.
    UnsupportedMediaType(String),
    /// 408: the body did not arrive within the body read timeout.
    BodyTimeout(Duration),
    /// 422: well-formed but invalid values.
    Invalid(Vec<FieldError>),
    /// 429 with `Retry-After`.
    RateLimited { retry_after: Duration },
    /// 503: a dependency is down; the client may retry.
    Unavailable(anyhow::Error),
    /// 503: this instance is full or stopping; another may serve the client.
    Busy(&'static str),
    /// 503 with `Retry-After`: the password hashing budget stayed spent for the whole queue
    /// time (`dragoman_engine::accounts::passwords`).
    Overloaded { retry_after: Duration },
    /// 500: our fault. Logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            slug,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError {
            field: field.to_owned(),
            reason: reason.into(),
        }])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use ApiError::*;
        match self {
            Malformed(d) => (
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "Malformed request body",
                d.clone(),
            ),
            Unauthenticated(d) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                (*d).to_owned(),
            ),
            BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad-credentials",
                "Wrong e-mail or password",
                "the e-mail address or the password is wrong".to_owned(),
            ),
            Forbidden(d) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed",
                (*d).to_owned(),
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                "no such resource".to_owned(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this resource does not accept this method".to_owned(),
            ),
            Conflict { slug, detail } => (
                StatusCode::CONFLICT,
                slug,
                "Conflict with the current state",
                detail.clone(),
            ),
            TooLarge(d) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                d.clone(),
            ),
            UnsupportedMediaType(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                d.clone(),
            ),
            BodyTimeout(limit) => (
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Request body too slow",
                format!(
                    "the request body did not arrive within {} seconds",
                    limit.as_secs()
                ),
            ),
            Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid values",
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many attempts",
                format!("try again in {} seconds", retry_after_secs(*retry_after)),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "a dependency of the service is not answering; try again shortly".to_owned(),
            ),
            Busy(d) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Service busy",
                (*d).to_owned(),
            ),
            Overloaded { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Too many password checks at once",
                format!(
                    "the server is checking as many passwords as it can; try again in {} seconds",
                    retry_after_secs(*retry_after)
                ),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the server failed; the failure is logged".to_owned(),
            ),
        }
    }
}

fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = %format!("{e:#}"), "request failed"),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %format!("{e:#}"), "dependency unavailable")
            }
            _ => {}
        }
        let (status, slug, title, detail) = self.parts();
        let errors = match self {
            ApiError::Invalid(ref errors) => errors.clone(),
            _ => Vec::new(),
        };
        let body = Problem {
            kind: format!("urn:dragoman:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::RateLimited { retry_after } | ApiError::Overloaded { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs(retry_after)),
                );
            }
            ApiError::Busy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.field, e.reason)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { constraint } => ApiError::Internal(anyhow::anyhow!(
                "unexpected conflict on constraint {constraint}"
            )),
            StoreError::Backend(e) => ApiError::Unavailable(e),
        }
    }
}

impl From<dragoman_engine::EngineError> for ApiError {
    fn from(e: dragoman_engine::EngineError) -> Self {
        use dragoman_engine::EngineError as E;
        match e {
            E::NotFound => ApiError::NotFound,
            E::Forbidden(why) => ApiError::Forbidden(why),
            E::Conflict { slug, detail } => ApiError::Conflict { slug, detail },
            E::Unauthenticated(why) => ApiError::Unauthenticated(why),
            E::BadCredentials => ApiError::BadCredentials,
            E::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            E::Overloaded { retry_after } => ApiError::Overloaded { retry_after },
            E::Store(e) => e.into(),
            E::Unavailable(e) => ApiError::Unavailable(e),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// Collects the field errors of several parses, so one answer lists every invalid field.
#[derive(Debug, Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn check<T>(&mut self, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError {
                    field: e.field.to_owned(),
                    reason: e.reason,
                });
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// `Ok` if nothing failed, else the 422 listing every failure.
    pub fn done(self) -> Result<(), ApiError> {
        self.finish((Some(()),)).map(|_| ())
    }

    /// The parsed values if nothing failed, else the 422 listing every failure.
    pub fn finish<T: AllSome>(self, values: T) -> Result<T::Out, ApiError> {
        if !self.0.is_empty() {
            return Err(ApiError::Invalid(self.0));
        }
        values
            .all_some()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a parse failed without an error")))
    }
}

/// A tuple of options that are all `Some` when every parse succeeded.
pub trait AllSome {
    type Out;
    fn all_some(self) -> Option<Self::Out>;
}

macro_rules! all_some {
    ($($t:ident),+) => {
        impl<$($t),+> AllSome for ($(Option<$t>,)+) {
            type Out = ($($t,)+);
            #[allow(non_snake_case)]
            fn all_some(self) -> Option<Self::Out> {
                let ($($t,)+) = self;
                Some(($($t?,)+))
            }
        }
    };
}
all_some!(A);
all_some!(A, B);
all_some!(A, B, C);
all_some!(A, B, C, D);

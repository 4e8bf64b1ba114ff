//! Accounts: sign-up, login, token refresh and logout, and the caller's own user. The use-cases
//! are the accounts service's (`dragoman_engine::accounts`); these routes parse the bodies, call
//! it, and sign the access token that goes with each sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Password, SignupRole};
use dragoman_engine::accounts::{Account, SignedIn, Signup};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{Caller, ClientIp, Json};
use crate::problem::{ApiError, Checks, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// A user as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(example = "client")]
    pub role: String,
    /// Null until an avatar is uploaded.
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The user as clients see it; `avatar_url` is a download URL signed for 300 s.
impl From<Account> for UserView {
    fn from(
        Account {
            user: u,
            avatar_url,
        }: Account,
    ) -> Self {
        Self {
            id: u.id.0,
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.as_str().to_owned(),
            role: u.role.as_str().to_owned(),
            avatar_url,
            created_at: u.created_at,
        }
    }
}

/// A signed-in session: who, and the tokens to act as them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    /// A JWT for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque; exchange it at /v1/auth/refresh. Each can be used once.
    pub refresh_token: String,
    pub expires_in: u64,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
    pub display_name: String,
    /// `client` or `interpreter`.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// The longest password string a login looks at; longer is refused before hashing so that a
/// huge body cannot buy a long hash computation.
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// The answer to a sign-in: the account service's refresh token, with an access token signed
/// here for the instant of the sign-in.
fn signed_in(state: &AppState, signed: SignedIn) -> Result<AuthResponse, ApiError> {
    let user = &signed.account.user;
    Ok(AuthResponse {
        access_token: state.tokens.issue_access(user.id, user.role, signed.at)?,
        refresh_token: signed.refresh_token,
        expires_in: state.tokens.access_ttl.as_secs(),
        token_type: "Bearer",
        user: signed.account.into(),
    })
}

/// Creates a client or interpreter account and signs it in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "accounts", request_body = SignupBody,
    responses(
        (status = 201, description = "the new user, signed in", body = AuthResponse),
        (status = 409, description = "the e-mail is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many sign-ups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many passwords being hashed at once; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SignupBody>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    let mut checks = Checks::default();
    let parsed = (
        checks.check(Email::parse(&body.email)),
        checks.check(Password::parse(&body.password)),
        checks.check(DisplayName::parse(&body.display_name)),
        checks.check(SignupRole::parse(&body.role)),
    );
    let (email, password, display_name, role) = checks.finish(parsed)?;
    let signup = Signup {
        email,
        password,
        display_name,
        role,
    };
    let signed = state.accounts.signup(ip, signup).await?;
    Ok((StatusCode::CREATED, Json(signed_in(&state, signed)?)))
}

/// Signs in with e-mail and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", request_body = LoginBody,
    responses(
        (status = 200, description = "the user, signed in", body = AuthResponse),
        (status = 401, description = "wrong e-mail or password (one answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failures from this address, for this account or in all; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many passwords being checked at once; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginBody>,
) -> Result<Json<AuthResponse>, ApiError> {
    let email = Email::parse(&body.email)?;
    if body.password.len() > MAX_LOGIN_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            "is longer than any valid password",
        ));
    }
    let signed = state.accounts.login(ip, &email, &body.password).await?;
    Ok(Json(signed_in(&state, signed)?))
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting one
/// that was already exchanged revokes every token descended from the same login.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "accounts", request_body = RefreshBody,
    responses(
        (status = 200, description = "a new token pair; the presented refresh token stops working", body = AuthResponse),
        (status = 401, description = "unknown, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshBody>,
) -> Result<Json<AuthResponse>, ApiError> {
    let signed = state.accounts.refresh(&body.refresh_token).await?;
    Ok(Json(signed_in(&state, signed)?))
}

/// Signs out: the refresh token and every token of its family stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "accounts", request_body = RefreshBody,
    responses((status = 204, description = "signed out (also for an unknown token)")))]
async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state.accounts.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "the signed-in user", body = UserView),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<UserView>, ApiError> {
    Ok(Json(state.accounts.me(caller.id).await?.into()))
}

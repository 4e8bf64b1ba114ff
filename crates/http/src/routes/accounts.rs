//! Accounts: sign-up, login, token refresh and logout, and the caller's own user.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Password, Role, SignupRole, User, UserId};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{NewRefreshToken, NewUser, RotateOutcome, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::limits::LoginLimits;
use crate::auth::tokens::{new_refresh_token, refresh_token_hash};
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

impl UserView {
    /// The user as clients see it; `avatar_url` is a download URL signed for 300 s.
    pub async fn of(state: &AppState, u: User) -> Self {
        let avatar_url = crate::routes::files::avatar_url(&state.files, &u).await;
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

/// Issues an access token and a refresh token of a new family (sign-up and login), then revokes
/// the user's least recently used families beyond REFRESH_FAMILIES_PER_USER.
async fn start_session(state: &AppState, user: User) -> Result<AuthResponse, ApiError> {
    let now = state.clock.now();
    let refresh_token = new_refresh_token();
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            id: Uuid::now_v7(),
            user_id: user.id,
            family_id: Uuid::now_v7(),
            token_hash: refresh_token_hash(&refresh_token),
            created_at: now,
            expires_at: now + state.tokens.refresh_ttl,
        })
        .await?;
    state
        .store
        .cap_refresh_families(user.id, state.settings.refresh_families_per_user, now)
        .await?;
    respond(state, user, refresh_token, now).await
}

async fn respond(
    state: &AppState,
    user: User,
    refresh_token: String,
    now: DateTime<Utc>,
) -> Result<AuthResponse, ApiError> {
    Ok(AuthResponse {
        access_token: state.tokens.issue_access(user.id, user.role, now)?,
        refresh_token,
        expires_in: state.tokens.access_ttl.as_secs(),
        token_type: "Bearer",
        user: UserView::of(state, user).await,
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
    // Counted once the values are valid, before the hash: a taken e-mail counts too, so the
    // limit also bounds probing which addresses have accounts.
    let attempt = state
        .settings
        .signup_limit
        .reserve(state.limiter.as_ref(), ip)
        .await?;
    let password_hash = match state.passwords.hash(&password).await {
        Ok(hash) => hash,
        Err(e) => {
            // Not the caller's doing: the attempt is given back.
            attempt.release(state.limiter.as_ref()).await;
            return Err(e.into());
        }
    };
    let user = state
        .store
        .create_user(NewUser {
            id: UserId(Uuid::now_v7()),
            email,
            password_hash,
            display_name,
            role: Role::from(role),
            created_at: state.clock.now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == "users_email_key" => {
                ApiError::conflict("email-taken", "an account with this e-mail address exists")
            }
            other => other.into(),
        })?;
    tracing::info!(userId = %user.id, role = user.role.as_str(), "User signed up");
    Ok((
        StatusCode::CREATED,
        Json(start_session(&state, user).await?),
    ))
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
    let settings = &state.settings;
    let limits = LoginLimits {
        per_account: settings.login_failures_per_account,
        per_address: settings.login_failures_per_address,
        window: settings.login_window,
    };
    let limiter = state.limiter.as_ref();
    // Counted before the password is checked, so concurrent guesses cannot pass the limit.
    let attempt = limits.reserve(limiter, &email, ip).await?;
    let checked = async {
        let record = state.store.user_by_email(&email).await?;
        let verified = state
            .passwords
            .verify(
                &body.password,
                record.as_ref().map(|r| r.password_hash.as_str()),
            )
            .await?;
        Ok::<_, ApiError>(record.filter(|_| verified))
    }
    .await;
    let record = match checked {
        Ok(Some(record)) => record,
        Ok(None) => {
            attempt.failed();
            tracing::info!(client_ip = %ip, "Login failed");
            return Err(ApiError::BadCredentials);
        }
        Err(e) => {
            attempt.abandoned(limiter).await;
            return Err(e);
        }
    };
    attempt.succeeded(limiter).await?;
    tracing::info!(userId = %record.user.id, "User logged in");
    Ok(Json(start_session(&state, record.user).await?))
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
    let now = state.clock.now();
    let next_token = new_refresh_token();
    let outcome = state
        .store
        .rotate_refresh_token(
            &refresh_token_hash(&body.refresh_token),
            NextRefreshToken {
                id: Uuid::now_v7(),
                token_hash: refresh_token_hash(&next_token),
                expires_at: now + state.tokens.refresh_ttl,
            },
            now,
        )
        .await?;
    let user_id = match outcome {
        RotateOutcome::Rotated { user_id } => user_id,
        RotateOutcome::Reused { user_id } => {
            tracing::warn!(userId = %user_id, "Refresh token reused; its family is revoked");
            return Err(ApiError::Unauthenticated(
                "this refresh token was already used; every session from the same login is now signed out",
            ));
        }
        RotateOutcome::Invalid => {
            return Err(ApiError::Unauthenticated(
                "the refresh token is unknown or expired",
            ));
        }
    };
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or(ApiError::Unauthenticated("the account no longer exists"))?;
    Ok(Json(respond(&state, user, next_token, now).await?))
}

/// Signs out: the refresh token and every token of its family stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "accounts", request_body = RefreshBody,
    responses((status = 204, description = "signed out (also for an unknown token)")))]
async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_refresh_family(&refresh_token_hash(&body.refresh_token), state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "the signed-in user", body = UserView),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<UserView>, ApiError> {
    let user = state
        .store
        .user(caller.id)
        .await?
        .ok_or(ApiError::Unauthenticated("the account no longer exists"))?;
    Ok(Json(UserView::of(&state, user).await))
}

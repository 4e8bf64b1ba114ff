//! The caller's avatar: an upload URL, then `complete`, which makes it the user's `avatar_url`.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AVATAR, UploadBody, UploadResponse};
use crate::extract::{Caller, Json};
use crate::problem::{ApiError, Checks, Problem};
use crate::routes::accounts::UserView;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_upload))
        .routes(routes!(complete))
}

/// An upload URL for a new avatar (JPEG or PNG, at most 5 MiB), valid 300 s. Asking again
/// replaces the upload in progress.
#[utoipa::path(post, path = "/v1/me/avatar", tag = "files", security(("bearer" = [])),
    request_body = UploadBody,
    responses(
        (status = 201, description = "an upload URL for the avatar, valid 300 s", body = UploadResponse),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a type other than JPEG or PNG, or a size outside 1 byte to 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "UPLOAD_URLS_PER_HOUR upload URLs handed out to this user this hour (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_upload(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<UploadBody>,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let mut checks = Checks::default();
    let spec = AVATAR.check(&mut checks, &body.content_type, body.size_bytes);
    checks.done()?;
    let upload = state.files.avatar_upload(caller.id, &spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadResponse {
            upload: upload.into(),
        }),
    ))
}

/// Makes the uploaded file the caller's avatar once storage holds it with the declared type
/// and size.
#[utoipa::path(post, path = "/v1/me/avatar/complete", tag = "files", security(("bearer" = [])),
    responses(
        (status = 200, description = "the user with the new avatar_url", body = UserView),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "no upload in progress, nothing uploaded yet, or a file that is not a whole image of the declared type and size (then removed)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(state.files.complete_avatar(caller.id).await?.into()))
}

//! The caller's avatar: an upload URL, then `complete`, which makes it the user's `avatar_url`.

use axum::extract::State;
use axum::http::StatusCode;
use dragoman_ports::{AvatarUpload, PendingUpload, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{AVATAR, UploadBody, UploadResponse, count_upload_url, discard, hand_out, key, verify};
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
    count_upload_url(&state, caller.id).await?;
    let object_key = key(format!("users/{}/avatar/{}", caller.id, Uuid::now_v7()))?;
    let upload = AvatarUpload {
        user_id: caller.id,
        object_key: object_key.to_string(),
        content_type: spec.content_type.clone(),
        size_bytes: spec.content_length,
        created_at: state.clock.now(),
    };
    let pending = PendingUpload::Avatar {
        user_id: caller.id.0,
        key: upload.object_key.clone(),
    };
    let view = hand_out(&state, &object_key, &spec, pending).await?;
    if let Some(replaced) = state.files.records.put_avatar_upload(&upload).await? {
        // An earlier URL may still be in use for a few minutes; its sweep job removes what it
        // uploads.
        tracing::debug!(key = %replaced, "avatar upload replaced");
    }
    Ok((StatusCode::CREATED, Json(UploadResponse { upload: view })))
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
    let files = &state.files;
    let Some(upload) = files.records.avatar_upload(caller.id).await? else {
        return Err(ApiError::conflict(
            "no-upload",
            "no avatar upload is in progress: ask POST /v1/me/avatar for a URL first",
        ));
    };
    let object_key = key(upload.object_key.clone())?;
    verify(
        files.objects.as_ref(),
        &object_key,
        &upload.content_type,
        upload.size_bytes,
    )
    .await?
    .map_err(|e| e.into_conflict())?;
    match files
        .records
        .complete_avatar(caller.id, &upload.object_key)
        .await
    {
        Ok(Some(previous)) if previous != upload.object_key => {
            discard(files.objects.as_ref(), &previous).await;
        }
        Ok(_) => {}
        // Another request completed or replaced it meanwhile.
        Err(StoreError::NotFound) => {
            return Err(ApiError::conflict(
                "no-upload",
                "this avatar upload was completed or replaced meanwhile",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(userId = %caller.id, "Avatar updated");
    let user = state
        .store
        .user(caller.id)
        .await?
        .ok_or(ApiError::Unauthenticated("the account no longer exists"))?;
    Ok(Json(UserView::of(&state, user).await))
}

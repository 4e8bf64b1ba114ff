//! Documents of a session (PDF, JPEG or PNG, at most 20 MiB), for its two participants only.
//!
//! A session has at most `DOCUMENTS_PER_SESSION` documents (pending uploads included), and its
//! documents are open from its start until `OPEN_AFTER_END` after it ends: then asking for an
//! upload URL, completing an upload, listing and reading its documents (and so getting download
//! URLs) all answer 409 `documents-closed`. The records and objects stay (for retention and
//! support); the participants no longer reach them. Those rules are the files service's
//! (`dragoman_engine::files`); these routes parse, call it and answer.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use dragoman_engine::files::{Document, NewDocument};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{DOCUMENT, UploadView};
use crate::extract::{Caller, Json, PathId};
use crate::problem::{ApiError, Checks, Problem};
use crate::routes::sessions::PageQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_upload, list))
        .routes(routes!(read))
        .routes(routes!(complete))
}

/// A document as its session's participants see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub session_id: Uuid,
    /// Who uploaded it.
    pub uploaded_by: Uuid,
    /// As the uploader named it (metadata only).
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// `pending` until `complete` verified the upload, then `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    /// A signed GET URL valid 300 s; null until `ready`.
    pub download_url: Option<String>,
}

impl From<Document> for DocumentView {
    fn from(
        Document {
            record: d,
            download_url,
        }: Document,
    ) -> Self {
        Self {
            id: d.id,
            session_id: d.session_id,
            uploaded_by: d.uploader_id.0,
            filename: d.filename,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            status: d.status.as_str(),
            created_at: d.created_at,
            download_url,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    /// 1 to 255 characters, no control characters; stored as metadata, never part of a key.
    pub filename: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The exact length of the file in bytes, at most 20 MiB.
    pub size_bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentUpload {
    pub document: DocumentView,
    pub upload: UploadView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub items: Vec<DocumentView>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// `/v1/sessions/{id}/documents/{doc_id}`: ids that do not parse name nothing (404).
#[derive(Debug, Clone, Copy)]
struct DocumentPath {
    session: Uuid,
    document: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for DocumentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path((session, document)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        Ok(Self {
            session: Uuid::parse_str(&session).map_err(|_| ApiError::NotFound)?,
            document: Uuid::parse_str(&document).map_err(|_| ApiError::NotFound)?,
        })
    }
}

fn check_filename(checks: &mut Checks, filename: &str) {
    let length = filename.chars().count();
    if !(1..=255).contains(&length) || filename.trim().is_empty() {
        checks.push("filename", "must be 1 to 255 characters");
    } else if filename.chars().any(char::is_control) {
        checks.push("filename", "must not contain control characters");
    } else if dragoman_domain::has_bidi_control(filename) {
        // U+202E turns `invoice_fdp.exe` into what reads as `invoice_exe.pdf`.
        checks.push(
            "filename",
            "must not contain bidirectional control characters",
        );
    }
}

/// An upload URL for a new document of the session (participants only), valid 300 s.
#[utoipa::path(post, path = "/v1/sessions/{id}/documents", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = DocumentBody,
    responses(
        (status = 201, description = "the document, pending, and its upload URL", body = DocumentUpload),
        (status = 404, description = "no such session, or the caller is not a participant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the session already has DOCUMENTS_PER_SESSION documents (`document-quota`), or ended more than an hour ago (`documents-closed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a filename, type or size this endpoint does not accept", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "UPLOAD_URLS_PER_HOUR upload URLs handed out to this user this hour (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_upload(
    State(state): State<AppState>,
    caller: Caller,
    session_id: Result<PathId, ApiError>,
    Json(body): Json<DocumentBody>,
) -> Result<(StatusCode, Json<DocumentUpload>), ApiError> {
    let mut checks = Checks::default();
    check_filename(&mut checks, &body.filename);
    let spec = DOCUMENT.check(&mut checks, &body.content_type, body.size_bytes);
    checks.done()?;
    let PathId(session_id) = session_id?;
    let document = NewDocument {
        filename: body.filename,
        spec,
    };
    let (document, upload) = state
        .files
        .document_upload(caller.id, session_id, document)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DocumentUpload {
            document: document.into(),
            upload: upload.into(),
        }),
    ))
}

/// Marks the document `ready` once storage holds it with the declared type and size.
#[utoipa::path(post, path = "/v1/sessions/{id}/documents/{doc_id}/complete", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses(
        (status = 200, description = "the document, ready", body = DocumentView),
        (status = 404, description = "no such session or document, or the caller is not a participant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "nothing uploaded yet, a file that is not a whole file of the declared type and size (then removed), or a session that ended more than an hour ago", body = Problem, content_type = "application/problem+json"),
    ))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    path: DocumentPath,
) -> Result<Json<DocumentView>, ApiError> {
    let document = state
        .files
        .complete_document(caller.id, path.session, path.document)
        .await?;
    Ok(Json(document.into()))
}

/// The session's documents, oldest first; each ready one with a download URL valid 300 s.
#[utoipa::path(get, path = "/v1/sessions/{id}/documents", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path), PageQuery),
    responses(
        (status = 200, description = "a page of the session's documents, oldest first", body = DocumentPage),
        (status = 404, description = "no such session, or the caller is not a participant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the session ended more than an hour ago (`documents-closed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a limit that is not 1 to 200, or a cursor this API did not give", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(session_id): PathId,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DocumentPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 200"));
    }
    let after = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API gave"))?,
        ),
    };
    let page = state
        .files
        .documents(caller.id, session_id, after, limit)
        .await?;
    Ok(Json(DocumentPage {
        items: page.items.into_iter().map(DocumentView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// One document of the session, with a fresh download URL once ready.
#[utoipa::path(get, path = "/v1/sessions/{id}/documents/{doc_id}", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses(
        (status = 200, description = "the document, with a download URL once ready", body = DocumentView),
        (status = 404, description = "no such session or document, or the caller is not a participant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the session ended more than an hour ago (`documents-closed`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    path: DocumentPath,
) -> Result<Json<DocumentView>, ApiError> {
    let document = state
        .files
        .document(caller.id, path.session, path.document)
        .await?;
    Ok(Json(document.into()))
}

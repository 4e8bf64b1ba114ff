//! The embedded storage's own signed URLs: `PUT /objects/{key}` receives an upload and
//! `GET /objects/{key}` serves a download, each only with a valid, unexpired signature for that
//! key (and, for uploads, that content type and length). In S3 mode these routes do not exist:
//! the URLs point at the bucket and no file byte reaches the API process.
//!
//! An upload `complete` has verified is sealed: its URL, even valid and unexpired, is refused
//! (409 `upload-sealed`), so what was verified is what is served. A download is always an
//! attachment of the stored type, never to be sniffed: a browser saves it rather than rendering
//! it on this origin.
//!
//! Bodies are streamed: an upload goes to disk chunk by chunk with its length enforced as it
//! arrives, a download is read from disk chunk by chunk. Neither is ever held whole in memory.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use dragoman_objects_local::{LocalObjects, Refusal, UploadRequest};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use crate::ApiError;

/// The query string of a signed URL.
#[derive(Debug, Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

/// The routes, with the storage as their own state so they can be served on their own.
pub fn router<S: Clone + Send + Sync + 'static>(objects: LocalObjects) -> Router<S> {
    Router::new()
        .route("/objects/{*key}", put(upload).get(download))
        // The body is streamed to disk under the signed length, not buffered: the JSON limit
        // does not apply.
        .layer(DefaultBodyLimit::disable())
        .with_state(objects)
}

fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Forbidden(why) => ApiError::Forbidden(why).into_response(),
        Refusal::NotFound => ApiError::NotFound.into_response(),
        Refusal::Sealed => ApiError::conflict(
            "upload-sealed",
            "this upload was completed: its URL can no longer replace it",
        )
        .into_response(),
        Refusal::LengthRequired => {
            (StatusCode::LENGTH_REQUIRED, "Content-Length is required").into_response()
        }
        e @ (Refusal::LengthMismatch { .. } | Refusal::Interrupted(_)) => {
            ApiError::Malformed(e.to_string()).into_response()
        }
        Refusal::Backend(e) => ApiError::Internal(e).into_response(),
    }
}

/// A query that does not parse is a URL we never signed.
fn not_signed() -> Response {
    ApiError::Forbidden("the URL is not signed").into_response()
}

async fn upload(
    State(objects): State<LocalObjects>,
    Path(key): Path<String>,
    query: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(Query(query)) = query else {
        return not_signed();
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let request = UploadRequest {
        key: &key,
        expires: query.expires,
        signature: &query.signature,
        content_type: header(header::CONTENT_TYPE),
        content_length: header(header::CONTENT_LENGTH),
    };
    match objects
        .receive_upload(request, body.into_data_stream())
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => refusal(e),
    }
}

async fn download(
    State(objects): State<LocalObjects>,
    Path(key): Path<String>,
    query: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return not_signed();
    };
    match objects
        .open_download(&key, query.expires, &query.signature)
        .await
    {
        Ok((meta, file)) => {
            let content_type = meta
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_LENGTH, meta.size.to_string()),
                    (header::CACHE_CONTROL, "private, no-store".to_owned()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                    (header::CONTENT_DISPOSITION, "attachment".to_owned()),
                ],
                Body::from_stream(ReaderStream::new(file)),
            )
                .into_response()
        }
        Err(e) => refusal(e),
    }
}

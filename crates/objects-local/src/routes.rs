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
//!
//! These routes are this storage's own protocol (as S3's is the bucket's), so they live with the
//! adapter: the binary mounts them beside the API, which never sees the adapter. Refusals are
//! answered in the API's RFC 9457 shape (`urn:dragoman:problem:<slug>`, see [`problem`]), so a
//! client handles them like any other answer.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde::{Deserialize, Serialize};
use tokio_util::io::ReaderStream;

use crate::{LocalObjects, Refusal, UploadRequest};

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

/// The body of a refusal: the API's problem details (`application/problem+json`).
#[derive(Debug, Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
}

/// A refusal answered as problem details, with the API's slug and title for its status.
fn problem(status: StatusCode, slug: &str, title: &'static str, detail: String) -> Response {
    let body = Problem {
        kind: format!("urn:dragoman:problem:{slug}"),
        title,
        status: status.as_u16(),
        detail,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn forbidden(why: &'static str) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Not allowed",
        why.to_owned(),
    )
}

fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Forbidden(why) => forbidden(why),
        Refusal::NotFound => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such resource".to_owned(),
        ),
        Refusal::Sealed => problem(
            StatusCode::CONFLICT,
            "upload-sealed",
            "Conflict with the current state",
            "this upload was completed: its URL can no longer replace it".to_owned(),
        ),
        Refusal::LengthRequired => {
            (StatusCode::LENGTH_REQUIRED, "Content-Length is required").into_response()
        }
        e @ (Refusal::LengthMismatch { .. } | Refusal::Interrupted(_)) => problem(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed request body",
            e.to_string(),
        ),
        Refusal::Backend(e) => {
            // Ours, not the client's: logged with its cause, answered without it.
            tracing::error!(error = %format!("{e:#}"), "request failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the server failed; the failure is logged".to_owned(),
            )
        }
    }
}

/// A query that does not parse is a URL we never signed.
fn not_signed() -> Response {
    forbidden("the URL is not signed")
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

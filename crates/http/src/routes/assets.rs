//! App assets: public files (translations, app configuration) kept under the `assets/` prefix of
//! object storage and served here with an ETag, so that the app revalidates with
//! `If-None-Match` and mostly gets a 304. `dragoman assets put` uploads them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dragoman_ports::ObjectKey;
use utoipa_axum::router::OpenApiRouter;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Clients may reuse an asset this long without asking; then they revalidate with its ETag.
pub const CACHE_CONTROL: &str = "public, max-age=300, must-revalidate";

/// The route matches any depth (`{*path}`); its OpenAPI entry is declared on `ApiDoc`, since
/// the generated routes match one segment only.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/v1/assets/{*path}", get(asset))
}

/// The object key of an asset path, or `None` for a path that could name something outside
/// `assets/` or is not a key at all (`..`, `.`, empty segments, backslashes, non-ASCII).
pub fn asset_key(path: &str) -> Option<ObjectKey> {
    ObjectKey::parse(&format!("assets/{path}")).ok()
}

/// Whether an `If-None-Match` header names `etag` (weak comparison, as RFC 9110 asks for GET).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag))
}

/// A public app asset: 200 with its bytes, ETag and Cache-Control, or 304 when `If-None-Match`
/// names its current ETag.
#[utoipa::path(get, path = "/v1/assets/{path}", tag = "files",
    params(("path" = String, Path, description = "e.g. `i18n/es.json`; `..`, `.` and empty segments are refused")),
    responses(
        (status = 200, description = "the asset, with ETag and Cache-Control", content_type = "application/octet-stream"),
        (status = 304, description = "the ETag in If-None-Match is current"),
        (status = 404, description = "no such asset, or a path that is not one", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn asset(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = asset_key(&path).ok_or(ApiError::NotFound)?;
    let object = state.files.asset(&key).await?;
    let etag = object
        .meta
        .etag
        .clone()
        .unwrap_or_else(|| digest_etag(&object.bytes));
    let mut response = if not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let content_type = object
            .meta
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        ([(header::CONTENT_TYPE, content_type)], object.bytes).into_response()
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

/// The content's SHA-256 as a quoted ETag (when storage gives none).
fn digest_etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_not_an_asset() {
        assert_eq!(
            asset_key("i18n/es.json").map(|k| k.to_string()),
            Some("assets/i18n/es.json".to_owned())
        );
        for bad in [
            "../secret",
            "a/../../b",
            "./x",
            "a//b",
            "",
            "a\\..\\b",
            "/etc/passwd",
            "..",
        ] {
            assert!(asset_key(bad).is_none(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(not_modified(&headers, "\"b\""));
        assert!(not_modified(&headers, "\"a\""));
        assert!(!not_modified(&headers, "\"c\""));
        assert!(!not_modified(&HeaderMap::new(), "\"a\""));
    }
}

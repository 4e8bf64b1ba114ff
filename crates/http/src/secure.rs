//! Security headers on every response.
//!
//! The API answers JSON, but a browser may still be led to one of its URLs (a download, an
//! error page): `nosniff` keeps it from guessing a type, `no-referrer` keeps signed URLs out of
//! other sites' logs, and a deny-all Content Security Policy with `frame-ancestors 'none'`
//! keeps any HTML it might render inert and unframeable. A route that serves real HTML sets its
//! own policy, which is kept. HSTS is sent only when the public URL is https, since a browser
//! remembers it for a year.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// One year, with subdomains: the usual production setting.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The headers each response gets unless its route set them.
const DEFAULTS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// Adds the headers; `hsts` when the server is reached over https.
pub async fn headers(State(hsts): State<bool>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in DEFAULTS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

//! The per-request envelope: a request id on every response and log line, one log line per
//! request, and the HTTP metrics.
//!
//! Labels are bounded: the route is the matched template (`/v1/requests/{id}`), never the raw
//! path, and unmatched paths share one label, so a scan of random URLs cannot grow the metrics.
//! Methods outside the standard set (HTTP allows any token) share the label `OTHER`.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use dragoman_ports::Clock;
use tracing::Instrument;
use uuid::Uuid;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Assigns the request id (keeping a sane one set by the load balancer), runs the request in a
/// span carrying it, then logs and measures the outcome. The duration is measured on the clock
/// port's monotonic reading, like every other duration (one virtual call a request).
pub async fn observe(
    State(clock): State<Arc<dyn Clock>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = clock.instant();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert(REQUEST_ID, value);
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = bounded_method(req.method()).to_owned();
    let span = tracing::info_span!(
        "request",
        requestId = %request_id,
        method = %method,
        route = %route,
        userId = tracing::field::Empty,
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let latency = clock.instant().saturating_duration_since(started);
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let latency_ms = (latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latencyMs = latency_ms, "Request completed");
        } else {
            tracing::info!(status, latencyMs = latency_ms, "Request completed");
        }
    });
    let status_label = status.to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status_label)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(latency.as_secs_f64());
    response
}

/// The method as a label value: one of the nine standard methods, or `OTHER`.
fn bounded_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

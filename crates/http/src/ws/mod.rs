//! GET /v1/ws: the real-time channel of API.md.
//!
//! Authenticated at the upgrade (a bearer token in the `Authorization` header or the
//! `access_token` query parameter); refused with 401 before any socket exists, and with 503 past
//! the instance's connection cap or while it drains. Each accepted connection runs in a task of
//! its own, apart from hyper's upgrade state, with small buffers: idle connections cost little.

mod connection;
pub mod hub;
mod outbox;
mod protocol;

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::response::Response;

use crate::problem::ApiError;
use crate::state::AppState;
use connection::Connection;

/// The gateway's limits and timers.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    pub ping_interval: Duration,
    /// A connection that sends nothing (pongs included) for this long is closed.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Largest client message; larger closes the connection with 1009.
    pub max_message_bytes: usize,
    /// Events queued for one connection before it counts as too slow.
    pub outbox_capacity: usize,
    /// Longest one frame may take to go out before the client counts as too slow.
    pub send_timeout: Duration,
    pub messages_per_second: f64,
    pub message_burst: f64,
    /// How long an interpreter may be without any connection before being set `offline`.
    pub presence_grace: Duration,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_connections: 19_000,
            max_message_bytes: 16 * 1024,
            outbox_capacity: 64,
            send_timeout: Duration::from_secs(10),
            messages_per_second: 10.0,
            message_burst: 20.0,
            presence_grace: Duration::from_secs(120),
        }
    }
}

/// The access token of an upgrade request: the header first, else the query parameter.
fn token(parts: &Parts, query: &HashMap<String, String>) -> Result<String, ApiError> {
    if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("the Authorization header is not valid text"))?;
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(token.trim().to_owned())
            }
            _ => Err(ApiError::Unauthenticated(
                "the Authorization header must be Bearer <access_token>",
            )),
        };
    }
    query
        .get("access_token")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or(ApiError::Unauthenticated(
            "send Authorization: Bearer <access_token> or ?access_token=",
        ))
}

/// The upgrade.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    parts: Parts,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let caller = state.tokens.verify_access(&token(&parts, &query)?)?;
    tracing::Span::current().record("userId", tracing::field::display(caller.id));
    let upgrade =
        upgrade.map_err(|e| ApiError::Malformed(format!("not a WebSocket upgrade: {e}")))?;
    let settings = state.ws;
    if !state.hub.admit(settings.max_connections) {
        return Err(ApiError::Busy(
            "this instance holds all the connections it can, or is stopping; reconnect",
        ));
    }
    if let Err(e) = state
        .presence
        .touch(&[caller.id], settings.presence_grace)
        .await
    {
        tracing::warn!(error = %e, "could not mark a connection present");
    }
    if let Err(e) = state
        .connections
        .hold(
            state.engine.instance_id(),
            &[caller.id],
            settings.presence_grace,
        )
        .await
    {
        tracing::warn!(error = %e, "could not record a connection in the registry");
    }
    let hub = state.hub.clone();
    let on_failed = hub.clone();
    let connection = move |socket| {
        let connection = Box::new(Connection {
            socket,
            user: caller.id,
            hub,
            bus: state.bus.clone(),
            clock: state.clock.clone(),
            settings,
        });
        let (hub, registry, engine, user) = (
            state.hub.clone(),
            state.connections.clone(),
            state.engine.clone(),
            caller.id,
        );
        // Its own task, so the upgrade's state is freed as soon as this returns. When the
        // user's last connection here ends, the registry forgets this instance for them (a
        // connection opening meanwhile is recorded again at the next renewal).
        tokio::spawn(async move {
            connection.run().await;
            if !hub.holds(user)
                && let Err(e) = registry.release(engine.instance_id(), &[user]).await
            {
                tracing::warn!(error = %e, "could not remove a connection from the registry");
            }
        });
        async {}
    };
    Ok(upgrade
        // Client messages are small: a 256-byte buffer takes them in one read, grows for a
        // larger one and reads a 16 KiB message in 256-byte steps.
        .read_buffer_size(256)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(settings.max_message_bytes)
        .max_frame_size(settings.max_message_bytes)
        .on_failed_upgrade(move |_| on_failed.release())
        .on_upgrade(connection))
}

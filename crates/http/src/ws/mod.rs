//! GET /v1/ws: the real-time channel of API.md.
//!
//! Authenticated at the upgrade (a bearer token in the `Authorization` header, a single-use
//! `ticket` from POST /v1/ws/ticket, or the `access_token` query parameter); refused with 401
//! before any socket exists, and with 503 past the instance's connection cap or while it drains.
//! A user holds at most `max_per_user` sockets across the fleet: a new one closes the oldest
//! (4008), on whichever instance holds it. A socket closes when the access token behind it
//! expires (4001). Each accepted connection runs in a task of its own, apart from hyper's upgrade
//! state, with small buffers: idle connections cost little.

mod connection;
pub mod dismissal;
pub mod hub;
mod outbox;
mod protocol;
pub mod ticket;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dragoman_ports::{Bus, Clock, ConnectionRegistry, SocketId};

use crate::extract::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use connection::Connection;
use dismissal::{Dismissal, Instruction};
use hub::Hub;

pub use ticket::router;

/// The gateway's limits and timers.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    pub ping_interval: Duration,
    /// A connection that sends nothing (pongs included) for this long is closed.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// WebSockets one user may hold across the fleet; a new one past it closes the oldest.
    pub max_per_user: usize,
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
            max_per_user: 5,
            max_message_bytes: 16 * 1024,
            outbox_capacity: 64,
            send_timeout: Duration::from_secs(10),
            messages_per_second: 10.0,
            message_burst: 20.0,
            presence_grace: Duration::from_secs(120),
        }
    }
}

/// Who is connecting and when their access token expires: from the `Authorization` header
/// first, else a `ticket` (taken, so it opens one socket), else the `access_token` parameter.
async fn authenticate(
    state: &AppState,
    parts: &Parts,
    query: &HashMap<String, String>,
) -> Result<(Caller, DateTime<Utc>), ApiError> {
    if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("the Authorization header is not valid text"))?;
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                state.tokens.verify_access_until(token.trim())
            }
            _ => Err(ApiError::Unauthenticated(
                "the Authorization header must be Bearer <access_token>",
            )),
        };
    }
    if let Some(ticket) = query.get("ticket").filter(|t| !t.is_empty()) {
        return ticket::redeem(state, ticket).await;
    }
    let token =
        query
            .get("access_token")
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated(
                "send Authorization: Bearer <access_token>, ?ticket= or ?access_token=",
            ))?;
    state.tokens.verify_access_until(token)
}

/// The instant on tokio's timers at which a token expiring at `expires` (wall time, read on
/// `clock`) has expired. Timers are tokio's, so that a test pauses and advances them.
fn deadline(clock: &dyn Clock, expires: DateTime<Utc>) -> tokio::time::Instant {
    let left = (expires - clock.now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// The upgrade.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    parts: Parts,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (caller, expires) = authenticate(&state, &parts, &query).await?;
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
    let on_failed = state.hub.clone();
    let expires = deadline(state.clock.as_ref(), expires);
    let connection = move |socket| {
        // Its own task, so the upgrade's state is freed as soon as this returns.
        let gateway = Gateway {
            hub: state.hub.clone(),
            registry: state.connections.clone(),
            bus: state.bus.clone(),
            clock: state.clock.clone(),
            settings,
        };
        tokio::spawn(gateway.open(socket, caller.id, expires));
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

/// What a socket's task takes from the state: its future lives as long as the socket, so it
/// holds no more than this.
struct Gateway {
    hub: Arc<Hub>,
    registry: Arc<dyn ConnectionRegistry>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    settings: WsSettings,
}

impl Gateway {
    /// Serves an upgraded socket: registers it here, records it in the fleet (closing the user's
    /// oldest sockets past the cap, wherever they are), runs it, and forgets it when it ends.
    async fn open(
        self,
        socket: axum::extract::ws::WebSocket,
        user: dragoman_domain::UserId,
        expires: tokio::time::Instant,
    ) {
        let Gateway {
            hub,
            registry,
            bus,
            clock,
            settings,
        } = self;
        // Registered before it is recorded, so an instruction that names it finds it.
        let handle = hub.register(user, settings.outbox_capacity);
        let number = handle.id;
        // Built when needed rather than kept: this future lives as long as the socket.
        let id = || SocketId {
            instance: hub.instance().to_owned(),
            number,
        };
        match registry
            .open(user, &id(), settings.max_per_user, settings.presence_grace)
            .await
        {
            Ok(evicted) => {
                for socket in evicted {
                    tracing::debug!(userId = %user, instance = %socket.instance, number = socket.number, "closing a WebSocket past the per-user cap");
                    Instruction {
                        user,
                        socket: Some(socket),
                        why: Dismissal::Replaced,
                    }
                    .publish(bus.as_ref(), clock.now());
                }
            }
            // The cap is not enforced for this socket; the socket itself is served.
            Err(e) => tracing::warn!(error = %e, "could not record a WebSocket in the registry"),
        }
        let connection = Box::new(Connection {
            socket,
            user,
            handle,
            expires,
            hub: hub.clone(),
            bus,
            clock,
            settings,
        });
        connection.run().await;
        if let Err(e) = registry.close(user, &id()).await {
            tracing::warn!(error = %e, "could not remove a WebSocket from the registry");
        }
        // When the user's last connection here ends, the registry forgets this instance for them
        // (a connection opening meanwhile is recorded again at the next renewal).
        if !hub.holds(user)
            && let Err(e) = registry.release(hub.instance(), &[user]).await
        {
            tracing::warn!(error = %e, "could not remove a connection from the registry");
        }
    }
}

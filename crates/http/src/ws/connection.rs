//! One WebSocket connection: relays the user's events, answers resume and subscribe, pings,
//! closes the idle, the flooding and the too slow, and closes itself when its access token
//! expires or it is dismissed from outside (a newer socket past the user's cap, revoked rights).
//!
//! Its timers (the next ping, the idle check, the token's expiry, send timeouts) are tokio's, so
//! that a test pauses and advances them; the instants it stamps and the throttle's refills are
//! read on the clock port.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use dragoman_domain::UserId;
use dragoman_ports::{Bus, Clock};

use super::WsSettings;
use super::dismissal::Dismissal;
use super::hub::{Handle, Hub};
use super::protocol::{ClientMessage, Throttle, Topic, error_frame, frame, parse};

/// Everything a connection needs, moved into its task.
pub struct Connection {
    pub socket: WebSocket,
    pub user: UserId,
    /// Its place in the hub, registered before the connection was recorded in the fleet, so
    /// that an instruction naming it finds it.
    pub handle: Arc<Handle>,
    /// When the access token that opened the connection expires: it closes then (4001).
    pub expires: tokio::time::Instant,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    pub settings: WsSettings,
}

/// The ids sent on this connection, so a resume never sends one twice; only the most recent are
/// kept (a user's log holds at most a thousand events), so memory stays bounded.
#[derive(Default)]
struct SentIds(BTreeSet<u64>);

impl SentIds {
    /// True if `id` was not sent yet (and is now recorded).
    fn insert(&mut self, id: u64) -> bool {
        let new = self.0.insert(id);
        if self.0.len() > 2048 {
            self.0.pop_first();
        }
        new
    }
}

/// Why the server closes; the reason is sent in the close frame.
struct Close(u16, &'static str);

impl Connection {
    /// Serves the connection until it closes. Boxed, so that the task's future holds a pointer
    /// to the socket and settings rather than a copy of them for each call it nests.
    pub async fn run(self: Box<Self>) {
        metrics::counter!("dragoman_websocket_connections_opened_total").increment(1);
        let user = self.user;
        let hub = self.hub.clone();
        let handle = self.handle.clone();
        let close = self.serve(&handle).await;
        hub.unregister(user, handle.id);
        if let Some(Close(code, reason)) = close {
            tracing::debug!(userId = %user, code, reason, "WebSocket closed by the server");
        }
    }

    async fn send(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Close> {
        match tokio::time::timeout(
            self.settings.send_timeout,
            self.socket.send(Message::Text(text.into())),
        )
        .await
        {
            Ok(Ok(())) => {
                metrics::counter!("dragoman_websocket_messages_sent_total").increment(1);
                Ok(())
            }
            Ok(Err(_)) => Err(Close(close_code::ABNORMAL, "gone")),
            Err(_) => Err(Close(close_code::POLICY, "too slow: reconnect and resume")),
        }
    }

    /// Sends the close frame, then reads (and drops) what the client still sends until its own
    /// close frame or a second has passed: closing the socket with unread data would reset the
    /// connection and the client might never see why it was closed.
    async fn close(&mut self, Close(code, reason): &Close) {
        let frame = CloseFrame {
            code: *code,
            reason: Utf8Bytes::from_static(reason),
        };
        let socket = &mut self.socket;
        let _ = tokio::time::timeout(Duration::from_secs(1), async move {
            if socket.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// The connection's loop. What an idle connection waits on stays small: handling a client
    /// message (a resume may replay many events) and closing are boxed, so their state is
    /// allocated only while they run.
    async fn serve(mut self: Box<Self>, handle: &Handle) -> Option<Close> {
        let draining = self.hub.draining();
        // The connection's one timer: the next ping (which also checks for idleness), or the
        // token's expiry if that comes first.
        let interval = self.settings.ping_interval;
        let expires = self.expires;
        let mut next_ping = tokio::time::Instant::now() + interval;
        let ping = tokio::time::sleep_until(next_ping.min(expires));
        tokio::pin!(ping);
        // On the timers' clock: it is checked when the ping timer fires.
        let mut last_heard = tokio::time::Instant::now();
        let mut throttle = Throttle::new(
            self.settings.messages_per_second,
            self.settings.message_burst,
            self.clock.instant(),
        );
        // Ids already sent on this connection, so a resume never sends one twice.
        let mut sent = SentIds::default();
        let outcome = loop {
            let step = tokio::select! {
                incoming = self.socket.recv() => match incoming {
                    None | Some(Ok(Message::Close(_))) => break None,
                    // What the client broke is said in the close frame; a connection that is
                    // simply gone (reset, end of stream) is dropped.
                    Some(Err(e)) => {
                        let text = e.to_string();
                        if text.contains("Space limit exceeded") || text.contains("too long") || text.contains("Message too long") {
                            Err(Close(close_code::SIZE, "message too big"))
                        } else if text.contains("UTF-8") {
                            Err(Close(close_code::INVALID, "text frames must be UTF-8"))
                        } else if text.contains("protocol error") && !text.contains("without closing handshake") {
                            Err(Close(close_code::PROTOCOL, "protocol error"))
                        } else {
                            break None;
                        }
                    }
                    Some(Ok(message)) => {
                        last_heard = tokio::time::Instant::now();
                        Box::pin(self.on_message(message, handle, &mut throttle, &mut sent)).await
                    }
                },
                shared = handle.outbox.recv() => {
                    if let Some(id) = shared.id
                        && !sent.insert(id)
                    {
                        continue;
                    }
                    self.send(shared.text.clone()).await
                }
                _ = handle.wake.notified() => {
                    if let Some(why) = handle.dismissal() {
                        Err(Close(why.code(), why.reason()))
                    } else if handle.too_slow.load(Ordering::Relaxed) {
                        Err(Close(close_code::POLICY, "too slow: reconnect and resume"))
                    } else {
                        Ok(())
                    }
                }
                () = &mut ping => {
                    if tokio::time::Instant::now() >= expires {
                        let why = Dismissal::TokenExpired;
                        break Some(Close(why.code(), why.reason()));
                    }
                    next_ping += interval;
                    ping.as_mut().reset(next_ping.min(expires));
                    if last_heard.elapsed() >= self.settings.idle_timeout {
                        Err(Close(close_code::AWAY, "idle"))
                    } else {
                        match tokio::time::timeout(self.settings.send_timeout, self.socket.send(Message::Ping(Default::default()))).await {
                            Ok(Ok(())) => Ok(()),
                            _ => Err(Close(close_code::ABNORMAL, "gone")),
                        }
                    }
                }
                () = draining.cancelled() => Err(Close(close_code::RESTART, "reconnect")),
            };
            if let Err(close) = step {
                break Some(close);
            }
        };
        if let Some(close) = &outcome {
            Box::pin(self.close(close)).await;
        }
        outcome
    }

    async fn on_message(
        &mut self,
        message: Message,
        handle: &Handle,
        throttle: &mut Throttle,
        sent: &mut SentIds,
    ) -> Result<(), Close> {
        // Pings are answered by the library; pongs only count as activity. Text and binary
        // frames alike pass the throttle.
        if matches!(
            message,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_)
        ) {
            return Ok(());
        }
        if !throttle.allow(self.clock.instant()) {
            if throttle.refused_in_a_row > self.settings.message_burst as u32 {
                return Err(Close(close_code::POLICY, "too many messages"));
            }
            return self
                .send(error_frame(
                    "rate_limited",
                    "too many messages; slow down",
                    self.clock.now(),
                ))
                .await;
        }
        let Message::Text(text) = message else {
            return self
                .send(error_frame(
                    "malformed",
                    "send JSON text frames",
                    self.clock.now(),
                ))
                .await;
        };
        match parse(text.as_str()) {
            Err(refusal) => {
                self.send(error_frame(refusal.code, &refusal.detail, self.clock.now()))
                    .await
            }
            Ok(ClientMessage::Subscribe {
                topic: Topic::Availability,
            }) => {
                handle.availability.store(true, Ordering::Relaxed);
                Ok(())
            }
            Ok(ClientMessage::Resume { after }) => {
                let replay = match self.bus.replay(self.user, after).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read an event log");
                        return self
                            .send(error_frame(
                                "unavailable",
                                "events cannot be replayed right now; try again",
                                self.clock.now(),
                            ))
                            .await;
                    }
                };
                if after > replay.latest {
                    let detail = format!(
                        "no event {after} exists yet; the latest is {}",
                        replay.latest
                    );
                    return self
                        .send(error_frame("resume_from_future", &detail, self.clock.now()))
                        .await;
                }
                for delivered in replay.events {
                    if let Some(id) = delivered.id
                        && sent.insert(id)
                    {
                        self.send(frame(&delivered)).await?;
                    }
                }
                Ok(())
            }
        }
    }
}

//! The instance's WebSocket hub: which connections it holds, the relay from the bus to them,
//! and the drain at shutdown.
//!
//! One relay task per instance reads the bus and hands each event to the connections of its
//! user (or of its topic) through bounded queues. A connection whose queue is full is told to
//! close ("too slow"): memory stays bounded whatever a client does, and the app recovers what it
//! missed with `resume` on reconnecting. Instructions to the gateways on the bus (close a
//! socket past a user's cap, close a revoked user's sockets) are carried out here too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dragoman_domain::UserId;
use dragoman_ports::{Audience, Bus, Delivered};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::dismissal::{Dismissal, Instruction};
use super::outbox::Outbox;

use super::protocol::Frame;

/// What the hub keeps of one connection.
#[derive(Debug)]
pub struct Handle {
    pub id: u64,
    /// Events waiting to go out; the relay pushes, the connection takes.
    pub outbox: Outbox,
    /// Set once the connection subscribed to availability updates.
    pub availability: AtomicBool,
    /// Set by the relay when the outbox overflowed; the connection closes itself.
    pub too_slow: AtomicBool,
    /// The close code of a [`Dismissal`] once the connection was told to close from outside
    /// (0 until then); the connection closes itself with it.
    pub dismissed: AtomicU16,
    pub wake: Notify,
}

impl Handle {
    /// Why the connection was told to close from outside, if it was.
    pub fn dismissal(&self) -> Option<Dismissal> {
        Dismissal::from_code(self.dismissed.load(Ordering::Relaxed))
    }

    fn dismiss(&self, why: Dismissal) {
        self.dismissed.store(why.code(), Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// The connections of this instance.
#[derive(Debug)]
pub struct Hub {
    /// This instance's name in the fleet (the engine's instance id): a socket is known across
    /// the fleet by this name and its handle's id.
    instance: String,
    /// A std mutex: the relay and the connections hold it only to look up or edit the map.
    connections: Mutex<HashMap<UserId, Vec<Arc<Handle>>>>,
    count: AtomicUsize,
    next_id: AtomicU64,
    /// Cancelled at shutdown: every connection closes with "reconnect".
    draining: CancellationToken,
    /// Rung whenever a connection ends, so the drain can wait for the last one.
    ended: Notify,
}

impl Hub {
    /// A hub for a test that needs no name in a fleet.
    pub fn new() -> Self {
        Self::named("")
    }

    /// The hub of the instance named `instance`.
    pub fn named(instance: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            connections: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            draining: CancellationToken::new(),
            ended: Notify::new(),
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Arc<Handle>>>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reserves a place for a new connection, unless `cap` are open or the hub is draining.
    pub fn admit(&self, cap: usize) -> bool {
        if self.draining.is_cancelled() {
            return false;
        }
        let admitted = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            metrics::gauge!("dragoman_websocket_connections").increment(1.0);
        }
        admitted
    }

    /// Gives back a place reserved by [`Hub::admit`] whose upgrade never happened.
    pub fn release(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("dragoman_websocket_connections").decrement(1.0);
        self.ended.notify_waiters();
    }

    /// Registers an admitted connection of `user`, whose outbox holds up to `outbox_capacity`
    /// events.
    pub fn register(&self, user: UserId, outbox_capacity: usize) -> Arc<Handle> {
        let handle = Arc::new(Handle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            outbox: Outbox::new(outbox_capacity),
            availability: AtomicBool::new(false),
            too_slow: AtomicBool::new(false),
            dismissed: AtomicU16::new(0),
            wake: Notify::new(),
        });
        // Room for one: a user seldom has more than one connection.
        self.map()
            .entry(user)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(handle.clone());
        handle
    }

    /// Forgets a connection and gives back its place.
    pub fn unregister(&self, user: UserId, id: u64) {
        let mut map = self.map();
        if let Some(list) = map.get_mut(&user) {
            list.retain(|h| h.id != id);
            if list.is_empty() {
                map.remove(&user);
            }
        }
        drop(map);
        self.release();
    }

    /// Whether the user has a connection on this instance.
    pub fn holds(&self, user: UserId) -> bool {
        self.map().contains_key(&user)
    }

    /// The users with a connection on this instance.
    pub fn users(&self) -> Vec<UserId> {
        self.map().keys().copied().collect()
    }

    /// Cancelled when the hub drains: a connection closes with "reconnect" then.
    pub fn draining(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// Tells every connection to close with "reconnect", refuses new ones, and waits until the
    /// last one has ended or `timeout` has passed. Returns the connections still open.
    pub async fn drain(&self, timeout: std::time::Duration) -> usize {
        self.draining.cancel();
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_empty() {
            let ended = self.ended.notified();
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                break;
            }
        }
        self.len()
    }

    /// Tells the connections an instruction names, if this instance holds them, to close.
    pub fn dismiss(&self, instruction: &Instruction) {
        let map = self.map();
        let held = map.get(&instruction.user).into_iter().flatten();
        match &instruction.socket {
            Some(socket) if socket.instance != self.instance => {}
            Some(socket) => held
                .filter(|h| h.id == socket.number)
                .for_each(|h| h.dismiss(instruction.why)),
            None => held.for_each(|h| h.dismiss(instruction.why)),
        }
    }

    fn offer(handle: &Handle, frame: &mut SharedFrame<'_>) {
        if handle.too_slow.load(Ordering::Relaxed) {
            return;
        }
        if handle.outbox.try_send(frame.get()).is_err() {
            handle.too_slow.store(true, Ordering::Relaxed);
            handle.wake.notify_one();
        }
    }

    /// Relays the bus to this instance's connections until `stop` is cancelled or the bus
    /// closes. Subscribed when called, not when first polled: what is published once this
    /// returns reaches the connections.
    pub fn relay(
        self: Arc<Self>,
        bus: Arc<dyn Bus>,
        stop: CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        let events = bus.subscribe();
        self.relay_from(events, stop)
    }

    async fn relay_from(
        self: Arc<Self>,
        mut events: broadcast::Receiver<Arc<Delivered>>,
        stop: CancellationToken,
    ) {
        loop {
            let received = tokio::select! {
                () = stop.cancelled() => break,
                received = events.recv() => received,
            };
            match received {
                Ok(delivered) if delivered.event.audience == Audience::Gateways => {
                    if let Some(instruction) = Instruction::of(&delivered) {
                        self.dismiss(&instruction);
                    }
                }
                Ok(delivered) => {
                    let mut frame = SharedFrame::new(&delivered);
                    let map = self.map();
                    match &delivered.event.audience {
                        Audience::User(user) => {
                            for handle in map.get(user).into_iter().flatten() {
                                Self::offer(handle, &mut frame);
                            }
                        }
                        Audience::Topic(topic) if topic == "availability" => {
                            for handle in map.values().flatten() {
                                if handle.availability.load(Ordering::Relaxed) {
                                    Self::offer(handle, &mut frame);
                                }
                            }
                        }
                        Audience::Topic(_) | Audience::Gateways => {}
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Events were lost for everyone on this instance: close every connection so
                    // each app resumes from its last id and misses nothing.
                    tracing::warn!(
                        missed,
                        "The WebSocket relay fell behind the bus; asking every connection to resume"
                    );
                    for handle in self.map().values().flatten() {
                        handle.too_slow.store(true, Ordering::Relaxed);
                        handle.wake.notify_one();
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

/// An event's frame, serialized when the first recipient is found (an instance holding none of
/// an event's recipients never serializes it) and then shared by all of them.
struct SharedFrame<'a> {
    delivered: &'a Delivered,
    frame: Option<Arc<Frame>>,
}

impl<'a> SharedFrame<'a> {
    fn new(delivered: &'a Delivered) -> Self {
        Self {
            delivered,
            frame: None,
        }
    }

    fn get(&mut self) -> Arc<Frame> {
        self.frame
            .get_or_insert_with(|| Arc::new(Frame::of(self.delivered)))
            .clone()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

//! The connection registry port: which instances hold a WebSocket of which user, each socket of
//! each user in the order they opened, and the single-use tickets that open them.
//!
//! Each instance records the users it holds connections for, for a time it renews while they
//! stay connected, and removes a user when their last connection on it ends or it drains; the
//! records of an instance that dies run out by themselves. A user may be held by several
//! instances at once (a phone and a laptop), up to a number of sockets: [`ConnectionRegistry::open`]
//! records a new socket and names the oldest ones beyond that number, wherever they are held, so
//! that their instances close them. A ticket is a short-lived stand-in for an access token that
//! any instance can redeem once.

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;

/// One WebSocket, named across the fleet: the instance holding it and its number there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId {
    pub instance: String,
    pub number: u64,
}

#[async_trait]
pub trait ConnectionRegistry: Send + Sync + std::fmt::Debug {
    /// Records that `instance` holds `users`, for `ttl` from now (renewing earlier records);
    /// the records of the sockets `instance` opened for them are renewed to the same time.
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()>;

    /// Forgets that `instance` holds `users`.
    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()>;

    /// The instances holding `user` now, sorted.
    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>>;

    /// Records that `socket` of `user` opened now, for `ttl` (renewed by [`Self::hold`]), and
    /// keeps the newest `keep` of the user's sockets: the older ones are forgotten and returned,
    /// oldest first, for their instances to close. Atomic: sockets opening at the same moment on
    /// different instances never leave the user more than `keep`.
    async fn open(
        &self,
        user: UserId,
        socket: &SocketId,
        keep: usize,
        ttl: Duration,
    ) -> anyhow::Result<Vec<SocketId>>;

    /// Forgets a socket that closed (nothing if it is unknown or was already evicted).
    async fn close(&self, user: UserId, socket: &SocketId) -> anyhow::Result<()>;

    /// The user's recorded sockets, oldest first.
    async fn sockets(&self, user: UserId) -> anyhow::Result<Vec<SocketId>>;

    /// Keeps `grant` under `key` for `ttl`; a key already in use is left as it is (false).
    async fn put_ticket(&self, key: &str, grant: &str, ttl: Duration) -> anyhow::Result<bool>;

    /// Takes the grant kept under `key`, if it has not run out: whoever takes it first gets
    /// it, every later call (on any instance) gets `None`.
    async fn take_ticket(&self, key: &str) -> anyhow::Result<Option<String>>;
}

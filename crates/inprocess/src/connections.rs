//! The connection registry in process memory (one instance): the instances holding each
//! user, each user's sockets in the order they opened, and the WebSocket tickets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{Clock, ConnectionRegistry, SocketId, SystemClock};
use tokio::time::Instant;

/// For each user, the instances holding them and until when. A user is almost always held by
/// one instance, so each list is allocated for one, and the instance's name is shared by every
/// user it holds rather than copied for each.
#[derive(Debug, Default)]
struct Holders {
    users: HashMap<UserId, Vec<(Arc<str>, Instant)>>,
    /// The names of the instances in `users`.
    names: Vec<Arc<str>>,
}

impl Holders {
    fn name(&mut self, instance: &str) -> Arc<str> {
        if let Some(name) = self.names.iter().find(|n| &***n == instance) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(instance);
        self.names.push(name.clone());
        name
    }

    /// Drops what expired, and the names no user refers to any more.
    fn forget_expired(&mut self, now: Instant) {
        self.users.retain(|_, instances| {
            instances.retain(|(_, until)| *until > now);
            !instances.is_empty()
        });
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

/// A recorded socket, and until when its record lasts. The instance's name is shared with
/// every other record of it rather than copied for each socket.
#[derive(Debug)]
struct OpenSocket {
    instance: Arc<str>,
    number: u64,
    until: Instant,
}

impl OpenSocket {
    fn is(&self, socket: &SocketId) -> bool {
        self.number == socket.number && *self.instance == *socket.instance
    }

    fn id(&self) -> SocketId {
        SocketId {
            instance: self.instance.to_string(),
            number: self.number,
        }
    }
}

/// Each user's sockets, in the order they opened (the oldest first).
#[derive(Debug, Default)]
struct Sockets {
    users: HashMap<UserId, Vec<OpenSocket>>,
    /// The names of the instances in `users`.
    names: Vec<Arc<str>>,
}

impl Sockets {
    fn name(&mut self, instance: &str) -> Arc<str> {
        if let Some(name) = self.names.iter().find(|n| &***n == instance) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(instance);
        self.names.push(name.clone());
        name
    }
}

#[derive(Debug)]
pub struct InProcessConnections {
    /// A std mutex: never held across an await.
    holders: Mutex<Holders>,
    /// A std mutex: never held across an await.
    sockets: Mutex<Sockets>,
    /// Tickets and their grants, until they run out. A std mutex: never held across an await.
    tickets: Mutex<HashMap<String, (String, Instant)>>,
    /// What the records' and tickets' TTLs are measured on.
    clock: Arc<dyn Clock>,
}

impl InProcessConnections {
    /// Records timed on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Records timed on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            holders: Mutex::default(),
            sockets: Mutex::default(),
            tickets: Mutex::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.holders.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sockets_lock(&self) -> std::sync::MutexGuard<'_, Sockets> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tickets_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for InProcessConnections {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ConnectionRegistry for InProcessConnections {
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = self.clock.instant();
        let mut holders = self.lock();
        holders.forget_expired(now);
        let name = holders.name(instance);
        for user in users {
            let instances = holders
                .users
                .entry(*user)
                .or_insert_with(|| Vec::with_capacity(1));
            match instances.iter_mut().find(|(n, _)| *n == name) {
                Some((_, until)) => *until = now + ttl,
                None => instances.push((name.clone(), now + ttl)),
            }
        }
        drop(holders);
        let mut sockets = self.sockets_lock();
        // Users whose records all ran out are dropped at each renewal, so memory follows the
        // connected users.
        sockets.users.retain(|_, list| {
            list.retain(|open| open.until > now);
            !list.is_empty()
        });
        sockets.names.retain(|n| Arc::strong_count(n) > 1);
        for user in users {
            for open in sockets.users.get_mut(user).into_iter().flatten() {
                if &*open.instance == instance && open.until > now {
                    open.until = now + ttl;
                }
            }
        }
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        let mut holders = self.lock();
        for user in users {
            if let Some(instances) = holders.users.get_mut(user) {
                instances.retain(|(n, _)| &**n != instance);
                if instances.is_empty() {
                    holders.users.remove(user);
                }
            }
        }
        Ok(())
    }

    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>> {
        let now = self.clock.instant();
        let mut held: Vec<String> = self
            .lock()
            .users
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|(_, until)| *until > now)
            .map(|(instance, _)| instance.to_string())
            .collect();
        held.sort();
        Ok(held)
    }

    async fn open(
        &self,
        user: UserId,
        socket: &SocketId,
        keep: usize,
        ttl: Duration,
    ) -> anyhow::Result<Vec<SocketId>> {
        let now = self.clock.instant();
        let mut sockets = self.sockets_lock();
        // Only this user's records are swept here (the renewal sweeps everyone's).
        let instance = sockets.name(&socket.instance);
        let list = sockets
            .users
            .entry(user)
            .or_insert_with(|| Vec::with_capacity(1));
        list.retain(|open| open.until > now && !open.is(socket));
        list.push(OpenSocket {
            instance,
            number: socket.number,
            until: now + ttl,
        });
        let beyond = list.len().saturating_sub(keep);
        Ok(list.drain(..beyond).map(|open| open.id()).collect())
    }

    async fn close(&self, user: UserId, socket: &SocketId) -> anyhow::Result<()> {
        let mut sockets = self.sockets_lock();
        if let Some(list) = sockets.users.get_mut(&user) {
            list.retain(|open| !open.is(socket));
            if list.is_empty() {
                sockets.users.remove(&user);
            }
        }
        Ok(())
    }

    async fn sockets(&self, user: UserId) -> anyhow::Result<Vec<SocketId>> {
        let now = self.clock.instant();
        let sockets = self.sockets_lock();
        Ok(sockets
            .users
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|open| open.until > now)
            .map(OpenSocket::id)
            .collect())
    }

    async fn put_ticket(&self, key: &str, grant: &str, ttl: Duration) -> anyhow::Result<bool> {
        let now = self.clock.instant();
        let mut tickets = self.tickets_lock();
        tickets.retain(|_, (_, until)| *until > now);
        if tickets.contains_key(key) {
            return Ok(false);
        }
        tickets.insert(key.to_owned(), (grant.to_owned(), now + ttl));
        Ok(true)
    }

    async fn take_ticket(&self, key: &str) -> anyhow::Result<Option<String>> {
        let now = self.clock.instant();
        Ok(self
            .tickets_lock()
            .remove(key)
            .filter(|(_, until)| *until > now)
            .map(|(grant, _)| grant))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_conformance::Time;
    use dragoman_ports::ConnectionRegistry;

    dragoman_conformance::connections_suite!(manual {
        let (clock, time) = Time::manual();
        (
            Arc::new(super::InProcessConnections::with_clock(clock)) as Arc<dyn ConnectionRegistry>,
            time,
            (),
        )
    });
}

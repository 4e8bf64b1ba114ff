//! The connection registry in Redis: per user, a sorted set `dragoman:connections:{user}` of
//! the instances holding them, each scored with the time (Redis's clock, in ms) its record runs
//! out; the set itself expires with its last record. On a cluster the users' keys spread over
//! the slots: a batch is one script call or command per user.
//!
//! Each user's sockets are a hash `dragoman:sockets:{user}`: a field `<number>|<instance>` per
//! socket, valued `<order> <until ms>`, where the order comes from the hash's own counter (field
//! `#`), so sockets opened in the same millisecond on two instances are still ordered. Opening is
//! one script (count, then evict the oldest beyond the cap), so concurrent opens never leave a
//! user more. A WebSocket ticket is a string `dragoman:ws-ticket:{key}` with a TTL, set only if
//! absent and taken with GETDEL: one taker, whichever instance asks.

use std::time::Duration;

use crate::RedisConn;
use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{ConnectionRegistry, SocketId};

const HOLD: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, until_ms, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, last[2])
end
return 1
"#;

const HOLDERS: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
"#;

/// Renews the records of the sockets of instance ARGV[1] (a field suffix `|<instance>`) in each
/// key, unless they already ran out.
const RENEW_SOCKETS: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[2])
local suffix = ARGV[1]
for _, key in ipairs(KEYS) do
  local all = redis.call('HGETALL', key)
  local renewed = false
  for i = 1, #all, 2 do
    local field = all[i]
    if field ~= '#' and string.sub(field, -#suffix) == suffix then
      local order, old = string.match(all[i + 1], '^(%d+) (%d+)$')
      if order and tonumber(old) > now then
        redis.call('HSET', key, field, order .. ' ' .. string.format('%d', until_ms))
        renewed = true
      end
    end
  end
  if renewed and redis.call('PTTL', key) < tonumber(ARGV[2]) then
    redis.call('PEXPIREAT', key, string.format('%d', until_ms))
  end
end
return 1
"#;

/// Records socket ARGV[1] for ARGV[2] ms, drops what ran out and evicts (returns) the oldest
/// beyond ARGV[3].
const OPEN_SOCKET: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local order = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %d', order, now + tonumber(ARGV[2])))
local live = {}
local last = now + tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if field ~= '#' then
    local o, u = string.match(all[i + 1], '^(%d+) (%d+)$')
    if not o or tonumber(u) <= now then
      redis.call('HDEL', KEYS[1], field)
    else
      live[#live + 1] = {tonumber(o), field}
      if tonumber(u) > last then last = tonumber(u) end
    end
  end
end
table.sort(live, function(a, b) return a[1] < b[1] end)
local evicted = {}
for i = 1, #live - tonumber(ARGV[3]) do
  redis.call('HDEL', KEYS[1], live[i][2])
  evicted[#evicted + 1] = live[i][2]
end
redis.call('PEXPIREAT', KEYS[1], string.format('%d', last))
return evicted
"#;

/// Forgets socket ARGV[1]; the hash goes with its last socket.
const CLOSE_SOCKET: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])
end
return 1
"#;

/// The sockets whose records have not run out, oldest first.
const SOCKETS: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '#' then
    local o, u = string.match(all[i + 1], '^(%d+) (%d+)$')
    if o and tonumber(u) > now then
      live[#live + 1] = {tonumber(o), all[i]}
    end
  end
end
table.sort(live, function(a, b) return a[1] < b[1] end)
local fields = {}
for i = 1, #live do
  fields[i] = live[i][2]
end
return fields
"#;

/// A socket's field in its user's hash.
fn field(socket: &SocketId) -> String {
    format!("{}|{}", socket.number, socket.instance)
}

fn parse_field(field: &str) -> Option<SocketId> {
    let (number, instance) = field.split_once('|')?;
    Some(SocketId {
        instance: instance.to_owned(),
        number: number.parse().ok()?,
    })
}

#[derive(Clone)]
pub struct RedisConnections {
    redis: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for RedisConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnections")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisConnections {
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, user: UserId) -> String {
        format!("{}dragoman:connections:{user}", self.prefix)
    }

    fn sockets_key(&self, user: UserId) -> String {
        format!("{}dragoman:sockets:{user}", self.prefix)
    }

    fn ticket_key(&self, key: &str) -> String {
        format!("{}dragoman:ws-ticket:{key}", self.prefix)
    }

    /// Runs `script` over `keys` with `args`: one call on a single Redis; on a cluster, where a
    /// script's keys must share a slot, one call per key, all sent at once.
    async fn each_key(
        &self,
        script: &str,
        keys: Vec<String>,
        args: &[String],
    ) -> anyhow::Result<()> {
        let script = redis::Script::new(script);
        if self.redis.is_cluster() {
            futures::future::try_join_all(keys.into_iter().map(|key| {
                let mut redis = self.redis.clone();
                let mut invocation = script.prepare_invoke();
                invocation.key(key);
                for arg in args {
                    invocation.arg(arg);
                }
                async move { invocation.invoke_async::<i64>(&mut redis).await }
            }))
            .await?;
            return Ok(());
        }
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        let mut redis = self.redis.clone();
        let _: i64 = invocation.invoke_async(&mut redis).await?;
        Ok(())
    }
}

#[async_trait]
impl ConnectionRegistry for RedisConnections {
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let ttl_ms = ttl.as_millis().max(1).to_string();
        let instance_args = [instance.to_owned(), ttl_ms.clone()];
        let socket_args = [format!("|{instance}"), ttl_ms];
        let instances = self.each_key(
            HOLD,
            users.iter().map(|user| self.key(*user)).collect(),
            &instance_args,
        );
        let sockets = self.each_key(
            RENEW_SOCKETS,
            users.iter().map(|user| self.sockets_key(*user)).collect(),
            &socket_args,
        );
        futures::future::try_join(instances, sockets).await?;
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let commands = users
            .iter()
            .map(|user| {
                let mut remove = redis::cmd("ZREM");
                remove.arg(self.key(*user)).arg(instance);
                remove
            })
            .collect();
        self.redis.each::<redis::Value>(commands).await?;
        Ok(())
    }

    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>> {
        let mut redis = self.redis.clone();
        let mut held: Vec<String> = redis::Script::new(HOLDERS)
            .key(self.key(user))
            .invoke_async(&mut redis)
            .await?;
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
        let mut redis = self.redis.clone();
        let evicted: Vec<String> = redis::Script::new(OPEN_SOCKET)
            .key(self.sockets_key(user))
            .arg(field(socket))
            .arg(ttl.as_millis().max(1) as u64)
            .arg(keep)
            .invoke_async(&mut redis)
            .await?;
        Ok(evicted.iter().filter_map(|f| parse_field(f)).collect())
    }

    async fn close(&self, user: UserId, socket: &SocketId) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let _: i64 = redis::Script::new(CLOSE_SOCKET)
            .key(self.sockets_key(user))
            .arg(field(socket))
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }

    async fn sockets(&self, user: UserId) -> anyhow::Result<Vec<SocketId>> {
        let mut redis = self.redis.clone();
        let fields: Vec<String> = redis::Script::new(SOCKETS)
            .key(self.sockets_key(user))
            .invoke_async(&mut redis)
            .await?;
        Ok(fields.iter().filter_map(|f| parse_field(f)).collect())
    }

    async fn put_ticket(&self, key: &str, grant: &str, ttl: Duration) -> anyhow::Result<bool> {
        let mut redis = self.redis.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.ticket_key(key))
            .arg(grant)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .arg("NX")
            .query_async(&mut redis)
            .await?;
        Ok(set.is_some())
    }

    async fn take_ticket(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("GETDEL")
            .arg(self.ticket_key(key))
            .query_async(&mut redis)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::ConnectionRegistry;

    use crate::testing::{Backend, connect, prefix};

    async fn registry(on: Backend) -> Arc<dyn ConnectionRegistry> {
        let (_, conn) = connect(on).await;
        Arc::new(super::RedisConnections::new(conn, &prefix()))
    }

    dragoman_conformance::connections_suite!((registry(Backend::Plain).await, ()));

    mod tls {
        use super::{Backend, registry};
        dragoman_conformance::connections_suite!((registry(Backend::Tls).await, ()));
    }

    mod cluster {
        use super::{Backend, registry};
        dragoman_conformance::connections_suite!((registry(Backend::Cluster).await, ()));
    }
}

//! The bus on Redis: pub/sub between instances and a stream per user for resume.
//!
//! Publishing a user event is one script: the user's counter gives the id, the event joins the
//! user's stream (entry id `<id>-0`, about the last thousand kept, the stream expiring when idle
//! for twice the retention) and is published, so ids, log and delivery agree whichever instance
//! publishes. Publishing never blocks the engine: events queue (bounded) for a publisher task.
//! One subscriber task per instance reads the three channels (user events, topic events,
//! instructions to the gateways) and feeds the local broadcast that the WebSocket hub relays.
//!
//! On a Redis Cluster the bus stays one ordered stream: every user's log and counter are under the
//! hash tag `{dragoman:events}` (`P{dragoman:events}:<user>`), so every event, topic events
//! included (a one-line script declaring a key of that slot), is published by the one node that
//! holds it, and each subscriber, on whichever node, receives them in the order they were sent.
//! (Tagging each user's keys apart would spread the logs, but events published by different
//! nodes reach a subscriber in no particular order.) Both channels stay classic pub/sub under the
//! seed's names: every instance listens to every event, so a sharded channel would not spread the
//! load, and a seed service subscribing to `interpreter-status` on any node keeps receiving it.
//! The price is the cluster bus carrying each message to every node.

use std::sync::Arc;

use crate::RedisConn;
use crate::wire::{decode, decode_user_message, encode};
use anyhow::Context;
use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::bus::RETENTION;
use dragoman_ports::{Audience, Bus, Delivered, Event, Replay};
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};

/// Events waiting for the publisher before new ones are dropped (and logged): bounded memory
/// while Redis is unreachable.
const QUEUE: usize = 10_000;
const LOCAL_CAPACITY: usize = 4096;
/// Entries kept per user stream, whatever their age.
const MAX_PER_USER: usize = 1000;

const PUBLISH_USER_EVENT: &str = r#"
local id = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 2592000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], tostring(id) .. '-0', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[1], tostring(id) .. ' ' .. ARGV[2])
return id
"#;

/// A topic event published from the node holding KEYS[1] (cluster only; unused otherwise).
const PUBLISH_TOPIC_EVENT: &str = "return redis.call('PUBLISH', ARGV[1], ARGV[2])";

pub struct RedisBus {
    local: broadcast::Sender<Arc<Delivered>>,
    queue: mpsc::Sender<Event>,
    redis: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn user_channel(prefix: &str) -> String {
    format!("{prefix}dragoman:events")
}

fn topic_channel(prefix: &str) -> String {
    format!("{prefix}interpreter-status")
}

/// Instructions to the WebSocket gateways: a channel of their own, so the seed's channel
/// carries only what its subscribers know.
fn gateways_channel(prefix: &str) -> String {
    format!("{prefix}dragoman:gateways")
}

/// The user's event log; on a cluster every log and counter is under the one hash tag
/// `{dragoman:events}` (see the module documentation).
fn log_key(redis: &RedisConn, prefix: &str, user: UserId) -> String {
    format!("{prefix}{}:{user}", redis.tag("dragoman:events"))
}

/// On a cluster, a key of the events' slot: topic events are published from the node that
/// publishes user events, so that every subscriber receives them in the order they were sent.
fn order_key(redis: &RedisConn, prefix: &str) -> String {
    format!("{prefix}{}", redis.tag("dragoman:events"))
}

fn seq_key(redis: &RedisConn, prefix: &str, user: UserId) -> String {
    format!("{}:seq", log_key(redis, prefix, user))
}

impl RedisBus {
    /// Subscribes (returning once the subscription is live) and starts the publisher.
    pub async fn start(
        client: redis::Client,
        redis: RedisConn,
        prefix: &str,
    ) -> anyhow::Result<Arc<Self>> {
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .context("opening a Redis pub/sub connection")?;
        pubsub.subscribe(user_channel(prefix)).await?;
        pubsub.subscribe(topic_channel(prefix)).await?;
        pubsub.subscribe(gateways_channel(prefix)).await?;
        tokio::spawn(subscriber(
            client,
            redis.clone(),
            pubsub,
            local.clone(),
            prefix.to_owned(),
        ));
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(publisher(redis.clone(), events, prefix.to_owned()));
        Ok(Arc::new(Self {
            local,
            queue,
            redis,
            prefix: prefix.to_owned(),
        }))
    }
}

async fn publisher(mut redis: RedisConn, mut events: mpsc::Receiver<Event>, prefix: String) {
    let script = redis::Script::new(PUBLISH_USER_EVENT);
    while let Some(event) = events.recv().await {
        let payload = encode(&event);
        let result: redis::RedisResult<()> = match &event.audience {
            Audience::User(user) => script
                .key(seq_key(&redis, &prefix, *user))
                .key(log_key(&redis, &prefix, *user))
                .arg(user_channel(&prefix))
                .arg(&payload)
                .arg(MAX_PER_USER)
                .arg(RETENTION.as_secs() * 2)
                .invoke_async::<u64>(&mut redis)
                .await
                .map(|_| ()),
            Audience::Topic(_) if redis.is_cluster() => redis::Script::new(PUBLISH_TOPIC_EVENT)
                .key(order_key(&redis, &prefix))
                .arg(topic_channel(&prefix))
                .arg(&payload)
                .invoke_async::<i64>(&mut redis)
                .await
                .map(|_| ()),
            Audience::Topic(_) => redis::cmd("PUBLISH")
                .arg(topic_channel(&prefix))
                .arg(&payload)
                .query_async::<i64>(&mut redis)
                .await
                .map(|_| ()),
            // Instructions need no order with the events: any node publishes them.
            Audience::Gateways => redis::cmd("PUBLISH")
                .arg(gateways_channel(&prefix))
                .arg(&payload)
                .query_async::<i64>(&mut redis)
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, kind = event.kind, "An event could not be published to Redis; it is lost");
        }
    }
}

async fn subscriber(
    client: redis::Client,
    redis: RedisConn,
    mut pubsub: redis::aio::PubSub,
    local: broadcast::Sender<Arc<Delivered>>,
    prefix: String,
) {
    let users = user_channel(&prefix);
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                let delivered = if message.get_channel_name() == users {
                    decode_user_message(&payload)
                } else {
                    decode(None, &payload)
                };
                if let Some(d) = delivered {
                    let _ = local.send(Arc::new(d));
                }
            }
        }
        // The connection dropped: events published meanwhile were missed here. Re-subscribe;
        // connected apps recover what they missed with `resume`.
        // On a cluster, any live node will do.
        tracing::warn!("The Redis subscription dropped; reconnecting");
        'reconnect: loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            for server in crate::open::pubsub_servers(&client, &redis).await {
                let Ok(mut fresh) = server.get_async_pubsub().await else {
                    continue;
                };
                if fresh.subscribe(&users).await.is_ok()
                    && fresh.subscribe(topic_channel(&prefix)).await.is_ok()
                    && fresh.subscribe(gateways_channel(&prefix)).await.is_ok()
                {
                    pubsub = fresh;
                    break 'reconnect;
                }
            }
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn publish(&self, event: Event) {
        if let Err(e) = self.queue.try_send(event) {
            tracing::warn!(error = %e, "The Redis publish queue is full; an event is dropped");
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Delivered>> {
        self.local.subscribe()
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let _: String = redis::cmd("PING").query_async(&mut redis).await?;
        Ok(())
    }

    async fn replay(&self, user: UserId, after: u64) -> anyhow::Result<Replay> {
        let mut redis = self.redis.clone();
        let (entries, latest): (redis::streams::StreamRangeReply, Option<u64>) = redis::pipe()
            .cmd("XRANGE")
            .arg(log_key(&self.redis, &self.prefix, user))
            .arg(format!("({after}-0"))
            .arg("+")
            .get(seq_key(&self.redis, &self.prefix, user))
            .query_async(&mut redis)
            .await?;
        let events = entries
            .ids
            .iter()
            .filter_map(|entry| {
                let id: u64 = entry.id.split('-').next()?.parse().ok()?;
                let text: String = entry.get("e")?;
                decode(Some(id), &text).map(Arc::new)
            })
            .collect();
        Ok(Replay {
            events,
            latest: latest.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::Bus;

    use crate::testing::{Backend, connect, prefix};

    async fn bus(on: Backend) -> Arc<dyn Bus> {
        let (client, conn) = connect(on).await;
        super::RedisBus::start(client, conn, &prefix())
            .await
            .expect("started")
    }

    dragoman_conformance::bus_suite!((bus(Backend::Plain).await, ()));

    mod tls {
        use super::{Backend, bus};
        dragoman_conformance::bus_suite!((bus(Backend::Tls).await, ()));
    }

    mod cluster {
        use super::{Backend, bus};
        dragoman_conformance::bus_suite!((bus(Backend::Cluster).await, ()));
    }
}

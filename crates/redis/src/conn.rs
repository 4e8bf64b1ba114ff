//! The connection every Redis port shares, to one Redis (or a replication group's primary) or to
//! a Redis Cluster (made by [`crate::open`]).
//!
//! On a cluster, every command goes to the node holding its key's slot; a pipeline or script
//! must keep its keys in one slot, which [`RedisConn::tag`] (a hash tag on a cluster only) and
//! [`RedisConn::each`] (one command per key where keys spread) provide.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};

/// A multiplexed connection that reconnects by itself; cheap to clone (clones share it).
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConn::Single",
            Self::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

impl RedisConn {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// `part` as a hash tag (`{part}`) on a cluster, so that the keys built around it share a
    /// slot; as it is on a single Redis, whose key names stay the seed's.
    pub fn tag(&self, part: &str) -> String {
        if self.is_cluster() {
            format!("{{{part}}}")
        } else {
            part.to_owned()
        }
    }

    /// Runs independent commands, each on one key: one pipeline on a single Redis; on a
    /// cluster, where a pipeline's keys must share a slot, each command on its own (all sent at
    /// once). Answers in the order of `commands`.
    pub async fn each<T: FromRedisValue>(&self, commands: Vec<Cmd>) -> RedisResult<Vec<T>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Self::Single(manager) => {
                let mut pipe = redis::pipe();
                for command in commands {
                    pipe.add_command(command);
                }
                pipe.query_async(&mut manager.clone()).await
            }
            Self::Cluster(cluster) => {
                futures::future::try_join_all(commands.into_iter().map(|command| {
                    let mut conn = cluster.clone();
                    async move { command.query_async::<T>(&mut conn).await }
                }))
                .await
            }
        }
    }
}

impl RedisConn {
    /// On a cluster, waits (at most `timeout`) until a replica of the node holding `key` has
    /// every write this connection sent that node, and answers how many replicas have; on a
    /// single Redis answers `None` at once. Replication is asynchronous: a write the master
    /// acknowledged and then lost in a failover before passing it on is gone, unless the caller
    /// waited for this before acknowledging it in turn.
    pub async fn wait_for_replica(&self, key: &str, timeout: Duration) -> RedisResult<Option<i64>> {
        let Self::Cluster(cluster) = self else {
            return Ok(None);
        };
        let mut wait = redis::cmd("WAIT");
        wait.arg(1).arg(timeout.as_millis().max(1) as u64);
        let route = Route::with_key(key, SlotAddr::Master);
        let answer = cluster
            .clone()
            .route_command(
                wait,
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
            )
            .await?;
        Ok(Some(i64::from_redis_value(answer)?))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

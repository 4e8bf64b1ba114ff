//! The job queue's crash and restart tests, as one test binary: a worker process killed with
//! SIGKILL (`crash`), a Redis restarted under workers (`redis_restart`), a Redis Cluster master
//! killed under load (`cluster_failover`, on the cluster `private_cluster` starts).

mod private_cluster;

mod cluster_failover;
mod crash;
mod redis_restart;

//! The Redis job queue's integration tests, as one test binary: the queue's conformance suite on
//! plain Redis, Redis with TLS and the Redis Cluster (`conformance`), and the workers on both
//! queues (`worker`).

mod conformance;
mod worker;

//! The PostgreSQL store's integration tests, as one test binary: the queue's conformance suite
//! (directly and through PgBouncer), races and a whole fleet between instances, the roles the
//! application connects as, and the streaming read replica. Test names start with their module
//! (`fleet::...`, `replica::...`), which is what .config/nextest.toml filters on.

mod common;

mod fleet;
mod queue;
mod races;
mod replica;
mod roles;

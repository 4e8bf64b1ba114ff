//! Job workers: what runs the jobs a [`JobQueue`](dragoman_ports::JobQueue) holds.
//!
//! A [`Handler`] serves one job type under its [`Policy`] (concurrency, attempts, backoff,
//! timeout, visibility). The [`Worker`] reserves jobs of each type it has a handler for, runs
//! them, and completes, retries or dead-letters each; jobs of a type it has no handler for are
//! dead-lettered with a readable error rather than left waiting. Delivery is at least once: a
//! handler writes its effect through a store method that records the job's key in the same
//! transaction ([`dragoman_ports::JobEffects`]), which makes the effect exactly once.

mod outbox;
mod policy;
mod retention;
mod summary;
mod uploads;
mod worker;

pub use outbox::{relay_owed_summaries, spawn_summary_relay};
pub use policy::{Policy, backoff};
pub use retention::{
    BATCH, MAX_BATCHES, RETENTION_IDEMPOTENCY_KEYS, RETENTION_OFFERS, RETENTION_PERIOD,
    RETENTION_REFRESH_TOKENS, Retention, RetentionHandler, next_retention_due, retention_jobs,
    spawn_retention_schedule,
};
pub use summary::{SESSION_SUMMARY, SessionSummaryHandler, session_summary_job};
pub use uploads::UploadSweepHandler;
pub use worker::{Handler, Worker, WorkerHandle};

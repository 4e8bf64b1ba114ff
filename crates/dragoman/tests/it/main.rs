//! The application's integration tests, as one test binary: each module was a binary of its own,
//! and linking the whole application into each of them cost more than running them. Test names
//! start with their module (`authz::...`, `files::s3::...`), which is what .config/nextest.toml
//! filters on.
//!
//! Shared support is in `common` (the application on port 0 and the WebSocket client of its
//! gateway) and `stack` (the local fleet of `deploy/local/stack`); the S3 test server and a
//! process of a test's own come from `dragoman_conformance`, which the adapters' tests share.

#[macro_use]
mod common;
mod stack;

mod accounts;
mod admin;
mod authz;
mod cli;
mod cluster;
mod files;
mod fleet;
mod fleet_realtime;
mod interpreters;
mod jobs_admin;
mod jobs_cli;
mod matching;
mod observability;
mod openapi;
mod operations;
mod password_abuse;
mod redis_start;
mod replica;
mod retention;
mod summary_outbox;
mod timers;
mod websocket;
mod ws_fuzz;

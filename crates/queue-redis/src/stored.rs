//! A job as the queue stores it: one JSON field per stream entry, the same in the delayed set and
//! the dead-letter stream, with times in microseconds of the injected clock.

use chrono::{DateTime, Utc};
use dragoman_ports::QueueError;
use serde::{Deserialize, Serialize};

/// A job as stored in a stream entry, the delayed set and the dead-letter stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) payload: serde_json::Value,
    /// Runs that ended (failed) before this entry was written.
    pub(crate) attempts: u32,
    pub(crate) enqueued_at: i64,
    pub(crate) due_at: i64,
    pub(crate) priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) died_at: Option<i64>,
}

impl Stored {
    pub(crate) fn lane(&self) -> &'static str {
        if self.priority > 0 { "1" } else { "0" }
    }
}

pub(crate) fn us(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_us(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

pub(crate) fn decode(json: &str) -> Result<Stored, QueueError> {
    serde_json::from_str(json)
        .map_err(|e| QueueError::Backend(anyhow::anyhow!("corrupt job in Redis: {e}")))
}

pub(crate) fn encode(job: &Stored) -> String {
    // A struct of strings, numbers and a JSON value always serialises.
    serde_json::to_string(job).unwrap_or_default()
}

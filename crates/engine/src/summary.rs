//! The post-session summary job as the application enqueues it: its type and its key. Ending a
//! session is the use-case that owes a summary, so the job's shape lives here; the worker that
//! writes it (`dragoman_jobs::SessionSummaryHandler`) reads the same type name.

use dragoman_ports::{NewJob, SessionSummary};

/// The job type.
pub const SESSION_SUMMARY: &str = "session-summary";

/// The job for `summary`: its key is the session's, so ending a session twice (or enqueueing
/// its summary twice) writes one summary.
pub fn session_summary_job(summary: &SessionSummary) -> anyhow::Result<NewJob> {
    Ok(NewJob::new(
        SESSION_SUMMARY,
        format!("{SESSION_SUMMARY}:{}", summary.session_id),
        serde_json::to_value(summary)?,
    ))
}

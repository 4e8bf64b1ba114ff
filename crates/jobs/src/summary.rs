//! The post-session summary: enqueued when a session ends, written once by its handler.

use std::sync::Arc;

use dragoman_ports::{Delivery, JobEffects, NewJob, SessionSummary};

use crate::{Handler, Policy};

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

/// Writes the summary and the job key's run record in one store transaction.
#[derive(Debug)]
pub struct SessionSummaryHandler {
    effects: Arc<dyn JobEffects>,
    policy: Policy,
}

impl SessionSummaryHandler {
    pub fn new(effects: Arc<dyn JobEffects>) -> Self {
        Self {
            effects,
            policy: Policy::default(),
        }
    }

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}

#[async_trait::async_trait]
impl Handler for SessionSummaryHandler {
    fn kind(&self) -> &str {
        SESSION_SUMMARY
    }

    fn policy(&self) -> Policy {
        self.policy
    }

    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        let summary: SessionSummary = serde_json::from_value(job.payload.clone())
            .map_err(|e| anyhow::anyhow!("payload is not a session summary: {e}"))?;
        let written = self
            .effects
            .record_session_summary(&job.key, &summary)
            .await?;
        if !written {
            tracing::info!(jobId = %job.id, key = %job.key, "Job already ran; nothing written");
        }
        Ok(())
    }
}

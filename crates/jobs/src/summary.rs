//! The post-session summary: enqueued when a session ends, written once by its handler.

use std::sync::Arc;

use dragoman_ports::{Delivery, JobEffects, SessionSummary};

use crate::{Handler, Policy};

/// The job's type and constructor belong to the use-case that enqueues it (ending a session);
/// they are re-exported here for the relay and for callers that only know the worker.
pub use dragoman_engine::summary::{SESSION_SUMMARY, session_summary_job};

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

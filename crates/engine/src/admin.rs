//! Operations: what operators see (live counts, match time percentiles, dead jobs, the
//! explanation of each offer) and the readiness of the dependencies.
//!
//! Readiness names each dependency's state, never the error text behind it (which can carry host
//! names and driver messages); the text goes to the log.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::matching::RequestId;
use dragoman_ports::{Bus, Clock, MatchingStore, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::EngineError;
use crate::jobs::JobsAdmin;

/// Match time percentiles over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchTimes {
    pub count: usize,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

impl MatchTimes {
    fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len(),
            p50_ms: percentile(&values, 0.50),
            p95_ms: percentile(&values, 0.95),
        }
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// GET /v1/admin/overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    /// Interpreters by status, then by language (an interpreter counts once per language).
    pub interpreters: BTreeMap<String, BTreeMap<String, u32>>,
    /// Open requests (queued or offered) by language.
    pub waiting: BTreeMap<String, u32>,
    /// Over the last hour, all languages together.
    pub match_time_last_hour: MatchTimes,
    /// Over the last hour, per language.
    pub match_time_last_hour_by_language: BTreeMap<String, MatchTimes>,
    /// Dead-lettered jobs; null when this configuration has no job queue or it cannot be reached.
    pub dead_jobs: Option<u64>,
}

/// One stored explanation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExplanationView {
    pub offer_id: uuid::Uuid,
    pub decided_at: chrono::DateTime<chrono::Utc>,
    /// The record as stored (`dragoman_domain::matching::Explanation`), passed through; one
    /// stored before the offline interpreters were counted rather than named reads with empty
    /// `excluded_counts`.
    #[schema(value_type = ExplanationBody)]
    pub explanation: serde_json::Value,
}

/// The shape of a stored explanation, for the OpenAPI document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExplanationBody {
    pub request_id: uuid::Uuid,
    /// The language, specialization and modality asked for.
    #[schema(value_type = Object)]
    pub need: serde_json::Value,
    /// `longest_idle`, `round_robin` or `least_talk_time`.
    pub strategy: String,
    pub decided_at: chrono::DateTime<chrono::Utc>,
    /// The eligible interpreters in offer order, each with the values the strategy ordered by.
    #[schema(value_type = Vec<Object>)]
    pub eligible: Vec<serde_json::Value>,
    /// The excluded interpreters who were online (any status but `offline`), each with the rule
    /// that excluded them: `{"interpreter_id", "rule": {"rule", "status"?}}`.
    #[schema(value_type = Vec<Object>)]
    pub excluded: Vec<serde_json::Value>,
    /// The excluded interpreters who were offline, not named: how many per rule, e.g.
    /// `{"not_available:offline": 4812}`.
    #[schema(example = json!({"not_available:offline": 4812}))]
    pub excluded_counts: BTreeMap<String, u32>,
    /// The first eligible interpreter, to whom the offer went.
    pub chosen: Option<uuid::Uuid>,
}

/// An explanation as the endpoint shows it: one stored before offline interpreters were counted
/// named every interpreter excluded, and reads with no counts.
fn with_counts(mut body: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = body.as_object_mut() {
        fields
            .entry("excluded_counts")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    body
}

/// One dependency's state, as /ready lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DependencyState {
    pub name: &'static str,
    /// `up` or `down`.
    #[schema(example = "up")]
    pub status: &'static str,
    /// Why it is down: `error` (it answered with one) or `timeout` (no answer within 2 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl DependencyState {
    pub fn is_up(&self) -> bool {
        self.status == "up"
    }
}

/// A dependency's state from its answer to a ping within [`READINESS_TIMEOUT`].
fn dependency(
    name: &'static str,
    answer: Result<anyhow::Result<()>, tokio::time::error::Elapsed>,
) -> DependencyState {
    let reason = match answer {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %format!("{e:#}"), "readiness: a dependency is down");
            Some("error")
        }
        Err(_) => {
            tracing::warn!(
                dependency = name,
                "readiness: a dependency did not answer within 2 s"
            );
            Some("timeout")
        }
    };
    DependencyState {
        name,
        status: if reason.is_some() { "down" } else { "up" },
        reason,
    }
}

/// How long readiness waits for each dependency.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The operators' use-cases.
#[derive(Debug)]
pub struct Operations {
    /// Counts, match times and explanations.
    store: Arc<dyn MatchingStore>,
    /// The database, pinged for readiness.
    database: Arc<dyn Store>,
    /// The bus, pinged for readiness (the event logs and the limiter share its backend).
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    /// The dead jobs of the overview.
    jobs: JobsAdmin,
}

impl Operations {
    pub fn new(
        store: Arc<dyn MatchingStore>,
        database: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        jobs: JobsAdmin,
    ) -> Self {
        Self {
            store,
            database,
            bus,
            clock,
            jobs,
        }
    }

    /// Each dependency's state: the database, the cache and the bus, each given 2 s to answer.
    pub async fn readiness(&self) -> Vec<DependencyState> {
        let store = tokio::time::timeout(READINESS_TIMEOUT, async {
            self.database.ping().await.map_err(anyhow::Error::from)
        })
        .await;
        // The bus, the event logs and the limiter share one backend: in-process, or one Redis.
        let bus = dependency(
            "bus",
            tokio::time::timeout(READINESS_TIMEOUT, self.bus.ping()).await,
        );
        let cache = DependencyState {
            name: "cache",
            ..bus.clone()
        };
        vec![dependency("database", store), cache, bus]
    }

    /// GET /v1/admin/overview: interpreters by status and language, waiting requests, match
    /// times over the last hour, dead jobs.
    pub async fn overview(&self) -> Result<Overview, EngineError> {
        let now = self.clock.now();
        let mut interpreters: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
        for c in self.store.status_counts().await? {
            *interpreters
                .entry(c.status.as_str().to_owned())
                .or_default()
                .entry(c.language.to_string())
                .or_default() += c.count;
        }
        let waiting = self
            .store
            .language_loads()
            .await?
            .into_iter()
            .filter(|l| l.waiting > 0)
            .map(|l| (l.language.to_string(), l.waiting))
            .collect();
        let times = self.store.match_times(now - TimeDelta::hours(1)).await?;
        let mut by_language: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (language, ms) in &times {
            by_language
                .entry(language.to_string())
                .or_default()
                .push(*ms);
        }
        Ok(Overview {
            interpreters,
            waiting,
            match_time_last_hour: MatchTimes::of(times.iter().map(|(_, ms)| *ms).collect()),
            match_time_last_hour_by_language: by_language
                .into_iter()
                .map(|(l, v)| (l, MatchTimes::of(v)))
                .collect(),
            dead_jobs: self.jobs.dead_jobs().await,
        })
    }

    /// The explanations of every offer of a request, oldest first; `NotFound` for an unknown
    /// request.
    pub async fn explanations(
        &self,
        request: RequestId,
    ) -> Result<Vec<ExplanationView>, EngineError> {
        if self.store.request(request).await?.is_none() {
            return Err(EngineError::NotFound);
        }
        Ok(self
            .store
            .explanations(request)
            .await?
            .into_iter()
            .map(|e| ExplanationView {
                offer_id: e.offer_id.0,
                decided_at: e.decided_at,
                explanation: with_counts(e.body),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{percentile, with_counts};
    use serde_json::json;

    #[test]
    fn explanations_stored_before_the_counts_read_with_none() {
        let old = json!({"eligible": [], "excluded": [{"interpreter_id": "x"}], "chosen": null});
        let read = with_counts(old.clone());
        assert_eq!(read["excluded_counts"], json!({}));
        assert_eq!(read["excluded"], old["excluded"]);
        let new = json!({"excluded": [], "excluded_counts": {"not_available:offline": 3}});
        assert_eq!(with_counts(new.clone()), new);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.95), Some(95));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}

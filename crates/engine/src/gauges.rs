//! Gauges read from the store: waiting requests and interpreters, by language and status.
//!
//! They are levels of the whole deployment, not of one instance, so they are read from the
//! store once per metrics interval (two grouped queries) rather than kept up to date on the
//! request path. Every instance of a fleet publishes the same values: aggregate them with `max`,
//! not `sum`. Labels come from the store's validated language codes and the fixed status list,
//! so their number is bounded by the configured language table.

use std::collections::{BTreeMap, HashSet};

use dragoman_domain::InterpreterStatus;

use crate::{Engine, EngineError};

/// Publishes the gauges and remembers which label sets it set, so that a language that drops
/// out of the store's answer (its last interpreter and request gone) reads 0 rather than its
/// last value forever.
#[derive(Debug, Default)]
pub struct StoreGauges {
    languages: HashSet<String>,
    statuses: HashSet<(String, &'static str)>,
}

impl StoreGauges {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the store and sets `dragoman_requests_waiting{language}`,
    /// `dragoman_interpreters_available{language}`, `dragoman_interpreters_online{language}` and
    /// `dragoman_interpreters{status,language}`.
    pub async fn publish(&mut self, engine: &Engine) -> Result<(), EngineError> {
        let loads = engine.store.language_loads().await?;
        let counts = engine.store.status_counts().await?;

        let mut seen = HashSet::new();
        for load in &loads {
            let language = load.language.to_string();
            let labels = [("language", language.clone())];
            metrics::gauge!("dragoman_requests_waiting", &labels).set(f64::from(load.waiting));
            metrics::gauge!("dragoman_interpreters_available", &labels)
                .set(f64::from(load.available));
            metrics::gauge!("dragoman_interpreters_online", &labels).set(f64::from(load.online));
            seen.insert(language);
        }
        for gone in self.languages.difference(&seen) {
            let labels = [("language", gone.clone())];
            metrics::gauge!("dragoman_requests_waiting", &labels).set(0.0);
            metrics::gauge!("dragoman_interpreters_available", &labels).set(0.0);
            metrics::gauge!("dragoman_interpreters_online", &labels).set(0.0);
        }
        self.languages = seen;

        let mut by_status: BTreeMap<(String, &'static str), u32> = BTreeMap::new();
        for c in &counts {
            *by_status
                .entry((c.language.to_string(), c.status.as_str()))
                .or_default() += c.count;
        }
        // Every status of a language present, zeros included, so that ratios and `== 0` alerts
        // have a series to read.
        let languages: HashSet<String> = by_status.keys().map(|(l, _)| l.clone()).collect();
        let mut statuses = HashSet::new();
        for language in languages {
            for status in InterpreterStatus::ALL {
                let key = (language.clone(), status.as_str());
                let count = by_status.get(&key).copied().unwrap_or(0);
                metrics::gauge!("dragoman_interpreters", "status" => status.as_str(), "language" => language.clone())
                    .set(f64::from(count));
                statuses.insert(key);
            }
        }
        for (language, status) in self.statuses.difference(&statuses) {
            metrics::gauge!("dragoman_interpreters", "status" => *status, "language" => language.clone())
                .set(0.0);
        }
        self.statuses = statuses;
        Ok(())
    }
}

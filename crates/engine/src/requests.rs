//! Requests: creation (with idempotency), reading with queue position and wait estimate,
//! cancellation, and availability per language.

use chrono::TimeDelta;
use dragoman_domain::matching::{
    Need, Priority, Request, RequestId, RequestStatus, RescindReason, WaitInputs, estimate_wait,
    queue_positions,
};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{
    CancelOutcome, CreateRequestOutcome, IDEMPOTENCY_WINDOW, IdempotencyKey, LanguageLoad,
    RecentActivity, RequestRecord,
};
use std::sync::Arc;
use uuid::Uuid;

use crate::status::Status;
use crate::views::{LanguageAvailability, RequestView};
use crate::{Engine, EngineError};

/// How long an idempotency key is remembered.
/// The period whose sessions and offers feed the wait estimate.
const RECENT: TimeDelta = TimeDelta::hours(1);
/// How long a language's recent activity, read once, serves the estimates that follow. The
/// figures are averages over the last hour, so a few seconds change nothing that matters, while
/// reading them costs an aggregate over every session and offer of that hour: once per request,
/// as costly on the matching benchmark as the count of the language's interpreters (0.78 and
/// 0.76 ms per call at 100 requests/s, `match-latency --breakdown`), and growing with the
/// hour's traffic.
pub(crate) const RECENT_REUSED: TimeDelta = TimeDelta::seconds(5);
/// How long a language's count of interpreters serves the estimates of the requests that follow.
pub(crate) const LOAD_REUSED: TimeDelta = TimeDelta::seconds(1);

/// A client's request, as parsed by the delivery layer.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub client: UserId,
    pub need: Need,
    pub priority: Priority,
    pub idempotency_key: Option<String>,
}

/// The answer to a creation: new, or the replay of an earlier one with the same key.
#[derive(Debug)]
pub enum Created {
    New(RequestView),
    /// The body answered the first time, when it was saved.
    Replayed(Result<String, RequestView>),
}

/// Requests: creation, reading with queue position and wait estimate, cancellation, and
/// availability per language.
#[derive(Debug, Clone)]
pub struct Requests {
    core: Arc<Engine>,
    status: Status,
}

impl Requests {
    pub fn new(core: Arc<Engine>) -> Self {
        Self {
            status: Status::new(core.clone()),
            core,
        }
    }

    pub async fn create_request(&self, new: NewRequest) -> Result<Created, EngineError> {
        let now = self.core.clock.now();
        let request = Request::new(
            RequestId(Uuid::now_v7()),
            new.client,
            new.need,
            new.priority,
            now,
        );
        let key = new.idempotency_key.as_ref().map(|key| IdempotencyKey {
            key: key.clone(),
            not_before: now - IDEMPOTENCY_WINDOW,
        });
        let outcome = self
            .core
            .store
            .create_request(
                &request,
                now + self.core.settings.matching.max_wait,
                key.as_ref(),
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict { constraint }
                    if constraint == "requests_one_open_per_client" =>
                {
                    EngineError::conflict(
                        "open-request",
                        "you already have an open request: cancel it or wait for it to end",
                    )
                }
                other => other.into(),
            })?;
        match outcome {
            CreateRequestOutcome::Replayed {
                response: Some(body),
                ..
            } => Ok(Created::Replayed(Ok(body))),
            CreateRequestOutcome::Replayed {
                request_id,
                response: None,
            } => {
                let record = self
                    .core
                    .store
                    .request(request_id)
                    .await?
                    .ok_or(EngineError::NotFound)?;
                Ok(Created::Replayed(Err(self.request_view(&record).await?)))
            }
            CreateRequestOutcome::Created => {
                tracing::info!(requestId = %request.id.0, clientId = %new.client, language = %new.need.language, "Request created");
                metrics::counter!("dragoman_requests_created_total", "language" => new.need.language.to_string()).increment(1);
                self.core.nudge(new.need.language);
                let record = RequestRecord {
                    request,
                    expires_at: now + self.core.settings.matching.max_wait,
                    session_id: None,
                };
                let view = self.request_view(&record).await?;
                if let Some(key) = &new.idempotency_key
                    && let Ok(body) = serde_json::to_string(&view)
                {
                    self.core
                        .store
                        .save_idempotent_response(new.client, key, &body)
                        .await?;
                }
                self.core.availability_touched(new.need.language);
                Ok(Created::New(view))
            }
        }
    }

    /// The request if `viewer` may see it: its client, an interpreter it was offered to or
    /// matched with, or an admin. Anyone else gets `NotFound`.
    pub async fn visible_request(
        &self,
        id: RequestId,
        viewer: UserId,
        admin: bool,
    ) -> Result<RequestView, EngineError> {
        let record = self
            .core
            .store
            .request(id)
            .await?
            .ok_or(EngineError::NotFound)?;
        let visible = admin
            || record.request.client_id == viewer
            || self
                .core
                .store
                .pending_offers(viewer)
                .await?
                .iter()
                .any(|o| o.request_id == id)
            || match record.session_id {
                Some(session) => self
                    .core
                    .store
                    .session(session)
                    .await?
                    .is_some_and(|s| s.interpreter_id == viewer),
                None => false,
            };
        if !visible {
            return Err(EngineError::NotFound);
        }
        self.request_view(&record).await
    }

    /// The API's `request`, with its queue position and wait estimate while queued.
    pub async fn request_view(&self, record: &RequestRecord) -> Result<RequestView, EngineError> {
        let r = &record.request;
        if r.status != RequestStatus::Queued {
            return Ok(RequestView::new(record, None, None));
        }
        let open = self.core.store.open_requests(r.need.language).await?;
        let position = queue_positions(&open).get(&r.id).copied();
        let estimate = match position {
            Some(p) => self.estimate(r.need.language, p).await?,
            None => None,
        };
        Ok(RequestView::new(record, position, estimate))
    }

    /// Estimated seconds of wait at `position` in `language`'s queue (see
    /// `dragoman_domain::matching::estimate`), from a count of the language's interpreters at
    /// most `LOAD_REUSED` old: every creation answers an estimate, and counting a language's
    /// interpreters for each one was the costliest read of a creation. The availability
    /// endpoint and its announcements count afresh.
    async fn estimate(
        &self,
        language: LanguageCode,
        position: u32,
    ) -> Result<Option<i64>, EngineError> {
        let load = self
            .core
            .loads
            .get_or_read(language, self.core.clock.now(), || {
                self.core.store.language_load(language)
            })
            .await?;
        self.estimate_with(&load, position).await
    }

    /// The same, with the language's load already read.
    async fn estimate_with(
        &self,
        load: &LanguageLoad,
        position: u32,
    ) -> Result<Option<i64>, EngineError> {
        // With nobody online there is no estimate (see `estimate_wait`): skip the history.
        if load.online == 0 && load.available == 0 {
            return Ok(None);
        }
        let recent = self.recent_activity(load.language).await?;
        let inputs = WaitInputs {
            queue_position: position,
            available: load.available,
            online: load.online,
            mean_session: recent.mean_session,
            wrap_up: self.core.settings.matching.wrap_up,
            match_rate: (recent.offers_made > 0)
                .then(|| f64::from(recent.offers_accepted) / f64::from(recent.offers_made)),
        };
        Ok(estimate_wait(&inputs).map(|d| d.num_seconds()))
    }

    /// The language's activity over the last hour, read at most once per `RECENT_REUSED`.
    async fn recent_activity(&self, language: LanguageCode) -> Result<RecentActivity, EngineError> {
        let now = self.core.clock.now();
        Ok(self
            .core
            .recent
            .get_or_read(language, now, || {
                self.core.store.recent_activity(language, now - RECENT)
            })
            .await?)
    }

    pub async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
    ) -> Result<RequestView, EngineError> {
        let now = self.core.clock.now();
        match self.core.store.cancel_request(id, client, now).await? {
            CancelOutcome::NotFound => Err(EngineError::NotFound),
            CancelOutcome::NotOpen(record) => Err(EngineError::conflict(
                "request-closed",
                format!(
                    "the request is {} and can no longer be cancelled",
                    record.request.status.as_str()
                ),
            )),
            CancelOutcome::Cancelled { request, rescinded } => {
                if let Some(offer) = rescinded {
                    self.core
                        .events
                        .offer_rescinded(&offer, RescindReason::Cancelled, now);
                    self.status.interpreter_released(offer.interpreter_id).await;
                    self.core.nudge(offer.need.language);
                }
                let view = self.request_view(&request).await?;
                self.core.events.request_updated(client, &view, now);
                self.core
                    .availability_touched(request.request.need.language);
                tracing::info!(requestId = %id.0, "Request cancelled");
                Ok(view)
            }
        }
    }

    /// GET /v1/availability: every language with an interpreter or a waiting request.
    pub async fn availability(&self) -> Result<Vec<LanguageAvailability>, EngineError> {
        let mut out = Vec::new();
        for load in self.core.store.language_loads().await? {
            let estimate = self.estimate_with(&load, load.waiting + 1).await?;
            out.push(LanguageAvailability {
                code: load.language.to_string(),
                available: load.available,
                waiting: load.waiting,
                estimated_wait_s: estimate,
            });
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(out)
    }

    /// Publishes `availability.changed` for one language now (the runner calls it for the
    /// languages touched since its last tick). Best effort: a failure is logged.
    pub(crate) async fn announce_availability(&self, language: LanguageCode) {
        let now = self.core.clock.now();
        let entry = async {
            let load = self.core.store.language_load(language).await?;
            let estimated_wait_s = self.estimate_with(&load, load.waiting + 1).await?;
            Ok::<_, EngineError>(LanguageAvailability {
                code: language.to_string(),
                available: load.available,
                waiting: load.waiting,
                estimated_wait_s,
            })
        };
        match entry.await {
            Ok(entry) => self.core.events.availability_changed(&entry, now),
            Err(e) => tracing::warn!(error = %e, "could not compute availability"),
        }
    }
}

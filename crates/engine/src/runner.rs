//! The background work of an instance: matching rounds, timers, availability announcements.
//!
//! Each language is matched by the instance holding the lease `match:<code>`; timers are swept
//! by the holder of `timers`. A lease lasts `lease_ttl` and is renewed when half of it is left,
//! so an instance that dies without a word hands its languages and timers to another within one
//! lease's lifetime. Leases are an efficiency, not the safety: the store's conditional claims keep
//! every invariant even when two instances match the same language at once.

use std::sync::Arc;

use dragoman_domain::LanguageCode;
use dragoman_domain::matching::{OfferId, RequestStatus, RescindReason};
use dragoman_ports::{Audience, PresenceRegistry};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::requests::Requests;
use crate::roster::{Read, Rosters};
use crate::status::Status;
use crate::views::StatusView;
use crate::{Engine, EngineError};

/// The matching work of an instance: its background loop, the rounds and the timer sweeps.
#[derive(Debug, Clone)]
pub struct Matching {
    core: Arc<Engine>,
    requests: Requests,
    status: Status,
}

fn log_failure<T>(what: &str, result: Result<T, EngineError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, work = what, "Background work failed; retrying at the next tick");
    }
}

impl Matching {
    pub fn new(core: Arc<Engine>) -> Self {
        Self {
            requests: Requests::new(core.clone()),
            status: Status::new(core.clone()),
            core,
        }
    }

    /// Runs until `shutdown` is cancelled, then waits for its timer sweep to finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let watcher = tokio::spawn(self.clone().watch_changes(shutdown.clone()));
        // Timers and announcements in a task of their own: a sweep that releases a hundred
        // interpreters at once must not hold back the rounds that new requests are waiting for.
        let timers = tokio::spawn(self.clone().timers(shutdown.clone()));
        let mut tick = tokio::time::interval(self.core.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = self.core.wake.notified() => {
                    let languages: Vec<LanguageCode> =
                        self.core.dirty.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
                    self.clone().rounds_of(languages).await;
                }
                _ = tick.tick() => {
                    match self.core.store.languages_waiting().await {
                        Ok(languages) => {
                            *self.core.waiting.lock().unwrap_or_else(|p| p.into_inner()) =
                                languages.iter().copied().collect();
                            self.clone().rounds_of(languages).await
                        }
                        Err(e) => log_failure("matching", Err::<(), _>(e.into())),
                    }
                }
            }
        }
        if let Err(e) = watcher.await {
            tracing::error!(error = %e, "The change watcher panicked");
        }
        if let Err(e) = timers.await {
            tracing::error!(error = %e, "The timer sweep panicked");
        }
        tracing::info!("Matching stopped");
    }

    /// Sweeps the due timers and announces availability changes at every tick, until
    /// `shutdown`.
    async fn timers(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.core.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    log_failure("timers", self.sweep().await);
                    self.announce_touched().await;
                }
            }
        }
    }

    /// One round for each of `languages`, all at once: languages share nothing but the store,
    /// whose conditional claims settle an interpreter wanted by two languages' rounds.
    async fn rounds_of(self: Arc<Self>, languages: Vec<LanguageCode>) {
        if let [language] = languages[..] {
            log_failure("matching", self.round(language).await);
            return;
        }
        let mut rounds = tokio::task::JoinSet::new();
        for language in languages {
            let engine = self.clone();
            rounds.spawn(async move { engine.round(language).await });
        }
        while let Some(done) = rounds.join_next().await {
            match done {
                Ok(result) => log_failure("matching", result),
                Err(e) => tracing::error!(error = %e, "A matching round panicked"),
            }
        }
    }

    /// Whether this instance holds (or just took) the lease `name`.
    async fn holds(&self, name: &str) -> Result<bool, EngineError> {
        let now = self.core.clock.now();
        let ttl = self.core.settings.lease_ttl;
        let trusted = self
            .core
            .leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied();
        if trusted.is_some_and(|until| until - now > ttl / 2) {
            return Ok(true);
        }
        let held = self
            .core
            .store
            .try_lease(name, &self.core.settings.instance_id, ttl, now)
            .await?;
        let mut leases = self.core.leases.lock().unwrap_or_else(|p| p.into_inner());
        if held {
            leases.insert(name.to_owned(), now + ttl);
        } else {
            leases.remove(name);
        }
        Ok(held)
    }

    /// A round for every language with a queued request.
    pub async fn rounds(&self) -> Result<(), EngineError> {
        for language in self.core.store.languages_waiting().await? {
            self.round(language).await?;
        }
        Ok(())
    }

    /// One matching round for `language`, if this instance holds its lease. Returns the number
    /// of offers made.
    pub async fn round(&self, language: LanguageCode) -> Result<usize, EngineError> {
        if !self.holds(&format!("match:{language}")).await? {
            // Another instance matches it: a roster kept here would only age.
            self.rosters().forget(language);
            return Ok(0);
        }
        let now = self.core.clock.now();
        // Rounds run for languages with a queued request (see `Engine::waiting`), and the
        // snapshot reads only the interpreters changed since the last one: no cheaper check first.
        let snapshot = self.snapshot(language, now).await?;
        let queued = snapshot
            .requests
            .iter()
            .filter(|r| r.status == RequestStatus::Queued)
            .count();
        if queued == 0 {
            self.still_waiting(language, false);
            return Ok(0);
        }
        let plan = self.core.matcher.plan(&snapshot, now);
        // Expiries first: the plan counted the interpreters they release as free.
        if !plan.expired.is_empty() {
            self.expire_requests().await?;
        }
        let mut made = 0;
        for planned in &plan.offers {
            let offer = planned.to_offer(OfferId(Uuid::now_v7()));
            if !self
                .core
                .store
                .apply_offer(&offer, &planned.explanation)
                .await?
            {
                // Another instance, or a status change, got there first (or the roster had not
                // seen it yet): the next round reads the interpreter again and decides afresh.
                self.core.interpreter_changed(offer.interpreter_id);
                self.core.nudge(language);
                continue;
            }
            made += 1;
            tracing::info!(
                offerId = %offer.id.0,
                requestId = %offer.request_id.0,
                interpreterId = %offer.interpreter_id,
                language = %language,
                eligible = planned.explanation.eligible.len(),
                "Offer created"
            );
            metrics::counter!("dragoman_offers_created_total", "language" => language.to_string())
                .increment(1);
            self.core.events.offer_created(&offer);
            self.core.interpreter_changed(offer.interpreter_id);
            self.core.events.status_changed(
                offer.interpreter_id,
                &StatusView {
                    status: "reserved".to_owned(),
                    since: offer.created_at,
                },
                None,
            );
            self.status
                .cache_status_only(offer.interpreter_id, "reserved")
                .await;
            if let Some(record) = self.core.store.request(offer.request_id).await? {
                let view = self.requests.request_view(&record).await?;
                self.core
                    .events
                    .request_updated(record.request.client_id, &view, now);
            }
            self.core.availability_touched(language);
        }
        // Whatever was not offered (no candidate, or a claim lost) still waits.
        self.still_waiting(language, made < queued);
        Ok(made)
    }

    /// The language's snapshot, its interpreters from the roster and the rows changed since.
    async fn snapshot(
        &self,
        language: LanguageCode,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<dragoman_domain::matching::Snapshot, EngineError> {
        let read = self.rosters().take_read(language, now);
        let only = match &read {
            Read::Whole => None,
            Read::Only(users) => Some(users.as_slice()),
        };
        match self.core.store.snapshot(language, now, only).await {
            Ok(mut snapshot) => {
                self.rosters().merge(language, read, &mut snapshot, now);
                Ok(snapshot)
            }
            Err(e) => {
                // What was taken as changed is not in the roster: read it whole next time.
                self.rosters().forget(language);
                Err(e.into())
            }
        }
    }

    fn rosters(&self) -> std::sync::MutexGuard<'_, Rosters> {
        self.core.rosters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks changed every interpreter whose `status.changed` any instance publishes, until
    /// `shutdown`. Events this instance publishes were marked already; a lost event (a lagging
    /// subscription) forgets every roster.
    async fn watch_changes(self: Arc<Self>, shutdown: CancellationToken) {
        let mut events = self.core.events.bus.subscribe();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                received = events.recv() => match received {
                    Ok(delivered) => {
                        if delivered.event.kind == "status.changed"
                            && let Audience::User(interpreter) = delivered.event.audience
                        {
                            self.core.interpreter_changed(interpreter);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => self.rosters().clear(),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    }

    /// Records whether `language` has a queued request after a round (see `Engine::waiting`).
    fn still_waiting(&self, language: LanguageCode, waiting: bool) {
        let mut languages = self.core.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting {
            languages.insert(language);
        } else {
            languages.remove(&language);
        }
    }

    /// Settles every timer that is due, if this instance holds the `timers` lease.
    pub async fn sweep(&self) -> Result<(), EngineError> {
        if !self.holds("timers").await? {
            return Ok(());
        }
        let now = self.core.clock.now();
        let config = self.core.settings.matching;
        for expired in self
            .core
            .store
            .expire_offers(now, config.max_no_answer)
            .await?
        {
            let offer = &expired.offer;
            tracing::info!(offerId = %offer.id.0, requestId = %offer.request_id.0, interpreterId = %offer.interpreter_id, wentAway = expired.went_away, "Offer expired");
            metrics::counter!("dragoman_offers_expired_total", "language" => offer.need.language.to_string()).increment(1);
            self.core
                .events
                .offer_rescinded(offer, RescindReason::Expired, now);
            self.status.interpreter_released(offer.interpreter_id).await;
            let view = self.requests.request_view(&expired.request).await?;
            self.core
                .events
                .request_updated(expired.request.request.client_id, &view, now);
            self.core.nudge(offer.need.language);
        }
        self.expire_requests().await?;
        for interpreter in self.core.store.finish_wrap_ups(now, config.wrap_up).await? {
            self.status.interpreter_released(interpreter).await;
        }
        Ok(())
    }

    async fn expire_requests(&self) -> Result<(), EngineError> {
        let now = self.core.clock.now();
        for expired in self.core.store.expire_requests(now).await? {
            let request = &expired.request.request;
            tracing::info!(requestId = %request.id.0, language = %request.need.language, "Request expired");
            metrics::counter!("dragoman_requests_expired_total", "language" => request.need.language.to_string()).increment(1);
            if let Some(offer) = &expired.rescinded {
                self.core
                    .events
                    .offer_rescinded(offer, RescindReason::Expired, now);
                self.status.interpreter_released(offer.interpreter_id).await;
            }
            let view = self.requests.request_view(&expired.request).await?;
            self.core
                .events
                .request_updated(request.client_id, &view, now);
            self.core.availability_touched(request.need.language);
        }
        Ok(())
    }

    /// Sets `offline` every interpreter who counts as online (but is not in a session) and has
    /// no presence mark: their connections have all been gone for the grace period, whichever
    /// instance held them and however it ended. Runs on the holder of the `presence` lease.
    /// Returns how many were set offline.
    pub async fn sweep_presence(
        &self,
        presence: &dyn PresenceRegistry,
    ) -> Result<usize, EngineError> {
        if !self.holds("presence").await? {
            return Ok(0);
        }
        let online = self.core.store.interpreters_online().await?;
        let marks = presence
            .present(&online)
            .await
            .map_err(|e| EngineError::Store(dragoman_ports::StoreError::Backend(e)))?;
        let mut gone = 0;
        for (interpreter, present) in online.into_iter().zip(marks) {
            if present {
                continue;
            }
            match self
                .status
                .set_status(interpreter, dragoman_domain::InterpreterStatus::Offline)
                .await
            {
                Ok(_) => {
                    gone += 1;
                    tracing::info!(interpreterId = %interpreter, "Interpreter set offline: no connection within the grace period");
                }
                // In a session meanwhile, or gone: nothing to do.
                Err(EngineError::Conflict { .. } | EngineError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(gone)
    }

    async fn announce_touched(&self) {
        let languages: Vec<LanguageCode> = self
            .core
            .availability_dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for language in languages {
            self.requests.announce_availability(language).await;
        }
    }
}

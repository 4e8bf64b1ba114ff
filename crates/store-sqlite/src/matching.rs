//! `MatchingStore` for the embedded store: each method hands over to the module that owns its
//! concept. State changes go to the single writer connection, each as one `BEGIN IMMEDIATE`
//! transaction; reads go to the read pool.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{
    Explanation, Offer, OfferId, Rating, Request, RequestId, Session, SessionId, Snapshot,
};
use dragoman_domain::{InterpreterStatus, LanguageCode, UserId};
use dragoman_ports::matching::{
    AcceptOutcome, CancelOutcome, CreateRequestOutcome, DeclineOutcome, ExpiredOffer,
    ExpiredRequest, IdempotencyKey, LanguageLoad, PresenceRecord, RecentActivity, RequestRecord,
    SessionOutcome, SetStatusOutcome, StatusCount, StoredExplanation,
};
use dragoman_ports::{MatchingStore, StoreError};

use crate::{
    SqliteStore, answers, explanations, leases, offers, presence, requests, sessions, snapshot,
    stats, timers,
};

#[async_trait]
impl MatchingStore for SqliteStore {
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError> {
        requests::create(&self.writer, request, expires_at, idempotency).await
    }

    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        requests::save_response(&self.writer, client, key, response).await
    }

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        requests::request(&self.reader, id).await
    }

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError> {
        requests::cancel(&self.writer, id, client, now).await
    }

    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError> {
        requests::open(&self.reader, language).await
    }

    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError> {
        requests::languages_waiting(&self.reader).await
    }

    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError> {
        snapshot::snapshot(&self.reader, &self.profiles, language, now, only).await
    }

    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError> {
        offers::apply(&self.writer, offer, explanation).await
    }

    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError> {
        offers::offer(&self.reader, id).await
    }

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError> {
        offers::pending(&self.reader, interpreter).await
    }

    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError> {
        answers::accept(&self.writer, id, interpreter, session_id, now).await
    }

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError> {
        answers::decline(&self.writer, id, interpreter, now).await
    }

    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError> {
        timers::expire_offers(&self.writer, now, max_no_answer).await
    }

    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError> {
        timers::expire_requests(&self.writer, now).await
    }

    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError> {
        timers::finish_wrap_ups(&self.writer, now, wrap_up).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        sessions::session(&self.reader, id).await
    }

    async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        sessions::sessions_of(&self.reader, user, before, limit).await
    }

    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        sessions::end(&self.writer, id, by, now).await
    }

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        sessions::rate(&self.writer, id, by, rating, now).await
    }

    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError> {
        presence::presence(&self.reader, user).await
    }

    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError> {
        presence::set_status(&self.writer, user, to, now).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        leases::try_lease(&self.writer, name, holder, ttl, now).await
    }

    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError> {
        stats::language_loads(&self.reader).await
    }

    async fn language_load(&self, language: LanguageCode) -> Result<LanguageLoad, StoreError> {
        stats::language_load(&self.reader, language).await
    }

    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError> {
        stats::recent_activity(&self.reader, language, since).await
    }

    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError> {
        stats::match_times(&self.reader, since).await
    }

    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        stats::status_counts(&self.reader).await
    }

    async fn interpreters_online(&self) -> Result<Vec<UserId>, StoreError> {
        stats::interpreters_online(&self.reader).await
    }

    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError> {
        explanations::of_request(&self.reader, request).await
    }
}

//! The matching store on PostgreSQL: requests, offers, sessions, presence, timers and leases.
//!
//! Every state-changing method is one transaction that locks the rows it reads (`FOR UPDATE`,
//! interpreters first, then requests, then offers, each set in id order), applies the pure
//! transitions of `dragoman_domain::matching`, and writes the results back. The schema's named
//! unique indexes (`migrations/0002_matching.sql`) are the last line behind the locks. Nothing
//! here keeps session state, so it runs unchanged through PgBouncer in transaction pooling.
//!
//! One concept per file: [`rows`] (reading rows into domain values), [`desk`] (an
//! interpreter's presence and counters), [`records`] (request and offer rows), [`retry`],
//! [`settle`] (what an unanswered offer's end does), then one file per group of methods.

mod answers;
mod claims;
mod desk;
mod lease;
mod presence;
mod records;
mod requests;
mod retry;
mod rows;
mod sessions;
mod settle;
mod stats;
mod timers;

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{
    Explanation, Offer, OfferId, Rating, Request, RequestId, Session, SessionId, Snapshot,
};
use dragoman_domain::{InterpreterStatus, LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{
    AcceptOutcome, CancelOutcome, CreateRequestOutcome, DeclineOutcome, ExpiredOffer,
    ExpiredRequest, IdempotencyKey, LanguageLoad, MatchingStore, PresenceRecord, RecentActivity,
    RequestRecord, SessionOutcome, SetStatusOutcome, StatusCount, StoredExplanation,
};

use crate::PgStore;

#[async_trait::async_trait]
impl MatchingStore for PgStore {
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError> {
        requests::create_request(self, request, expires_at, idempotency).await
    }

    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        requests::save_idempotent_response(self, client, key, response).await
    }

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        requests::request(self, id).await
    }

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError> {
        requests::cancel_request(self, id, client, now).await
    }

    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError> {
        requests::open_requests(self, language).await
    }

    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError> {
        claims::languages_waiting(self).await
    }

    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError> {
        claims::snapshot(self, language, now, only).await
    }

    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError> {
        claims::apply_offer(self, offer, explanation).await
    }

    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError> {
        answers::offer(self, id).await
    }

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError> {
        answers::pending_offers(self, interpreter).await
    }

    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError> {
        answers::accept_offer(self, id, interpreter, session_id, now).await
    }

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError> {
        answers::decline_offer(self, id, interpreter, now).await
    }

    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError> {
        timers::expire_offers(self, now, max_no_answer).await
    }

    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError> {
        timers::expire_requests(self, now).await
    }

    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError> {
        timers::finish_wrap_ups(self, now, wrap_up).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        sessions::session(self, id).await
    }

    async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        sessions::sessions_of(self, user, before, limit).await
    }

    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        sessions::end_session(self, id, by, now).await
    }

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        sessions::rate_session(self, id, by, rating, now).await
    }

    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError> {
        presence::presence(self, user).await
    }

    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError> {
        presence::set_status(self, user, to, now).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        lease::try_lease(self, name, holder, ttl, now).await
    }

    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError> {
        stats::language_loads(self).await
    }

    async fn language_load(&self, language: LanguageCode) -> Result<LanguageLoad, StoreError> {
        stats::language_load(self, language).await
    }

    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError> {
        stats::recent_activity(self, language, since).await
    }

    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError> {
        stats::match_times(self, since).await
    }

    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        stats::status_counts(self).await
    }

    async fn interpreters_online(&self) -> Result<Vec<UserId>, StoreError> {
        stats::interpreters_online(self).await
    }

    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError> {
        stats::explanations(self, request).await
    }
}

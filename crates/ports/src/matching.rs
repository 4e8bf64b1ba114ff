//! The matching store port: requests, offers, sessions, ratings, explanations, leases.
//!
//! Every method that changes state is one transaction that reads the rows it needs, applies the
//! pure transitions of `dragoman_domain::matching` to them, and writes the result back, so the
//! rules live in one place and the database only guarantees atomicity. Its constraints are the
//! last line against double assignment whatever the number of instances, and they have these
//! names in both schemas:
//! - `requests_one_open_per_client`: a client has at most one `queued` or `offered` request;
//! - `offers_one_pending_per_request` and `offers_one_pending_per_interpreter`;
//! - `offers_request_interpreter_key`: an interpreter is never offered the same request twice;
//! - `sessions_request_key`: a request has at most one session;
//! - `sessions_one_open_per_interpreter`: an interpreter has at most one open session.
//!
//! Durable timers are columns, not memory: a pending offer's `expires_at`, an open request's
//! `expires_at`, an interpreter's wrap-up start. Whichever instance sweeps next settles what is
//! due, so a restart loses or stalls nothing.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{
    Explanation, Offer, OfferError, OfferId, Presence, Rating, Request, RequestId, Session,
    SessionError, SessionId, Snapshot,
};
use dragoman_domain::{InterpreterStatus, LanguageCode, StatusChangeError, UserId};

use crate::StoreError;

/// A request with what the store keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request: Request,
    /// When it expires if still unmatched (created_at + the maximum wait).
    pub expires_at: DateTime<Utc>,
    /// Set once matched.
    pub session_id: Option<SessionId>,
}

/// How long a client's `Idempotency-Key` is remembered: the store replays its first answer
/// within this, and the retention job deletes it after.
pub const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The client's `Idempotency-Key` for a new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    /// A key older than this is forgotten: it may be reused for a new request (24 h before now).
    pub not_before: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRequestOutcome {
    Created,
    /// The same client used the same key within 24 h: nothing was created. `response` is the
    /// body answered the first time, once it has been saved.
    Replayed {
        request_id: RequestId,
        response: Option<String>,
    },
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Unknown, or not this client's.
    NotFound,
    /// Already matched, cancelled or expired: nothing changed.
    NotOpen(RequestRecord),
    /// Cancelled; its pending offer, if any, is rescinded and the interpreter released.
    Cancelled {
        request: RequestRecord,
        rescinded: Option<Offer>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Unknown, or offered to someone else.
    NotFound,
    Refused(OfferError),
    Accepted {
        session: Session,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclineOutcome {
    NotFound,
    Refused(OfferError),
    /// The request waits again (`queued`) for the next candidate.
    Declined {
        offer: Offer,
        request: RequestRecord,
    },
}

/// An offer settled by its timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredOffer {
    pub offer: Offer,
    pub request: RequestRecord,
    /// The interpreter let `max_no_answer` offers in a row expire and is now `away`.
    pub went_away: bool,
}

/// A request that waited the maximum wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRequest {
    pub request: RequestRecord,
    /// Its pending offer, rescinded (reason `expired`), if it had one.
    pub rescinded: Option<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    NotFound,
    Refused(SessionError),
    Done(Session),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetStatusOutcome {
    /// The user is not an interpreter.
    NotFound,
    Refused(StatusChangeError),
    /// Applied (or already so). An offer pending when the interpreter left is rescinded and its
    /// request waits again.
    Changed {
        presence: Presence,
        rescinded: Option<Offer>,
    },
}

/// An interpreter's live state, as the API shows it, with the languages of their profile (in
/// profile order; none without a profile): what the engine needs after a status change (whom to
/// tell, which languages to match again) in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRecord {
    pub user_id: UserId,
    pub presence: Presence,
    pub languages: Vec<LanguageCode>,
}

/// How loaded one language is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageLoad {
    pub language: LanguageCode,
    /// Interpreters with the language who are `available`.
    pub available: u32,
    /// Interpreters with the language who are online: available, reserved, busy or wrap-up.
    pub online: u32,
    /// Open requests (queued or offered) of the language.
    pub waiting: u32,
}

/// Recent history of one language, for the wait estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecentActivity {
    /// Mean length of sessions that ended in the period; `None` if none did.
    pub mean_session: Option<TimeDelta>,
    /// Offers made in the period, and how many of them were accepted.
    pub offers_made: u32,
    pub offers_accepted: u32,
}

/// Interpreters per status and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub language: LanguageCode,
    pub status: InterpreterStatus,
    pub count: u32,
}

/// The stored explanation of one offer.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExplanation {
    pub offer_id: OfferId,
    pub decided_at: DateTime<Utc>,
    /// The serialized [`Explanation`].
    pub body: serde_json::Value,
}

/// Requests, offers, sessions and the rest of matching's state.
#[async_trait]
pub trait MatchingStore: Send + Sync + std::fmt::Debug {
    // Requests.

    /// Stores a new `queued` request. With a key, records it for the client in the same
    /// transaction, or replays an earlier use of it (see [`CreateRequestOutcome`]). A client with
    /// an open request gets `Conflict { constraint: "requests_one_open_per_client" }`.
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError>;

    /// Saves the body answered for a request created with an idempotency key.
    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError>;

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError>;

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError>;

    /// The open (queued and offered) requests of a language, in no particular order.
    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError>;

    // Matching.

    /// Languages with at least one `queued` request.
    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError>;

    /// What matching needs for one language: its open requests, every interpreter with a
    /// profile listing the language (whatever the status; counters of "today" are those of
    /// `now`'s UTC day), and the offer history of those requests.
    ///
    /// With `only`, the interpreters are those among `only` whose profile lists the language, in
    /// the same order; the rest is whole. A matcher that keeps a language's interpreters in
    /// memory reads again only the ones that changed.
    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError>;

    /// Makes a planned offer atomically: the interpreter goes from `available` to `reserved`,
    /// the request from `queued` to `offered`, the offer and its explanation are stored. Returns
    /// false, writing nothing, if the interpreter is no longer available, the request no longer
    /// queued, or a constraint refuses (another instance got there first).
    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError>;

    // Offers.

    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError>;

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError>;

    /// Accepts: the offer is `accepted`, the request `matched`, the interpreter `busy` and the
    /// session opened under `session_id`, all or nothing.
    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError>;

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError>;

    // Timers.

    /// Settles every pending offer whose `expires_at` is at or before `now`.
    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError>;

    /// Expires every open request whose `expires_at` is at or before `now`.
    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError>;

    /// Makes `available` every interpreter whose wrap-up began `wrap_up` or more before `now`.
    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError>;

    // Sessions.

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// The user's sessions (as client or interpreter), newest first, those older than `before`
    /// when given (a cursor).
    async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError>;

    /// Ends the session; its interpreter goes to `wrap_up` and the talk time is counted.
    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError>;

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError>;

    // Interpreter presence.

    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError>;

    /// A manual status change (`available`, `away`, `offline`) by the interpreter.
    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError>;

    // Coordination.

    /// Takes or renews the lease `name` for `holder` until `now + ttl`. True if `holder` holds it
    /// (it was free, expired, or already its own).
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // Statistics.

    /// Every language with an interpreter or an open request.
    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError>;

    /// The load of one language (zeros when it has no interpreter and no open request): what
    /// one wait estimate reads, through the language's indexes rather than over every language.
    async fn language_load(&self, language: LanguageCode) -> Result<LanguageLoad, StoreError>;

    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError>;

    /// Match times (ms) of sessions started at or after `since`, with their language.
    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError>;

    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError>;

    /// Interpreters who count as online but not in a session: `available`, `away`, `reserved`
    /// or `wrap_up`. The presence sweep sets those without a connection `offline`.
    async fn interpreters_online(&self) -> Result<Vec<UserId>, StoreError>;

    /// The explanations of a request's offers, oldest first.
    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError>;
}

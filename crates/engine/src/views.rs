//! The JSON shapes of API.md for requests, offers and sessions: answered by the HTTP API and
//! carried by events, so the two can never disagree.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Offer, Session};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use dragoman_ports::matching::RequestRecord;

/// `request` of API.md.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    pub id: Uuid,
    pub client_id: Uuid,
    #[schema(example = "es")]
    pub language: String,
    pub specialization: String,
    pub modality: String,
    /// Higher is served first; 0 for every request a client makes.
    pub priority: i16,
    /// `queued`, `offered`, `matched`, `cancelled` or `expired`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Place among the queued requests of its language (1 = next); null unless queued.
    pub queue_position: Option<u32>,
    /// Estimated seconds until an offer; null unless queued, or when nobody online could take it.
    pub estimated_wait_s: Option<i64>,
    pub session_id: Option<Uuid>,
}

impl RequestView {
    pub fn new(
        record: &RequestRecord,
        queue_position: Option<u32>,
        estimated_wait_s: Option<i64>,
    ) -> Self {
        let r = &record.request;
        Self {
            id: r.id.0,
            client_id: r.client_id.0,
            language: r.need.language.to_string(),
            specialization: r.need.specialization.as_str().to_owned(),
            modality: r.need.modality.as_str().to_owned(),
            priority: r.priority.0,
            status: r.status.as_str().to_owned(),
            created_at: r.created_at,
            queue_position,
            estimated_wait_s,
            session_id: record.session_id.map(|s| s.0),
        }
    }
}

/// `offer` of API.md.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub id: Uuid,
    pub request_id: Uuid,
    pub interpreter_id: Uuid,
    pub language: String,
    pub specialization: String,
    pub modality: String,
    /// `pending`, `accepted`, `declined`, `expired` or `rescinded`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&Offer> for OfferView {
    fn from(o: &Offer) -> Self {
        Self {
            id: o.id.0,
            request_id: o.request_id.0,
            interpreter_id: o.interpreter_id.0,
            language: o.need.language.to_string(),
            specialization: o.need.specialization.as_str().to_owned(),
            modality: o.need.modality.as_str().to_owned(),
            status: o.status.as_str().to_owned(),
            created_at: o.created_at,
            expires_at: o.expires_at,
        }
    }
}

/// `session` of API.md.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub request_id: Uuid,
    pub client_id: Uuid,
    pub interpreter_id: Uuid,
    pub language: String,
    pub specialization: String,
    pub modality: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// From the request's creation to the offer's acceptance.
    pub match_time_ms: i64,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.0,
            request_id: s.request_id.0,
            client_id: s.client_id.0,
            interpreter_id: s.interpreter_id.0,
            language: s.need.language.to_string(),
            specialization: s.need.specialization.as_str().to_owned(),
            modality: s.need.modality.as_str().to_owned(),
            started_at: s.started_at,
            ended_at: s.ended_at(),
            match_time_ms: s.match_time_ms,
        }
    }
}

/// `{status, since}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    /// `available`, `away`, `offline`, `reserved`, `busy` or `wrap_up`.
    pub status: String,
    pub since: DateTime<Utc>,
}

/// One `languages` entry of GET /v1/availability.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LanguageAvailability {
    pub code: String,
    pub available: u32,
    pub waiting: u32,
    /// For a new request of this language; null when nobody online speaks it.
    pub estimated_wait_s: Option<i64>,
}

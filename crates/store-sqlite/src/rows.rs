//! Reading matching records from rows: the column lists every query selects, and the decoders
//! that turn them back into domain values (refusing anything our own code could not have written).

use dragoman_domain::matching::{
    Need, Offer, OfferId, OfferStatus, Priority, Rating, Request, RequestId, RequestStatus,
    Session, SessionId, SessionPhase, Stars,
};
use dragoman_domain::{LanguageCode, Modality, Specialization, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::RequestRecord;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use crate::{corrupt, db_error, instant};

/// `SELECT` of a request with its session, then the rest of the statement. The session id is
/// looked up rather than stored twice: `sessions_request_key` makes it one index probe.
macro_rules! select_request {
    ($rest:literal) => {
        concat!(
            "SELECT r.id, r.client_id, r.language, r.specialization, r.modality, r.priority, \
             r.status, r.created_at, r.expires_at, \
             (SELECT s.id FROM sessions s WHERE s.request_id = r.id) AS session_id \
             FROM requests r ",
            $rest
        )
    };
}

/// `SELECT` of an offer, then the rest of the statement.
macro_rules! select_offer {
    ($rest:literal) => {
        concat!(
            "SELECT id, request_id, interpreter_id, language, specialization, modality, status, \
             created_at, expires_at FROM offers ",
            $rest
        )
    };
}

/// `SELECT` of a session, then the rest of the statement.
macro_rules! select_session {
    ($rest:literal) => {
        concat!(
            "SELECT id, request_id, client_id, interpreter_id, language, specialization, \
             modality, started_at, ended_at, match_time_ms, rating_stars, rating_comment \
             FROM sessions ",
            $rest
        )
    };
}

pub(crate) use {select_offer, select_request, select_session};

/// One column, with driver errors mapped.
pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(db_error)
}

pub(crate) fn user(row: &SqliteRow, column: &str) -> Result<UserId, StoreError> {
    get::<Uuid>(row, column).map(UserId)
}

pub(crate) fn language(row: &SqliteRow, column: &str) -> Result<LanguageCode, StoreError> {
    LanguageCode::parse(&get::<String>(row, column)?).map_err(corrupt)
}

fn need(row: &SqliteRow) -> Result<Need, StoreError> {
    Ok(Need {
        language: language(row, "language")?,
        specialization: Specialization::parse(&get::<String>(row, "specialization")?)
            .map_err(corrupt)?,
        modality: Modality::parse(&get::<String>(row, "modality")?).map_err(corrupt)?,
    })
}

pub(crate) fn request(row: &SqliteRow) -> Result<RequestRecord, StoreError> {
    let priority = get::<i64>(row, "priority")?;
    let request = Request {
        id: RequestId(get(row, "id")?),
        client_id: user(row, "client_id")?,
        need: need(row)?,
        priority: Priority(i16::try_from(priority).map_err(corrupt)?),
        created_at: instant(get(row, "created_at")?)?,
        status: RequestStatus::parse(&get::<String>(row, "status")?).map_err(corrupt)?,
    };
    Ok(RequestRecord {
        request,
        expires_at: instant(get(row, "expires_at")?)?,
        session_id: get::<Option<Uuid>>(row, "session_id")?.map(SessionId),
    })
}

pub(crate) fn offer(row: &SqliteRow) -> Result<Offer, StoreError> {
    Ok(Offer {
        id: OfferId(get(row, "id")?),
        request_id: RequestId(get(row, "request_id")?),
        interpreter_id: user(row, "interpreter_id")?,
        need: need(row)?,
        status: OfferStatus::parse(&get::<String>(row, "status")?).map_err(corrupt)?,
        created_at: instant(get(row, "created_at")?)?,
        expires_at: instant(get(row, "expires_at")?)?,
    })
}

pub(crate) fn session(row: &SqliteRow) -> Result<Session, StoreError> {
    let ended_at = get::<Option<i64>>(row, "ended_at")?
        .map(instant)
        .transpose()?;
    let stars = get::<Option<i64>>(row, "rating_stars")?;
    let phase = match (ended_at, stars) {
        (None, None) => SessionPhase::Open,
        (Some(ended_at), None) => SessionPhase::Ended { ended_at },
        (Some(ended_at), Some(stars)) => {
            let comment = get::<Option<String>>(row, "rating_comment")?;
            let stars = Stars::parse(stars).map_err(corrupt)?;
            let rating = Rating::new(stars, comment.as_deref()).map_err(corrupt)?;
            SessionPhase::Rated { ended_at, rating }
        }
        (None, Some(_)) => return Err(corrupt("a rated session that never ended")),
    };
    Ok(Session {
        id: SessionId(get(row, "id")?),
        request_id: RequestId(get(row, "request_id")?),
        client_id: user(row, "client_id")?,
        interpreter_id: user(row, "interpreter_id")?,
        need: need(row)?,
        started_at: instant(get(row, "started_at")?)?,
        match_time_ms: get(row, "match_time_ms")?,
        phase,
    })
}

/// A count from SQL, as the port's `u32`.
pub(crate) fn count(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(get::<i64>(row, column)?).map_err(corrupt)
}

//! Rows of the matching tables read back into domain values.
//!
//! Each table has a macro naming its columns in the order the reader expects, so that every
//! query of a table selects the same columns and the `&'static str` that sqlx needs is built at
//! compile time. A value our own code could not have written is a corrupt row, never a panic.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{
    Need, Offer, OfferId, OfferStatus, Priority, Rating, Request, RequestId, RequestStatus,
    Session, SessionId, SessionPhase, Stars,
};
use dragoman_domain::{LanguageCode, Modality, Specialization, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::RequestRecord;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::{corrupt, db_error};

/// `SELECT` of every request column (and any `extra` ones) from `requests`, then the given tail.
macro_rules! select_request {
    ($tail:literal) => {
        $crate::matching::rows::select_request!("", $tail)
    };
    ($extra:literal, $tail:literal) => {
        concat!(
            "SELECT id, client_id, language, specialization, modality, priority, status, created_at, expires_at, session_id",
            $extra,
            " FROM requests ",
            $tail
        )
    };
}

/// `SELECT` of every offer column from `offers`, then the given tail.
macro_rules! select_offer {
    ($tail:literal) => {
        concat!(
            "SELECT id, request_id, interpreter_id, language, specialization, modality, status, created_at, expires_at FROM offers ",
            $tail
        )
    };
}

/// `SELECT` of every session column from `sessions`, then the given tail.
macro_rules! select_session {
    ($tail:literal) => {
        concat!(
            "SELECT id, request_id, client_id, interpreter_id, language, specialization, modality, started_at, ended_at, match_time_ms, rating_stars, rating_comment FROM sessions ",
            $tail
        )
    };
}

pub(crate) use {select_offer, select_request, select_session};

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(db_error)
}

pub(crate) fn language(row: &PgRow, column: &str) -> Result<LanguageCode, StoreError> {
    LanguageCode::parse(&get::<String>(row, column)?).map_err(corrupt)
}

fn need(row: &PgRow) -> Result<Need, StoreError> {
    Ok(Need {
        language: language(row, "language")?,
        specialization: Specialization::parse(&get::<String>(row, "specialization")?)
            .map_err(corrupt)?,
        modality: Modality::parse(&get::<String>(row, "modality")?).map_err(corrupt)?,
    })
}

pub(crate) fn request(row: &PgRow) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        request: Request {
            id: RequestId(get(row, "id")?),
            client_id: UserId(get(row, "client_id")?),
            need: need(row)?,
            priority: Priority(get(row, "priority")?),
            created_at: get(row, "created_at")?,
            status: RequestStatus::parse(&get::<String>(row, "status")?).map_err(corrupt)?,
        },
        expires_at: get(row, "expires_at")?,
        session_id: get::<Option<Uuid>>(row, "session_id")?.map(SessionId),
    })
}

pub(crate) fn offer(row: &PgRow) -> Result<Offer, StoreError> {
    Ok(Offer {
        id: OfferId(get(row, "id")?),
        request_id: RequestId(get(row, "request_id")?),
        interpreter_id: UserId(get(row, "interpreter_id")?),
        need: need(row)?,
        status: OfferStatus::parse(&get::<String>(row, "status")?).map_err(corrupt)?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
    })
}

pub(crate) fn session(row: &PgRow) -> Result<Session, StoreError> {
    let ended_at: Option<DateTime<Utc>> = get(row, "ended_at")?;
    let stars: Option<i16> = get(row, "rating_stars")?;
    let phase = match (ended_at, stars) {
        (None, None) => SessionPhase::Open,
        (Some(ended_at), None) => SessionPhase::Ended { ended_at },
        (Some(ended_at), Some(stars)) => SessionPhase::Rated {
            ended_at,
            rating: Rating {
                stars: Stars::parse(i64::from(stars)).map_err(corrupt)?,
                comment: get(row, "rating_comment")?,
            },
        },
        (None, Some(_)) => return Err(corrupt("a session rated before it ended")),
    };
    Ok(Session {
        id: SessionId(get(row, "id")?),
        request_id: RequestId(get(row, "request_id")?),
        client_id: UserId(get(row, "client_id")?),
        interpreter_id: UserId(get(row, "interpreter_id")?),
        need: need(row)?,
        started_at: get(row, "started_at")?,
        match_time_ms: get(row, "match_time_ms")?,
        phase,
    })
}

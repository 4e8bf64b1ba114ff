//! The claims role on SQLite: the languages waiting, the snapshot matching decides from, and the
//! atomic claim that makes an offer.
//!
//! The snapshot is one language's open requests, every interpreter whose profile lists it
//! (whatever their status), the offer history of those requests and their pending offers, all
//! read in one read transaction so that they agree. The claim checks the interpreter and the
//! request in the same write transaction that inserts the offer, and the unique indexes
//! (`offers_one_pending_per_request`, `offers_one_pending_per_interpreter`,
//! `offers_request_interpreter_key`) refuse whatever slips past: a plan made on a stale snapshot
//! fails harmlessly instead of double-booking.
//!
//! The snapshot takes four queries whatever the number of interpreters: the interpreters' rows (with their profile
//! version), the open requests, the offer history and the pending offers. The languages of the
//! profiles come from the store's `ProfileCache`, read again only when a profile changed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{
    Explanation, InterpreterSnapshot, Offer, OfferHistory, RequestEvent, RequestId, Snapshot,
};
use dragoman_domain::{
    InterpreterStatus, LanguageCode, LanguageSkill, ModalitySet, Profile, SpecializationSet, UserId,
};
use dragoman_ports::{ProfileCache, StoreError};
use sqlx::SqliteConnection;

use crate::presence::utc_day;
use crate::rows::{self, get, select_offer};
use crate::{
    SqliteStore, begin_write, corrupt, db_error, explanations, instant, interpreters, micros,
    offers, presence, requests,
};

#[async_trait::async_trait]
impl dragoman_ports::ClaimStore for SqliteStore {
    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError> {
        // The first condition is implied by the second; it is spelled out because SQLite uses a
        // partial index only when the query repeats the index's condition.
        sqlx::query(
            "SELECT DISTINCT language FROM requests
         WHERE status IN ('queued', 'offered') AND status = 'queued'",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| rows::language(row, "language"))
        .collect()
    }

    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError> {
        let mut tx = self.reader.begin().await.map_err(db_error)?;
        let requests = requests::open_of(&mut tx, language).await?;
        let interpreters = interpreters_of(&mut tx, &self.profiles, language, now, only).await?;
        let history = sqlx::query(
            "SELECT o.request_id, o.interpreter_id FROM offers o
         JOIN requests r ON r.id = o.request_id
         WHERE r.language = ? AND r.status IN ('queued', 'offered')",
        )
        .bind(language.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok((
                RequestId(get(row, "request_id")?),
                rows::user(row, "interpreter_id")?,
            ))
        })
        .collect::<Result<OfferHistory, StoreError>>()?;
        let pending_offers =
            sqlx::query(select_offer!("WHERE language = ? AND status = 'pending'"))
                .bind(language.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
                .iter()
                .map(rows::offer)
                .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(db_error)?;
        Ok(Snapshot {
            requests,
            interpreters,
            history,
            pending_offers,
        })
    }

    /// Makes a planned offer, or returns false having written nothing.
    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError> {
        if !offer.is_pending() {
            return Ok(false);
        }
        let mut tx = begin_write(&self.writer).await?;
        let Some(record) = requests::load(&mut tx, offer.request_id).await? else {
            return Ok(false);
        };
        let Ok(request) = record.request.apply(RequestEvent::Offer) else {
            return Ok(false);
        };
        let Some((interpreter, _)) = presence::load(&mut tx, offer.interpreter_id).await? else {
            return Ok(false);
        };
        let Ok(reserved) = interpreter.reserve(offer.created_at) else {
            return Ok(false);
        };
        match offers::insert(&mut tx, offer).await {
            Ok(()) => {}
            // Another instance got there first, or the pair was offered before.
            Err(StoreError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        explanations::insert(&mut tx, offer.id, explanation).await?;
        requests::save_status(&mut tx, &request, offer.created_at).await?;
        presence::save(&mut tx, offer.interpreter_id, &reserved).await?;
        sqlx::query("UPDATE interpreters SET last_offered_at = ? WHERE user_id = ?")
            .bind(micros(offer.created_at))
            .bind(offer.interpreter_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }
}

/// Everyone with a profile listing `language`, with the counters of `now`'s UTC day (a counter
/// last written on another day reads as zero). The languages of their profiles come from
/// `profiles`, read here only for the interpreters whose profile version it does not hold. With
/// `only`, those of `only` alone: the language's rows are read (the database is in-process, so
/// the rows cost no round trip) and the others left out before anything is decoded.
async fn interpreters_of(
    conn: &mut SqliteConnection,
    profiles: &ProfileCache,
    language: LanguageCode,
    now: DateTime<Utc>,
    only: Option<&[UserId]>,
) -> Result<Vec<InterpreterSnapshot>, StoreError> {
    let day = utc_day(now);
    let rows = sqlx::query(
        "SELECT i.user_id, i.status, i.status_since, i.idle_since, i.specializations,
                i.modalities, i.last_offered_at, i.profile_version,
                CASE WHEN i.stats_day = ? THEN i.declines_today ELSE 0 END AS declines_today,
                CASE WHEN i.stats_day = ? THEN i.talk_time_today_us ELSE 0 END AS talk_time_today_us
         FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
         WHERE l.code = ? AND i.profile_updated_at IS NOT NULL",
    )
    .bind(day)
    .bind(day)
    .bind(language.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let rows = match only {
        None => rows,
        Some(users) => {
            let users: HashSet<UserId> = users.iter().copied().collect();
            let mut kept = Vec::with_capacity(users.len());
            for row in rows {
                if users.contains(&rows::user(&row, "user_id")?) {
                    kept.push(row);
                }
            }
            kept
        }
    };
    let versions = rows
        .iter()
        .map(|row| {
            Ok((
                rows::user(row, "user_id")?,
                get::<i64>(row, "profile_version")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let languages = profiles
        .languages(&versions, move |users| {
            read_languages(conn, language, users)
        })
        .await?;
    rows.iter()
        .zip(languages)
        .map(|(row, languages)| {
            let id = rows::user(row, "user_id")?;
            let since = instant(get(row, "status_since")?)?;
            let profile = Profile::new(
                languages.to_vec(),
                SpecializationSet::from_bits(get(row, "specializations")?),
                ModalitySet::from_bits(get(row, "modalities")?),
            )
            .map_err(corrupt)?;
            Ok(InterpreterSnapshot {
                id,
                status: InterpreterStatus::parse(&get::<String>(row, "status")?)
                    .map_err(corrupt)?,
                profile,
                idle_since: get::<Option<i64>>(row, "idle_since")?
                    .map(instant)
                    .transpose()?
                    .unwrap_or(since),
                declines_today: u32::try_from(get::<i64>(row, "declines_today")?)
                    .map_err(corrupt)?,
                talk_time_today: TimeDelta::microseconds(get(row, "talk_time_today_us")?),
                last_offered_at: get::<Option<i64>>(row, "last_offered_at")?
                    .map(instant)
                    .transpose()?,
            })
        })
        .collect()
}

/// The languages of `users`, all of whom list `language`, in profile order. One query: the
/// languages of everyone listing `language`, kept for `users` only (most rounds ask for none, and
/// the first asks for everyone).
async fn read_languages(
    conn: &mut SqliteConnection,
    language: LanguageCode,
    users: Vec<UserId>,
) -> Result<HashMap<UserId, (i64, Vec<LanguageSkill>)>, StoreError> {
    let users: HashSet<UserId> = users.into_iter().collect();
    let found = sqlx::query(
        "SELECT m.user_id, i.profile_version, m.code, m.level, m.certified
         FROM interpreter_languages l JOIN interpreter_languages m ON m.user_id = l.user_id
         JOIN interpreters i ON i.user_id = m.user_id
         WHERE l.code = ? ORDER BY m.user_id, m.position",
    )
    .bind(language.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let mut languages: HashMap<UserId, (i64, Vec<LanguageSkill>)> = HashMap::new();
    for row in &found {
        let user = rows::user(row, "user_id")?;
        if users.contains(&user) {
            let version = get::<i64>(row, "profile_version")?;
            languages
                .entry(user)
                .or_insert_with(|| (version, Vec::new()))
                .1
                .push(interpreters::skill(row)?);
        }
    }
    Ok(languages)
}

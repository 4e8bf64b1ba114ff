//! Read-only figures: language loads, recent activity, match times, status counts, and the
//! stored explanations of a request's offers.
//!
//! The figures that only administrators, dashboards and the availability endpoint read go to the
//! read replica when there is one (`read_routed`); `language_load` and `recent_activity` stay on
//! the primary: they feed the counts announced right after a change and the wait estimate of a
//! request being created, which are write paths, and the estimate inputs are reused from memory
//! anyway. `interpreters_online` stays too: the presence sweep writes from it.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{OfferId, RequestId};
use dragoman_domain::{InterpreterStatus, LanguageCode};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{LanguageLoad, RecentActivity, StatusCount, StoredExplanation};
use sqlx::postgres::PgRow;

use super::rows::{get, language};
use crate::{PgStore, corrupt, db_error};

fn count(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| corrupt(format!("count {n}")))
}

pub(crate) async fn language_loads(store: &PgStore) -> Result<Vec<LanguageLoad>, StoreError> {
    let found = store
        .read_routed(move |tx| {
            Box::pin(async move {
                tx.q("WITH staff AS (
                        SELECT l.code AS language,
                               count(*) FILTER (WHERE i.status = 'available') AS available,
                               count(*) FILTER (WHERE i.status IN ('available', 'reserved', 'busy', 'wrap_up')) AS online
                        FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
                        WHERE i.profile_updated_at IS NOT NULL
                        GROUP BY l.code),
                    queue AS (
                        SELECT language, count(*) AS waiting FROM requests
                        WHERE status IN ('queued', 'offered') GROUP BY language)
                    SELECT COALESCE(s.language, q.language) AS language,
                           COALESCE(s.available, 0) AS available, COALESCE(s.online, 0) AS online,
                           COALESCE(q.waiting, 0) AS waiting
                    FROM staff s FULL JOIN queue q ON q.language = s.language
                    ORDER BY 1")
                    .fetch_all(&mut **tx)
                    .await
            })
        })
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(LanguageLoad {
                language: language(r, "language")?,
                available: count(r, "available")?,
                online: count(r, "online")?,
                waiting: count(r, "waiting")?,
            })
        })
        .collect()
}

/// One language's load, by the language's indexes.
pub(crate) async fn language_load(
    store: &PgStore,
    lang: LanguageCode,
) -> Result<LanguageLoad, StoreError> {
    let mut tx = store.read().await?;
    let row = store
        .q("SELECT count(*) FILTER (WHERE i.status = 'available') AS available,
                   count(*) FILTER (WHERE i.status IN ('available', 'reserved', 'busy', 'wrap_up')) AS online,
                   (SELECT count(*) FROM requests
                    WHERE language = $1 AND status IN ('queued', 'offered')) AS waiting
            FROM interpreters i
            WHERE i.language_codes @> ARRAY[$1::text] AND i.profile_updated_at IS NOT NULL")
        .bind(lang.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.done().await?;
    Ok(LanguageLoad {
        language: lang,
        available: count(&row, "available")?,
        online: count(&row, "online")?,
        waiting: count(&row, "waiting")?,
    })
}

pub(crate) async fn recent_activity(
    store: &PgStore,
    lang: LanguageCode,
    since: DateTime<Utc>,
) -> Result<RecentActivity, StoreError> {
    let mut tx = store.read().await?;
    let sessions = store
        .q(
            "SELECT (avg(EXTRACT(EPOCH FROM (ended_at - started_at))) * 1000)::bigint AS mean_ms
            FROM sessions WHERE language = $1 AND ended_at >= $2",
        )
        .bind(lang.as_str())
        .bind(since)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
    let offers = store
        .q(
            "SELECT count(*) AS made, count(*) FILTER (WHERE status = 'accepted') AS accepted
            FROM offers WHERE language = $1 AND created_at >= $2",
        )
        .bind(lang.as_str())
        .bind(since)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.done().await?;
    Ok(RecentActivity {
        mean_session: get::<Option<i64>>(&sessions, "mean_ms")?.map(TimeDelta::milliseconds),
        offers_made: count(&offers, "made")?,
        offers_accepted: count(&offers, "accepted")?,
    })
}

pub(crate) async fn match_times(
    store: &PgStore,
    since: DateTime<Utc>,
) -> Result<Vec<(LanguageCode, i64)>, StoreError> {
    let found = store
        .read_routed(move |tx| {
            Box::pin(async move {
                tx.q("SELECT language, match_time_ms FROM sessions WHERE started_at >= $1 ORDER BY started_at, id")
                    .bind(since)
                    .fetch_all(&mut **tx)
                    .await
            })
        })
        .await?;
    found
        .iter()
        .map(|r| Ok((language(r, "language")?, get(r, "match_time_ms")?)))
        .collect()
}

pub(crate) async fn status_counts(store: &PgStore) -> Result<Vec<StatusCount>, StoreError> {
    let found = store
        .read_routed(move |tx| {
            Box::pin(async move {
                tx.q("SELECT l.code AS language, i.status, count(*) AS n
                    FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
                    WHERE i.profile_updated_at IS NOT NULL
                    GROUP BY l.code, i.status ORDER BY l.code, i.status")
                    .fetch_all(&mut **tx)
                    .await
            })
        })
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(StatusCount {
                language: language(r, "language")?,
                status: InterpreterStatus::parse(&get::<String>(r, "status")?).map_err(corrupt)?,
                count: count(r, "n")?,
            })
        })
        .collect()
}

pub(crate) async fn explanations(
    store: &PgStore,
    request: RequestId,
) -> Result<Vec<StoredExplanation>, StoreError> {
    let found = store
        .read_routed(move |tx| {
            Box::pin(async move {
                tx.q("SELECT e.offer_id, e.decided_at, e.body FROM explanations e
                    JOIN offers o ON o.id = e.offer_id
                    WHERE e.request_id = $1 ORDER BY e.decided_at, o.created_at, e.offer_id")
                    .bind(request.0)
                    .fetch_all(&mut **tx)
                    .await
            })
        })
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(StoredExplanation {
                offer_id: OfferId(get(r, "offer_id")?),
                decided_at: get(r, "decided_at")?,
                body: serde_json::from_str(&get::<String>(r, "body")?).map_err(corrupt)?,
            })
        })
        .collect()
}

pub(crate) async fn interpreters_online(
    store: &PgStore,
) -> Result<Vec<dragoman_domain::UserId>, StoreError> {
    let mut tx = store.read().await?;
    let found = store
        .q("SELECT user_id FROM interpreters WHERE status IN ('available', 'away', 'reserved', 'wrap_up')")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.done().await?;
    found
        .iter()
        .map(|r| Ok(dragoman_domain::UserId(get::<uuid::Uuid>(r, "user_id")?)))
        .collect()
}

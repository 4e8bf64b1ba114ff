//! The statistics role, read-only figures: language loads, recent activity, match times and status counts.
//!
//! The figures that only administrators, dashboards and the availability endpoint read go to the
//! read replica when there is one (`read_routed`); `language_load` and `recent_activity` stay on
//! the primary: they feed the counts announced right after a change and the wait estimate of a
//! request being created, which are write paths, and the estimate inputs are reused from memory
//! anyway.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::{InterpreterStatus, LanguageCode};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{LanguageLoad, RecentActivity, StatusCount};
use sqlx::postgres::PgRow;

use super::rows::{get, language};
use crate::{PgStore, corrupt, db_error};

fn count(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| corrupt(format!("count {n}")))
}

#[async_trait::async_trait]
impl dragoman_ports::StatsStore for PgStore {
    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError> {
        let found = self
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
    async fn language_load(&self, lang: LanguageCode) -> Result<LanguageLoad, StoreError> {
        let mut tx = self.read().await?;
        let row = self
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

    async fn recent_activity(
        &self,
        lang: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError> {
        let mut tx = self.read().await?;
        let sessions = self
            .q(
                "SELECT (avg(EXTRACT(EPOCH FROM (ended_at - started_at))) * 1000)::bigint AS mean_ms
            FROM sessions WHERE language = $1 AND ended_at >= $2",
            )
            .bind(lang.as_str())
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let offers = self
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

    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError> {
        let found = self
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

    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        let found = self
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
                    status: InterpreterStatus::parse(&get::<String>(r, "status")?)
                        .map_err(corrupt)?,
                    count: count(r, "n")?,
                })
            })
            .collect()
    }
}

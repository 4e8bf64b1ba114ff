//! The statistics role on SQLite: what the wait estimate, the availability endpoint and the overview
//! read. Each is one aggregate query over the indexes the migration gives them.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::{InterpreterStatus, LanguageCode};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{LanguageLoad, RecentActivity, StatusCount};

use crate::rows::{self, get};
use crate::{SqliteStore, corrupt, db_error, micros};

#[async_trait::async_trait]
impl dragoman_ports::StatsStore for SqliteStore {
    /// Every language with an interpreter (of any status) or an open request.
    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError> {
        sqlx::query(
            "WITH languages AS (
             SELECT code AS language FROM interpreter_languages
             UNION
             SELECT language FROM requests WHERE status IN ('queued', 'offered')
         ),
         interpreting AS (
             SELECT l.code AS language,
                    SUM(i.status = 'available') AS available,
                    SUM(i.status IN ('available', 'reserved', 'busy', 'wrap_up')) AS online
             FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
             GROUP BY l.code
         ),
         waiting AS (
             SELECT language, COUNT(*) AS waiting FROM requests
             WHERE status IN ('queued', 'offered') GROUP BY language
         )
         SELECT g.language, COALESCE(i.available, 0) AS available,
                COALESCE(i.online, 0) AS online, COALESCE(w.waiting, 0) AS waiting
         FROM languages g
         LEFT JOIN interpreting i ON i.language = g.language
         LEFT JOIN waiting w ON w.language = g.language
         ORDER BY g.language",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(LanguageLoad {
                language: rows::language(row, "language")?,
                available: rows::count(row, "available")?,
                online: rows::count(row, "online")?,
                waiting: rows::count(row, "waiting")?,
            })
        })
        .collect()
    }

    /// One language's load, by the language's indexes.
    async fn language_load(&self, language: LanguageCode) -> Result<LanguageLoad, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(i.status = 'available'), 0) AS available,
                COALESCE(SUM(i.status IN ('available', 'reserved', 'busy', 'wrap_up')), 0) AS online,
                (SELECT COUNT(*) FROM requests
                 WHERE language = ?1 AND status IN ('queued', 'offered')) AS waiting
         FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
         WHERE l.code = ?1",
        )
        .bind(language.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(LanguageLoad {
            language,
            available: rows::count(&row, "available")?,
            online: rows::count(&row, "online")?,
            waiting: rows::count(&row, "waiting")?,
        })
    }

    /// Sessions of the language that ended since `since`, and offers of it made since then.
    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError> {
        let row = sqlx::query(
            "SELECT
             (SELECT COUNT(*) FROM sessions WHERE language = ?1 AND ended_at >= ?2) AS ended,
             (SELECT COALESCE(SUM(ended_at - started_at), 0) FROM sessions
              WHERE language = ?1 AND ended_at >= ?2) AS talk_us,
             (SELECT COUNT(*) FROM offers WHERE language = ?1 AND created_at >= ?2) AS made,
             (SELECT COALESCE(SUM(status = 'accepted'), 0) FROM offers
              WHERE language = ?1 AND created_at >= ?2) AS accepted",
        )
        .bind(language.as_str())
        .bind(micros(since))
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        let ended = get::<i64>(&row, "ended")?;
        let talk_us = get::<i64>(&row, "talk_us")?;
        Ok(RecentActivity {
            mean_session: (ended > 0).then(|| TimeDelta::microseconds(talk_us / ended)),
            offers_made: rows::count(&row, "made")?,
            offers_accepted: rows::count(&row, "accepted")?,
        })
    }

    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError> {
        sqlx::query("SELECT language, match_time_ms FROM sessions WHERE started_at >= ?")
            .bind(micros(since))
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| Ok((rows::language(row, "language")?, get(row, "match_time_ms")?)))
            .collect()
    }

    /// Interpreters per language and status; pairs with nobody are left out.
    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        sqlx::query(
            "SELECT l.code AS language, i.status, COUNT(*) AS count
         FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
         GROUP BY l.code, i.status ORDER BY l.code, i.status",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(StatusCount {
                language: rows::language(row, "language")?,
                status: InterpreterStatus::parse(&get::<String>(row, "status")?)
                    .map_err(corrupt)?,
                count: rows::count(row, "count")?,
            })
        })
        .collect()
    }
}

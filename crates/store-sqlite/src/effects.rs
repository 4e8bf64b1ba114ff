//! Job effects on SQLite: each effect commits with its job key's row in `job_runs`; the
//! post-session summaries owed (migration 0005's outbox).

use chrono::{DateTime, Utc};
use dragoman_ports::{JobEffects, SessionSummary, StoreError};
use sqlx::Row;

use crate::{SqliteStore, begin_write, db_error, instant, micros};

#[async_trait::async_trait]
impl JobEffects for SqliteStore {
    async fn record_session_summary(
        &self,
        run_key: &str,
        summary: &SessionSummary,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        // Whether or not this run writes it, the summary is no longer owed.
        sqlx::query("DELETE FROM session_summary_outbox WHERE session_id = ?")
            .bind(summary.session_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let ran = sqlx::query(
            "INSERT INTO job_runs (run_key, ran_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(run_key)
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if ran.rows_affected() == 0 {
            tx.commit().await.map_err(db_error)?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO session_summaries
                 (session_id, language, started_at, ended_at, duration_ms, match_time_ms, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(summary.session_id)
        .bind(&summary.language)
        .bind(micros(summary.started_at))
        .bind(micros(summary.ended_at))
        .bind(summary.duration_ms)
        .bind(summary.match_time_ms)
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn session_summary_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM session_summaries")
            .fetch_one(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn owed_session_summaries(
        &self,
        ended_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.language, s.started_at, o.ended_at, s.match_time_ms
             FROM session_summary_outbox o JOIN sessions s ON s.id = o.session_id
             WHERE o.ended_at < ? ORDER BY o.ended_at LIMIT ?",
        )
        .bind(micros(ended_before))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let started_at = instant(row.try_get("started_at").map_err(db_error)?)?;
                let ended_at = instant(row.try_get("ended_at").map_err(db_error)?)?;
                Ok(SessionSummary {
                    session_id: row.try_get("id").map_err(db_error)?,
                    language: row.try_get("language").map_err(db_error)?,
                    started_at,
                    ended_at,
                    duration_ms: (ended_at - started_at).num_milliseconds(),
                    match_time_ms: row.try_get("match_time_ms").map_err(db_error)?,
                })
            })
            .collect()
    }
}

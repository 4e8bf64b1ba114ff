//! Job effects on PostgreSQL: each effect commits with its job key's row in `job_runs`.

use chrono::{DateTime, Utc};
use dragoman_ports::{JobEffects, SessionSummary, StoreError};
use sqlx::Row;

use crate::{PgStore, db_error};

#[async_trait::async_trait]
impl JobEffects for PgStore {
    async fn record_session_summary(
        &self,
        run_key: &str,
        summary: &SessionSummary,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Whether or not this run writes it, the summary is no longer owed.
        self.q("DELETE FROM session_summary_outbox WHERE session_id = $1")
            .bind(summary.session_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let ran = self
            .q("INSERT INTO job_runs (run_key) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(run_key.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if ran.rows_affected() == 0 {
            tx.commit().await.map_err(db_error)?;
            return Ok(false);
        }
        self.q("INSERT INTO session_summaries
                 (session_id, language, started_at, ended_at, duration_ms, match_time_ms)
             VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(summary.session_id)
            .bind(summary.language.clone())
            .bind(summary.started_at)
            .bind(summary.ended_at)
            .bind(summary.duration_ms)
            .bind(summary.match_time_ms)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn session_summary_count(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM session_summaries")
            .persistent(self.persistent)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn owed_session_summaries(
        &self,
        ended_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = self
            .q(
                "SELECT s.id, s.language, s.started_at, o.ended_at, s.match_time_ms
                FROM session_summary_outbox o JOIN sessions s ON s.id = o.session_id
                WHERE o.ended_at < $1 ORDER BY o.ended_at LIMIT $2",
            )
            .bind(ended_before)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let started_at: DateTime<Utc> = row.try_get("started_at").map_err(db_error)?;
                let ended_at: DateTime<Utc> = row.try_get("ended_at").map_err(db_error)?;
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

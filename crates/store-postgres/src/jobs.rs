//! Job effects on PostgreSQL: each effect commits with its job key's row in `job_runs`.

use dragoman_ports::{JobEffects, SessionSummary, StoreError};

use crate::{PgStore, db_error};

#[async_trait::async_trait]
impl JobEffects for PgStore {
    async fn record_session_summary(
        &self,
        run_key: &str,
        summary: &SessionSummary,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let ran = self
            .q("INSERT INTO job_runs (run_key) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(run_key.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if ran.rows_affected() == 0 {
            tx.rollback().await.map_err(db_error)?;
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
}

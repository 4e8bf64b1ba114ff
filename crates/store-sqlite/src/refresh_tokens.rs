//! Refresh tokens on SQLite: stored by their hash, rotated and revoked by family, each change
//! one write on the single writer connection.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{NewRefreshToken, NextRefreshToken, RotateOutcome, StoreError};
use sqlx::Row;
use uuid::Uuid;

use crate::{SqliteStore, db_error, micros};

#[async_trait::async_trait]
impl dragoman_ports::RefreshTokenStore for SqliteStore {
    async fn insert_refresh_token(&self, t: NewRefreshToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id)
        .bind(t.user_id.0)
        .bind(t.family_id)
        .bind(&t.token_hash)
        .bind(micros(t.created_at))
        .bind(micros(t.expires_at))
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next: NextRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        let now_us = micros(now);
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        let current = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ?1
         WHERE token_hash = ?2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
         RETURNING user_id, family_id",
        )
        .bind(now_us)
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(row) = current {
            let user_id: Uuid = row.try_get("user_id").map_err(db_error)?;
            let family_id: Uuid = row.try_get("family_id").map_err(db_error)?;
            sqlx::query(
                "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(next.id)
            .bind(user_id)
            .bind(family_id)
            .bind(&next.token_hash)
            .bind(now_us)
            .bind(micros(next.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return Ok(RotateOutcome::Rotated {
                user_id: UserId(user_id),
            });
        }
        let known = sqlx::query(
            "SELECT user_id, family_id, expires_at, used_at IS NOT NULL OR revoked_at IS NOT NULL AS spent
         FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = known else {
            return Ok(RotateOutcome::Invalid);
        };
        let spent: bool = row.try_get("spent").map_err(db_error)?;
        if !spent {
            // Present and unspent but not rotated: it has expired.
            return Ok(RotateOutcome::Invalid);
        }
        let user_id: Uuid = row.try_get("user_id").map_err(db_error)?;
        let family_id: Uuid = row.try_get("family_id").map_err(db_error)?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        )
        .bind(now_us)
        .bind(family_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(RotateOutcome::Reused {
            user_id: UserId(user_id),
        })
    }

    async fn revoke_refresh_family(
        &self,
        presented: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ?
         WHERE revoked_at IS NULL
           AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
        )
        .bind(micros(now))
        .bind(presented)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn cap_refresh_families(
        &self,
        user_id: UserId,
        keep: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The open families are those with a current token (one each); the subquery reads them
        // through refresh_tokens_open_by_user_idx.
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ?1
         WHERE revoked_at IS NULL AND family_id IN (
             SELECT family_id FROM refresh_tokens
             WHERE user_id = ?2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
             ORDER BY created_at DESC, id DESC
             LIMIT -1 OFFSET ?3)",
        )
        .bind(micros(now))
        .bind(user_id.0)
        .bind(i64::from(keep))
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}

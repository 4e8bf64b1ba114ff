//! Refresh tokens on PostgreSQL: stored by their hash, rotated and revoked by family. A
//! rotation is one conditional update of the presented token, so of two presenting one token at
//! once exactly one finds it current.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{NewRefreshToken, NextRefreshToken, RotateOutcome, StoreError};
use sqlx::Row;
use uuid::Uuid;

use crate::{PgStore, db_error};

#[async_trait::async_trait]
impl dragoman_ports::RefreshTokenStore for PgStore {
    async fn insert_refresh_token(&self, t: NewRefreshToken) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self
            .q("INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(t.id)
            .bind(t.user_id.0)
            .bind(t.family_id)
            .bind(&t.token_hash)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next: NextRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.begin().await?;
        // Row locking makes a concurrent rotation of the same token wait here, then find it used.
        let current = self
            .q("UPDATE refresh_tokens SET used_at = $1
            WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
            RETURNING user_id, family_id")
            .bind(now)
            .bind(presented)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if let Some(row) = current {
            let user_id: Uuid = row.try_get("user_id").map_err(db_error)?;
            let family_id: Uuid = row.try_get("family_id").map_err(db_error)?;
            self
                .q("INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(next.id)
                .bind(user_id)
                .bind(family_id)
                .bind(&next.token_hash)
                .bind(now)
                .bind(next.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return Ok(RotateOutcome::Rotated {
                user_id: UserId(user_id),
            });
        }
        let known = self
            .q(
                "SELECT user_id, family_id, (used_at IS NOT NULL OR revoked_at IS NOT NULL) AS spent
            FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(presented)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let outcome = match known {
            None => RotateOutcome::Invalid,
            Some(row) if !row.try_get::<bool, _>("spent").map_err(db_error)? => {
                RotateOutcome::Invalid
            }
            Some(row) => {
                let user_id: Uuid = row.try_get("user_id").map_err(db_error)?;
                let family_id: Uuid = row.try_get("family_id").map_err(db_error)?;
                self
                    .q("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(family_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                RotateOutcome::Reused {
                    user_id: UserId(user_id),
                }
            }
        };
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn revoke_refresh_family(
        &self,
        presented: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.q("UPDATE refresh_tokens SET revoked_at = $1
            WHERE revoked_at IS NULL
              AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)")
            .bind(now)
            .bind(presented)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn cap_refresh_families(
        &self,
        user_id: UserId,
        keep: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // The open families are those with a current token (one each); the subquery reads them
        // through refresh_tokens_open_by_user_idx.
        self.q("UPDATE refresh_tokens SET revoked_at = $1
            WHERE revoked_at IS NULL AND family_id IN (
                SELECT family_id FROM refresh_tokens
                WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
                ORDER BY created_at DESC, id DESC
                OFFSET $3)")
            .bind(now)
            .bind(user_id.0)
            .bind(i64::from(keep))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }
}

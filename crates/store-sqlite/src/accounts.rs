//! Users and refresh tokens on SQLite.

use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Role, User, UserId};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{NewRefreshToken, NewUser, RotateOutcome, StoreError, UserRecord};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::{corrupt, db_error, instant, micros};

/// `SELECT` of every user column, then the given `WHERE` clause.
macro_rules! select_user {
    ($where:literal) => {
        concat!(
            "SELECT id, email, display_name, role, avatar_key, created_at, password_hash FROM users WHERE ",
            $where
        )
    };
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let get_str = |c: &str| row.try_get::<String, _>(c).map_err(db_error);
    let user = User {
        id: UserId(row.try_get::<Uuid, _>("id").map_err(db_error)?),
        email: Email::parse(&get_str("email")?).map_err(corrupt)?,
        display_name: DisplayName::parse(&get_str("display_name")?).map_err(corrupt)?,
        role: Role::parse(&get_str("role")?).map_err(corrupt)?,
        avatar_key: row.try_get("avatar_key").map_err(db_error)?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    };
    Ok(UserRecord {
        user,
        password_hash: get_str("password_hash")?,
    })
}

pub(crate) async fn create_user(pool: &SqlitePool, new: NewUser) -> Result<User, StoreError> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, display_name, role, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(new.id.0)
    .bind(new.email.as_str())
    .bind(&new.password_hash)
    .bind(new.display_name.as_str())
    .bind(new.role.as_str())
    .bind(micros(new.created_at))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    if new.role == Role::Interpreter {
        sqlx::query(
            "INSERT INTO interpreters (user_id, status, status_since) VALUES (?, 'offline', ?)",
        )
        .bind(new.id.0)
        .bind(micros(new.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(User {
        id: new.id,
        email: new.email,
        display_name: new.display_name,
        role: new.role,
        avatar_key: None,
        created_at: new.created_at,
    })
}

pub(crate) async fn user(pool: &SqlitePool, id: UserId) -> Result<Option<User>, StoreError> {
    let row = sqlx::query(select_user!("id = ?"))
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    row.map(|r| user_from_row(&r).map(|u| u.user)).transpose()
}

pub(crate) async fn user_by_email(
    pool: &SqlitePool,
    email: &Email,
) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(select_user!("email = ?"))
        .bind(email.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    row.map(|r| user_from_row(&r)).transpose()
}

pub(crate) async fn insert_refresh_token(
    pool: &SqlitePool,
    t: NewRefreshToken,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(t.id)
    .bind(t.user_id.0)
    .bind(t.family_id)
    .bind(&t.token_hash)
    .bind(micros(t.created_at))
    .bind(micros(t.expires_at))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn rotate_refresh_token(
    pool: &SqlitePool,
    presented: &[u8],
    next: NextRefreshToken,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, StoreError> {
    let now_us = micros(now);
    let mut tx = pool.begin().await.map_err(db_error)?;
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

pub(crate) async fn cap_refresh_families(
    pool: &SqlitePool,
    user_id: Uuid,
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
    .bind(user_id)
    .bind(i64::from(keep))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn revoke_refresh_family(
    pool: &SqlitePool,
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
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

//! Users and refresh tokens on PostgreSQL.

use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Role, User, UserId};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{NewRefreshToken, NewUser, RotateOutcome, StoreError, UserRecord};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::{PgStore, corrupt, db_error};

/// `SELECT` of every user column, then the given `WHERE` clause.
macro_rules! select_user {
    ($where:literal) => {
        concat!(
            "SELECT id, email, display_name, role, avatar_key, created_at, password_hash FROM users WHERE ",
            $where
        )
    };
}

fn user_from_row(row: &PgRow) -> Result<UserRecord, StoreError> {
    let get_str = |c: &str| row.try_get::<String, _>(c).map_err(db_error);
    let user = User {
        id: UserId(row.try_get::<Uuid, _>("id").map_err(db_error)?),
        email: Email::parse(&get_str("email")?).map_err(corrupt)?,
        display_name: DisplayName::parse(&get_str("display_name")?).map_err(corrupt)?,
        role: Role::parse(&get_str("role")?).map_err(corrupt)?,
        avatar_key: row.try_get("avatar_key").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    };
    Ok(UserRecord {
        user,
        password_hash: get_str("password_hash")?,
    })
}

pub(crate) async fn create_user(store: &PgStore, new: NewUser) -> Result<User, StoreError> {
    let mut tx = store.begin().await?;
    store
        .q("INSERT INTO users (id, email, password_hash, display_name, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new.id.0)
        .bind(new.email.as_str())
        .bind(&new.password_hash)
        .bind(new.display_name.as_str())
        .bind(new.role.as_str())
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if new.role == Role::Interpreter {
        store
            .q("INSERT INTO interpreters (user_id, status, status_since) VALUES ($1, 'offline', $2)")
            .bind(new.id.0)
            .bind(new.created_at)
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

pub(crate) async fn user(store: &PgStore, id: UserId) -> Result<Option<User>, StoreError> {
    let mut tx = store.read().await?;
    let row = store
        .q(select_user!("id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.done().await?;
    row.map(|r| user_from_row(&r).map(|u| u.user)).transpose()
}

pub(crate) async fn user_by_email(
    store: &PgStore,
    email: &Email,
) -> Result<Option<UserRecord>, StoreError> {
    let mut tx = store.read().await?;
    let row = store
        .q(select_user!("email = $1"))
        .bind(email.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.done().await?;
    row.map(|r| user_from_row(&r)).transpose()
}

pub(crate) async fn insert_refresh_token(
    store: &PgStore,
    t: NewRefreshToken,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    store
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

pub(crate) async fn rotate_refresh_token(
    store: &PgStore,
    presented: &[u8],
    next: NextRefreshToken,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, StoreError> {
    let mut tx = store.begin().await?;
    // Row locking makes a concurrent rotation of the same token wait here, then find it used.
    let current = store
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
        store
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
    let known = store
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
        Some(row) if !row.try_get::<bool, _>("spent").map_err(db_error)? => RotateOutcome::Invalid,
        Some(row) => {
            let user_id: Uuid = row.try_get("user_id").map_err(db_error)?;
            let family_id: Uuid = row.try_get("family_id").map_err(db_error)?;
            store
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

pub(crate) async fn cap_refresh_families(
    store: &PgStore,
    user_id: Uuid,
    keep: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    // The open families are those with a current token (one each); the subquery reads them
    // through refresh_tokens_open_by_user_idx.
    store
        .q("UPDATE refresh_tokens SET revoked_at = $1
            WHERE revoked_at IS NULL AND family_id IN (
                SELECT family_id FROM refresh_tokens
                WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
                ORDER BY created_at DESC, id DESC
                OFFSET $3)")
        .bind(now)
        .bind(user_id)
        .bind(i64::from(keep))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)
}

pub(crate) async fn revoke_refresh_family(
    store: &PgStore,
    presented: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    store
        .q("UPDATE refresh_tokens SET revoked_at = $1
            WHERE revoked_at IS NULL
              AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)")
        .bind(now)
        .bind(presented)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)
}

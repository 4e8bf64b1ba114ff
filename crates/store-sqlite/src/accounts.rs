//! The accounts role on SQLite: users, and the readiness ping.

use dragoman_domain::{DisplayName, Email, Role, User, UserId};
use dragoman_ports::{NewUser, StoreError, UserRecord};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::{SqliteStore, corrupt, db_error, instant, micros};

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

#[async_trait::async_trait]
impl dragoman_ports::AccountStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let mut tx = self.writer.begin().await.map_err(db_error)?;
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

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(select_user!("id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| user_from_row(&r).map(|u| u.user)).transpose()
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(select_user!("email = ?"))
            .bind(email.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| user_from_row(&r)).transpose()
    }
}

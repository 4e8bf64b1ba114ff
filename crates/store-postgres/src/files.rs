//! Documents and avatar uploads on PostgreSQL (migration 0003).

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{AvatarUpload, DocumentRecord, DocumentStatus, FileStore, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::{PgStore, corrupt, db_error};

macro_rules! select_documents {
    ($where:literal) => {
        concat!(
            "SELECT id, session_id, uploader_id, filename, content_type, size_bytes, object_key, status, created_at, ready_at FROM documents WHERE ",
            $where
        )
    };
}

fn size(bytes: u64) -> Result<i64, StoreError> {
    i64::try_from(bytes).map_err(|_| StoreError::Backend(anyhow::anyhow!("size out of range")))
}

/// A write that names a session or user that does not exist is `NotFound`.
fn write_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StoreError::NotFound;
    }
    db_error(e)
}

fn document_from_row(row: &PgRow) -> Result<DocumentRecord, StoreError> {
    let status: String = row.try_get("status").map_err(db_error)?;
    let size_bytes: i64 = row.try_get("size_bytes").map_err(db_error)?;
    Ok(DocumentRecord {
        id: row.try_get("id").map_err(db_error)?,
        session_id: row.try_get("session_id").map_err(db_error)?,
        uploader_id: UserId(row.try_get("uploader_id").map_err(db_error)?),
        filename: row.try_get("filename").map_err(db_error)?,
        content_type: row.try_get("content_type").map_err(db_error)?,
        size_bytes: u64::try_from(size_bytes).map_err(corrupt)?,
        object_key: row.try_get("object_key").map_err(db_error)?,
        status: DocumentStatus::parse(&status).ok_or_else(|| corrupt(status))?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        ready_at: row.try_get("ready_at").map_err(db_error)?,
    })
}

fn avatar_from_row(row: &PgRow) -> Result<AvatarUpload, StoreError> {
    let size_bytes: i64 = row.try_get("size_bytes").map_err(db_error)?;
    Ok(AvatarUpload {
        user_id: UserId(row.try_get("user_id").map_err(db_error)?),
        object_key: row.try_get("object_key").map_err(db_error)?,
        content_type: row.try_get("content_type").map_err(db_error)?,
        size_bytes: u64::try_from(size_bytes).map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

#[async_trait::async_trait]
impl FileStore for PgStore {
    async fn create_document(&self, d: &DocumentRecord) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.q("INSERT INTO documents (id, session_id, uploader_id, filename, content_type, size_bytes, object_key, status, created_at, ready_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(d.id)
            .bind(d.session_id)
            .bind(d.uploader_id.0)
            .bind(&d.filename)
            .bind(&d.content_type)
            .bind(size(d.size_bytes)?)
            .bind(&d.object_key)
            .bind(d.status.as_str())
            .bind(d.created_at)
            .bind(d.ready_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn document(
        &self,
        session_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let row = self
            .q(select_documents!("id = $1 AND session_id = $2"))
            .bind(id)
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        row.map(|r| document_from_row(&r)).transpose()
    }

    async fn mark_document_ready(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q("UPDATE documents SET status = 'ready', ready_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn documents_of_session(
        &self,
        session_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = self
            .q(select_documents!(
                "session_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
            ))
            .bind(session_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        rows.iter().map(document_from_row).collect()
    }

    async fn delete_pending_document(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q("DELETE FROM documents WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_avatar_upload(&self, u: &AvatarUpload) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        // Locks the user's row so two concurrent requests report the key each replaced.
        let replaced = self
            .q("SELECT object_key FROM avatar_uploads WHERE user_id = $1 FOR UPDATE")
            .bind(u.user_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .map(|r| r.try_get::<String, _>("object_key"))
            .transpose()
            .map_err(db_error)?;
        self.q("INSERT INTO avatar_uploads (user_id, object_key, content_type, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (user_id) DO UPDATE SET object_key = excluded.object_key, content_type = excluded.content_type,
                size_bytes = excluded.size_bytes, created_at = excluded.created_at")
            .bind(u.user_id.0)
            .bind(&u.object_key)
            .bind(&u.content_type)
            .bind(size(u.size_bytes)?)
            .bind(u.created_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(replaced)
    }

    async fn avatar_upload(&self, user_id: UserId) -> Result<Option<AvatarUpload>, StoreError> {
        let mut tx = self.begin().await?;
        let row = self
            .q("SELECT user_id, object_key, content_type, size_bytes, created_at FROM avatar_uploads WHERE user_id = $1")
            .bind(user_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        row.map(|r| avatar_from_row(&r)).transpose()
    }

    async fn complete_avatar(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        let dropped = self
            .q("DELETE FROM avatar_uploads WHERE user_id = $1 AND object_key = $2")
            .bind(user_id.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if dropped.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let previous = self
            .q("SELECT avatar_key FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .map(|r| r.try_get::<Option<String>, _>("avatar_key"))
            .transpose()
            .map_err(db_error)?
            .flatten();
        self.q("UPDATE users SET avatar_key = $1 WHERE id = $2")
            .bind(key)
            .bind(user_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(previous)
    }

    async fn drop_avatar_upload(&self, user_id: UserId, key: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q("DELETE FROM avatar_uploads WHERE user_id = $1 AND object_key = $2")
            .bind(user_id.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

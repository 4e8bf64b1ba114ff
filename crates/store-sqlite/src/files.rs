//! Documents and avatar uploads on SQLite (migration 0003).

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{AvatarUpload, DocumentRecord, DocumentStatus, FileStore, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::{SqliteStore, begin_write, corrupt, db_error, instant, micros};

const DOCUMENT_COLUMNS: &str = "id, session_id, uploader_id, filename, content_type, size_bytes, object_key, status, created_at, ready_at";

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

fn document_from_row(row: &SqliteRow) -> Result<DocumentRecord, StoreError> {
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
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
        ready_at: row
            .try_get::<Option<i64>, _>("ready_at")
            .map_err(db_error)?
            .map(instant)
            .transpose()?,
    })
}

fn avatar_from_row(row: &SqliteRow) -> Result<AvatarUpload, StoreError> {
    let size_bytes: i64 = row.try_get("size_bytes").map_err(db_error)?;
    Ok(AvatarUpload {
        user_id: UserId(row.try_get("user_id").map_err(db_error)?),
        object_key: row.try_get("object_key").map_err(db_error)?,
        content_type: row.try_get("content_type").map_err(db_error)?,
        size_bytes: u64::try_from(size_bytes).map_err(corrupt)?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    })
}

#[async_trait::async_trait]
impl FileStore for SqliteStore {
    async fn create_document(&self, d: &DocumentRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO documents (id, session_id, uploader_id, filename, content_type, size_bytes, object_key, status, created_at, ready_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(d.id)
        .bind(d.session_id)
        .bind(d.uploader_id.0)
        .bind(&d.filename)
        .bind(&d.content_type)
        .bind(size(d.size_bytes)?)
        .bind(&d.object_key)
        .bind(d.status.as_str())
        .bind(micros(d.created_at))
        .bind(d.ready_at.map(micros))
        .execute(&self.writer)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn document(
        &self,
        session_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        let sql =
            format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ? AND session_id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(session_id)
            .fetch_optional(&self.writer)
            .await
            .map_err(db_error)?
            .map(|r| document_from_row(&r))
            .transpose()
    }

    async fn mark_document_ready(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE documents SET status = 'ready', ready_at = ? WHERE id = ? AND status = 'pending'",
        )
        .bind(micros(at))
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn documents_of_session(
        &self,
        session_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE session_id = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session_id)
            .bind(after)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter().map(document_from_row).collect()
    }

    async fn delete_pending_document(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM documents WHERE id = ? AND status = 'pending'")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_avatar_upload(&self, u: &AvatarUpload) -> Result<Option<String>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let replaced: Option<String> =
            sqlx::query_scalar("SELECT object_key FROM avatar_uploads WHERE user_id = ?")
                .bind(u.user_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO avatar_uploads (user_id, object_key, content_type, size_bytes, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET object_key = excluded.object_key, content_type = excluded.content_type,
             size_bytes = excluded.size_bytes, created_at = excluded.created_at",
        )
        .bind(u.user_id.0)
        .bind(&u.object_key)
        .bind(&u.content_type)
        .bind(size(u.size_bytes)?)
        .bind(micros(u.created_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(replaced)
    }

    async fn avatar_upload(&self, user_id: UserId) -> Result<Option<AvatarUpload>, StoreError> {
        sqlx::query(
            "SELECT user_id, object_key, content_type, size_bytes, created_at FROM avatar_uploads WHERE user_id = ?",
        )
        .bind(user_id.0)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_error)?
        .map(|r| avatar_from_row(&r))
        .transpose()
    }

    async fn complete_avatar(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let dropped =
            sqlx::query("DELETE FROM avatar_uploads WHERE user_id = ? AND object_key = ?")
                .bind(user_id.0)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        if dropped.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let previous: Option<String> =
            sqlx::query_scalar("SELECT avatar_key FROM users WHERE id = ?")
                .bind(user_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
                .flatten();
        sqlx::query("UPDATE users SET avatar_key = ? WHERE id = ?")
            .bind(key)
            .bind(user_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(previous)
    }

    async fn drop_avatar_upload(&self, user_id: UserId, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM avatar_uploads WHERE user_id = ? AND object_key = ?")
            .bind(user_id.0)
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

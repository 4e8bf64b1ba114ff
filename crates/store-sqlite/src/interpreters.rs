//! The interpreters role on SQLite: profiles and the statuses the accounts side sets.

use chrono::{DateTime, Utc};
use dragoman_domain::{
    InterpreterStatus, LanguageCode, LanguageSkill, Level, ModalitySet, Profile, SpecializationSet,
    UserId,
};
use dragoman_ports::{InterpreterRecord, StatusUpdate, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::{SqliteStore, corrupt, db_error, instant, micros};

#[async_trait::async_trait]
impl dragoman_ports::InterpreterStore for SqliteStore {
    async fn put_profile(
        &self,
        user_id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<InterpreterRecord, StoreError> {
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        let updated = sqlx::query(
            "UPDATE interpreters SET specializations = ?, modalities = ?, profile_updated_at = ?,
                profile_version = profile_version + 1 WHERE user_id = ?",
        )
        .bind(profile.specializations.bits())
        .bind(profile.modalities.bits())
        .bind(micros(now))
        .bind(user_id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM interpreter_languages WHERE user_id = ?")
            .bind(user_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for (position, skill) in profile.languages().iter().enumerate() {
            sqlx::query(
                "INSERT INTO interpreter_languages (user_id, code, level, certified, position) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(user_id.0)
            .bind(skill.code.as_str())
            .bind(skill.level.as_str())
            .bind(skill.certified)
            .bind(position as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        let record = load(&mut tx, user_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    async fn interpreter(&self, user_id: UserId) -> Result<Option<InterpreterRecord>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, user_id).await
    }

    async fn update_status(
        &self,
        user_id: UserId,
        update: StatusUpdate,
    ) -> Result<bool, StoreError> {
        // The presence columns of the matching side follow as for a manual change
        // (`Presence::set_manually`): becoming available starts the idle time, and any change ends a
        // run of missed offers and the away reason.
        let done = sqlx::query(
            "UPDATE interpreters SET status = ?, status_since = ?,
                idle_since = CASE WHEN ? = 'available' THEN ? ELSE idle_since END,
                missed_in_a_row = 0, away_reason = NULL, away_missed_count = NULL
         WHERE user_id = ? AND status = ?",
        )
        .bind(update.to.as_str())
        .bind(micros(update.at))
        .bind(update.to.as_str())
        .bind(micros(update.at))
        .bind(user_id.0)
        .bind(update.from.as_str())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

/// One row of `interpreter_languages` (`code`, `level`, `certified`).
pub(crate) fn skill(row: &SqliteRow) -> Result<LanguageSkill, StoreError> {
    Ok(LanguageSkill {
        code: LanguageCode::parse(&row.try_get::<String, _>("code").map_err(db_error)?)
            .map_err(corrupt)?,
        level: Level::parse(&row.try_get::<String, _>("level").map_err(db_error)?)
            .map_err(corrupt)?,
        certified: row.try_get("certified").map_err(db_error)?,
    })
}

async fn load(
    conn: &mut SqliteConnection,
    user_id: UserId,
) -> Result<Option<InterpreterRecord>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT status, status_since, specializations, modalities, profile_updated_at
         FROM interpreters WHERE user_id = ?",
    )
    .bind(user_id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    let status = InterpreterStatus::parse(&row.try_get::<String, _>("status").map_err(db_error)?)
        .map_err(corrupt)?;
    let status_since = instant(row.try_get("status_since").map_err(db_error)?)?;
    let has_profile = row
        .try_get::<Option<i64>, _>("profile_updated_at")
        .map_err(db_error)?
        .is_some();
    let profile = if has_profile {
        let languages = sqlx::query(
            "SELECT code, level, certified FROM interpreter_languages WHERE user_id = ? ORDER BY position",
        )
        .bind(user_id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(skill)
        .collect::<Result<Vec<_>, StoreError>>()?;
        Some(
            Profile::new(
                languages,
                SpecializationSet::from_bits(row.try_get("specializations").map_err(db_error)?),
                ModalitySet::from_bits(row.try_get("modalities").map_err(db_error)?),
            )
            .map_err(corrupt)?,
        )
    } else {
        None
    };
    Ok(Some(InterpreterRecord {
        user_id,
        profile,
        status,
        status_since,
    }))
}

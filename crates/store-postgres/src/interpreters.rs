//! The interpreters role on PostgreSQL: profiles and the statuses the accounts side sets, and
//! the profile languages matching's snapshots read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use dragoman_domain::{
    InterpreterStatus, LanguageCode, LanguageSkill, Level, ModalitySet, Profile, SpecializationSet,
    UserId,
};
use dragoman_ports::{InterpreterRecord, StatusUpdate, StoreError};
use sqlx::{PgConnection, Row};

use crate::{PgStore, corrupt, db_error};

#[async_trait::async_trait]
impl dragoman_ports::InterpreterStore for PgStore {
    async fn put_profile(
        &self,
        user_id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<InterpreterRecord, StoreError> {
        let mut tx = self.begin().await?;
        let codes: Vec<&str> = profile
            .languages()
            .iter()
            .map(|s| s.code.as_str())
            .collect();
        let updated = self
            .q("UPDATE interpreters SET specializations = $1, modalities = $2, profile_updated_at = $3,
                   profile_version = profile_version + 1, language_codes = $5
            WHERE user_id = $4")
            .bind(profile.specializations.bits())
            .bind(profile.modalities.bits())
            .bind(now)
            .bind(user_id.0)
            .bind(&codes)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.q("DELETE FROM interpreter_languages WHERE user_id = $1")
            .bind(user_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let (codes, levels, certified): (Vec<&str>, Vec<&str>, Vec<bool>) = profile
            .languages()
            .iter()
            .map(|s| (s.code.as_str(), s.level.as_str(), s.certified))
            .collect();
        self
            .q("INSERT INTO interpreter_languages (user_id, code, level, certified, position)
            SELECT $1, code, level, certified, (ord - 1)::int
            FROM unnest($2::text[], $3::text[], $4::bool[]) WITH ORDINALITY AS l(code, level, certified, ord)")
            .bind(user_id.0)
            .bind(codes)
            .bind(levels)
            .bind(certified)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let record = load(self, &mut tx, user_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    async fn interpreter(&self, user_id: UserId) -> Result<Option<InterpreterRecord>, StoreError> {
        let mut tx = self.read().await?;
        let record = load(self, &mut tx, user_id).await?;
        tx.done().await?;
        Ok(record)
    }

    /// A compare-and-set of the status alone. It keeps the presence columns of matching coherent
    /// the way a manual change does: becoming `available` starts the idle time, and any change
    /// clears the run of missed offers and the away reason.
    async fn update_status(
        &self,
        user_id: UserId,
        update: StatusUpdate,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q("UPDATE interpreters
            SET status = $1, status_since = $2,
                idle_since = CASE WHEN $1 = 'available' AND status <> $1 THEN $2 ELSE idle_since END,
                missed_in_a_row = CASE WHEN status <> $1 THEN 0 ELSE missed_in_a_row END,
                away_reason = CASE WHEN status <> $1 THEN NULL ELSE away_reason END,
                away_missed_count = CASE WHEN status <> $1 THEN NULL ELSE away_missed_count END
            WHERE user_id = $3 AND status = $4")
            .bind(update.to.as_str())
            .bind(update.at)
            .bind(user_id.0)
            .bind(update.from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

async fn load(
    store: &PgStore,
    conn: &mut PgConnection,
    user_id: UserId,
) -> Result<Option<InterpreterRecord>, StoreError> {
    let Some(row) = store
        .q("SELECT status, status_since, specializations, modalities, profile_updated_at IS NOT NULL AS has_profile, profile_version
            FROM interpreters WHERE user_id = $1")
        .bind(user_id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let status = InterpreterStatus::parse(&row.try_get::<String, _>("status").map_err(db_error)?)
        .map_err(corrupt)?;
    let profile = if row.try_get::<bool, _>("has_profile").map_err(db_error)? {
        let version = row.try_get("profile_version").map_err(db_error)?;
        Some(
            Profile::new(
                languages_at(store, conn, user_id, version).await?,
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
        status_since: row.try_get("status_since").map_err(db_error)?,
    }))
}

/// The languages of `user`'s profile at `version`, from the store's `ProfileCache`, or read.
pub(crate) async fn languages_at(
    store: &PgStore,
    conn: &mut PgConnection,
    user: UserId,
    version: i64,
) -> Result<Vec<LanguageSkill>, StoreError> {
    let mut found = store
        .profiles
        .languages(&[(user, version)], move |users| {
            languages_of(store, conn, users)
        })
        .await?;
    Ok(found.pop().map(|l| l.to_vec()).unwrap_or_default())
}

/// The languages of `users`, each in profile order, with the profile version they belong to, in
/// one statement (so that the two agree whatever commits meanwhile).
pub(crate) async fn languages_of(
    store: &PgStore,
    conn: &mut PgConnection,
    users: Vec<UserId>,
) -> Result<HashMap<UserId, (i64, Vec<LanguageSkill>)>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let found = store
        .q(
            "SELECT l.user_id, i.profile_version, l.code, l.level, l.certified
            FROM interpreter_languages l JOIN interpreters i ON i.user_id = l.user_id
            WHERE l.user_id = ANY($1) ORDER BY l.user_id, l.position",
        )
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let mut languages: HashMap<UserId, (i64, Vec<LanguageSkill>)> = HashMap::new();
    for row in &found {
        let version: i64 = row.try_get("profile_version").map_err(db_error)?;
        languages
            .entry(UserId(row.try_get("user_id").map_err(db_error)?))
            .or_insert_with(|| (version, Vec::new()))
            .1
            .push(skill_from_parts(
                &row.try_get::<String, _>("code").map_err(db_error)?,
                &row.try_get::<String, _>("level").map_err(db_error)?,
                row.try_get("certified").map_err(db_error)?,
            )?);
    }
    Ok(languages)
}

/// One language of a profile from its stored columns.
fn skill_from_parts(code: &str, level: &str, certified: bool) -> Result<LanguageSkill, StoreError> {
    Ok(LanguageSkill {
        code: LanguageCode::parse(code).map_err(corrupt)?,
        level: Level::parse(level).map_err(corrupt)?,
        certified,
    })
}

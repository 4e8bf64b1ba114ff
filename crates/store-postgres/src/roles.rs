//! The least-privilege role the API connects as.
//!
//! Migrations run as the schema's owner (the `migrate` task, over a direct connection); the API
//! tasks connect as a role that may read and write rows and nothing else: no DDL, no writes to
//! the migration history, no role or database attributes. `dragoman migrate` creates or updates
//! that role after migrating, so a new table is granted in the same step that creates it.
//!
//! The role's password, when given, is passed as a transaction-local setting and read inside a
//! `DO` block, which quotes it with `format('%L')`: it never appears in the statement text, and
//! so never in `pg_stat_statements` or a statement log.

use anyhow::Context;
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;

use crate::PgStore;

/// A valid unquoted PostgreSQL role name of our choosing: lower-case letters, digits and `_`,
/// not starting with a digit, at most 63 bytes. Checked before it is put in any statement.
pub fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
        && !name.starts_with("pg_")
}

impl PgStore {
    /// Creates `role` (LOGIN, no other attribute) or brings an existing one back to that, sets
    /// its password when one is given, and grants it DML on every table of the schema and use
    /// of its sequences; the migration history stays read-only to it.
    pub async fn grant_app_role(
        direct_url: &str,
        role: &str,
        password: Option<&str>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(valid_role_name(role), "{role:?} is not a plain role name");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(direct_url)
            .await
            .context("connecting to PostgreSQL to grant the API's role")?;
        let mut tx = pool.begin().await?;
        let owner: String = sqlx::query("SELECT current_user::text")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        anyhow::ensure!(
            owner != role,
            "the API's role {role} is the role migrations run as: give the API a role of its own"
        );
        sqlx::query("SELECT set_config('dragoman.app_role', $1, true), set_config('dragoman.app_password', $2, true)")
            .bind(role)
            .bind(password.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(
            r#"DO $$
            DECLARE
                r text := current_setting('dragoman.app_role');
                p text := current_setting('dragoman.app_password');
            BEGIN
                -- Two migrations at once (tasks starting together) may both create the role:
                -- the second finds it made.
                BEGIN
                    EXECUTE format('CREATE ROLE %I LOGIN', r);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
                -- Only when something differs: concurrent ALTERs of one role conflict.
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r AND (NOT rolcanlogin
                           OR rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication
                           OR rolbypassrls)) THEN
                    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
                END IF;
                IF p <> '' THEN
                    EXECUTE format('ALTER ROLE %I PASSWORD %L', r, p);
                END IF;
                EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
                EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r);
                EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %I', r);
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', r);
                EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', r);
                EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM %I', r);
            END
            $$"#,
        )
        .execute(&mut *tx)
        .await
        .with_context(|| format!("granting the API's role {role}"))?;
        tx.commit().await?;
        pool.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_role_name;

    #[test]
    fn role_names_are_plain() {
        assert!(valid_role_name("dragoman_api"));
        assert!(valid_role_name("_a1"));
        for bad in [
            "",
            "1a",
            "Api",
            "a-b",
            "a b",
            "a\"b",
            "pg_api",
            &"a".repeat(64),
        ] {
            assert!(!valid_role_name(bad), "{bad:?}");
        }
    }
}

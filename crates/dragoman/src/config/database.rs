//! The database settings: where records live (DATABASE_URL, DATABASE_MIGRATION_URL,
//! DATABASE_POOLER, DATABASE_MAX_CONNECTIONS), the API's least-privilege role that migrations
//! grant (DATABASE_APP_USER, DATABASE_APP_PASSWORD) and the read replica (DATABASE_READ_*).

use std::path::PathBuf;
use std::time::Duration;

use dragoman_store_postgres::{Pooler, ReplicaSettings, valid_role_name};

use super::{Config, ConfigError, PoolerArg, error};

/// Where records live.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: String,
        migration_url: String,
        pooler: Pooler,
        max_connections: u32,
    },
}

/// The least-privilege role the API tasks connect as (see `PgStore::grant_app_role`).
#[derive(Clone)]
pub struct AppRole {
    pub name: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for AppRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRole")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// DATABASE_URL and what goes with it: the embedded SQLite file, or PostgreSQL.
    pub(super) fn database(&self) -> Result<Database, ConfigError> {
        Ok(match self.database_url.as_deref() {
            None => Database::Sqlite {
                path: self.data_dir.join("dragoman.sqlite"),
            },
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let migration_url = match self.database_migration_url.as_deref() {
                    Some(m) if m.starts_with("postgres://") || m.starts_with("postgresql://") => {
                        m.to_owned()
                    }
                    Some(_) => {
                        return Err(error(
                            "DATABASE_MIGRATION_URL",
                            "must start with postgres:// or postgresql://",
                        ));
                    }
                    None => url.to_owned(),
                };
                if self.database_max_connections == 0 {
                    return Err(error("DATABASE_MAX_CONNECTIONS", "must be at least 1"));
                }
                Database::Postgres {
                    url: url.to_owned(),
                    migration_url,
                    pooler: match self.database_pooler {
                        PoolerArg::None => Pooler::None,
                        PoolerArg::Transaction => Pooler::Transaction,
                    },
                    max_connections: self.database_max_connections,
                }
            }
            Some(url) => {
                let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("(none)");
                return Err(error(
                    "DATABASE_URL",
                    format!(
                        "unknown scheme {scheme:?}: use postgres://... (or unset it for the embedded SQLite database)"
                    ),
                ));
            }
        })
    }

    /// DATABASE_APP_USER (and its password): a PostgreSQL role, so only with PostgreSQL.
    pub(super) fn app_role(&self, database: &Database) -> Result<Option<AppRole>, ConfigError> {
        Ok(match (&self.database_app_user, database) {
            (None, _) if self.database_app_password.is_some() => {
                return Err(error(
                    "DATABASE_APP_PASSWORD",
                    "is set without DATABASE_APP_USER, the role it is for",
                ));
            }
            (None, _) => None,
            (Some(_), Database::Sqlite { .. }) => {
                return Err(error(
                    "DATABASE_APP_USER",
                    "is a PostgreSQL role: set DATABASE_URL to postgres://... (the embedded database has no roles)",
                ));
            }
            (Some(name), Database::Postgres { .. }) if !valid_role_name(name) => {
                return Err(error(
                    "DATABASE_APP_USER",
                    format!(
                        "{name:?} is not a plain role name (lower-case letters, digits and _, not starting with a digit or pg_, at most 63 bytes)"
                    ),
                ));
            }
            (Some(name), Database::Postgres { .. }) => Some(AppRole {
                name: name.clone(),
                password: self.database_app_password.clone().filter(|p| !p.is_empty()),
            }),
        })
    }

    /// DATABASE_READ_URL and its settings: a replica of the PostgreSQL database, so only with one.
    /// Whether it answers is checked when the store connects (a replica that does not answer at
    /// start stops the process there, naming the variable as well).
    pub(super) fn read_replica(
        &self,
        database: &Database,
    ) -> Result<Option<ReplicaSettings>, ConfigError> {
        let Some(url) = self.database_read_url.as_deref() else {
            return Ok(None);
        };
        let Database::Postgres {
            max_connections, ..
        } = database
        else {
            return Err(error(
                "DATABASE_READ_URL",
                "is set but DATABASE_URL is not a PostgreSQL URL: a read replica serves a PostgreSQL primary (set DATABASE_URL=postgres://... or unset DATABASE_READ_URL)",
            ));
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(error(
                "DATABASE_READ_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        if self.database_read_max_lag_ms == 0 {
            return Err(error("DATABASE_READ_MAX_LAG_MS", "must be at least 1"));
        }
        Ok(Some(ReplicaSettings {
            url: url.to_owned(),
            pooler: match self.database_read_pooler {
                PoolerArg::None => Pooler::None,
                PoolerArg::Transaction => Pooler::Transaction,
            },
            // The replica pool is sized like the primary's: the reads it takes are ones the
            // primary pool no longer serves.
            max_connections: *max_connections,
            max_lag: Duration::from_millis(self.database_read_max_lag_ms),
        }))
    }
}

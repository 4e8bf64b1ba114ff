//! A connection for reads: on the primary or the replica, directly or through a transaction
//! pooler, with the query mode that pool allows.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::db_error;
use dragoman_ports::StoreError;

/// See [`PgStore::read`] and [`PgStore::read_routed`]. Dereferences to the connection to run the
/// reads on; [`Reading::q`] prepares a query as that connection's pool allows; [`Reading::done`]
/// ends it.
pub(crate) struct Reading {
    held: Held,
    /// False behind a transaction pooler (the primary's or the replica's own setting).
    persistent: bool,
}

enum Held {
    Direct(PoolConnection<Postgres>),
    Pooled(Transaction<'static, Postgres>),
}

impl Reading {
    /// Reads that need no transaction of their own: a pooled connection directly, a transaction
    /// through a transaction pooler.
    pub(crate) async fn on(pool: &PgPool, persistent: bool) -> Result<Self, sqlx::Error> {
        let held = if persistent {
            Held::Direct(pool.acquire().await?)
        } else {
            Held::Pooled(pool.begin().await?)
        };
        Ok(Self { held, persistent })
    }

    /// A query prepared as this reading's pool allows.
    pub(crate) fn q(&self, sql: &'static str) -> Query<'static, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.persistent)
    }

    pub(crate) async fn done(self) -> Result<(), StoreError> {
        match self.held {
            Held::Direct(_) => Ok(()),
            Held::Pooled(tx) => tx.commit().await.map_err(db_error),
        }
    }
}

impl std::ops::Deref for Reading {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match &self.held {
            Held::Direct(c) => c,
            Held::Pooled(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Reading {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.held {
            Held::Direct(c) => c,
            Held::Pooled(tx) => tx,
        }
    }
}

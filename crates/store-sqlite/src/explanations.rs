//! The explanations role on SQLite: the record of each matching decision, stored with its offer as JSON
//! text and read back for `GET /v1/admin/requests/{id}/explanation`.
//!
//! The body is stored exactly as the domain serializes it; the store never interprets it, so a
//! field added to `Explanation` needs no migration.

use dragoman_domain::matching::{Explanation, OfferId, RequestId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::StoredExplanation;
use sqlx::SqliteConnection;

use crate::rows::get;
use crate::{SqliteStore, corrupt, db_error, instant, micros};

/// Stores the explanation of `offer`, in the transaction that makes the offer.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    offer: OfferId,
    explanation: &Explanation,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(explanation).map_err(|e| {
        StoreError::Backend(anyhow::Error::new(e).context("serializing an explanation"))
    })?;
    sqlx::query(
        "INSERT INTO explanations (offer_id, request_id, decided_at, body) VALUES (?, ?, ?, ?)",
    )
    .bind(offer.0)
    .bind(explanation.request_id.0)
    .bind(micros(explanation.decided_at))
    .bind(body)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait::async_trait]
impl dragoman_ports::ExplanationStore for SqliteStore {
    /// The explanations of a request's offers, oldest first.
    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError> {
        sqlx::query(
            "SELECT offer_id, decided_at, body FROM explanations WHERE request_id = ?
         ORDER BY decided_at, offer_id",
        )
        .bind(request.0)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(StoredExplanation {
                offer_id: OfferId(get(row, "offer_id")?),
                decided_at: instant(get(row, "decided_at")?)?,
                body: serde_json::from_str(&get::<String>(row, "body")?).map_err(corrupt)?,
            })
        })
        .collect()
    }
}

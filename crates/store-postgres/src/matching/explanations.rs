//! Explanations on PostgreSQL: why each offer went to whom, written with the offer by
//! [`ClaimStore::apply_offer`](dragoman_ports::ClaimStore::apply_offer) and read back for the
//! administrators, through the read replica when there is one (`read_routed`).

use dragoman_domain::matching::{OfferId, RequestId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::StoredExplanation;

use super::rows::get;
use crate::{PgStore, corrupt};

#[async_trait::async_trait]
impl dragoman_ports::ExplanationStore for PgStore {
    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError> {
        let found = self
            .read_routed(move |tx| {
                Box::pin(async move {
                    tx.q("SELECT e.offer_id, e.decided_at, e.body FROM explanations e
                    JOIN offers o ON o.id = e.offer_id
                    WHERE e.request_id = $1 ORDER BY e.decided_at, o.created_at, e.offer_id")
                        .bind(request.0)
                        .fetch_all(&mut **tx)
                        .await
                })
            })
            .await?;
        found
            .iter()
            .map(|r| {
                Ok(StoredExplanation {
                    offer_id: OfferId(get(r, "offer_id")?),
                    decided_at: get(r, "decided_at")?,
                    body: serde_json::from_str(&get::<String>(r, "body")?).map_err(corrupt)?,
                })
            })
            .collect()
    }
}

//! Interpreters' answers to offers.

use dragoman_domain::UserId;
use dragoman_domain::matching::{OfferId, SessionId};
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

use crate::requests::Requests;
use crate::status::Status;
use crate::views::{OfferView, SessionView};
use crate::{Engine, EngineError};

/// Offers: an interpreter's pending offers, and their answers to them.
#[derive(Debug, Clone)]
pub struct Offers {
    core: Arc<Engine>,
    requests: Requests,
    status: Status,
}

impl Offers {
    pub fn new(core: Arc<Engine>) -> Self {
        Self {
            requests: Requests::new(core.clone()),
            status: Status::new(core.clone()),
            core,
        }
    }

    pub async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<OfferView>, EngineError> {
        let offers = self.core.store.pending_offers(interpreter).await?;
        Ok(offers.iter().map(OfferView::from).collect())
    }

    /// Accepts an offer: the session starts.
    pub async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
    ) -> Result<SessionView, EngineError> {
        let now = self.core.clock.now();
        let session = match self
            .core
            .store
            .accept_offer(id, interpreter, SessionId(Uuid::now_v7()), now)
            .await?
        {
            AcceptOutcome::NotFound => return Err(EngineError::NotFound),
            AcceptOutcome::Refused(e) => return Err(EngineError::conflict("offer-closed", e)),
            AcceptOutcome::Accepted { session } => session,
        };
        let language = session.need.language;
        // The seed's log line, which the Logs Insights queries read.
        tracing::info!(
            sessionId = %session.id.0,
            requestId = %session.request_id.0,
            interpreterId = %session.interpreter_id,
            language = %language,
            matchTime = session.match_time_ms,
            "Session created"
        );
        metrics::histogram!("dragoman_match_time_seconds", "language" => language.to_string())
            .record(session.match_time_ms as f64 / 1000.0);
        let profile = match self.core.accounts.user(interpreter).await {
            Ok(Some(user)) => {
                let avatar_url = self.core.avatar_url(&user).await;
                json!({"id": user.id.0, "display_name": user.display_name.as_str(), "avatar_url": avatar_url})
            }
            _ => json!({"id": interpreter.0, "display_name": null, "avatar_url": null}),
        };
        self.core.events.request_matched(&session, profile);
        self.status.interpreter_released(interpreter).await;
        self.core.availability_touched(language);
        Ok(SessionView::from(&session))
    }

    /// Declines an offer: the request goes to the next candidate at once.
    pub async fn decline_offer(&self, id: OfferId, interpreter: UserId) -> Result<(), EngineError> {
        let now = self.core.clock.now();
        match self.core.store.decline_offer(id, interpreter, now).await? {
            DeclineOutcome::NotFound => Err(EngineError::NotFound),
            DeclineOutcome::Refused(e) => Err(EngineError::conflict("offer-closed", e)),
            DeclineOutcome::Declined { offer, request } => {
                tracing::info!(offerId = %offer.id.0, requestId = %offer.request_id.0, interpreterId = %interpreter, "Offer declined");
                self.core.nudge(offer.need.language);
                self.status.interpreter_released(interpreter).await;
                let view = self.requests.request_view(&request).await?;
                self.core
                    .events
                    .request_updated(request.request.client_id, &view, now);
                Ok(())
            }
        }
    }
}

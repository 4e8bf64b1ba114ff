//! The events of API.md's WebSocket section, built from the same views the HTTP API answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, RescindReason, Session};
use dragoman_ports::{Audience, Bus, Event};
use serde_json::json;

use crate::views::{LanguageAvailability, OfferView, RequestView, SessionView, StatusView};

/// Publishes the events of the matching services on the bus: one method per event kind.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    pub(crate) bus: Arc<dyn Bus>,
}

impl Events {
    fn publish(
        &self,
        audience: Audience,
        kind: &'static str,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) {
        self.bus.publish(Event {
            audience,
            kind,
            at,
            data,
        });
    }

    pub(crate) fn offer_created(&self, offer: &Offer) {
        self.publish(
            Audience::User(offer.interpreter_id),
            "offer.created",
            offer.created_at,
            json!(OfferView::from(offer)),
        );
    }

    pub(crate) fn offer_rescinded(&self, offer: &Offer, reason: RescindReason, at: DateTime<Utc>) {
        self.publish(
            Audience::User(offer.interpreter_id),
            "offer.rescinded",
            at,
            json!({"offer_id": offer.id.0, "reason": reason}),
        );
    }

    pub(crate) fn request_updated(&self, client: UserId, view: &RequestView, at: DateTime<Utc>) {
        self.publish(Audience::User(client), "request.updated", at, json!(view));
    }

    pub(crate) fn request_matched(&self, session: &Session, interpreter: serde_json::Value) {
        self.publish(
            Audience::User(session.client_id),
            "request.matched",
            session.started_at,
            json!({
                "request_id": session.request_id.0,
                "session": SessionView::from(session),
                "interpreter": interpreter,
            }),
        );
    }

    pub(crate) fn session_ended(&self, session: &Session, at: DateTime<Utc>) {
        let view = json!(SessionView::from(session));
        for user in [session.client_id, session.interpreter_id] {
            self.publish(Audience::User(user), "session.ended", at, view.clone());
        }
    }

    /// The caller marks the interpreter changed in the rosters first
    /// ([`crate::Engine::interpreter_changed`]).
    pub(crate) fn status_changed(
        &self,
        interpreter: UserId,
        status: &StatusView,
        reason: Option<&str>,
    ) {
        let mut data = json!(status);
        if let Some(reason) = reason {
            data["reason"] = json!(reason);
        }
        self.publish(
            Audience::User(interpreter),
            "status.changed",
            status.since,
            data,
        );
    }

    pub(crate) fn availability_changed(&self, entry: &LanguageAvailability, at: DateTime<Utc>) {
        self.publish(
            Audience::Topic("availability".to_owned()),
            "availability.changed",
            at,
            json!(entry),
        );
    }
}

//! The steps of the model world that span several records: a round of matching, a manual status
//! change, the end of a session and a rating.

use uuid::Uuid;

use super::{Outcome, Party, Step, World, must, pick};
use crate::matching::{
    OfferId, OfferStatus, Rating, RequestEvent, RequestStatus, SessionError, Stars,
};
use crate::{InterpreterStatus, UserId};

impl World {
    /// A round of matching, applied as the store would: expiries first, then the offers.
    pub(super) fn plan(&mut self) -> Step {
        let before = Box::new(self.clone());
        let plan = self.matcher.plan(&self.snapshot(), self.now);
        for expiry in &plan.expired {
            let id = expiry.request_id;
            let pending = self.pending_offer_of_request(id);
            if pending.map(|o| self.offers[o]) != expiry.rescind {
                return Err(format!("{id} expires rescinding {:?}", expiry.rescind));
            }
            if let Some(o) = pending {
                self.settle(o, OfferStatus::Rescinded)?;
            }
            let r = self.request_index(id)?;
            self.requests[r] = must("expiry", self.requests[r].apply(RequestEvent::Expire))?;
        }
        for planned in &plan.offers {
            let r = self.request_index(planned.request_id)?;
            let d = self.desk_index(planned.interpreter_id)?;
            // Like a store without constraints, write the offer even if the plan were wrong, and
            // leave the verdict to the invariant checks, which then say what went wrong.
            self.requests[r].status = RequestStatus::Offered;
            self.desks[d].presence.status = InterpreterStatus::Reserved;
            self.desks[d].last_offered_at = Some(self.now);
            let id = OfferId(self.mint());
            self.offers.push(planned.to_offer(id));
            self.history
                .record(planned.request_id, planned.interpreter_id);
        }
        Ok(Outcome::Planned { before, plan })
    }

    /// The interpreter asks for a status; leaving `reserved` rescinds the pending offer.
    pub(super) fn set_status(&mut self, desk: usize, to: InterpreterStatus) -> Result<(), String> {
        let Some(d) = pick(self.desks.len(), desk) else {
            return Ok(());
        };
        let before = self.desks[d].presence;
        match before.set_manually(to, true, self.now) {
            Err(_) if before.status == InterpreterStatus::Busy => Ok(()),
            Err(e) => Err(format!("{:?} -> {to:?} refused: {e}", before.status)),
            Ok(_) if before.status == InterpreterStatus::Busy => Err("left a session".into()),
            Ok(after) => {
                if before.holds_offer() {
                    let id = self.desks[d].id;
                    let o = self
                        .offers
                        .iter()
                        .position(|o| o.interpreter_id == id && o.is_pending())
                        .ok_or("reserved without a pending offer")?;
                    let r = self.request_index(self.offers[o].request_id)?;
                    self.offers[o] = must("rescind", self.offers[o].rescind())?;
                    self.requests[r] =
                        must("requeue", self.requests[r].apply(RequestEvent::Requeue))?;
                }
                self.desks[d].presence = after;
                Ok(())
            }
        }
    }

    fn party(&self, s: usize, by: Party) -> UserId {
        match by {
            Party::Client => self.sessions[s].client_id,
            Party::Interpreter => self.sessions[s].interpreter_id,
            Party::Stranger => UserId(Uuid::from_u128(u128::MAX)),
        }
    }

    pub(super) fn end_session(&mut self, session: usize, by: Party) -> Result<(), String> {
        let Some(s) = pick(self.sessions.len(), session) else {
            return Ok(());
        };
        let allowed = self.sessions[s].is_open() && by != Party::Stranger;
        match (
            allowed,
            self.sessions[s].clone().end(self.party(s, by), self.now),
        ) {
            (true, Ok(ended)) => {
                let d = self.desk_index(ended.interpreter_id)?;
                let p = must(
                    "ending the session",
                    self.desks[d].presence.end_session(self.now),
                )?;
                self.desks[d].presence = p;
                self.desks[d].talk_time_today += ended.duration().unwrap_or_default();
                self.sessions[s] = ended;
                Ok(())
            }
            (false, Err(_)) => Ok(()),
            (allowed, result) => Err(format!("end allowed={allowed} got {result:?}")),
        }
    }

    pub(super) fn rate(&mut self, session: usize, by: Party, stars: i64) -> Result<(), String> {
        let Some(s) = pick(self.sessions.len(), session) else {
            return Ok(());
        };
        let Ok(stars) = Stars::parse(stars) else {
            return if (1..=5).contains(&stars) {
                Err(format!("{stars} stars refused"))
            } else {
                Ok(())
            };
        };
        let rating = must("rating", Rating::new(stars, None))?;
        let session = &self.sessions[s];
        let expected = match (by, session.ended_at(), session.rating()) {
            (Party::Stranger, _, _) => Err(SessionError::NotParticipant),
            (Party::Interpreter, _, _) => Err(SessionError::NotClient),
            (Party::Client, None, _) => Err(SessionError::NotEnded),
            (Party::Client, Some(_), Some(_)) => Err(SessionError::AlreadyRated),
            (Party::Client, Some(_), None) => Ok(()),
        };
        let result = session.clone().rate(self.party(s, by), rating);
        match (expected, result) {
            (Ok(()), Ok(rated)) => self.sessions[s] = rated,
            (Err(e), Err(got)) if e == got => {}
            (expected, got) => return Err(format!("rating: expected {expected:?}, got {got:?}")),
        }
        Ok(())
    }
}

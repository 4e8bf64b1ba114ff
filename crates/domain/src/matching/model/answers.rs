//! The steps of the model world driven by one record and a clock: an interpreter's answer, the
//! offer timeout, a client's cancel and the end of a wrap-up pause.
//!
//! Each checks that our transition functions allow exactly what the rules allow: an answer only
//! while the offer is pending and before its deadline, a cancel only while the request is open,
//! a wrap-up end only during wrap-up. Timers fire on time, so a timer step first moves the clock
//! to its deadline.

use super::{World, must, pick};
use crate::matching::{OfferStatus, RequestEvent};

impl World {
    /// Picks an offer: among the pending ones, or among all to exercise refusals.
    fn choose_offer(&self, i: usize, pending_only: bool) -> Option<usize> {
        let pool: Vec<usize> = (0..self.offers.len())
            .filter(|&o| !pending_only || self.offers[o].is_pending())
            .collect();
        pick(pool.len(), i).map(|k| pool[k])
    }

    /// An answer from the interpreter: allowed only while pending and before the deadline.
    pub(super) fn answer(
        &mut self,
        i: usize,
        pending_only: bool,
        outcome: OfferStatus,
    ) -> Result<(), String> {
        let Some(o) = self.choose_offer(i, pending_only) else {
            return Ok(());
        };
        let offer = self.offers[o];
        let allowed = offer.is_pending() && self.now < offer.expires_at;
        let result = match outcome {
            OfferStatus::Accepted => offer.accept(self.now),
            _ => offer.decline(self.now),
        };
        match (allowed, result.is_ok()) {
            (true, true) => self.settle(o, outcome),
            (false, false) => Ok(()),
            (allowed, _) => Err(format!(
                "answer to {offer:?} allowed={allowed} got {result:?}"
            )),
        }
    }

    /// The offer timer fires: a pending offer expires, a settled one is left alone.
    pub(super) fn offer_timeout(&mut self, i: usize) -> Result<(), String> {
        let Some(o) = self.choose_offer(i, false) else {
            return Ok(());
        };
        if !self.offers[o].is_pending() {
            return match self.offers[o].expire() {
                Err(_) => Ok(()),
                Ok(_) => Err("a settled offer expired again".into()),
            };
        }
        self.now = self.now.max(self.offers[o].expires_at);
        self.settle(o, OfferStatus::Expired)
    }

    /// The client cancels: allowed while open, rescinding the pending offer if there is one.
    pub(super) fn cancel(&mut self, i: usize) -> Result<(), String> {
        let Some(r) = pick(self.requests.len(), i) else {
            return Ok(());
        };
        let open = self.requests[r].status.is_open();
        match (open, self.requests[r].apply(RequestEvent::Cancel)) {
            (true, Ok(cancelled)) => {
                if let Some(o) = self.pending_offer_of_request(cancelled.id) {
                    self.settle(o, OfferStatus::Rescinded)?;
                }
                self.requests[r] = must("cancel", self.requests[r].apply(RequestEvent::Cancel))?;
                Ok(())
            }
            (false, Err(_)) => Ok(()),
            (open, result) => Err(format!("cancel open={open} got {result:?}")),
        }
    }

    /// The wrap-up timer fires: back to available if still in wrap-up, else nothing to do.
    pub(super) fn wrap_up_end(&mut self, i: usize) -> Result<(), String> {
        let Some(d) = pick(self.desks.len(), i) else {
            return Ok(());
        };
        let p = self.desks[d].presence;
        if let Some(due) = p.wrap_up_ends_at(self.matcher.config().wrap_up) {
            self.now = self.now.max(due);
            self.desks[d].presence = must("wrap-up end", p.finish_wrap_up(self.now))?;
        } else if p.finish_wrap_up(self.now).is_ok() {
            return Err(format!("wrap-up ended from {:?}", p.status));
        }
        Ok(())
    }
}

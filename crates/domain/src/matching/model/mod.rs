//! A small in-memory world driven only by the pure functions of this module, for property tests.
//!
//! It stands in for the store: every operation the service performs (a request arrives, an
//! interpreter changes status, a round of matching, an answer, a timer, a cancel, the end of a
//! session, a rating) becomes one step that applies our transition functions in the order a
//! store transaction would. An operation the rules refuse must be refused and change nothing;
//! an operation the rules allow must be accepted by every record it touches, or the life cycles
//! disagree with each other and the step fails. The invariants themselves are checked by
//! `invariants`, from the outside, after every step.

mod answers;
mod generate;
mod invariants;
mod steps;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::fixtures::at;
use super::{
    Matcher, Need, Offer, OfferHistory, OfferStatus, Plan, Presence, Priority, Request,
    RequestEvent, Session, SessionId, Snapshot,
};
use crate::{InterpreterStatus, Profile, UserId};

/// One interpreter's desk: profile, status and the day's counters the strategies read.
#[derive(Debug, Clone)]
pub struct Desk {
    pub id: UserId,
    pub profile: Profile,
    pub presence: Presence,
    pub declines_today: u32,
    pub talk_time_today: TimeDelta,
    pub last_offered_at: Option<DateTime<Utc>>,
}

/// Who performs a session step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Client,
    Interpreter,
    Stranger,
}

/// One operation of the service. Indices pick a record modulo the number there are.
#[derive(Debug, Clone)]
pub enum Op {
    NewRequest {
        need: Need,
        priority: Priority,
    },
    SetStatus {
        desk: usize,
        to: InterpreterStatus,
    },
    Plan,
    /// `pending_only` aims at a pending offer; otherwise any offer, to exercise refusals.
    Accept {
        offer: usize,
        pending_only: bool,
    },
    Decline {
        offer: usize,
        pending_only: bool,
    },
    OfferTimeout {
        offer: usize,
    },
    Cancel {
        request: usize,
    },
    Tick {
        seconds: i64,
    },
    EndSession {
        session: usize,
        by: Party,
    },
    WrapUpEnd {
        desk: usize,
    },
    Rate {
        session: usize,
        by: Party,
        stars: i64,
    },
}

/// What a step did that the invariant checks need beyond the resulting world.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// A round of matching: the world it saw and the plan it made.
    Planned {
        before: Box<World>,
        plan: Plan,
    },
}

#[derive(Debug, Clone)]
pub struct World {
    pub now: DateTime<Utc>,
    pub matcher: Matcher,
    pub desks: Vec<Desk>,
    pub requests: Vec<Request>,
    pub offers: Vec<Offer>,
    pub sessions: Vec<Session>,
    pub history: OfferHistory,
    next_id: u128,
}

type Step = Result<Outcome, String>;

fn pick(len: usize, i: usize) -> Option<usize> {
    (len > 0).then(|| i % len)
}

fn must<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| format!("{what} was refused: {e:?}"))
}

impl World {
    pub fn new(matcher: Matcher, desks: Vec<Desk>) -> Self {
        Self {
            now: at(0),
            matcher,
            desks,
            requests: Vec::new(),
            offers: Vec::new(),
            sessions: Vec::new(),
            history: OfferHistory::new(),
            next_id: 1_000_000,
        }
    }

    fn mint(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(self.next_id)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self
                .requests
                .iter()
                .filter(|r| r.status.is_open())
                .copied()
                .collect(),
            interpreters: self
                .desks
                .iter()
                .map(|d| super::InterpreterSnapshot {
                    id: d.id,
                    status: d.presence.status,
                    profile: d.profile.clone(),
                    idle_since: d.presence.idle_since,
                    declines_today: d.declines_today,
                    talk_time_today: d.talk_time_today,
                    last_offered_at: d.last_offered_at,
                })
                .collect(),
            history: self.history.clone(),
            pending_offers: self
                .offers
                .iter()
                .filter(|o| o.is_pending())
                .copied()
                .collect(),
        }
    }

    fn request_index(&self, id: super::RequestId) -> Result<usize, String> {
        self.requests
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| format!("no request {id}"))
    }

    fn desk_index(&self, id: UserId) -> Result<usize, String> {
        self.desks
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| format!("no desk {id}"))
    }

    fn pending_offer_of_request(&self, id: super::RequestId) -> Option<usize> {
        self.offers
            .iter()
            .position(|o| o.request_id == id && o.is_pending())
    }

    /// Settles offer `o` with `outcome` and applies the consequences to its request and desk.
    fn settle(&mut self, o: usize, outcome: OfferStatus) -> Result<(), String> {
        let offer = self.offers[o];
        let r = self.request_index(offer.request_id)?;
        let d = self.desk_index(offer.interpreter_id)?;
        let now = self.now;
        let presence = self.desks[d].presence;
        let (settled, event, presence) = match outcome {
            OfferStatus::Accepted => (offer.accept(now), RequestEvent::Match, presence.accept(now)),
            OfferStatus::Declined => (
                offer.decline(now),
                RequestEvent::Requeue,
                presence.decline(now),
            ),
            OfferStatus::Expired => {
                let max = self.matcher.config().max_no_answer;
                (
                    offer.expire(),
                    RequestEvent::Requeue,
                    presence.miss(now, max),
                )
            }
            _ => (
                offer.rescind(),
                RequestEvent::Requeue,
                presence.rescind(now),
            ),
        };
        self.offers[o] = must("settling the offer", settled)?;
        self.requests[r] = must("the request's move", self.requests[r].apply(event))?;
        self.desks[d].presence = must("the interpreter's move", presence)?;
        if outcome == OfferStatus::Declined {
            self.desks[d].declines_today += 1;
        }
        if outcome == OfferStatus::Accepted {
            let id = SessionId(self.mint());
            self.sessions
                .push(Session::start(id, &self.requests[r], &offer, now));
        }
        Ok(())
    }

    pub fn apply(&mut self, op: &Op) -> Step {
        match *op {
            Op::NewRequest { need, priority } => {
                let (id, client) = (self.mint(), self.mint());
                let r = Request::new(id.into(), UserId(client), need, priority, self.now);
                self.requests.push(r);
            }
            Op::Tick { seconds } => self.now += TimeDelta::seconds(seconds),
            Op::Plan => return self.plan(),
            Op::Accept {
                offer,
                pending_only,
            } => self.answer(offer, pending_only, OfferStatus::Accepted)?,
            Op::Decline {
                offer,
                pending_only,
            } => self.answer(offer, pending_only, OfferStatus::Declined)?,
            Op::OfferTimeout { offer } => self.offer_timeout(offer)?,
            Op::Cancel { request } => self.cancel(request)?,
            Op::SetStatus { desk, to } => self.set_status(desk, to)?,
            Op::EndSession { session, by } => self.end_session(session, by)?,
            Op::WrapUpEnd { desk } => self.wrap_up_end(desk)?,
            Op::Rate { session, by, stars } => self.rate(session, by, stars)?,
        }
        Ok(Outcome::Done)
    }
}

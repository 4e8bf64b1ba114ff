//! The people of the fleet test: interpreters at their desks and clients asking.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use dragoman_conformance::matching::fixtures::*;
use dragoman_domain::matching::{Rating, RequestId, SessionId, Stars};
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::MatchingStore;
use dragoman_ports::matching::{CreateRequestOutcome, IdempotencyKey};
use uuid::Uuid;

use super::{World, pause};
use crate::common::Rng;

/// One interpreter: answers offers (or not), ends sessions, leaves and comes back.
pub(crate) async fn desk(world: Arc<World>, n: usize, me: UserId) {
    let matching = world.fleet.matching(n);
    let mut rng = Rng::new(300 + n as u64);
    while !world.done.load(Ordering::SeqCst) {
        let now = world.clock.now();
        let Some(Some(presence)) = world.ok("presence", matching.presence(me).await) else {
            continue;
        };
        match presence.presence.status {
            InterpreterStatus::Reserved => {
                let pending = world.ok("pending_offers", matching.pending_offers(me).await);
                for offer in pending.unwrap_or_default() {
                    let roll = rng.below(100);
                    if roll < 60 {
                        let id = SessionId(Uuid::now_v7());
                        world.ok("accept", matching.accept_offer(offer.id, me, id, now).await);
                    } else if roll < 75 {
                        world.ok("decline", matching.decline_offer(offer.id, me, now).await);
                    } else if roll < 80 {
                        let to = InterpreterStatus::Offline;
                        world.ok("set_status", matching.set_status(me, to, now).await);
                    }
                }
            }
            InterpreterStatus::Busy => {
                let sessions = world.ok("sessions_of", matching.sessions_of(me, None, 1).await);
                for s in sessions.unwrap_or_default() {
                    if s.is_open() && now - s.started_at >= TimeDelta::seconds(20) {
                        let by = if rng.chance(50) { me } else { s.client_id };
                        world.ok("end_session", matching.end_session(s.id, by, now).await);
                    }
                }
            }
            InterpreterStatus::Away | InterpreterStatus::Offline
                if world.quiet.load(Ordering::SeqCst) || rng.chance(30) =>
            {
                let to = InterpreterStatus::Available;
                world.ok("set_status", matching.set_status(me, to, now).await);
            }
            InterpreterStatus::Available
                if rng.chance(2) && !world.quiet.load(Ordering::SeqCst) =>
            {
                let to = InterpreterStatus::Away;
                world.ok("set_status", matching.set_status(me, to, now).await);
            }
            _ => {}
        }
        pause(&mut rng, 15).await;
    }
}

/// One client: asks (sometimes twice with the same key, sometimes for a language nobody
/// speaks), sometimes cancels, rates ended sessions.
pub(crate) async fn asker(world: Arc<World>, n: usize, me: UserId) {
    let matching = world.fleet.matching(n);
    let mut rng = Rng::new(400 + n as u64);
    let mut open: Option<RequestId> = None;
    let mut asked = 0;
    while !world.done.load(Ordering::SeqCst) {
        let now = world.clock.now();
        if let Some(id) = open {
            let Some(record) = world.ok("request", matching.request(id).await).flatten() else {
                pause(&mut rng, 30).await;
                continue;
            };
            if !record.request.status.is_open() {
                open = None;
                if let Some(session) = record.session_id {
                    rate_later(&world, &*matching, &mut rng, session, me).await;
                }
            } else if rng.chance(1) {
                world.ok("cancel", matching.cancel_request(id, me, now).await);
            }
        } else if !world.quiet.load(Ordering::SeqCst) && asked < 12 {
            let code = ["es", "es", "fr", "de"][rng.below(4) as usize];
            let request = new_request(me, code, world.clock.seconds());
            let key = IdempotencyKey {
                key: format!("k{asked}"),
                not_before: now - TimeDelta::hours(24),
            };
            let expires = request.created_at + MAX_WAIT;
            for _ in 0..1 + rng.below(2) {
                match matching.create_request(&request, expires, Some(&key)).await {
                    Ok(CreateRequestOutcome::Created) => open = Some(request.id),
                    Ok(CreateRequestOutcome::Replayed { request_id, .. }) => {
                        assert_eq!(request_id, request.id, "a replay names the first request");
                    }
                    Err(e) => world.failed("create_request", e),
                }
            }
            asked += 1;
        }
        pause(&mut rng, 30).await;
    }
}

async fn rate_later(
    world: &World,
    matching: &dyn MatchingStore,
    rng: &mut Rng,
    session: SessionId,
    me: UserId,
) {
    if !rng.chance(50) {
        return;
    }
    let stars = Stars::parse(1 + rng.below(5) as i64).expect("1 to 5 stars");
    let Ok(rating) = Rating::new(stars, Some("thanks")) else {
        return;
    };
    let now = world.clock.now();
    world.ok(
        "rate",
        matching.rate_session(session, me, &rating, now).await,
    );
}

//! A fleet of instances on one PostgreSQL, everyone at once: 50 clients and 10 interpreters.
//!
//! Three instances (one direct, two through PgBouncer) each run matching rounds for every
//! waiting language and sweep every timer, with no lease between them, which is the worst case
//! the store must survive. Clients ask, cancel and rate; interpreters accept, decline, ignore,
//! leave and come back, and end sessions. A checker reads the invariants of API.md in a
//! consistent snapshot all along; at the end every request must be matched, cancelled or expired
//! and no store call may have failed.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_conformance::matching::fixtures::*;
use dragoman_domain::matching::{
    Matcher, MatchingConfig, OfferId, Rating, RequestId, SessionId, Stars,
};
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::matching::{CreateRequestOutcome, IdempotencyKey};
use dragoman_ports::{MatchingStore, StoreError};
use uuid::Uuid;

use common::{Clock, Fleet, Rng};

/// What every task shares.
struct World {
    fleet: Fleet,
    clock: Clock,
    /// Clients stop asking.
    quiet: AtomicBool,
    /// Everything stops.
    done: AtomicBool,
    errors: Mutex<Vec<String>>,
    offers_made: AtomicU64,
    claims_lost: AtomicU64,
}

impl World {
    fn failed(&self, what: &str, e: impl std::fmt::Debug) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{what}: {e:?}"));
    }

    fn ok<T>(&self, what: &str, r: Result<T, StoreError>) -> Option<T> {
        r.map_err(|e| self.failed(what, e)).ok()
    }
}

fn pause(rng: &mut Rng, max_ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(1 + rng.below(max_ms)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_and_ten_interpreters_on_three_instances() {
    let fleet = Fleet::new(1, 2).await;
    let (store, matching) = (fleet.store(0), fleet.matching(0));
    let mut interpreters = Vec::new();
    for n in 0..10 {
        let codes: &[&str] = match n % 3 {
            0 => &["es"],
            1 => &["fr"],
            _ => &["es", "fr"],
        };
        interpreters
            .push(available_interpreter(&*store, &*matching, &format!("i{n}"), codes, 0).await);
    }
    let mut clients = Vec::new();
    for n in 0..50 {
        clients.push(client(&*store, &format!("c{n}")).await);
    }
    let world = Arc::new(World {
        fleet,
        clock: Clock::default(),
        quiet: AtomicBool::new(false),
        done: AtomicBool::new(false),
        errors: Mutex::new(Vec::new()),
        offers_made: AtomicU64::new(0),
        claims_lost: AtomicU64::new(0),
    });
    world.clock.advance(1_000);
    let deadlocks_before = world.fleet.deadlocks().await;

    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(ticker(world.clone())));
    for n in 0..world.fleet.instances.len() {
        tasks.push(tokio::spawn(planner(world.clone(), n)));
        tasks.push(tokio::spawn(sweeper(world.clone(), n)));
    }
    for (n, &i) in interpreters.iter().enumerate() {
        tasks.push(tokio::spawn(desk(world.clone(), n, i)));
    }
    for (n, &c) in clients.iter().enumerate() {
        tasks.push(tokio::spawn(asker(world.clone(), n, c)));
    }
    let checker = tokio::spawn(checker(world.clone()));

    tokio::time::sleep(Duration::from_secs(8)).await;
    world.quiet.store(true, Ordering::SeqCst);
    // Drain: every open request is matched or reaches its maximum wait (300 fake seconds).
    for _ in 0..400 {
        let statuses = world.fleet.request_statuses().await;
        if !statuses
            .iter()
            .any(|(s, _)| s == "queued" || s == "offered")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.done.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("a task ran to its end");
    }
    let checks = checker.await.expect("the checker ran");

    let statuses = world.fleet.request_statuses().await;
    let deadlocks = world.fleet.deadlocks().await - deadlocks_before;
    eprintln!(
        "requests by status: {statuses:?}; offers made {}, claims lost {}, invariant checks {checks}, deadlocks detected by PostgreSQL {deadlocks}",
        world.offers_made.load(Ordering::SeqCst),
        world.claims_lost.load(Ordering::SeqCst),
    );
    let errors = world
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(world.fleet.violations().await, Vec::<String>::new());
    for (status, n) in &statuses {
        assert!(
            !matches!(status.as_str(), "queued" | "offered"),
            "{n} requests still {status}"
        );
    }
    // Enough happened to mean something, even on a loaded machine.
    assert!(world.offers_made.load(Ordering::SeqCst) >= 20);
    assert!(statuses.iter().any(|(s, _)| s == "matched"), "{statuses:?}");
}

/// One fake second every 25 ms: an offer times out in half a second, a request in 7.5 s.
async fn ticker(world: Arc<World>) {
    while !world.done.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(25)).await;
        world.clock.advance(1);
    }
}

/// Matching rounds for every waiting language, on instance `n`, with no lease.
async fn planner(world: Arc<World>, n: usize) {
    let matching = world.fleet.matching(n);
    let matcher = Matcher::new(MatchingConfig::default());
    let mut rng = Rng::new(100 + n as u64);
    while !world.done.load(Ordering::SeqCst) {
        let Some(languages) = world.ok("languages_waiting", matching.languages_waiting().await)
        else {
            continue;
        };
        for language in languages {
            let now = world.clock.now();
            let Some(snapshot) = world.ok("snapshot", matching.snapshot(language, now).await)
            else {
                continue;
            };
            let plan = matcher.plan(&snapshot, now);
            if !plan.expired.is_empty() {
                world.ok("expire_requests", matching.expire_requests(now).await);
            }
            for planned in &plan.offers {
                let offer = planned.to_offer(OfferId(Uuid::now_v7()));
                match matching.apply_offer(&offer, &planned.explanation).await {
                    Ok(true) => world.offers_made.fetch_add(1, Ordering::SeqCst),
                    Ok(false) => world.claims_lost.fetch_add(1, Ordering::SeqCst),
                    Err(e) => {
                        world.failed("apply_offer", e);
                        0
                    }
                };
            }
        }
        pause(&mut rng, 10).await;
    }
}

/// Every timer, on instance `n`.
async fn sweeper(world: Arc<World>, n: usize) {
    let matching = world.fleet.matching(n);
    let mut rng = Rng::new(200 + n as u64);
    while !world.done.load(Ordering::SeqCst) {
        let now = world.clock.now();
        world.ok("expire_offers", matching.expire_offers(now, 3).await);
        world.ok("expire_requests", matching.expire_requests(now).await);
        world.ok(
            "finish_wrap_ups",
            matching.finish_wrap_ups(now, TimeDelta::seconds(10)).await,
        );
        pause(&mut rng, 20).await;
    }
}

/// One interpreter: answers offers (or not), ends sessions, leaves and comes back.
async fn desk(world: Arc<World>, n: usize, me: UserId) {
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
async fn asker(world: Arc<World>, n: usize, me: UserId) {
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

/// Reads the invariants in a consistent snapshot until the end; returns how many checks ran.
async fn checker(world: Arc<World>) -> u64 {
    let mut checks = 0;
    while !world.done.load(Ordering::SeqCst) {
        for v in world.fleet.violations().await {
            world.failed("invariant", v);
        }
        checks += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    checks
}

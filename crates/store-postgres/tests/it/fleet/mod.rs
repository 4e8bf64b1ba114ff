//! A fleet of instances on one PostgreSQL, everyone at once: 50 clients and 10 interpreters.
//!
//! Three instances (one direct, two through PgBouncer) each run matching rounds for every
//! waiting language and sweep every timer, with no lease between them, which is the worst case
//! the store must survive. Clients ask, cancel and rate; interpreters accept, decline, ignore,
//! leave and come back, and end sessions. A checker reads the invariants of API.md in a
//! consistent snapshot all along; at the end every request must be matched, cancelled or expired
//! and no store call may have failed.

mod people;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_conformance::matching::fixtures::*;
use dragoman_domain::matching::{Matcher, MatchingConfig, OfferId};
use dragoman_ports::StoreError;
use uuid::Uuid;

use crate::common::{Clock, Fleet, Rng};

/// What every task shares.
pub(crate) struct World {
    pub fleet: Fleet,
    pub clock: Clock,
    /// Clients stop asking.
    pub quiet: AtomicBool,
    /// Everything stops.
    pub done: AtomicBool,
    errors: Mutex<Vec<String>>,
    offers_made: AtomicU64,
    claims_lost: AtomicU64,
}

impl World {
    pub fn failed(&self, what: &str, e: impl std::fmt::Debug) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{what}: {e:?}"));
    }

    pub fn ok<T>(&self, what: &str, r: Result<T, StoreError>) -> Option<T> {
        r.map_err(|e| self.failed(what, e)).ok()
    }
}

pub(crate) fn pause(rng: &mut Rng, max_ms: u64) -> tokio::time::Sleep {
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
        tasks.push(tokio::spawn(people::desk(world.clone(), n, i)));
    }
    for (n, &c) in clients.iter().enumerate() {
        tasks.push(tokio::spawn(people::asker(world.clone(), n, c)));
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
            let Some(snapshot) = world.ok("snapshot", matching.snapshot(language, now, None).await)
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

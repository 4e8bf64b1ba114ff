//! Two instances sharing one store: the holder of a language's lease keeps the language's
//! interpreters in memory, and learns of a change made on the other instance from the bus (at
//! once) or, with no shared bus, from its periodic full read. The clock stands still unless a
//! test moves it, so nothing here is seen by the full read by accident.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_conformance::matching::fixtures::{at, client, interpreter, lang};
use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{MatchingConfig, Need, Priority};
use dragoman_engine::{Engine, EngineSettings, Matching, NewRequest, Requests, Status};
use dragoman_inprocess::InProcessBus;
use dragoman_ports::{Bus, ManualClock, OfferStore};
use dragoman_store_sqlite::SqliteStore;

struct World {
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("dragoman.db"))
        .await
        .expect("a store");
    World {
        store: Arc::new(store),
        clock: Arc::new(ManualClock::new(at(0))),
        _dir: dir,
    }
}

/// One instance: the services of one matching core.
struct Instance {
    matching: Arc<Matching>,
    requests: Requests,
    status: Status,
}

fn instance(world: &World, bus: Arc<dyn Bus>) -> Instance {
    let core = Arc::new(Engine::new(
        world.store.clone(),
        world.store.clone(),
        bus,
        world.clock.clone(),
        EngineSettings::new(MatchingConfig::default()),
    ));
    Instance {
        matching: Arc::new(Matching::new(core.clone())),
        requests: Requests::new(core.clone()),
        status: Status::new(core),
    }
}

/// A Spanish request, waiting with nobody available: the holder's round (instance `a`) reads the
/// language whole and keeps the interpreter as offline.
async fn waiting_request(world: &World, a: &Instance) -> dragoman_domain::UserId {
    let ines = interpreter(&*world.store, "ines", &["es"]).await;
    let carla = client(&*world.store, "carla").await;
    a.requests
        .create_request(NewRequest {
            client: carla,
            need: Need::new(lang("es"), None, None),
            priority: Priority::NORMAL,
            idempotency_key: None,
        })
        .await
        .expect("a request");
    assert_eq!(a.matching.round(lang("es")).await.expect("a round"), 0);
    ines
}

async fn offers_to(world: &World, interpreter: dragoman_domain::UserId) -> usize {
    world
        .store
        .pending_offers(interpreter)
        .await
        .expect("offers")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_on_another_instance_reaches_the_holder_through_the_bus() {
    let world = world().await;
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let a = instance(&world, bus.clone());
    let b = instance(&world, bus);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(a.matching.clone().run(stop.clone()));
    let ines = waiting_request(&world, &a).await;

    b.status
        .set_status(ines, InterpreterStatus::Available)
        .await
        .expect("available");
    // The holder's rounds also run at its ticks; the clock does not move, so only the bus can
    // have told it that ines is available.
    let mut offered = 0;
    for _ in 0..100 {
        a.matching.round(lang("es")).await.expect("a round");
        offered = offers_to(&world, ines).await;
        if offered > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(offered, 1, "the holder offered the request to ines");
    stop.cancel();
    running.await.expect("the runner stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_shared_bus_the_holder_sees_the_change_at_its_next_full_read() {
    let world = world().await;
    let a = instance(&world, Arc::new(InProcessBus::new()));
    let b = instance(&world, Arc::new(InProcessBus::new()));
    let ines = waiting_request(&world, &a).await;

    b.status
        .set_status(ines, InterpreterStatus::Available)
        .await
        .expect("available");
    // Nothing runs in the background and the buses are apart: only the clock (which does not
    // move here) could bring the change to the holder, so these rounds are the whole story.
    for _ in 0..3 {
        assert_eq!(a.matching.round(lang("es")).await.expect("a round"), 0);
    }
    assert_eq!(
        offers_to(&world, ines).await,
        0,
        "the roster still has ines offline"
    );

    world.clock.advance(TimeDelta::seconds(5));
    assert_eq!(a.matching.round(lang("es")).await.expect("a round"), 1);
    assert_eq!(offers_to(&world, ines).await, 1);
}

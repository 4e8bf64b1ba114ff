//! Decision latency of matching at a fixed request rate.
//!
//! Seeds a fresh store through the ports (interpreters available across the languages, clients),
//! starts the engine's runner, then calls `Requests::create_request` at a fixed rate; a bus
//! subscriber takes each `offer.created`, records when it arrived, and accepts at once, then ends
//! the session at once, as interpreters who accept immediately would. The decision latency of a
//! request is from the moment `create_request` was called to the moment its `offer.created`
//! arrived. See BENCHMARKS.md ("Matching").
//!
//! ```sh
//! cargo run --release -p dragoman-bench-matching --bin match-latency -- \
//!     --store postgres --rate 500 --seconds 20
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Parser;
use dragoman_bench_matching::metered::{Metered, Role, Tally, WhatIf, as_role};
use dragoman_bench_matching::{
    Backend, CpuSample, CpuUse, Next, StoreKind, extra_client, fmt, init_logs, languages,
    next_offer, percentile, round_trips, seed, until_signal,
};
use dragoman_domain::matching::{
    Matcher, MatchingConfig, Need, OfferId, Priority, Request, RequestId, SessionId,
};
use dragoman_domain::{LanguageCode, Modality, Specialization, UserId};
use dragoman_engine::{
    Created, Engine, EngineSettings, Matching, NewRequest, Offers, Requests, Sessions,
};
use dragoman_inprocess::InProcessBus;
use dragoman_ports::{Bus, Delivered, MatchingStore, Store, SystemClock};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// Decision latency of matching (request created to offer emitted) at a fixed request rate.
#[derive(Debug, Parser)]
#[command(name = "match-latency")]
struct Args {
    /// Stores to measure, comma-separated: sqlite, postgres, pgbouncer. Each run gets a fresh
    /// SQLite file or PostgreSQL database, removed at the end.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite")]
    store: Vec<StoreKind>,
    /// Interpreters seeded `available`.
    #[arg(long, default_value_t = 5000)]
    interpreters: usize,
    /// Languages the interpreters and requests are spread over (at most 20).
    #[arg(long, default_value_t = 20)]
    languages: usize,
    /// Requests per second, comma-separated for several runs (each on a fresh store).
    #[arg(long, value_delimiter = ',', default_value = "500")]
    rate: Vec<f64>,
    /// How long requests are sent, in seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Requests sent in the first seconds are sent but left out of the percentiles.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The engine's wrap-up pause after each session, in milliseconds: short, so that
    /// interpreters are available again within a second (the runner's timer sweep, every 500 ms,
    /// ends wrap-ups) and the pool is not used up by a long run.
    #[arg(long, default_value_t = 200)]
    wrap_up_ms: i64,
    /// Connections of the PostgreSQL pool (the server's max_connections is shared).
    #[arg(long, default_value_t = 8)]
    pool: u32,
    /// Clients seeded (each may have one open request); default max(200, 3 × rate).
    #[arg(long)]
    clients: Option<usize>,
    /// After the sending ends, how long to wait for the backlog to be offered, in seconds.
    #[arg(long, default_value_t = 3.0)]
    drain: f64,
    /// Experiments, comma-separated (off by default): cached-estimate (the inputs of wait
    /// estimates and availability announcements, language_loads and recent_activity, cached for
    /// 1 s), skip-idle-snapshot (a round of a language with nothing queued reads only its open
    /// requests), short-explanation (explanations cut to 3 eligible and 3
    /// excluded), async-commit (PostgreSQL database set synchronous_commit = off).
    #[arg(long, value_enum, value_delimiter = ',')]
    what_if: Vec<Experiment>,
    /// Also print the store calls by caller and method, and the cost of one matching round's
    /// parts (snapshot, plan, explanation) measured apart after the run.
    #[arg(long)]
    breakdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Experiment {
    CachedEstimate,
    SkipIdleSnapshot,
    ShortExplanation,
    AsyncCommit,
}

/// What the generator, the subscriber and the answerers share.
#[derive(Debug, Default)]
struct Shared {
    /// Request id → when `create_request` was called for it.
    sent: Mutex<HashMap<Uuid, Instant>>,
    /// Per created request: (called, `create_request` duration ms, delay of the call behind its
    /// scheduled instant ms).
    creates: Mutex<Vec<(Instant, f64, f64)>>,
    /// Request id → when its first `offer.created` arrived.
    offered: Mutex<HashMap<Uuid, Instant>>,
    free_clients: Mutex<VecDeque<UserId>>,
    started: AtomicU64,
    failed: AtomicU64,
    offers: AtomicU64,
    repeat_offers: AtomicU64,
    lost_events: AtomicU64,
    accept_failed: AtomicU64,
    end_failed: AtomicU64,
    answering: AtomicI64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn note_error(&self, what: &str, e: impl std::fmt::Display) {
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(format!("{what}: {e}"));
        }
    }
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// One run's figures.
#[derive(Debug, Clone)]
struct Outcome {
    store: StoreKind,
    rate: f64,
    seconds: f64,
    attempted: u64,
    created: u64,
    failed: u64,
    no_client: u64,
    offered: u64,
    measured: usize,
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
    create_p50: Option<f64>,
    create_p99: Option<f64>,
    lag_p99: Option<f64>,
    backlog_end: u64,
    backlog_max: u64,
    unmatched_after_drain: u64,
    lost_events: u64,
    cpu: CpuUse,
    kept_up: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logs();
    let args = Args::parse();
    anyhow::ensure!(
        args.rate.iter().all(|r| r.is_finite() && *r > 0.0),
        "--rate must be positive"
    );
    anyhow::ensure!(
        args.seconds > args.warmup && args.warmup >= 0.0,
        "--seconds must exceed --warmup"
    );
    anyhow::ensure!(args.wrap_up_ms >= 0, "--wrap-up-ms must not be negative");
    anyhow::ensure!(args.interpreters > 0, "--interpreters must be positive");
    let langs = languages(args.languages)?;
    let mut outcomes = Vec::new();
    for &store in &args.store {
        for &rate in &args.rate {
            let outcome = until_signal(run(store, rate, &args, &langs))
                .await
                .with_context(|| format!("{} at {rate}/s", store.as_str()))?;
            outcomes.push(outcome);
        }
    }
    print_table(&outcomes);
    if !args.what_if.is_empty() {
        println!(
            "experiments in effect (not the engine as committed): {:?}",
            args.what_if
        );
    }
    Ok(())
}

async fn run(
    kind: StoreKind,
    rate: f64,
    args: &Args,
    langs: &[LanguageCode],
) -> anyhow::Result<Outcome> {
    eprintln!(
        "== {} at {rate} requests/s for {} s{}",
        kind.as_str(),
        args.seconds,
        if args.what_if.is_empty() {
            String::new()
        } else {
            format!(" (what if: {:?})", args.what_if)
        }
    );
    let async_commit = args.what_if.contains(&Experiment::AsyncCommit);
    let backend = Backend::open(kind, args.pool, async_commit).await?;
    let clients = args
        .clients
        .unwrap_or((rate * 3.0).ceil().max(200.0) as usize);
    let seeding = Instant::now();
    let workers = if kind == StoreKind::Sqlite { 1 } else { 8 };
    let seeded = seed(
        &backend.accounts,
        &backend.matching,
        langs,
        args.interpreters,
        clients,
        workers,
    )
    .await
    .context("seeding")?;
    eprintln!(
        "   seeded {} interpreters and {} clients in {:.1} s",
        seeded.interpreters.len(),
        seeded.clients.len(),
        seeding.elapsed().as_secs_f64()
    );

    let what_if = WhatIf {
        cached_estimate: args.what_if.contains(&Experiment::CachedEstimate),
        skip_idle_snapshot: args.what_if.contains(&Experiment::SkipIdleSnapshot),
        short_explanation: args.what_if.contains(&Experiment::ShortExplanation),
    };
    let metered = Arc::new(Metered::new(
        backend.matching.clone(),
        backend.accounts.clone(),
        what_if,
    ));
    let config = MatchingConfig {
        wrap_up: TimeDelta::milliseconds(args.wrap_up_ms),
        ..MatchingConfig::default()
    }
    .validate()
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bus = Arc::new(InProcessBus::new());
    let engine = Arc::new(Engine::new(
        metered.clone() as Arc<dyn MatchingStore>,
        metered.clone() as Arc<dyn Store>,
        bus.clone() as Arc<dyn Bus>,
        Arc::new(SystemClock),
        EngineSettings::new(config),
    ));
    let requests = Requests::new(engine.clone());
    let shared = Arc::new(Shared::default());
    shared
        .free_clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(seeded.clients.iter().copied());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_runner = tokio_util::sync::CancellationToken::new();
    let subscriber = tokio::spawn(subscribe(
        engine.clone(),
        bus.subscribe(),
        shared.clone(),
        stop_rx.clone(),
    ));
    let runner = tokio::spawn(as_role(
        Role::Runner,
        Arc::new(Matching::new(engine.clone())).run(stop_runner.clone()),
    ));
    // Let the runner take its leases and settle before the clock starts.
    tokio::time::sleep(Duration::from_millis(700)).await;
    metered.stats.take();

    let cpu_before = CpuSample::now();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let warm_until = start + Duration::from_secs_f64(args.warmup);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut creates = tokio::task::JoinSet::new();
    let mut n: usize = 0;
    let mut no_client = 0u64;
    let mut backlog_max = 0u64;
    let mut next_sample = start + Duration::from_secs(1);
    loop {
        let scheduled = ticker.tick().await.into_std();
        if scheduled >= deadline {
            break;
        }
        while creates.try_join_next().is_some() {}
        let now = Instant::now();
        if now >= next_sample {
            backlog_max = backlog_max.max(backlog(&shared));
            next_sample += Duration::from_secs(1);
        }
        let client = shared
            .free_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let Some(client) = client else {
            no_client += 1;
            continue;
        };
        let need = need_of(n, langs);
        n += 1;
        shared.started.fetch_add(1, Ordering::Relaxed);
        let requests = requests.clone();
        let shared = shared.clone();
        creates.spawn(as_role(Role::Creator, async move {
            let called = Instant::now();
            let result = requests
                .create_request(NewRequest {
                    client,
                    need,
                    priority: Priority::NORMAL,
                    idempotency_key: None,
                })
                .await;
            let took = called.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(Created::New(view)) => {
                    shared
                        .sent
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(view.id, called);
                    let lag = called.saturating_duration_since(scheduled).as_secs_f64() * 1000.0;
                    shared
                        .creates
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((called, took, lag));
                }
                Ok(Created::Replayed(_)) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    shared.note_error("create_request", "replayed without a key");
                }
                Err(e) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    shared.note_error("create_request", chain(&e));
                    shared
                        .free_clients
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_back(client);
                }
            }
        }));
    }
    let end = Instant::now();
    let cpu_after = CpuSample::now();
    let cpu = cpu_after.since(&cpu_before, end - start);
    let achieved = shared.started.load(Ordering::Relaxed) as f64 / (end - start).as_secs_f64();
    let joined = tokio::time::timeout(Duration::from_secs(15), async {
        while creates.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        eprintln!("   some create_request calls had not returned 15 s after the end");
        creates.abort_all();
    }
    backlog_max = backlog_max.max(backlog(&shared));

    // Unmatched at the end of sending: created (or still being created) with no offer by `end`.
    let backlog_end = {
        let sent = shared.sent.lock().unwrap_or_else(|p| p.into_inner());
        let offered = shared.offered.lock().unwrap_or_else(|p| p.into_inner());
        let still_creating = shared.started.load(Ordering::Relaxed)
            - shared.failed.load(Ordering::Relaxed)
            - sent.len() as u64;
        sent.keys()
            .filter(|id| offered.get(*id).is_none_or(|at| *at > end))
            .count() as u64
            + still_creating
    };

    // Drain: give the backlog a few seconds to be offered.
    let drain_until = Instant::now() + Duration::from_secs_f64(args.drain);
    let unmatched_after_drain = loop {
        let left = {
            let sent = shared.sent.lock().unwrap_or_else(|p| p.into_inner());
            let offered = shared.offered.lock().unwrap_or_else(|p| p.into_inner());
            sent.keys().filter(|id| !offered.contains_key(*id)).count() as u64
        };
        if left == 0 || Instant::now() >= drain_until {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Let the answers in flight finish.
    let answers_until = Instant::now() + Duration::from_secs(10);
    while shared.answering.load(Ordering::Relaxed) > 0 && Instant::now() < answers_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let window = start.elapsed();
    let calls = metered.stats.take();

    stop_tx.send(true).ok();
    stop_runner.cancel();
    runner.await.ok();
    subscriber.await.ok();

    let (latencies, measured_offered) = {
        let sent = shared.sent.lock().unwrap_or_else(|p| p.into_inner());
        let offered = shared.offered.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<f64> = sent
            .iter()
            .filter(|(_, called)| **called >= warm_until)
            .filter_map(|(id, called)| {
                offered
                    .get(id)
                    .map(|at| at.saturating_duration_since(*called).as_secs_f64() * 1000.0)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        (v, n)
    };
    let (mut create_ms, mut lag_ms): (Vec<f64>, Vec<f64>) = shared
        .creates
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(called, _, _)| *called >= warm_until)
        .map(|(_, took, lag)| (*took, *lag))
        .unzip();
    create_ms.sort_by(f64::total_cmp);
    lag_ms.sort_by(f64::total_cmp);

    let attempted = shared.started.load(Ordering::Relaxed) + no_client;
    let failed = shared.failed.load(Ordering::Relaxed);
    let lost_events = shared.lost_events.load(Ordering::Relaxed);
    // Kept up: every request was sent on time and created, and the requests still waiting for
    // an offer when the sending stopped are fewer than one second's arrivals and all offered
    // within the drain. A queue that grows, however slowly, breaks the last two over a run.
    let kept_up = failed == 0
        && no_client == 0
        && lost_events == 0
        && achieved >= 0.98 * rate
        && backlog_end as f64 <= rate.max(5.0)
        && unmatched_after_drain == 0;
    let outcome = Outcome {
        store: kind,
        rate,
        seconds: args.seconds,
        attempted,
        created: shared.sent.lock().unwrap_or_else(|p| p.into_inner()).len() as u64,
        failed,
        no_client,
        offered: shared.offers.load(Ordering::Relaxed),
        measured: measured_offered,
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied(),
        create_p50: percentile(&create_ms, 0.50),
        create_p99: percentile(&create_ms, 0.99),
        lag_p99: percentile(&lag_ms, 0.99),
        backlog_end,
        backlog_max,
        unmatched_after_drain,
        lost_events,
        cpu,
        kept_up,
    };
    print_outcome(&outcome, achieved, &shared);
    if args.breakdown {
        print_calls(&calls, window, outcome.offered);
        parts(&backend, &config, langs, seeded.interpreters[0]).await?;
    }
    drop(requests);
    drop(engine);
    backend.close().await;
    Ok(outcome)
}

/// Requests sent and not yet offered (or failed), now.
fn backlog(shared: &Shared) -> u64 {
    (shared.started.load(Ordering::Relaxed))
        .saturating_sub(shared.failed.load(Ordering::Relaxed))
        .saturating_sub(shared.offers.load(Ordering::Relaxed))
}

/// The need of the `n`-th request: languages in turn, then every specialization, then both
/// modalities (every interpreter covers them all, so only the language restricts who can take it).
fn need_of(n: usize, langs: &[LanguageCode]) -> Need {
    let l = langs.len();
    let specializations = Specialization::ALL.len();
    Need {
        language: langs[n % l],
        specialization: Specialization::ALL[(n / l) % specializations],
        modality: Modality::ALL[(n / (l * specializations)) % Modality::ALL.len()],
    }
}

/// The interpreters' side: every `offer.created` is timed, accepted at once, and its session
/// ended at once.
async fn subscribe(
    engine: Arc<Engine>,
    mut events: broadcast::Receiver<Arc<Delivered>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let offers = Offers::new(engine.clone());
    let sessions = Sessions::new(engine);
    loop {
        let (offer, request, interpreter, arrived) = match next_offer(&mut events, &mut stop).await
        {
            Next::Offer(ids) => (ids.offer, ids.request, ids.interpreter, ids.arrived),
            Next::Lost(n) => {
                shared.lost_events.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            Next::Malformed(e) => {
                shared.note_error("offer.created", e);
                continue;
            }
            Next::Stop => break,
        };
        {
            let mut offered = shared.offered.lock().unwrap_or_else(|p| p.into_inner());
            match offered.entry(request) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    shared.repeat_offers.fetch_add(1, Ordering::Relaxed);
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(arrived);
                    shared.offers.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        shared.answering.fetch_add(1, Ordering::Relaxed);
        let (offers, sessions) = (offers.clone(), sessions.clone());
        let shared = shared.clone();
        tokio::spawn(as_role(Role::Answerer, async move {
            let interpreter = UserId(interpreter);
            match offers.accept_offer(OfferId(offer), interpreter).await {
                Ok(session) => {
                    shared
                        .free_clients
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_back(UserId(session.client_id));
                    if let Err(e) = sessions
                        .end_session(SessionId(session.id), interpreter)
                        .await
                    {
                        shared.end_failed.fetch_add(1, Ordering::Relaxed);
                        shared.note_error("end_session", chain(&e));
                    }
                }
                Err(e) => {
                    shared.accept_failed.fetch_add(1, Ordering::Relaxed);
                    shared.note_error("accept_offer", chain(&e));
                }
            }
            shared.answering.fetch_sub(1, Ordering::Relaxed);
        }));
    }
}

/// (offer id, request id, interpreter id) of an `offer.created` payload.
fn print_outcome(o: &Outcome, achieved: f64, shared: &Shared) {
    println!(
        "{} at {} requests/s for {} s: sent {} (achieved {:.0}/s), created {}, failed {}, no free client {}",
        o.store.as_str(),
        o.rate,
        o.seconds,
        o.attempted,
        achieved,
        o.created,
        o.failed,
        o.no_client
    );
    println!(
        "  offers observed {} (measured after warm-up: {}); repeat offers {}; accepts failed {}; ends failed {}; bus events lost {}",
        o.offered,
        o.measured,
        shared.repeat_offers.load(Ordering::Relaxed),
        shared.accept_failed.load(Ordering::Relaxed),
        shared.end_failed.load(Ordering::Relaxed),
        o.lost_events
    );
    println!(
        "  decision latency ms: p50 {} p90 {} p99 {} max {}",
        fmt(o.p50, 1),
        fmt(o.p90, 1),
        fmt(o.p99, 1),
        fmt(o.max, 1)
    );
    println!(
        "  create_request ms: p50 {} p99 {}; generator lag p99 {} ms",
        fmt(o.create_p50, 1),
        fmt(o.create_p99, 1),
        fmt(o.lag_p99, 1)
    );
    println!(
        "  backlog (sent, not offered): at the end {}, largest 1 s sample {}, after the drain {}; kept up: {}",
        o.backlog_end,
        o.backlog_max,
        o.unmatched_after_drain,
        if o.kept_up { "yes" } else { "NO" }
    );
    println!(
        "  CPU in cores of {}: this process {:.2}, database server {:.2}, everything else on the machine {:.2}",
        o.cpu.cores, o.cpu.process, o.cpu.database, o.cpu.others
    );
    if let Some(e) = shared
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        println!("  first error: {e}");
    }
}

fn print_calls(
    calls: &std::collections::BTreeMap<(Role, &'static str), Tally>,
    window: Duration,
    offers: u64,
) {
    let offers = offers.max(1) as f64;
    let wall = window.as_secs_f64();
    println!(
        "  store calls from the start of sending to the end of the drain ({wall:.1} s, {offers} offers):"
    );
    println!(
        "  | caller | method | calls | per offer | mean ms | max ms | total s | share of wall |"
    );
    println!("  | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut by_role: std::collections::BTreeMap<Role, (u64, Duration)> = Default::default();
    for ((role, method), t) in calls {
        let e = by_role.entry(*role).or_default();
        e.0 += t.calls;
        e.1 += t.total;
        println!(
            "  | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.2} | {:.0}% |",
            role.as_str(),
            method,
            t.calls,
            t.calls as f64 / offers,
            t.total.as_secs_f64() * 1000.0 / t.calls.max(1) as f64,
            t.max.as_secs_f64() * 1000.0,
            t.total.as_secs_f64(),
            t.total.as_secs_f64() / wall * 100.0
        );
    }
    for (role, (n, total)) in by_role {
        println!(
            "  {}: {n} calls, {:.2} per offer, {:.2} ms of store time per offer, {:.0}% of the wall time",
            role.as_str(),
            n as f64 / offers,
            total.as_secs_f64() * 1000.0 / offers,
            total.as_secs_f64() / wall * 100.0
        );
    }
}

/// The parts of one round, measured apart on the run's final data: the snapshot of a language,
/// the plan for one queued request, and the serialization of the explanation it stores.
async fn parts(
    backend: &Backend,
    config: &MatchingConfig,
    langs: &[LanguageCode],
    interpreter: UserId,
) -> anyhow::Result<()> {
    let language = langs[0];
    let client = extra_client(&backend.accounts, 0).await?;
    let now = Utc::now();
    let request = Request::new(
        RequestId(Uuid::now_v7()),
        client,
        Need::new(language, None, None),
        Priority::NORMAL,
        now,
    );
    backend
        .matching
        .create_request(&request, now + config.max_wait, None)
        .await?;
    let reps = 30;
    let started = Instant::now();
    let mut snapshot = None;
    for _ in 0..reps {
        snapshot = Some(
            backend
                .matching
                .snapshot(language, Utc::now(), None)
                .await?,
        );
    }
    let snapshot_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(reps);
    let snapshot = snapshot.context("no snapshot")?;
    let matcher = Matcher::new(*config);
    let reps = 300;
    let started = Instant::now();
    let mut plan = None;
    for _ in 0..reps {
        plan = Some(matcher.plan(&snapshot, Utc::now()));
    }
    let plan_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(reps);
    let plan = plan.context("no plan")?;
    let explanation = &plan
        .offers
        .first()
        .context("the plan made no offer for the queued request")?
        .explanation;
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..reps {
        bytes = serde_json::to_vec(explanation)?.len();
    }
    let serialize_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(reps);
    let reps = 30;
    let mut reads = Vec::new();
    macro_rules! time_read {
        ($label:literal, $call:expr) => {{
            let started = Instant::now();
            for _ in 0..reps {
                $call.await?;
            }
            reads.push(format!(
                "{} {:.2} ms",
                $label,
                started.elapsed().as_secs_f64() * 1000.0 / f64::from(reps)
            ));
        }};
    }
    let since = Utc::now() - TimeDelta::hours(1);
    time_read!("language_loads", backend.matching.language_loads());
    time_read!("open_requests", backend.matching.open_requests(language));
    time_read!(
        "recent_activity",
        backend.matching.recent_activity(language, since)
    );
    time_read!("request", backend.matching.request(request.id));
    time_read!("presence", backend.matching.presence(interpreter));
    time_read!("interpreter", backend.accounts.interpreter(interpreter));
    println!(
        "  one call at a time, on the final data: {}",
        reads.join(", ")
    );
    if let Some(url) = &backend.url {
        let trips = round_trips(url, &[100, 8_000, 16_000, 32_000, 64_000, 128_000]).await?;
        let trips: Vec<String> = trips
            .iter()
            .map(|(size, ms)| format!("{size} bytes {ms:.2} ms"))
            .collect();
        println!(
            "  one statement with a text parameter, over sqlx: {}",
            trips.join(", ")
        );
    }
    println!(
        "  one round's parts for {language}: snapshot {snapshot_ms:.2} ms ({} interpreters, {} open requests); plan {plan_us:.0} µs; explanation {} eligible + {} excluded, {bytes} bytes of JSON, serialized in {serialize_us:.0} µs",
        snapshot.interpreters.len(),
        snapshot.requests.len(),
        explanation.eligible.len(),
        explanation.excluded.len(),
    );
    Ok(())
}

fn print_table(outcomes: &[Outcome]) {
    println!();
    println!(
        "| store | rate/s | sent | offered | p50 ms | p90 ms | p99 ms | max ms | create p50/p99 ms | backlog end (max) | kept up | CPU bench/db/others |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    for o in outcomes {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} ({}) | {} | {:.2}/{:.2}/{:.2} |",
            o.store.as_str(),
            o.rate,
            o.attempted,
            o.offered,
            fmt(o.p50, 1),
            fmt(o.p90, 1),
            fmt(o.p99, 1),
            fmt(o.max, 1),
            fmt(o.create_p50, 1),
            fmt(o.create_p99, 1),
            o.backlog_end,
            o.backlog_max,
            if o.kept_up { "yes" } else { "no" },
            o.cpu.process,
            o.cpu.database,
            o.cpu.others
        );
    }
    for store in [StoreKind::Sqlite, StoreKind::Postgres, StoreKind::Pgbouncer] {
        let best = outcomes
            .iter()
            .filter(|o| o.store == store && o.kept_up)
            .map(|o| o.rate)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        if outcomes.iter().any(|o| o.store == store) {
            println!(
                "highest rate kept up on {}: {}",
                store.as_str(),
                best.map_or("none of those tried".to_owned(), |r| format!("{r}/s"))
            );
        }
    }
}

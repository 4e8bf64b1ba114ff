//! The wait estimate against actual waits.
//!
//! One language, a small pool of interpreters, requests arriving faster than sessions end for a
//! while, so that a queue builds and then drains. For each request: the `estimated_wait_s` and
//! `queue_position` of the `RequestView` answered at creation, and the actual time from the
//! `create_request` call to its `offer.created`. Interpreters accept at once and the benchmark
//! holds each session for a fixed or an exponentially distributed time before ending it.
//! See BENCHMARKS.md ("Matching").
//!
//! ```sh
//! cargo run --release -p dragoman-bench-matching --bin wait-estimate -- --scenario fixed,exponential
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::TimeDelta;
use clap::Parser;
use dragoman_bench_matching::{
    Backend, Next, StoreKind, fmt, init_logs, languages, next_offer, percentile, seed, until_signal,
};
use dragoman_domain::matching::{MatchingConfig, Need, OfferId, Priority, SessionId};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_engine::{
    Created, Engine, EngineSettings, Matching, NewRequest, Offers, Requests, Sessions,
};
use dragoman_inprocess::InProcessBus;
use dragoman_ports::{Bus, Delivered, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// How long the benchmark holds each session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// Every session lasts exactly --session-s.
    Fixed,
    /// Session lengths are exponential with mean --session-s.
    Exponential,
}

impl Scenario {
    fn as_str(self) -> &'static str {
        match self {
            Scenario::Fixed => "fixed",
            Scenario::Exponential => "exponential",
        }
    }
}

/// The wait estimate of new requests against their actual wait for an offer.
#[derive(Debug, Parser)]
#[command(name = "wait-estimate")]
struct Args {
    /// Session length distributions to run, comma-separated: fixed, exponential.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fixed,exponential"
    )]
    scenario: Vec<Scenario>,
    /// sqlite, postgres or pgbouncer (a fresh file or database per scenario).
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreKind,
    /// Interpreters, all of one language, all available at the start.
    #[arg(long, default_value_t = 10)]
    interpreters: usize,
    /// Mean session length, in seconds.
    #[arg(long, default_value_t = 4.0)]
    session_s: f64,
    /// The engine's wrap-up pause after each session, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    wrap_up_ms: i64,
    /// Arrivals per second during the burst (evenly spaced).
    #[arg(long, default_value_t = 3.0)]
    rate: f64,
    /// How long the burst lasts, in seconds; the queue then drains.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Seed of the session lengths.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Connections of the PostgreSQL pool.
    #[arg(long, default_value_t = 4)]
    pool: u32,
}

/// One request of the burst.
#[derive(Debug, Clone, Copy)]
struct Sample {
    called: Instant,
    position: Option<u32>,
    estimate_s: Option<i64>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Request id → when its first offer arrived, and to whom.
    offered: Mutex<HashMap<Uuid, (Instant, Uuid)>>,
    sessions_open: AtomicI64,
    errors: Mutex<Vec<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logs();
    let args = Args::parse();
    anyhow::ensure!(args.interpreters > 0, "--interpreters must be positive");
    anyhow::ensure!(
        args.session_s > 0.0 && args.rate > 0.0 && args.seconds > 0.0,
        "--session-s, --rate and --seconds must be positive"
    );
    anyhow::ensure!(args.wrap_up_ms >= 0, "--wrap-up-ms must not be negative");
    let language = languages(1)?[0];
    let capacity = args.interpreters as f64 / (args.session_s + args.wrap_up_ms as f64 / 1000.0);
    println!(
        "{} interpreters of {language}, sessions of {} s on average, wrap-up {} ms: about {capacity:.2} sessions/s at most; arrivals {} /s for {} s",
        args.interpreters, args.session_s, args.wrap_up_ms, args.rate, args.seconds
    );
    for &scenario in &args.scenario {
        until_signal(run(scenario, &args, language))
            .await
            .with_context(|| scenario.as_str())?;
    }
    Ok(())
}

async fn run(scenario: Scenario, args: &Args, language: LanguageCode) -> anyhow::Result<()> {
    let backend = Backend::open(args.store, args.pool, false).await?;
    let burst = (args.rate * args.seconds).ceil() as usize;
    let warmup = args.interpreters;
    let seeded = seed(
        &backend.accounts,
        &backend.matching,
        &[language],
        args.interpreters,
        warmup + burst,
        1,
    )
    .await?;
    let config = MatchingConfig {
        wrap_up: TimeDelta::milliseconds(args.wrap_up_ms),
        ..MatchingConfig::default()
    }
    .validate()
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bus = Arc::new(InProcessBus::new());
    let engine = Arc::new(Engine::new(
        backend.matching.clone(),
        backend.accounts.clone(),
        bus.clone() as Arc<dyn Bus>,
        Arc::new(SystemClock),
        EngineSettings::new(config),
    ));
    let requests = Requests::new(engine.clone());
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_runner = tokio_util::sync::CancellationToken::new();
    let subscriber = tokio::spawn(answer(
        engine.clone(),
        bus.subscribe(),
        shared.clone(),
        stop_rx.clone(),
        scenario,
        args.session_s,
        args.seed,
    ));
    let runner = tokio::spawn(Arc::new(Matching::new(engine.clone())).run(stop_runner.clone()));
    let mut clients = seeded.clients.into_iter();

    // Warm-up: one session per interpreter, so that the estimator has recent sessions to
    // average; then wait until they have all ended and their wrap-ups are over.
    for _ in 0..warmup {
        let client = clients.next().context("not enough clients")?;
        create(&requests, client, language).await?;
    }
    let warm_deadline = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let done = shared
            .offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
            >= warmup
            && shared.sessions_open.load(Ordering::Relaxed) == 0;
        if done || Instant::now() > warm_deadline {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(args.wrap_up_ms as u64 + 600)).await;

    // The burst.
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut samples: Vec<(Uuid, Sample)> = Vec::with_capacity(burst);
    for _ in 0..burst {
        ticker.tick().await;
        let client = clients.next().context("not enough clients")?;
        let called = Instant::now();
        let view = create(&requests, client, language).await?;
        samples.push((
            view.id,
            Sample {
                called,
                position: view.queue_position,
                estimate_s: view.estimated_wait_s,
            },
        ));
    }
    // The drain: every request is offered within the maximum wait.
    let drain_deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let all = {
            let offered = shared.offered.lock().unwrap_or_else(|p| p.into_inner());
            samples.iter().all(|(id, _)| offered.contains_key(id))
        };
        if all || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    stop_tx.send(true).ok();
    stop_runner.cancel();
    runner.await.ok();
    subscriber.await.ok();

    let offered = shared
        .offered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    report(scenario, args, &samples, &offered, start, elapsed);
    for e in shared
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .take(3)
    {
        println!("  error: {e}");
    }
    drop(requests);
    drop(engine);
    backend.close().await;
    Ok(())
}

async fn create(
    requests: &Requests,
    client: UserId,
    language: LanguageCode,
) -> anyhow::Result<dragoman_engine::views::RequestView> {
    match requests
        .create_request(NewRequest {
            client,
            need: Need::new(language, None, None),
            priority: Priority::NORMAL,
            idempotency_key: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("create_request: {e}"))?
    {
        Created::New(view) => Ok(view),
        Created::Replayed(_) => anyhow::bail!("create_request replayed a request"),
    }
}

/// The interpreters: accept every offer at once, hold the session, end it.
async fn answer(
    engine: Arc<Engine>,
    mut events: broadcast::Receiver<Arc<Delivered>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    scenario: Scenario,
    mean_s: f64,
    seed: u64,
) {
    let offers = Offers::new(engine.clone());
    let sessions = Sessions::new(engine);
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let (request, interpreter, offer, arrived) = match next_offer(&mut events, &mut stop).await
        {
            Next::Offer(ids) => (ids.request, ids.interpreter, ids.offer, ids.arrived),
            Next::Lost(n) => {
                note(&shared, format!("{n} bus events lost"));
                continue;
            }
            Next::Malformed(e) => {
                note(&shared, format!("malformed offer.created: {e}"));
                continue;
            }
            Next::Stop => break,
        };
        shared
            .offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(request)
            .or_insert((arrived, interpreter));
        let hold = match scenario {
            Scenario::Fixed => mean_s,
            // Inverse transform: -mean · ln(1 − u), u uniform in [0, 1).
            Scenario::Exponential => -mean_s * (1.0 - rng.random::<f64>()).ln(),
        };
        shared.sessions_open.fetch_add(1, Ordering::Relaxed);
        let (offers, sessions) = (offers.clone(), sessions.clone());
        let shared = shared.clone();
        tokio::spawn(async move {
            let interpreter = UserId(interpreter);
            match offers.accept_offer(OfferId(offer), interpreter).await {
                Ok(session) => {
                    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
                    if let Err(e) = sessions
                        .end_session(SessionId(session.id), interpreter)
                        .await
                    {
                        note(&shared, format!("end_session: {e}"));
                    }
                }
                Err(e) => note(&shared, format!("accept_offer: {e}")),
            }
            shared.sessions_open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn note(shared: &Shared, what: String) {
    shared
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(what);
}

/// Error statistics of (estimate, actual) pairs, in seconds; error = estimate − actual.
struct Errors {
    n: usize,
    mean_actual: f64,
    mean_estimate: f64,
    mae: f64,
    median_abs: Option<f64>,
    p90_abs: Option<f64>,
    median: Option<f64>,
    p90: Option<f64>,
    bias: f64,
    over: f64,
}

fn errors(pairs: &[(f64, f64)]) -> Option<Errors> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len();
    let nf = n as f64;
    let mut signed: Vec<f64> = pairs.iter().map(|(e, a)| e - a).collect();
    let mut abs: Vec<f64> = signed.iter().map(|x| x.abs()).collect();
    signed.sort_by(f64::total_cmp);
    abs.sort_by(f64::total_cmp);
    Some(Errors {
        n,
        mean_actual: pairs.iter().map(|(_, a)| a).sum::<f64>() / nf,
        mean_estimate: pairs.iter().map(|(e, _)| e).sum::<f64>() / nf,
        mae: abs.iter().sum::<f64>() / nf,
        median_abs: percentile(&abs, 0.5),
        p90_abs: percentile(&abs, 0.9),
        median: percentile(&signed, 0.5),
        p90: percentile(&signed, 0.9),
        bias: signed.iter().sum::<f64>() / nf,
        over: signed.iter().filter(|x| **x > 0.0).count() as f64 / nf,
    })
}

fn report(
    scenario: Scenario,
    args: &Args,
    samples: &[(Uuid, Sample)],
    offered: &HashMap<Uuid, (Instant, Uuid)>,
    start: Instant,
    elapsed: Duration,
) {
    println!();
    println!(
        "scenario {}: {} requests in {} s, all offered after {:.1} s",
        scenario.as_str(),
        samples.len(),
        args.seconds,
        elapsed.as_secs_f64()
    );
    let mut pairs_all = Vec::new();
    let mut pairs_zero = Vec::new();
    let mut pairs_wait = Vec::new();
    let mut by_position: [Vec<(f64, f64)>; 4] = Default::default();
    let mut no_estimate = 0;
    let mut never_offered = 0;
    let mut max_position = 0;
    for (id, s) in samples {
        let Some((at, _)) = offered.get(id) else {
            never_offered += 1;
            continue;
        };
        let actual = at.saturating_duration_since(s.called).as_secs_f64();
        let Some(estimate) = s.estimate_s else {
            no_estimate += 1;
            continue;
        };
        let pair = (estimate as f64, actual);
        pairs_all.push(pair);
        if estimate == 0 {
            pairs_zero.push(pair);
        } else {
            pairs_wait.push(pair);
        }
        let k = s.position.unwrap_or(0);
        max_position = max_position.max(k);
        let bucket = match k {
            0..=10 => 0,
            11..=20 => 1,
            21..=40 => 2,
            _ => 3,
        };
        by_position[bucket].push(pair);
    }
    println!(
        "  requests without an estimate: {no_estimate}; never offered: {never_offered}; longest queue position at creation: {max_position}"
    );
    println!(
        "  | requests | n | mean actual s | mean estimate s | MAE s | median abs err s | p90 abs err s | median err s | p90 err s | bias s | over-estimates |"
    );
    println!("  | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let rows: Vec<(&str, &[(f64, f64)])> = vec![
        ("all with an estimate", &pairs_all),
        ("estimate 0 (someone free)", &pairs_zero),
        ("estimate > 0 (must wait)", &pairs_wait),
        ("position 1-10", &by_position[0]),
        ("position 11-20", &by_position[1]),
        ("position 21-40", &by_position[2]),
        ("position > 40", &by_position[3]),
    ];
    for (label, pairs) in rows {
        if let Some(e) = errors(pairs) {
            println!(
                "  | {label} | {} | {:.1} | {:.1} | {:.2} | {} | {} | {} | {} | {:+.2} | {:.0}% |",
                e.n,
                e.mean_actual,
                e.mean_estimate,
                e.mae,
                fmt(e.median_abs, 2),
                fmt(e.p90_abs, 2),
                fmt(e.median, 2),
                fmt(e.p90, 2),
                e.bias,
                e.over * 100.0
            );
        }
    }
    // The cycle an interpreter actually went through while the queue was long: the gap between
    // two consecutive offers to the same interpreter.
    let mut per_interpreter: HashMap<Uuid, Vec<Instant>> = HashMap::new();
    for (id, _) in samples {
        if let Some((at, who)) = offered.get(id)
            && *at >= start
        {
            per_interpreter.entry(*who).or_default().push(*at);
        }
    }
    let mut gaps: Vec<f64> = Vec::new();
    for times in per_interpreter.values_mut() {
        times.sort();
        gaps.extend(times.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()));
    }
    gaps.sort_by(f64::total_cmp);
    println!(
        "  the estimator's cycle S = mean session + wrap-up = {:.2} s (with the configured mean); measured gap between two offers to one interpreter: median {} s, mean {} s",
        args.session_s + args.wrap_up_ms as f64 / 1000.0,
        fmt(percentile(&gaps, 0.5), 2),
        fmt(
            (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
            2
        ),
    );
}

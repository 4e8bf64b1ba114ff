//! Clients and publisher of the WebSocket fan-out benchmark (benches/ws-fanout.sh).
//!
//! Opens N connections split evenly across the servers given (from source addresses spread over
//! 127.0.0.0/8, as ws-idle does), lets them settle, then publishes events on Redis at a fixed
//! rate for a fixed time, each event for every client. Each event's payload carries `sent_us`,
//! the publisher's wall clock in microseconds just before it publishes; each client notes, for
//! every event it receives, its own wall clock minus `sent_us` (same machine, same clock).
//! Prints one line of `key=value` results (see [`report`]).
//!
//! Usage: `ws-fanout PROTOCOL HOST:PORT[,HOST:PORT...] N RATE SECONDS`, PROTOCOL one of
//!   dragoman   GET /v1/ws, a user of its own per connection (tokens signed with $JWT_SECRET),
//!              each sending `subscribe` to `availability`; events are `availability.changed`
//!              published by Dragoman's own Redis bus (`RedisBus`, prefix $KEY), as the engine
//!              of any instance publishes them
//!   ws         GET /; events are Dragoman's frame text published on the channel $KEY
//!   socketio   Engine.IO 4 over WebSocket, default namespace; events are published on
//!              `$KEY#/#` in @socket.io/redis-emitter's format (what `io.emit` sends through
//!              @socket.io/redis-adapter)
//! Environment: REDIS_URL, KEY, JWT_SECRET (dragoman), SERVER_PIDS (the servers' process ids,
//! whose CPU time is read from /proc), CLK_TCK (`getconf CLK_TCK`, default 100), IDLE (seconds
//! of the idle CPU reading before publishing, default 5).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chrono::Utc;
use dragoman_bench::fanout::{Protocol, Stats, cpu_ticks, sent_us, source, upgrade_path};
use dragoman_http::auth::Tokens;
use dragoman_ports::{Audience, Bus, Event};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// What every client task shares.
#[derive(Default)]
struct Shared {
    connected: AtomicUsize,
    failed: AtomicUsize,
    /// Connections closed by the server during the run.
    dropped: AtomicUsize,
    /// Tasks that have ended and handed in their samples.
    done: AtomicUsize,
    received: AtomicU64,
    /// Publish-to-receipt latencies in microseconds, handed in by each task as it ends.
    samples: Mutex<Vec<u64>>,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// One client connection: where it goes and as whom.
struct Target {
    protocol: Protocol,
    server: SocketAddr,
    /// Its number, which picks its source address.
    n: usize,
    path: String,
}

async fn client(
    Target {
        protocol,
        server,
        n,
        path,
    }: Target,
    shared: &Shared,
    permit: tokio::sync::OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
    samples: &mut Vec<u64>,
) -> anyhow::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source(n).into(), 0))?;
    let stream = socket.connect(server).await.context("connecting")?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{server}{path}"), stream)
        .await
        .context("upgrading")?;
    match protocol {
        Protocol::SocketIo => {
            // The open packet ("0{...}"), then join the default namespace and wait for its "40".
            ws.next().await.context("no open packet")??;
            ws.send(Message::text("40")).await?;
            loop {
                match ws.next().await.context("closed while joining")?? {
                    Message::Text(t) if t.as_str().starts_with("40") => break,
                    _ => {}
                }
            }
        }
        Protocol::Dragoman => {
            ws.send(Message::text(
                r#"{"type":"subscribe","topic":"availability"}"#,
            ))
            .await?;
        }
        Protocol::Ws => {}
    }
    shared.connected.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            message = ws.next() => {
                let Some(message) = message else {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    bail!("the server closed connection {n}");
                };
                // Reading answers WebSocket pings (tungstenite queues the pong); Engine.IO pings
                // are text.
                if let Message::Text(text) = message? {
                    if let Some(sent) = sent_us(text.as_str()) {
                        samples.push(now_us().saturating_sub(sent));
                        shared.received.fetch_add(1, Ordering::Relaxed);
                    } else if protocol == Protocol::SocketIo && text.as_str() == "2" {
                        ws.send(Message::text("3")).await?;
                    }
                }
            }
        }
    }
}

/// Publishes one event for every client, stamped with `sent_us`.
enum Publisher {
    Dragoman(Arc<dyn Bus>),
    Redis {
        redis: redis::aio::MultiplexedConnection,
        channel: String,
        socket_io: bool,
    },
}

impl Publisher {
    async fn publish(&mut self, sequence: u64) -> anyhow::Result<()> {
        let at = Utc::now();
        // One `languages` entry of GET /v1/availability, plus the benchmark's two fields.
        let data = json!({
            "code": "es",
            "available": 37,
            "waiting": 2,
            "estimated_wait_s": 45,
            "seq": sequence,
            "sent_us": now_us(),
        });
        match self {
            Self::Dragoman(bus) => {
                bus.publish(Event {
                    audience: Audience::Topic("availability".to_owned()),
                    kind: "availability.changed",
                    at,
                    data,
                });
                Ok(())
            }
            Self::Redis {
                redis,
                channel,
                socket_io,
            } => {
                let payload = if *socket_io {
                    // [uid, packet, opts] as @socket.io/redis-emitter encodes an `emit` to all:
                    // an EVENT packet (type 2) of the default namespace, no rooms, no exceptions.
                    let packet = (
                        "emitter",
                        json!({"type": 2, "data": ["availability.changed", data], "nsp": "/"}),
                        json!({"rooms": [], "except": [], "flags": {}}),
                    );
                    rmp_serde::to_vec(&packet)?
                } else {
                    json!({
                        "id": null,
                        "type": "availability.changed",
                        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "data": data,
                    })
                    .to_string()
                    .into_bytes()
                };
                redis::cmd("PUBLISH")
                    .arg(&*channel)
                    .arg(payload)
                    .query_async::<i64>(redis)
                    .await?;
                Ok(())
            }
        }
    }
}

/// The servers' user and system CPU time, in clock ticks.
fn servers_cpu(pids: &[u32]) -> anyhow::Result<(u64, u64)> {
    pids.iter().try_fold((0, 0), |(user, system), &pid| {
        let (u, s) = cpu_ticks(pid)?;
        Ok((user + u, system + s))
    })
}

fn cpu_sum((user, system): (u64, u64)) -> u64 {
    user + system
}

#[tokio::main(worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, protocol, servers, count, rate, seconds] = args.as_slice() else {
        bail!("usage: ws-fanout dragoman|ws|socketio HOST:PORT[,HOST:PORT...] N RATE SECONDS");
    };
    let protocol = Protocol::parse(protocol)?;
    let servers: Vec<SocketAddr> = servers
        .split(',')
        .map(|s| s.parse().context("HOST:PORT"))
        .collect::<anyhow::Result<_>>()?;
    let count: usize = count.parse().context("N")?;
    let rate: u64 = rate.parse().context("RATE")?;
    let seconds: u64 = seconds.parse().context("SECONDS")?;
    let env = |name: &str| std::env::var(name).with_context(|| format!("${name}"));
    let redis_url = env("REDIS_URL")?;
    let key = env("KEY")?;
    let pids: Vec<u32> = env("SERVER_PIDS")?
        .split_whitespace()
        .map(|p| p.parse().context("SERVER_PIDS"))
        .collect::<anyhow::Result<_>>()?;
    let clk_tck: u64 = std::env::var("CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let idle: u64 = std::env::var("IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if servers.is_empty() || rate == 0 {
        bail!("give at least one server and a rate above 0");
    }

    let tokens = match protocol {
        Protocol::Dragoman => Some(Tokens::new(
            env("JWT_SECRET")?.as_bytes(),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        )),
        _ => None,
    };
    let shared = Arc::new(Shared::default());
    let (stop, stopped) = watch::channel(false);
    // A few hundred handshakes in flight at a time, as a fleet of apps reconnecting would.
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    for n in 0..count {
        let path = upgrade_path(tokens.as_ref(), protocol)?;
        let permit = permits.clone().acquire_owned().await?;
        let (shared, stopped) = (shared.clone(), stopped.clone());
        let server = servers[n % servers.len()];
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let target = Target {
                protocol,
                server,
                n,
                path,
            };
            let outcome = client(target, &shared, permit, stopped, &mut samples).await;
            if let Err(e) = outcome
                && shared.failed.fetch_add(1, Ordering::Relaxed) < 5
            {
                eprintln!("connection {n}: {e:#}");
            }
            shared
                .samples
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(samples);
            shared.done.fetch_add(1, Ordering::Relaxed);
        });
    }
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = shared.connected.load(Ordering::Relaxed);
    eprintln!("connected {connected} of {count}");

    let mut publisher = match protocol {
        Protocol::Dragoman => {
            let (client, manager) = dragoman_redis::connect(&redis_url).await?;
            let bus: Arc<dyn Bus> = dragoman_redis::RedisBus::start(client, manager, &key).await?;
            Publisher::Dragoman(bus)
        }
        Protocol::Ws | Protocol::SocketIo => Publisher::Redis {
            // No response timeout: on a loaded machine a slow answer would count a published
            // event as lost and understate the deliveries expected.
            redis: redis::Client::open(redis_url.as_str())?
                .get_multiplexed_async_connection_with_config(
                    &redis::AsyncConnectionConfig::new().set_response_timeout(None),
                )
                .await?,
            channel: if protocol == Protocol::SocketIo {
                format!("{key}#/#")
            } else {
                key.clone()
            },
            socket_io: protocol == Protocol::SocketIo,
        },
    };

    // Let subscriptions settle, then read the servers' idle CPU over IDLE seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_before = servers_cpu(&pids)?;
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let before = servers_cpu(&pids)?;
    let started = Instant::now();
    let total = rate * seconds;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut published = 0u64;
    for sequence in 0..total {
        ticks.tick().await;
        match publisher.publish(sequence).await {
            Ok(()) => published += 1,
            Err(e) => eprintln!("publishing event {sequence}: {e:#}"),
        }
    }
    let publishing = started.elapsed();
    // Drain: until every live client has every event, or 5 s.
    let drain_deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = (connected - shared.dropped.load(Ordering::Relaxed)) as u64;
        if shared.received.load(Ordering::Relaxed) >= published * live
            || Instant::now() >= drain_deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let after = servers_cpu(&pids)?;
    let _ = stop.send(true);
    let end = Instant::now() + Duration::from_secs(5);
    while shared.done.load(Ordering::Relaxed) < count && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let samples = std::mem::take(&mut *shared.samples.lock().unwrap_or_else(|p| p.into_inner()));
    let stats = Stats::new(samples);
    let tick_us = 1_000_000 / clk_tck;
    let mut report = BTreeMap::new();
    report.insert("connected", connected as u64);
    report.insert("dropped", shared.dropped.load(Ordering::Relaxed) as u64);
    report.insert("published", published);
    report.insert("publish_ms", publishing.as_millis() as u64);
    report.insert("window_ms", elapsed.as_millis() as u64);
    report.insert("expected", published * connected as u64);
    report.insert("delivered", stats.count() as u64);
    report.insert("cpu_us", (cpu_sum(after) - cpu_sum(before)) * tick_us);
    report.insert("system_cpu_us", (after.1 - before.1) * tick_us);
    report.insert(
        "idle_cpu_us_per_s",
        (cpu_sum(before) - cpu_sum(idle_before)) * tick_us / idle.max(1),
    );
    report.insert("p50_us", stats.percentile(50.0));
    report.insert("p99_us", stats.percentile(99.0));
    report.insert("max_us", stats.percentile(100.0));
    let line: Vec<String> = report.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
    Ok(())
}

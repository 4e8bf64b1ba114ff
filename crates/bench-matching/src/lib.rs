//! What the two matching benchmarks share: a fresh store of each kind, seeding through the ports,
//! a store wrapper that counts and times calls, percentiles and CPU accounting.
//!
//! - `match-latency`: decision latency (the engine's `create_request` called to `offer.created`
//!   received on the bus) at a fixed request rate, with interpreters accepting at once.
//! - `wait-estimate`: the `estimated_wait_s` answered at creation against the actual wait.
//!
//! See BENCHMARKS.md ("Matching") for the commands and the figures.

pub mod metered;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use dragoman_domain::{
    DisplayName, Email, InterpreterStatus, LanguageCode, LanguageSkill, Level, Modality,
    ModalitySet, Profile, Role, Specialization, SpecializationSet, UserId,
};
use dragoman_ports::matching::SetStatusOutcome;
use dragoman_ports::{Delivered, MatchingStore, NewUser, Store};
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase, admin_url};
use dragoman_store_postgres::{PgStore, Pooler};
use dragoman_store_sqlite::SqliteStore;
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// Twenty real languages, as the codes the API takes (ISO 639-1 where one exists, else 639-3).
pub const LANGUAGES: [&str; 20] = [
    "es", "zh", "ar", "fr", "ru", "pt", "vi", "ko", "tl", "ht", "pl", "fa", "de", "ja", "so", "ti",
    "uk", "hi", "ur", "ase",
];

/// The first `n` of [`LANGUAGES`], parsed.
pub fn languages(n: usize) -> anyhow::Result<Vec<LanguageCode>> {
    anyhow::ensure!(
        (1..=LANGUAGES.len()).contains(&n),
        "--languages must be 1 to {}",
        LANGUAGES.len()
    );
    LANGUAGES[..n]
        .iter()
        .map(|c| LanguageCode::parse(c).map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

/// Where the benchmark stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A fresh SQLite file in the temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database on 127.0.0.1:5432, connected directly.
    Postgres,
    /// The same, through PgBouncer on 127.0.0.1:6432 (transaction pooling, `Pooler::Transaction`).
    Pgbouncer,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::Pgbouncer => "pgbouncer",
        }
    }
}

/// A fresh, empty, migrated store, removed by [`Backend::close`].
#[derive(Debug)]
pub struct Backend {
    pub matching: Arc<dyn MatchingStore>,
    pub accounts: Arc<dyn Store>,
    /// The URL the PostgreSQL store connects with (directly or through PgBouncer).
    pub url: Option<String>,
    owned: Owned,
}

#[derive(Debug)]
enum Owned {
    Sqlite(Arc<SqliteStore>, DirGuard),
    Postgres(Arc<PgStore>, DatabaseGuard),
}

/// A directory removed when dropped, so that an interrupted run leaves nothing behind (as
/// [`DatabaseGuard`] drops the database).
#[derive(Debug)]
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {}: {e}", self.0.display());
        }
    }
}

impl Backend {
    /// Opens a new store of `kind`; a PostgreSQL pool holds at most `pool` connections. With
    /// `async_commit`, the PostgreSQL database is set `synchronous_commit = off` (an experiment:
    /// commits stop waiting for the WAL flush); SQLite ignores it.
    pub async fn open(kind: StoreKind, pool: u32, async_commit: bool) -> anyhow::Result<Self> {
        match kind {
            StoreKind::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("dragoman-bench-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let dir = DirGuard(dir);
                let store = Arc::new(SqliteStore::open(&dir.0.join("dragoman.sqlite")).await?);
                Ok(Self {
                    matching: store.clone(),
                    accounts: store.clone(),
                    url: None,
                    owned: Owned::Sqlite(store, dir),
                })
            }
            StoreKind::Postgres | StoreKind::Pgbouncer => {
                let db = TestDatabase::create()
                    .await
                    .context("creating a database (is PostgreSQL up? `bash scripts/services`)")?;
                let (url, pooler) = if kind == StoreKind::Postgres {
                    (db.direct_url(), Pooler::None)
                } else {
                    (db.pgbouncer_url(), Pooler::Transaction)
                };
                if async_commit {
                    let mut admin = PgConnection::connect(&admin_url()).await?;
                    admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "ALTER DATABASE \"{}\" SET synchronous_commit = off",
                            db.name
                        )))
                        .await?;
                    admin.close().await.ok();
                }
                let guard = DatabaseGuard(db);
                let store = Arc::new(PgStore::connect(&url, pooler, pool).await?);
                Ok(Self {
                    matching: store.clone(),
                    accounts: store.clone(),
                    url: Some(url),
                    owned: Owned::Postgres(store, guard),
                })
            }
        }
    }

    /// Closes the pools and deletes the file or drops the database.
    pub async fn close(self) {
        drop(self.matching);
        drop(self.accounts);
        match self.owned {
            Owned::Sqlite(store, dir) => {
                store.close().await;
                drop(dir);
            }
            Owned::Postgres(store, guard) => {
                store.close().await;
                // The guard's drop connects and runs DROP DATABASE on a thread of its own.
                tokio::task::spawn_blocking(move || drop(guard)).await.ok();
            }
        }
    }
}

/// The users a run needs.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub interpreters: Vec<UserId>,
    pub clients: Vec<UserId>,
}

/// The password hash stored for every seeded user: nobody logs in during a benchmark.
const PLACEHOLDER_HASH: &str = "$placeholder$no-login-in-benchmarks";

/// The profile of interpreter `i`: language `i mod L` (native), and for every odd `i` a second
/// one (professional), spread so that each pair of languages occurs; every specialization and
/// both modalities, so that each interpreter of a language can take every request of it.
pub fn profile_of(i: usize, languages: &[LanguageCode]) -> anyhow::Result<Profile> {
    let l = languages.len();
    let mut skills = vec![LanguageSkill {
        code: languages[i % l],
        level: Level::Native,
        certified: i.is_multiple_of(3),
    }];
    if l > 1 && i % 2 == 1 {
        let offset = 1 + (i / l) % (l - 1);
        skills.push(LanguageSkill {
            code: languages[(i % l + offset) % l],
            level: Level::Professional,
            certified: false,
        });
    }
    let specializations: SpecializationSet = Specialization::ALL.into_iter().collect();
    let modalities: ModalitySet = Modality::ALL.into_iter().collect();
    Profile::new(skills, specializations, modalities).map_err(|e| anyhow::anyhow!("{e}"))
}

fn new_user(role: Role, label: &str, i: usize) -> anyhow::Result<NewUser> {
    let invalid = |e: dragoman_domain::Invalid| anyhow::anyhow!("{e}");
    Ok(NewUser {
        id: UserId(uuid::Uuid::now_v7()),
        email: Email::parse(&format!("{label}-{i}@bench.example.org")).map_err(invalid)?,
        password_hash: PLACEHOLDER_HASH.to_owned(),
        display_name: DisplayName::parse(&format!("{label} {i}")).map_err(invalid)?,
        role,
        created_at: Utc::now(),
    })
}

/// Creates `interpreters` interpreters (profiles by [`profile_of`], status `available` through
/// `PresenceStore::set_status`) and `clients` clients, `workers` at a time.
pub async fn seed(
    accounts: &Arc<dyn Store>,
    matching: &Arc<dyn MatchingStore>,
    languages: &[LanguageCode],
    interpreters: usize,
    clients: usize,
    workers: usize,
) -> anyhow::Result<Seeded> {
    let workers = workers.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let accounts = accounts.clone();
        let matching = matching.clone();
        let languages = languages.to_vec();
        tasks.spawn(async move {
            let mut made = Seeded {
                interpreters: Vec::new(),
                clients: Vec::new(),
            };
            for i in (w..interpreters).step_by(workers) {
                let user = accounts
                    .create_user(new_user(Role::Interpreter, "interpreter", i)?)
                    .await?;
                accounts
                    .put_profile(user.id, &profile_of(i, &languages)?, Utc::now())
                    .await?;
                match matching
                    .set_status(user.id, InterpreterStatus::Available, Utc::now())
                    .await?
                {
                    SetStatusOutcome::Changed { .. } => {}
                    other => anyhow::bail!("interpreter {i} could not become available: {other:?}"),
                }
                made.interpreters.push(user.id);
            }
            for i in (w..clients).step_by(workers) {
                let user = accounts
                    .create_user(new_user(Role::Client, "client", i)?)
                    .await?;
                made.clients.push(user.id);
            }
            Ok::<_, anyhow::Error>(made)
        });
    }
    let mut all = Seeded {
        interpreters: Vec::new(),
        clients: Vec::new(),
    };
    while let Some(done) = tasks.join_next().await {
        let part = done.context("a seeding task panicked")??;
        all.interpreters.extend(part.interpreters);
        all.clients.extend(part.clients);
    }
    Ok(all)
}

/// Mean time of one statement carrying a text parameter of each size, over a new sqlx
/// connection to `url` (statements unnamed, so that it also works through PgBouncer): how the
/// round trip grows with the size of what is sent, as an explanation is sent with each offer.
pub async fn round_trips(url: &str, sizes: &[usize]) -> anyhow::Result<Vec<(usize, f64)>> {
    let mut conn = PgConnection::connect(url).await?;
    let mut out = Vec::new();
    for &size in sizes {
        let text = "x".repeat(size);
        let reps = 20;
        let started = std::time::Instant::now();
        for _ in 0..reps {
            sqlx::query("SELECT octet_length($1)")
                .bind(&text)
                .persistent(false)
                .fetch_one(&mut conn)
                .await?;
        }
        out.push((
            size,
            started.elapsed().as_secs_f64() * 1000.0 / f64::from(reps),
        ));
    }
    conn.close().await.ok();
    Ok(out)
}

/// One more client, outside the seeded ones.
pub async fn extra_client(accounts: &Arc<dyn Store>, i: usize) -> anyhow::Result<UserId> {
    Ok(accounts
        .create_user(new_user(Role::Client, "extra-client", i)?)
        .await?
        .id)
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `x` with `digits` decimals, or `-` for none.
pub fn fmt(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_owned(),
    }
}

/// CPU time from /proc, in seconds: this process, the database server's processes (every
/// process named `postgres*` or `pgbouncer`, whoever they work for), and the whole machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    pub process_s: f64,
    pub database_s: f64,
    pub machine_busy_s: f64,
    pub machine_total_s: f64,
}

/// Where the CPU went during a run, in cores (the machine has `cores`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub process: f64,
    pub database: f64,
    /// Everything else: other engineers' builds and tests on the shared machine.
    pub others: f64,
    pub cores: f64,
}

/// /proc reports in USER_HZ, which Linux fixes at 100 for user space.
const USER_HZ: f64 = 100.0;

/// (command name, utime + stime in seconds) from the text of a /proc/<pid>/stat.
fn proc_stat(stat: &str) -> Option<(&str, f64)> {
    let open = stat.find('(')?;
    let (name, rest) = stat[open + 1..].rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime and stime, fields 14 and 15, are at 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / USER_HZ))
}

impl CpuSample {
    /// Reads /proc; zeros where it is not available (not Linux).
    pub fn now() -> Self {
        let mut sample = Self::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some((_, s)) = proc_stat(&stat)
        {
            sample.process_s = s;
        }
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
                    && let Some((comm, s)) = proc_stat(&stat)
                    && (comm.starts_with("postgres") || comm == "pgbouncer")
                {
                    sample.database_s += s;
                }
            }
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/stat")
            && let Some(line) = stat.lines().next()
        {
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            let total: f64 = v.iter().take(8).sum();
            let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
            sample.machine_total_s = total / USER_HZ;
            sample.machine_busy_s = (total - idle) / USER_HZ;
        }
        sample
    }

    /// The CPU used since `earlier`, over `wall`.
    pub fn since(&self, earlier: &CpuSample, wall: Duration) -> CpuUse {
        let wall = wall.as_secs_f64().max(1e-9);
        let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let process = (self.process_s - earlier.process_s) / wall;
        let database = ((self.database_s - earlier.database_s) / wall).max(0.0);
        let total = self.machine_total_s - earlier.machine_total_s;
        let busy = if total > 0.0 {
            (self.machine_busy_s - earlier.machine_busy_s) / total * cores
        } else {
            0.0
        };
        CpuUse {
            process,
            database,
            others: (busy - process - database).max(0.0),
            cores,
        }
    }
}

/// Runs `work` until it ends or the process is asked to stop (Ctrl-C, SIGTERM). On a signal the
/// work is dropped, and with it the stores it opened: their guards delete the SQLite file or drop
/// the PostgreSQL database, so an interrupted benchmark leaves nothing behind.
pub async fn until_signal<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        done = work => done,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        _ = term.recv() => anyhow::bail!("terminated"),
    }
}

/// Installs a log subscriber at `warn` (RUST_LOG overrides): the engine's per-request `info`
/// lines are filtered out at their call site, so they cost next to nothing, while its warnings
/// (a failed round, a store error) still show. sqlx's slow-acquire and slow-statement warnings,
/// expected when a run overloads the store on purpose, are left out.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The ids an `offer.created` carries, and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct OfferIds {
    pub offer: Uuid,
    pub request: Uuid,
    pub interpreter: Uuid,
    pub arrived: std::time::Instant,
}

/// What a benchmark's bus subscriber meets next.
#[derive(Debug)]
pub enum Next {
    Offer(OfferIds),
    /// The subscriber fell behind and the bus dropped this many events.
    Lost(u64),
    /// An `offer.created` without the ids it must carry.
    Malformed(String),
    /// Told to stop, or the bus closed.
    Stop,
}

/// The next `offer.created` on `events` (other events are skipped), or why there is none.
pub async fn next_offer(
    events: &mut broadcast::Receiver<Arc<Delivered>>,
    stop: &mut watch::Receiver<bool>,
) -> Next {
    loop {
        let event = tokio::select! {
            biased;
            event = events.recv() => event,
            _ = stop.changed() => return Next::Stop,
        };
        let event = match event {
            Ok(delivered) => delivered,
            Err(broadcast::error::RecvError::Lagged(n)) => return Next::Lost(n),
            Err(broadcast::error::RecvError::Closed) => return Next::Stop,
        };
        if event.event.kind != "offer.created" {
            continue;
        }
        let arrived = std::time::Instant::now();
        let data = &event.event.data;
        let id = |field: &str| -> anyhow::Result<Uuid> {
            let raw = data
                .get(field)
                .and_then(|v| v.as_str())
                .with_context(|| format!("offer.created without {field}"))?;
            Uuid::parse_str(raw).with_context(|| format!("offer.created {field} {raw:?}"))
        };
        return match (id("id"), id("request_id"), id("interpreter_id")) {
            (Ok(offer), Ok(request), Ok(interpreter)) => Next::Offer(OfferIds {
                offer,
                request,
                interpreter,
                arrived,
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Next::Malformed(format!("{e:#}")),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_real_languages() {
        let all = languages(20).expect("every code parses");
        assert_eq!(all.len(), 20);
        assert!(languages(21).is_err());
    }

    #[test]
    fn profiles_spread_languages() {
        let langs = languages(20).expect("codes");
        let mut per_language = std::collections::HashMap::new();
        for i in 0..5000 {
            let p = profile_of(i, &langs).expect("a valid profile");
            for l in p.languages() {
                *per_language.entry(l.code).or_insert(0) += 1;
            }
        }
        assert_eq!(per_language.len(), 20);
        // 5,000 native languages and 2,500 second ones: 375 per language on average, spread
        // within 2 %.
        assert_eq!(per_language.values().sum::<usize>(), 7500);
        assert!(
            per_language.values().all(|&n| (368..=382).contains(&n)),
            "{per_language:?}"
        );
        assert!(profile_of(3, &langs[..1]).is_ok());
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}

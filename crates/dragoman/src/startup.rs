//! The one place that reads the settings and picks an implementation for each port.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dragoman_engine::accounts::{AccountSettings, Accounts, LoginLimits, Passwords};
use dragoman_engine::admin::Operations;
use dragoman_engine::files::{FileSettings, Files};
use dragoman_engine::jobs::JobsAdmin;
use dragoman_engine::profiles::Profiles;
use dragoman_engine::{Engine, EngineSettings, Matching, Offers, Requests, Sessions, Status};
use dragoman_http::auth::Tokens;
use dragoman_http::ws::hub::Hub;
use dragoman_http::{AppState, serve};
use dragoman_inprocess::{
    InProcessAvailability, InProcessBus, InProcessConnections, InProcessLimiter, InProcessPresence,
};
use dragoman_jobs::{RetentionHandler, SessionSummaryHandler, UploadSweepHandler, Worker};
use dragoman_ports::{
    AttemptLimiter, AvailabilityCache, Bus, Clock, ConnectionRegistry, MatchingStore,
    PresenceRegistry, Store, SystemClock,
};
use dragoman_ports::{JobQueue, ObjectStorage};
use dragoman_queue_redis::RedisQueue;
use dragoman_redis::{RedisAvailability, RedisBus, RedisConnections, RedisLimiter, RedisPresence};
use dragoman_store_postgres::PgStore;
use dragoman_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{AppRole, ConfigError, Database, RedisSettings, Settings};
use crate::secret;

/// Access tokens live 15 minutes; a refresh token 30 days.
const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the session-summary outbox is relayed, and how old an owed summary must be first
/// (the engine enqueues right after the session's end; the relay is for the enqueues lost).
const SUMMARY_RELAY_EVERY: Duration = Duration::from_secs(30);
const SUMMARY_RELAY_GRACE: Duration = Duration::from_secs(60);
/// How often each instance looks whether the clock entered a new retention period (a clock
/// read; the queue is asked once per period).
const RETENTION_CHECK_EVERY: Duration = Duration::from_secs(1);

/// A store of either kind, kept concrete so it can be closed cleanly at the end.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl StoreBackend {
    /// Opens the configured store, migrating SQLite always and PostgreSQL when asked.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.database {
            Database::Sqlite { path } => Ok(Self::Sqlite(SqliteStore::open(path).await?)),
            Database::Postgres {
                url,
                migration_url,
                pooler,
                max_connections,
            } => {
                if settings.migrate {
                    migrate_postgres(url, migration_url, settings.app_role.as_ref()).await?;
                }
                let mut store = PgStore::connect(url, *pooler, *max_connections)
                    .await
                    .map_err(|e| refused("DATABASE_URL", e))?;
                store.check_schema().await?;
                if let Some(replica) = &settings.read_replica {
                    // A replica given at start must answer at start: stop here, naming it.
                    store = store.with_replica(replica).await.map_err(|e| {
                        ConfigError::new(
                            "DATABASE_READ_URL",
                            format!("the replica cannot serve reads: {e:#}"),
                        )
                    })?;
                }
                Ok(Self::Postgres(store))
            }
        }
    }

    pub fn as_port(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub fn as_matching(&self) -> Arc<dyn MatchingStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub fn as_files(&self) -> Arc<dyn dragoman_ports::FileStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub fn as_retention(&self) -> Arc<dyn dragoman_ports::RetentionStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub fn as_effects(&self) -> Arc<dyn dragoman_ports::JobEffects> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// Migrates PostgreSQL over `migration_url` (a direct connection), then creates or updates the
/// API's least-privilege role and grants it, when one is set: `dragoman migrate` and
/// `MIGRATE=true` both run this.
pub async fn migrate_postgres(
    url: &str,
    migration_url: &str,
    app_role: Option<&AppRole>,
) -> anyhow::Result<()> {
    let variable = if url == migration_url {
        "DATABASE_URL"
    } else {
        "DATABASE_MIGRATION_URL"
    };
    PgStore::migrate(migration_url)
        .await
        .map_err(|e| refused(variable, e))?;
    if let Some(role) = app_role {
        PgStore::grant_app_role(migration_url, &role.name, role.password.as_deref()).await?;
        tracing::info!(role = %role.name, "API role granted");
    }
    Ok(())
}

/// A connection refused for a reason only a setting can fix (a certificate that does not
/// verify) becomes the configuration error of `variable` (exit 2); anything else is unchanged.
fn refused(variable: &'static str, err: anyhow::Error) -> anyhow::Error {
    match dragoman_store_postgres::tls_refusal(&err) {
        Some(cause) => ConfigError::new(
            variable,
            format!("{cause} (sslrootcert names the authorities trusted)"),
        )
        .into(),
        None => err,
    }
}

/// A built application, bound to its port, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    /// The separate listener of /metrics (METRICS_PORT).
    metrics_listener: TcpListener,
    state: AppState,
    store: StoreBackend,
    engine: Arc<Engine>,
    /// The durable job queue (see [`job_queue`]).
    jobs: Arc<dyn JobQueue>,
    /// Object storage, for the sweep of abandoned uploads.
    objects: Arc<dyn ObjectStorage>,
    shutdown_timeout: Duration,
    metrics_format: dragoman_telemetry::MetricsFormat,
    metrics_interval: Duration,
    service_name: String,
    /// RETENTION_DAYS, for the retention jobs.
    retention: chrono::TimeDelta,
}

/// The job queue: Redis Streams when REDIS_URL is set (a fleet shares it), else a table in the
/// store's own database (the embedded SQLite file, or PostgreSQL for one instance without Redis).
pub async fn job_queue(
    settings: &Settings,
    store: &StoreBackend,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn JobQueue>> {
    Ok(match (&settings.redis, store) {
        (Some(redis), _) => {
            let (_, conn) = connect_redis(redis).await?;
            Arc::new(RedisQueue::new(
                conn,
                &format!("{}:jobs", redis.prefix),
                clock,
            ))
        }
        (None, StoreBackend::Sqlite(s)) => Arc::new(s.queue(clock)),
        (None, StoreBackend::Postgres(s)) => Arc::new(s.queue(clock)),
    })
}

/// Connects to REDIS_URL. A server that cannot be used as given (a certificate that does not
/// verify, a wrong password, nothing answering) is an unusable setting: a [`ConfigError`]
/// naming REDIS_URL, never a fallback to something less safe.
async fn connect_redis(
    redis: &RedisSettings,
) -> anyhow::Result<(dragoman_redis::RedisClient, dragoman_redis::RedisConn)> {
    dragoman_redis::open(&redis.url, redis.cluster)
        .await
        .map_err(|e| {
            let variable = if e.is::<dragoman_redis::ModeMismatch>() {
                "REDIS_CLUSTER"
            } else {
                "REDIS_URL"
            };
            // The redis crate's errors repeat their cause in their own text: each part once.
            let mut cause = String::new();
            for part in e.chain().map(|p| p.to_string()) {
                if !cause.contains(&part) {
                    if !cause.is_empty() {
                        cause.push_str(": ");
                    }
                    cause.push_str(&part);
                }
            }
            ConfigError::new(variable, cause).into()
        })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with the clock given (tests move a manual one).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        // The recorder first: gauges the adapters set as they connect (the replica's state) are
        // then recorded, not lost until their next change.
        let metrics = dragoman_telemetry::install_metrics()?;
        let store = StoreBackend::open(&settings).await?;
        let secret = secret::load(&settings.jwt_secret)?;
        let mut engine_settings = EngineSettings::new(settings.matching);
        engine_settings.tick = settings.match_tick;
        engine_settings.lease_ttl = chrono::TimeDelta::from_std(settings.lease_ttl)?;
        let shared = match &settings.redis {
            Some(redis) => {
                let (client, manager) = connect_redis(redis).await?;
                let bus = RedisBus::start(client, manager.clone(), &redis.prefix).await?;
                Shared {
                    bus,
                    limiter: Arc::new(RedisLimiter::new(manager.clone(), &redis.prefix)),
                    presence: Arc::new(RedisPresence::new(manager.clone(), &redis.prefix)),
                    connections: Arc::new(RedisConnections::new(manager.clone(), &redis.prefix)),
                    availability: Arc::new(RedisAvailability::new(manager, &redis.prefix)),
                }
            }
            // On the system's clock (`new`), as Redis's TTLs run on the server's: a manual clock
            // handed to the application (tests) moves its timers (offers, wrap-ups, retention),
            // not the liveness of connections and presence marks.
            None => Shared {
                bus: Arc::new(InProcessBus::new()),
                limiter: Arc::new(InProcessLimiter::new()),
                presence: Arc::new(InProcessPresence::new()),
                connections: Arc::new(InProcessConnections::new()),
                availability: Arc::new(InProcessAvailability::new()),
            },
        };
        let Shared {
            bus,
            limiter,
            presence,
            connections,
            availability,
        } = shared;
        let jobs = job_queue(&settings, &store, clock.clone()).await?;
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        // PORT=0 picks a free port: the default PUBLIC_URL then names the port actually bound, so
        // that the URLs of the embedded storage reach this server.
        let metrics_address = format!("{}:{}", settings.host, settings.metrics_port);
        let metrics_listener = TcpListener::bind(&metrics_address).await.map_err(|e| {
            ConfigError::new(
                "METRICS_PORT",
                format!("cannot listen on {metrics_address}: {e}"),
            )
        })?;
        let mut settings = settings;
        if settings.port == 0 && settings.public_url.ends_with(":0") {
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            let base = settings.public_url.trim_end_matches(":0").to_owned();
            settings.public_url = format!("{base}:{port}");
        }
        let objects = crate::objects::open(&settings, &secret, clock.clone())?;
        let engine = Arc::new(
            Engine::new(
                store.as_matching(),
                store.as_port(),
                bus.clone(),
                clock.clone(),
                engine_settings,
            )
            .with_jobs(Some(jobs.clone()))
            .with_availability_cache(availability)
            .with_objects(objects.storage.clone()),
        );
        let files = Arc::new(Files::new(
            objects.storage.clone(),
            store.as_files(),
            store.as_port(),
            store.as_matching(),
            Some(jobs.clone()),
            limiter.clone(),
            clock.clone(),
            FileSettings {
                abandon_after: settings.upload_abandon_after,
                documents_per_session: settings.documents_per_session,
                upload_urls_per_hour: settings.upload_urls_per_hour,
            },
        ));
        let hub = Arc::new(Hub::named(engine.instance_id()));
        let profiles = Arc::new(Profiles::new(
            store.as_port(),
            presence.clone(),
            settings.ws.presence_grace,
            engine.clone(),
        ));
        let http = &settings.http;
        let accounts = Arc::new(Accounts::new(
            store.as_port(),
            limiter,
            clock.clone(),
            Passwords::with_budget(http.password_budget)?,
            objects.storage.clone(),
            AccountSettings {
                signup_limit: http.signup_limit.clone(),
                login_limits: LoginLimits {
                    per_account: http.login_failures_per_account,
                    per_address: http.login_failures_per_address,
                    window: http.login_window,
                },
                refresh_families_per_user: http.refresh_families_per_user,
                refresh_ttl: REFRESH_TTL,
            },
        ));
        let jobs_admin = JobsAdmin::new(Some(jobs.clone()));
        let operations = Arc::new(Operations::new(
            store.as_matching(),
            store.as_port(),
            bus.clone(),
            clock.clone(),
            jobs_admin.clone(),
        ));
        let state = AppState {
            engine: engine.clone(),
            requests: Arc::new(Requests::new(engine.clone())),
            offers: Arc::new(Offers::new(engine.clone())),
            sessions: Arc::new(Sessions::new(engine.clone())),
            accounts,
            profiles,
            operations,
            jobs: Arc::new(jobs_admin),
            clock,
            tokens: Arc::new(Tokens::new(&secret, ACCESS_TTL, REFRESH_TTL)),
            metrics,
            settings: Arc::new(settings.http.clone()),
            bus,
            hub,
            presence,
            connections,
            ws: settings.ws,
            files,
            storage_routes: objects.local.map(dragoman_objects_local::routes::router),
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
            store,
            engine,
            jobs,
            objects: objects.storage,
            shutdown_timeout: settings.shutdown_timeout,
            metrics_format: settings.metrics_format,
            metrics_interval: settings.metrics_interval,
            service_name: settings.service_name.clone(),
            retention: settings.retention,
        })
    }

    /// The matching core (tests read its instance name and job queue).
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// The matching work: rounds and timer sweeps (tests drive them directly).
    pub fn matching(&self) -> Matching {
        Matching::new(self.engine.clone())
    }

    /// The accounts store (tests create administrators through it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.as_port()
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The port of the /metrics listener actually bound.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    /// Serves until `shutdown` completes, then stops accepting, closes the WebSockets with
    /// their close frame and lets requests in flight finish (together, for at most the shutdown
    /// timeout), stops the background work (the workers after their current job), flushes the
    /// metrics and closes the store.
    ///
    /// One mechanism stops everything: a [`CancellationToken`] for the front door (the
    /// listener and the sockets), then one for the background tasks, which all run on one
    /// [`TaskTracker`] that is waited for before the store closes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // The listener stops accepting when `front` is cancelled; the background tasks stop
        // when `background` is, once the front has drained.
        let front = CancellationToken::new();
        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        let emf = (self.metrics_format == dragoman_telemetry::MetricsFormat::Emf)
            .then(|| dragoman_telemetry::EmfWriter::start(&self.service_name));
        let periodic_metrics = tasks.spawn(crate::periodic_metrics::run(
            self.engine.clone(),
            self.store.clone(),
            self.state.metrics.clone(),
            emf,
            self.metrics_interval,
            background.clone(),
        ));
        let runner = tasks.spawn(Arc::new(self.matching()).run(background.clone()));
        let mut worker = Worker::new(self.jobs.clone(), self.state.clock.clone())
            .handle(Arc::new(SessionSummaryHandler::new(
                self.store.as_effects(),
            )))
            .handle(Arc::new(UploadSweepHandler::new(
                self.store.as_files(),
                self.store.as_port(),
                self.objects.clone(),
            )));
        for handler in RetentionHandler::all(
            self.store.as_retention(),
            self.state.clock.clone(),
            self.retention,
        ) {
            worker = worker.handle(handler);
        }
        let worker = tasks.spawn(worker.run(background.clone()));
        // The hourly retention jobs: docs/operations.md, Security.
        dragoman_jobs::spawn_retention_schedule(
            self.jobs.clone(),
            self.state.clock.clone(),
            RETENTION_CHECK_EVERY,
            &tasks,
            background.clone(),
        );
        // Summaries a crash kept from the queue: docs/jobs.md, the outbox.
        dragoman_jobs::spawn_summary_relay(
            self.store.as_effects(),
            self.jobs.clone(),
            self.state.clock.clone(),
            SUMMARY_RELAY_EVERY,
            SUMMARY_RELAY_GRACE,
            &tasks,
            background.clone(),
        );
        tasks.spawn(
            self.state
                .hub
                .clone()
                .relay(self.state.bus.clone(), background.clone()),
        );
        let hub = self.state.hub.clone();
        let registry = self.state.connections.clone();
        let instance = self.engine.instance_id().to_owned();
        tasks.spawn(keep_presence(
            self.state.clone(),
            self.engine.clone(),
            background.clone(),
        ));
        tracing::info!(
            port = self.port(),
            metricsPort = self.metrics_port(),
            "Dragoman listening"
        );
        let metrics_server = dragoman_http::routes::operations::serve_metrics(
            self.metrics_listener,
            self.state.metrics.clone(),
        );
        tasks.spawn(background.clone().run_until_cancelled_owned(metrics_server));
        let transport = self.state.settings.transport;
        let server = serve(
            self.listener,
            dragoman_http::router(self.state),
            transport,
            front.clone().cancelled_owned(),
        );
        tokio::pin!(server);
        tokio::pin!(shutdown);
        // Wait for the stop. The server may also end first (it ends once its HTTP connections
        // have), and WebSockets live outside it, so they are drained either way.
        let server_done = tokio::select! {
            result = &mut server => { result?; true }
            () = &mut shutdown => false,
        };
        front.cancel();
        tracing::info!(
            timeoutSecs = self.shutdown_timeout.as_secs(),
            websockets = hub.len(),
            "Draining"
        );
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        // The users held when the stop began: the connection registry forgets this instance
        // for every one of them, whichever way the drain ends.
        let mut held = hub.users();
        let left = hub.drain(self.shutdown_timeout).await;
        if left > 0 {
            tracing::warn!(
                websockets = left,
                "WebSockets still open at the drain timeout"
            );
        }
        // Requests in flight finish within what is left of the timeout.
        let drained = server_done
            || match tokio::time::timeout_at(deadline, &mut server).await {
                Ok(result) => {
                    result?;
                    true
                }
                Err(_) => false,
            };
        if !drained {
            tracing::warn!("Drain timeout reached; closing remaining connections");
        }
        held.extend(hub.users());
        if let Err(e) = registry.release(&instance, &held).await {
            tracing::warn!(error = %e, "could not clear this instance from the connection registry");
        }
        // The background work: matching, timers, relays and schedules stop at once, the worker
        // after its jobs in flight (within its grace), the metrics after a last flush.
        background.cancel();
        tasks.close();
        for (what, task) in [
            ("the job worker", worker),
            ("the matching runner", runner),
            ("the periodic metrics task", periodic_metrics),
        ] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "{what} failed");
            }
        }
        tasks.wait().await;
        self.store.close().await;
        tracing::info!("Dragoman stopped");
        Ok(())
    }
}

/// The ports shared by the instances of a fleet (in process for one instance).
struct Shared {
    bus: Arc<dyn Bus>,
    limiter: Arc<dyn AttemptLimiter>,
    presence: Arc<dyn PresenceRegistry>,
    connections: Arc<dyn ConnectionRegistry>,
    availability: Arc<dyn AvailabilityCache>,
}

/// Renews the presence marks of this instance's connections and sweeps interpreters whose
/// marks ran out, until `stop` is cancelled.
async fn keep_presence(state: AppState, engine: Arc<Engine>, stop: CancellationToken) {
    let status = Status::new(engine.clone());
    let matching = Matching::new(engine.clone());
    let grace = state.ws.presence_grace;
    // Renew well within the grace period, so one late renewal never drops anyone.
    let renew_every = (grace / 4).max(Duration::from_millis(100));
    let mut renew = tokio::time::interval(renew_every);
    let mut sweep = tokio::time::interval(
        (grace / 4).clamp(Duration::from_millis(100), Duration::from_secs(5)),
    );
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = renew.tick() => {
                let users = state.hub.users();
                if let Err(e) = state.presence.touch(&users, grace).await {
                    tracing::warn!(error = %e, "could not renew presence marks");
                }
                if let Err(e) = state.connections.hold(engine.instance_id(), &users, grace).await {
                    tracing::warn!(error = %e, "could not renew connection records");
                }
                status.refresh_cached_status(&users).await;
            }
            _ = sweep.tick() => {
                if let Err(e) = matching.sweep_presence(state.presence.as_ref()).await {
                    tracing::warn!(error = %e, "the presence sweep failed; retrying");
                }
            }
        }
    }
}

//! The state every handler receives: cheap to clone, one `Arc` per application service and per
//! backend the gateway uses, chosen once at start-up by the binary.

use std::sync::Arc;
use std::time::Duration;

use dragoman_engine::accounts::Accounts;
use dragoman_engine::admin::Operations;
use dragoman_engine::files::Files;
use dragoman_engine::jobs::JobsAdmin;
use dragoman_engine::profiles::Profiles;
use dragoman_engine::{Engine, Offers, Requests, Sessions};
use dragoman_ports::{Bus, Clock, PresenceRegistry};
use dragoman_telemetry::PrometheusHandle;

use crate::auth::{AddressLimit, PasswordBudget, Tokens};
use crate::ws::WsSettings;
use crate::ws::hub::Hub;

/// Settings of the delivery layer, from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted by any JSON endpoint.
    pub body_limit_bytes: usize,
    /// Use the last `X-Forwarded-For` address as the client's (behind a load balancer that
    /// appends it; never when clients can reach the instance directly).
    pub trust_forwarded_for: bool,
    /// Failed logins for one account within `login_window` before 429.
    pub login_failures_per_account: u32,
    /// Failed logins from one address within `login_window` before 429.
    pub login_failures_per_address: u32,
    pub login_window: Duration,
    /// The connection layer's timeouts.
    pub transport: crate::Transport,
    /// Send Strict-Transport-Security (the public URL is https).
    pub hsts: bool,
    /// Opens /metrics on the public listener to a bearer of this token; `None`: 404 there.
    pub metrics_token: Option<Arc<str>>,
    /// Sign-ups per client address per window (SIGNUP_LIMIT_PER_ADDRESS, SIGNUP_WINDOW_SECS).
    pub signup_limit: AddressLimit,
    /// Open refresh families (signed-in devices) per user; a login beyond it revokes the least
    /// recently used (REFRESH_FAMILIES_PER_USER).
    pub refresh_families_per_user: u32,
    /// Concurrent password hashes and the longest wait for one (PASSWORD_HASH_CONCURRENCY,
    /// PASSWORD_HASH_QUEUE_MS); read by the binary when it builds the accounts' `Passwords`.
    pub password_budget: PasswordBudget,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            trust_forwarded_for: false,
            login_failures_per_account: 10,
            login_failures_per_address: 100,
            login_window: Duration::from_secs(15 * 60),
            transport: crate::Transport::default(),
            hsts: false,
            metrics_token: None,
            signup_limit: AddressLimit::signup(20, Duration::from_secs(3600)),
            refresh_families_per_user: 10,
            password_budget: PasswordBudget::default(),
        }
    }
}

/// Shared application state: the application services the routes call, and what the WebSocket
/// gateway and the envelope need. No store is here: routes reach data through a service.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The matching core (this instance's name).
    pub engine: Arc<Engine>,
    /// Clients' requests and the availability per language.
    pub requests: Arc<Requests>,
    /// Interpreters' offers and their answers.
    pub offers: Arc<Offers>,
    /// Sessions: reading, ending, rating.
    pub sessions: Arc<Sessions>,
    /// Sign-up, login, refresh tokens and the signed-in user.
    pub accounts: Arc<Accounts>,
    /// Interpreter profiles and manual statuses.
    pub profiles: Arc<Profiles>,
    /// The operators' views: overview, explanations, readiness.
    pub operations: Arc<Operations>,
    /// The durable job queue as operators see it.
    pub jobs: Arc<JobsAdmin>,
    pub clock: Arc<dyn Clock>,
    pub tokens: Arc<Tokens>,
    pub metrics: PrometheusHandle,
    pub settings: Arc<HttpSettings>,
    /// The events relayed to WebSockets (the engine publishes on the same bus).
    pub bus: Arc<dyn Bus>,
    /// This instance's WebSocket connections.
    pub hub: Arc<Hub>,
    /// Who is connected somewhere in the fleet.
    pub presence: Arc<dyn PresenceRegistry>,
    /// Which instances hold which users' WebSockets.
    pub connections: Arc<dyn dragoman_ports::ConnectionRegistry>,
    pub ws: WsSettings,
    /// Avatar and session-document uploads.
    pub files: Arc<Files>,
    /// The embedded storage's own signed upload and download routes, built by the binary from
    /// that adapter and mounted beside the API under the upload timeouts; `None` in S3 mode,
    /// where the URLs point at the bucket and no file byte reaches this process.
    pub storage_routes: Option<axum::Router>,
}

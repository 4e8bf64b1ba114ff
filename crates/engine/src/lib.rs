//! Dragoman's application layer: one service per concept, between the HTTP API and the ports.
//!
//! Each service holds only the ports it uses, and each use-case lives in exactly one of them, so
//! that a handler parses, authorizes, calls one method and maps the answer. What a use-case
//! causes besides its write (an event, a cache to correct, a job to enqueue) happens inside it.
//!
//! | service | concept | ports held |
//! |---|---|---|
//! | [`accounts::Accounts`] | sign-up, login, refresh tokens, the signed-in user | `Store`, `AttemptLimiter`, `Clock`, `ObjectStorage` (avatar URLs) |
//! | [`profiles::Profiles`] | interpreter profiles and manual status | `Store`, `PresenceRegistry`, the matching core ([`Status`]) |
//! | [`files::Files`] | avatar and session-document uploads | `ObjectStorage`, `FileStore`, `Store`, `MatchingStore` (sessions), `JobQueue`, `AttemptLimiter`, `Clock` |
//! | [`admin::Operations`] | overview, explanations, readiness | `MatchingStore`, `Store` (ping), `Bus` (ping), `Clock`, [`jobs::JobsAdmin`] |
//! | [`jobs::JobsAdmin`] | jobs by state, dead job retry, dead job count | `JobQueue` |
//! | [`Requests`] | creation (idempotent), reading with queue position and wait estimate, cancellation, availability per language | the matching core, [`Status`] |
//! | [`Offers`] | an interpreter's pending offers, accepting and declining them | the matching core, [`Requests`], [`Status`] |
//! | [`Sessions`] | reading, ending (and the summary job), rating | the matching core, [`Status`] |
//! | [`Status`] | manual status changes, the announcements of system ones, the availability cache's entries | the matching core |
//! | [`Matching`] | the background loop: matching rounds, timer sweeps, presence sweeps, availability announcements | the matching core, [`Requests`], [`Status`] |
//!
//! The matching core ([`Engine`]) holds the ports (`MatchingStore`, `Store`, `Bus`, `Clock`,
//! `JobQueue`, `AvailabilityCache`, `ObjectStorage`), the state the matching services share
//! (leases, rosters, the languages waiting or touched) and the corrections to it a use-case
//! causes; the matching services hold it by `Arc` and publish their events through its
//! `Events`. Every operation is a store transaction (where the rules of
//! `dragoman_domain::matching` are applied atomically) followed by the events it causes. The
//! background [`runner`] makes offers and settles the durable timers; each language is matched
//! by the instance holding its lease, so that one instance's death hands the language to
//! another within a lease's lifetime, and the store's conditional claims keep the invariants
//! even if two instances briefly both match.
//!
//! The lease holder keeps each language's interpreters in memory between rounds (`roster`) and
//! reads again only those whose status changed (from this instance, or from any instance through
//! the bus), and the whole language every few seconds. The wait estimate of a new request reuses
//! a language's counts for up to a second and its hour of history for a few seconds
//! (`requests`), so a creation reads little beyond its own write.

pub mod accounts;
pub mod admin;
pub mod answers;
mod error;
mod events;
pub mod files;
pub mod gauges;
pub mod jobs;
pub mod profiles;
pub mod requests;
mod reused;
mod roster;
pub mod runner;
pub mod sessions;
pub mod status;
pub mod summary;
pub mod views;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use dragoman_domain::matching::{Matcher, MatchingConfig};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_ports::{Bus, Clock, MatchingStore, Store};
use tokio::sync::Notify;

pub use answers::Offers;
pub use error::EngineError;
pub use requests::{Created, NewRequest, Requests};
pub use runner::Matching;
pub use sessions::Sessions;
pub use status::Status;

/// How the engine coordinates with other instances.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub matching: MatchingConfig,
    /// This instance's name in leases (unique per process).
    pub instance_id: String,
    /// How often timers are swept and languages with waiting requests re-examined.
    pub tick: std::time::Duration,
    /// How long a lease lasts without renewal: the longest a language stays unmatched after its
    /// instance dies.
    pub lease_ttl: TimeDelta,
}

impl EngineSettings {
    pub fn new(matching: MatchingConfig) -> Self {
        Self {
            matching,
            instance_id: format!("instance-{}", uuid::Uuid::new_v4().simple()),
            tick: std::time::Duration::from_millis(500),
            lease_ttl: TimeDelta::seconds(5),
        }
    }
}

/// The matching core: the state the matching services share (by `Arc`), and the corrections
/// to it that their use-cases cause (rosters to read again, languages to match now,
/// availability to announce).
#[derive(Debug)]
pub struct Engine {
    pub(crate) store: Arc<dyn MatchingStore>,
    pub(crate) accounts: Arc<dyn Store>,
    /// Publishes the events the services cause, on the bus.
    pub(crate) events: events::Events,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) matcher: Matcher,
    pub(crate) settings: EngineSettings,
    /// Languages that changed since the runner last looked: a std mutex, since nothing awaits
    /// while it is held and the set is at most one entry per language.
    pub(crate) dirty: Mutex<HashSet<LanguageCode>>,
    pub(crate) wake: Notify,
    /// Languages in which this instance last saw a queued request: from the store at every tick,
    /// and from this instance's own creations, declines and expiries in between. A request
    /// created on another instance joins at the next tick, as its round would anyway.
    pub(crate) waiting: Mutex<HashSet<LanguageCode>>,
    /// Languages whose availability changed since the runner last announced it: announcing at
    /// most once a tick keeps a busy language from costing a count per offer.
    pub(crate) availability_dirty: Mutex<HashSet<LanguageCode>>,
    /// Leases this instance holds, with the instant until which it may trust them.
    pub(crate) leases: Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
    /// Each language's interpreters as this instance last read them (see `roster`).
    pub(crate) rosters: Mutex<roster::Rosters>,
    /// Each language's recent activity (the wait estimate's history) and when it was read.
    pub(crate) recent: reused::Reused<dragoman_ports::matching::RecentActivity>,
    /// Each language's count of interpreters for the wait estimates, and when it was read.
    pub(crate) loads: reused::Reused<dragoman_ports::matching::LanguageLoad>,
    /// Where follow-up work goes (the post-session summary); `None`: no durable queue here.
    pub(crate) jobs: Option<Arc<dyn dragoman_ports::JobQueue>>,
    /// Where each interpreter's status and languages are mirrored for readers outside the
    /// database (`interpreter:{id}:status`); `None`: nowhere.
    pub(crate) availability: Option<Arc<dyn dragoman_ports::AvailabilityCache>>,
    /// Signs the avatar URLs of `request.matched` (none: `avatar_url` is null).
    pub(crate) objects: Option<Arc<dyn dragoman_ports::ObjectStorage>>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn MatchingStore>,
        accounts: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
    ) -> Self {
        Self {
            store,
            accounts,
            events: events::Events { bus },
            clock,
            matcher: Matcher::new(settings.matching),
            settings,
            dirty: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            waiting: Mutex::new(HashSet::new()),
            availability_dirty: Mutex::new(HashSet::new()),
            leases: Mutex::new(std::collections::HashMap::new()),
            recent: reused::Reused::new(requests::RECENT_REUSED),
            rosters: Mutex::new(roster::Rosters::default()),
            loads: reused::Reused::new(requests::LOAD_REUSED),
            jobs: None,
            availability: None,
            objects: None,
        }
    }

    /// Gives the engine a job queue for the work that follows a change (a session's summary).
    pub fn with_jobs(mut self, jobs: Option<Arc<dyn dragoman_ports::JobQueue>>) -> Self {
        self.jobs = jobs;
        self
    }

    /// Gives the engine an availability cache to keep each interpreter's entry in.
    pub fn with_availability_cache(
        mut self,
        cache: Arc<dyn dragoman_ports::AvailabilityCache>,
    ) -> Self {
        self.availability = Some(cache);
        self
    }

    /// The durable job queue, if this configuration has one.
    pub fn job_queue(&self) -> Option<&Arc<dyn dragoman_ports::JobQueue>> {
        self.jobs.as_ref()
    }

    /// This instance's name (in leases and the connection registry; unique per process).
    pub fn instance_id(&self) -> &str {
        &self.settings.instance_id
    }

    /// The storage that signs avatar download URLs in the events the engine publishes.
    pub fn with_objects(mut self, objects: Arc<dyn dragoman_ports::ObjectStorage>) -> Self {
        self.objects = Some(objects);
        self
    }

    /// A download URL for `user`'s avatar, valid 300 s, if they have one.
    pub(crate) async fn avatar_url(&self, user: &dragoman_domain::User) -> Option<String> {
        let objects = self.objects.as_ref()?;
        let key = dragoman_ports::ObjectKey::parse(user.avatar_key.as_deref()?).ok()?;
        match objects
            .presign_get(&key, dragoman_ports::objects::URL_LIFETIME)
            .await
        {
            Ok(request) => Some(request.url),
            Err(e) => {
                tracing::warn!(error = %e, "could not sign an avatar URL");
                None
            }
        }
    }

    pub fn config(&self) -> &MatchingConfig {
        &self.settings.matching
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.events.bus
    }

    /// Marks a language's availability as changed; the runner announces it at its next tick.
    pub(crate) fn availability_touched(&self, language: LanguageCode) {
        self.availability_dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(language);
    }

    /// Notes that `interpreter`'s row changed: the next round of each of their languages reads
    /// it again instead of trusting the roster.
    pub(crate) fn interpreter_changed(&self, interpreter: UserId) {
        self.rosters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .changed(interpreter);
    }

    /// An interpreter's profile was replaced (`languages` are the new profile's): matching reads
    /// them again, and the languages with a waiting request get a round.
    pub(crate) fn profile_changed(&self, interpreter: UserId, languages: &[LanguageCode]) {
        self.interpreter_changed(interpreter);
        for &language in languages {
            self.nudge_if_waiting(language);
        }
    }

    /// Asks the runner to match `language` now rather than at its next tick.
    pub(crate) fn nudge(&self, language: LanguageCode) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(language);
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(language);
        self.wake.notify_one();
    }

    /// The same, for a change that can only help a request already waiting (an interpreter
    /// became free): nothing happens unless this instance last saw a queued request in
    /// `language`. Each interpreter speaks several languages, and without this every status
    /// change would cost a round (a snapshot read) in each of them.
    pub(crate) fn nudge_if_waiting(&self, language: LanguageCode) {
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&language);
        if waiting {
            self.nudge(language);
        }
    }
}

//! A store that counts and times every call on its way to the real one.
//!
//! The engine holds `Arc<dyn MatchingStore>` and `Arc<dyn Store>`; handing it this wrapper
//! instead changes nothing in what it does, and tells which store calls a decision costs, how
//! long each took as the engine saw it (pool wait included), and who made them: each task the
//! benchmark starts runs inside a [`Role`] scope, and the engine's runner inside `Role::Runner`.
//!
//! Each store role is implemented by [`metered!`], which times every method it lists under the
//! method's name; only the methods an experiment ([`WhatIf`]) changes are written out.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{
    Explanation, Offer, OfferId, Rating, Request, RequestId, RequestStatus, Session, SessionId,
    Snapshot,
};
use dragoman_domain::{Email, InterpreterStatus, LanguageCode, Profile, User, UserId};
use dragoman_ports::matching::{
    AcceptOutcome, CancelOutcome, CreateRequestOutcome, DeclineOutcome, ExpiredOffer,
    ExpiredRequest, IdempotencyKey, LanguageLoad, PresenceRecord, RecentActivity, RequestRecord,
    SessionOutcome, SetStatusOutcome, StatusCount, StoredExplanation,
};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{
    AccountStore, ClaimStore, ExplanationStore, InterpreterRecord, InterpreterStore, LeaseStore,
    MatchingStore, NewRefreshToken, NewUser, OfferStore, PresenceStore, RefreshTokenStore,
    RequestStore, RotateOutcome, SessionStore, StatsStore, StatusUpdate, Store, StoreError,
    UserRecord,
};

/// Who made a store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The engine's background runner: matching rounds, timers, availability announcements.
    Runner,
    /// `Requests::create_request`, called by the load generator.
    Creator,
    /// `accept_offer` and `end_session`, called for the interpreters.
    Answerer,
    /// Anything else (set-up, measurements after the run).
    Other,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Runner => "runner",
            Role::Creator => "create_request",
            Role::Answerer => "accept+end",
            Role::Other => "other",
        }
    }
}

tokio::task_local! {
    /// The role of the task being polled.
    pub static ROLE: Role;
}

/// Runs `fut` as `role`.
pub fn as_role<F: Future>(role: Role, fut: F) -> impl Future<Output = F::Output> {
    ROLE.scope(role, fut)
}

/// Calls and time, per role and method.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub calls: u64,
    pub total: Duration,
    pub max: Duration,
}

#[derive(Debug, Default)]
pub struct CallStats {
    by: Mutex<BTreeMap<(Role, &'static str), Tally>>,
}

impl CallStats {
    fn record(&self, method: &'static str, took: Duration) {
        let role = ROLE.try_with(|r| *r).unwrap_or(Role::Other);
        let mut by = self.by.lock().unwrap_or_else(|p| p.into_inner());
        let t = by.entry((role, method)).or_default();
        t.calls += 1;
        t.total += took;
        t.max = t.max.max(took);
    }

    /// Everything counted so far, and a fresh start.
    pub fn take(&self) -> BTreeMap<(Role, &'static str), Tally> {
        std::mem::take(&mut *self.by.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Experiments: changes a fix in the engine or the store would make, imitated at the port so
/// that their gain can be measured without changing either. Off by default; every figure of the
/// write-up names the ones it used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WhatIf {
    /// `language_loads` and `recent_activity`, which feed only the wait estimates and the
    /// availability announcements (of `create_request` and of the runner's tick), are read from
    /// a cache refreshed at most once a second, instead of from the store at every call.
    pub cached_estimate: bool,
    /// `snapshot` of a language with no queued request reads only its open requests, not its
    /// interpreters, offer history and pending offers: the plan of such a round makes no offer
    /// whatever they are.
    pub skip_idle_snapshot: bool,
    /// `apply_offer` stores an explanation cut to its first 3 eligible and 3 excluded
    /// interpreters, instead of every interpreter of the language.
    pub short_explanation: bool,
}

/// How long a cached estimate input is used.
const CACHE_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct EstimateCache {
    loads: Option<(Instant, Vec<LanguageLoad>)>,
    recent: std::collections::HashMap<LanguageCode, (Instant, RecentActivity)>,
}

/// The wrapper: both ports, delegated.
#[derive(Debug)]
pub struct Metered {
    matching: Arc<dyn MatchingStore>,
    accounts: Arc<dyn Store>,
    pub stats: Arc<CallStats>,
    what_if: WhatIf,
    cache: Mutex<EstimateCache>,
}

impl Metered {
    pub fn new(
        matching: Arc<dyn MatchingStore>,
        accounts: Arc<dyn Store>,
        what_if: WhatIf,
    ) -> Self {
        Self {
            matching,
            accounts,
            stats: Arc::new(CallStats::default()),
            what_if,
            cache: Mutex::new(EstimateCache::default()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, EstimateCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the experiment caches the estimate's inputs.
    fn cacheable(&self) -> bool {
        self.what_if.cached_estimate
    }

    async fn timed<T>(&self, method: &'static str, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.stats.record(method, started.elapsed());
        out
    }
}

/// Implements a store role for [`Metered`]: each method listed is timed, under its own name, on
/// its way to the same method of `self.$inner`; the methods after the list are written out.
macro_rules! metered {
    (
        $role:ident via $inner:ident {
            $(fn $method:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*
        }
        $($own:tt)*
    ) => {
        #[async_trait]
        impl $role for Metered {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    self.timed(stringify!($method), self.$inner.$method($($arg),*))
                        .await
                }
            )*
            $($own)*
        }
    };
}

metered!(AccountStore via accounts {
    fn ping(&self) -> ();
    fn create_user(&self, user: NewUser) -> User;
    fn user(&self, id: UserId) -> Option<User>;
    fn user_by_email(&self, email: &Email) -> Option<UserRecord>;
});

metered!(RefreshTokenStore via accounts {
    fn insert_refresh_token(&self, token: NewRefreshToken) -> ();
    fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        next: NextRefreshToken,
        now: DateTime<Utc>
    ) -> RotateOutcome;
    fn revoke_refresh_family(&self, presented_hash: &[u8], now: DateTime<Utc>) -> ();
    fn cap_refresh_families(&self, user_id: UserId, keep: u32, now: DateTime<Utc>) -> ();
});

metered!(InterpreterStore via accounts {
    fn put_profile(
        &self,
        user_id: UserId,
        profile: &Profile,
        now: DateTime<Utc>
    ) -> InterpreterRecord;
    fn interpreter(&self, user_id: UserId) -> Option<InterpreterRecord>;
    fn update_status(&self, user_id: UserId, update: StatusUpdate) -> bool;
});

metered!(RequestStore via matching {
    fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>
    ) -> CreateRequestOutcome;
    fn save_idempotent_response(&self, client: UserId, key: &str, response: &str) -> ();
    fn request(&self, id: RequestId) -> Option<RequestRecord>;
    fn cancel_request(&self, id: RequestId, client: UserId, now: DateTime<Utc>) -> CancelOutcome;
    fn open_requests(&self, language: LanguageCode) -> Vec<Request>;
    fn expire_requests(&self, now: DateTime<Utc>) -> Vec<ExpiredRequest>;
});

metered!(ClaimStore via matching {
    fn languages_waiting(&self) -> Vec<LanguageCode>;
}
    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError> {
        if self.what_if.skip_idle_snapshot {
            let open = self
                .timed(
                    "snapshot (queued check)",
                    self.matching.open_requests(language),
                )
                .await?;
            if !open.iter().any(|r| r.status == RequestStatus::Queued) {
                return Ok(Snapshot {
                    requests: open,
                    ..Snapshot::default()
                });
            }
        }
        let method = if only.is_some() {
            "snapshot (changed only)"
        } else {
            "snapshot"
        };
        self.timed(method, self.matching.snapshot(language, now, only))
            .await
    }

    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError> {
        if self.what_if.short_explanation {
            let mut short = explanation.clone();
            short.eligible.truncate(3);
            short.excluded.truncate(3);
            return self
                .timed("apply_offer", self.matching.apply_offer(offer, &short))
                .await;
        }
        self.timed("apply_offer", self.matching.apply_offer(offer, explanation))
            .await
    }
);

metered!(OfferStore via matching {
    fn offer(&self, id: OfferId) -> Option<Offer>;
    fn pending_offers(&self, interpreter: UserId) -> Vec<Offer>;
    fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>
    ) -> AcceptOutcome;
    fn decline_offer(&self, id: OfferId, interpreter: UserId, now: DateTime<Utc>) -> DeclineOutcome;
    fn expire_offers(&self, now: DateTime<Utc>, max_no_answer: u32) -> Vec<ExpiredOffer>;
});

metered!(SessionStore via matching {
    fn session(&self, id: SessionId) -> Option<Session>;
    fn sessions_of(&self, user: UserId, before: Option<SessionId>, limit: u32) -> Vec<Session>;
    fn end_session(&self, id: SessionId, by: UserId, now: DateTime<Utc>) -> SessionOutcome;
    fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>
    ) -> SessionOutcome;
    fn finish_wrap_ups(&self, now: DateTime<Utc>, wrap_up: TimeDelta) -> Vec<UserId>;
});

metered!(PresenceStore via matching {
    fn presence(&self, user: UserId) -> Option<PresenceRecord>;
    fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>
    ) -> SetStatusOutcome;
    fn interpreters_online(&self) -> Vec<UserId>;
});

metered!(LeaseStore via matching {
    fn try_lease(&self, name: &str, holder: &str, ttl: TimeDelta, now: DateTime<Utc>) -> bool;
});

metered!(ExplanationStore via matching {
    fn explanations(&self, request: RequestId) -> Vec<StoredExplanation>;
});

metered!(StatsStore via matching {
    fn language_load(&self, language: LanguageCode) -> LanguageLoad;
    fn match_times(&self, since: DateTime<Utc>) -> Vec<(LanguageCode, i64)>;
    fn status_counts(&self) -> Vec<StatusCount>;
}
    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError> {
        if self.cacheable() {
            if let Some((at, loads)) = &self.cache().loads
                && at.elapsed() < CACHE_FOR
            {
                self.stats.record("language_loads (cached)", Duration::ZERO);
                return Ok(loads.clone());
            }
            let loads = self
                .timed("language_loads", self.matching.language_loads())
                .await?;
            self.cache().loads = Some((Instant::now(), loads.clone()));
            return Ok(loads);
        }
        self.timed("language_loads", self.matching.language_loads())
            .await
    }

    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError> {
        if self.cacheable() {
            if let Some((at, recent)) = self.cache().recent.get(&language)
                && at.elapsed() < CACHE_FOR
            {
                self.stats
                    .record("recent_activity (cached)", Duration::ZERO);
                return Ok(*recent);
            }
            let recent = self
                .timed(
                    "recent_activity",
                    self.matching.recent_activity(language, since),
                )
                .await?;
            self.cache()
                .recent
                .insert(language, (Instant::now(), recent));
            return Ok(recent);
        }
        self.timed(
            "recent_activity",
            self.matching.recent_activity(language, since),
        )
        .await
    }
);

//! Ports: the interfaces the core needs from the outside world.
//!
//! Each port has an embedded implementation (one machine, zero set-up) and a networked one (a
//! fleet of instances), and one conformance suite (the `dragoman-conformance` crate) that both
//! must pass. Delivery code only ever holds `Arc<dyn Port>`, chosen once at start-up.

pub mod availability;
pub mod bus;
pub mod clock;
pub mod connections;
pub mod files;
pub mod limiter;
pub mod matching;
pub mod objects;
pub mod presence;
pub mod profiles;
pub mod queue;
pub mod retention;
pub mod store;

pub use availability::{AVAILABILITY_TTL, AvailabilityCache, CachedStatus};
pub use bus::{Audience, Bus, Delivered, Event, Replay};
pub use clock::{Clock, ManualClock, SystemClock};
pub use connections::{ConnectionRegistry, SocketId};
pub use files::{
    AvatarUpload, DocumentRecord, DocumentStatus, FileStore, PendingUpload, UPLOAD_SWEEP,
};
pub use limiter::AttemptLimiter;
pub use matching::{
    ClaimStore, ExplanationStore, LeaseStore, MatchingStore, OfferStore, PresenceStore,
    RequestStore, SessionStore, StatsStore,
};
pub use objects::{
    InvalidKey, ObjectError, ObjectKey, ObjectMeta, ObjectStorage, PresignedRequest, StoredObject,
    UploadSpec,
};
pub use presence::PresenceRegistry;
pub use profiles::ProfileCache;
pub use queue::{
    Delivery, Enqueued, JobEffects, JobQueue, JobRecord, JobState, NewJob, QueueCounts, QueueError,
    SessionSummary,
};
pub use retention::RetentionStore;
pub use store::{
    AccountStore, InterpreterRecord, InterpreterStore, NewRefreshToken, NewUser, NextRefreshToken,
    RefreshTokenStore, RotateOutcome, StatusUpdate, Store, StoreError, UserRecord,
};

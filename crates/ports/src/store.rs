//! The store port: every record that must survive a restart.
//!
//! Implementations: SQLite (embedded default) and PostgreSQL (production, directly or through
//! PgBouncer). Both keep the same invariants with constraints of their own schema, so that the
//! database holds the last line whatever the number of instances.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, InterpreterStatus, Profile, Role, User, UserId};
use uuid::Uuid;

/// What can go wrong in a store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or integrity constraint refused the write. `constraint` names it, so the
    /// delivery layer can map it to the right answer (a taken e-mail is a 409).
    #[error("constraint {constraint} refused the write")]
    Conflict { constraint: String },
    /// The record the write depends on does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or answered with an error of its own. Never shown to
    /// clients: it is logged and becomes a 500 or 503.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// A user to create. The store does not hash passwords: it receives the hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub password_hash: String,
    pub display_name: DisplayName,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A user with the secret needed to check its password.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

/// A refresh token to store. Only the SHA-256 of the token is kept: a copy of the database does
/// not let anyone sign in.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub user_id: UserId,
    /// Every token obtained by rotating from one login shares its family; reuse of any rotated
    /// token revokes the whole family.
    pub family_id: Uuid,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The successor issued when a refresh token is rotated; it joins the presented token's family.
#[derive(Debug, Clone)]
pub struct NextRefreshToken {
    pub id: Uuid,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// It was current: it is now used, and its successor is stored.
    Rotated { user_id: UserId },
    /// It had already been rotated or revoked: someone replayed it, so its whole family is now
    /// revoked (the legitimate holder signs in again).
    Reused { user_id: UserId },
    /// Unknown or expired.
    Invalid,
}

/// An interpreter's profile and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterRecord {
    pub user_id: UserId,
    pub profile: Option<Profile>,
    pub status: InterpreterStatus,
    pub status_since: DateTime<Utc>,
}

/// A compare-and-set of an interpreter's status: it applies only if the status is still `from`,
/// so two instances deciding at once cannot both win.
#[derive(Debug, Clone, Copy)]
pub struct StatusUpdate {
    pub from: InterpreterStatus,
    pub to: InterpreterStatus,
    pub at: DateTime<Utc>,
}

/// Every record that must survive a restart.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Answers when the database answers (the readiness check).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a user; an interpreter also gets an `offline` status without a profile.
    /// A taken e-mail is `Conflict { constraint: "users_email_key" }`.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError>;

    async fn insert_refresh_token(&self, token: NewRefreshToken) -> Result<(), StoreError>;

    /// Atomically marks the presented token used and stores its successor, or detects reuse and
    /// revokes the family. Two concurrent rotations of one token: exactly one is `Rotated`.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        next: NextRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError>;

    /// Revokes the family of the presented token (logout). Unknown tokens are ignored.
    async fn revoke_refresh_family(
        &self,
        presented_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Keeps at most `keep` open refresh families for the user: every other open family is
    /// revoked, least recently used first (the family whose current token was issued longest
    /// ago, by login or refresh). Called after a login opens a family, so one account's sessions
    /// (and its rows) stay bounded however often it signs in.
    async fn cap_refresh_families(
        &self,
        user_id: UserId,
        keep: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Replaces an interpreter's profile. `NotFound` if the user is not an interpreter.
    async fn put_profile(
        &self,
        user_id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<InterpreterRecord, StoreError>;

    async fn interpreter(&self, user_id: UserId) -> Result<Option<InterpreterRecord>, StoreError>;

    /// Applies the update if the status is still `update.from`; returns whether it applied.
    async fn update_status(
        &self,
        user_id: UserId,
        update: StatusUpdate,
    ) -> Result<bool, StoreError>;
}

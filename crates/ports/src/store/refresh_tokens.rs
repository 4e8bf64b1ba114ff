//! The refresh tokens role: sign-in families, rotated at each refresh, revoked on reuse.
//!
//! Invariants every implementation keeps:
//! - Only the SHA-256 of a token is stored (`refresh_tokens_token_hash_key` keeps it unique): a
//!   copy of the database does not let anyone sign in.
//! - A token rotates once: of two concurrent rotations of one token exactly one is `Rotated`,
//!   and a replay of a rotated or revoked token revokes its whole family.
//! - An account keeps at most the number of open families it is capped at, the least recently
//!   used revoked first.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use uuid::Uuid;

use crate::StoreError;

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

/// Refresh tokens and their families.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + std::fmt::Debug {
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
}

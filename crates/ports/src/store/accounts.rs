//! The accounts role: users, found by id or by e-mail, and the database's readiness.
//!
//! Invariants every implementation keeps:
//! - `users_email_key`: an e-mail belongs to at most one user; a second is refused with
//!   `Conflict` naming that constraint, whatever the number of instances.
//! - An interpreter is created with an `offline` status and no profile, in the user's own
//!   transaction, so no interpreter exists without a status.
//! - The store never sees a password, only its hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Role, User, UserId};

use crate::StoreError;

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

/// Users and the store's readiness.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Answers when the database answers (the readiness check).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a user; an interpreter also gets an `offline` status without a profile.
    /// A taken e-mail is `Conflict { constraint: "users_email_key" }`.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError>;
}

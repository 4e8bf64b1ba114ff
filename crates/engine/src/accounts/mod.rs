//! Accounts: sign-up, login, refresh-token rotation, logout and the signed-in user.
//!
//! Every attempt that hashes a password is counted by the attempt limiter before the hash
//! ([`limits`]), and the hashing itself runs under a budget of concurrent slots ([`passwords`]).
//! A sign-in opens a refresh-token family and caps the user's open families; the access token
//! that goes with it is the delivery layer's bearer credential, signed there at [`SignedIn::at`].

pub mod limits;
pub mod passwords;
mod refresh;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dragoman_domain::{DisplayName, Email, Password, Role, SignupRole, User, UserId};
use dragoman_ports::objects::URL_LIFETIME;
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{
    AttemptLimiter, Clock, NewRefreshToken, NewUser, ObjectKey, ObjectStorage, RotateOutcome,
    Store, StoreError,
};
use uuid::Uuid;

pub use limits::{AddressLimit, LoginLimits};
pub use passwords::{PasswordBudget, PasswordError, Passwords};
pub use refresh::{new_refresh_token, refresh_token_hash};

use crate::EngineError;

/// The accounts' limits and lifetimes, from the configuration.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Sign-ups per client address per window (SIGNUP_LIMIT_PER_ADDRESS, SIGNUP_WINDOW_SECS).
    pub signup_limit: AddressLimit,
    /// Failed logins per account and address, and per address (LOGIN_*).
    pub login_limits: LoginLimits,
    /// Open refresh families (signed-in devices) per user; a login beyond it revokes the least
    /// recently used (REFRESH_FAMILIES_PER_USER).
    pub refresh_families_per_user: u32,
    /// How long a refresh token stays valid.
    pub refresh_ttl: Duration,
}

/// A user with their avatar's download URL (signed for 300 s; `None` without an avatar).
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub avatar_url: Option<String>,
}

/// A signed-in user: who, their new refresh token, and the instant the sign-in happened (the
/// access token is issued at it).
#[derive(Debug)]
pub struct SignedIn {
    pub account: Account,
    pub refresh_token: String,
    pub at: DateTime<Utc>,
}

/// What a sign-up asks for, parsed.
#[derive(Debug)]
pub struct Signup {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
    pub role: SignupRole,
}

/// The account use-cases.
#[derive(Debug)]
pub struct Accounts {
    /// Users and refresh tokens.
    store: Arc<dyn Store>,
    /// Counts sign-ups and failed logins (on Redis across the fleet).
    limiter: Arc<dyn AttemptLimiter>,
    clock: Arc<dyn Clock>,
    passwords: Passwords,
    /// Signs the avatar download URLs of the users this service answers with.
    objects: Arc<dyn ObjectStorage>,
    settings: AccountSettings,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn Store>,
        limiter: Arc<dyn AttemptLimiter>,
        clock: Arc<dyn Clock>,
        passwords: Passwords,
        objects: Arc<dyn ObjectStorage>,
        settings: AccountSettings,
    ) -> Self {
        Self {
            store,
            limiter,
            clock,
            passwords,
            objects,
            settings,
        }
    }

    /// Creates a client or interpreter account from `ip` and signs it in. The attempt is
    /// counted once the values are valid, before the hash: a taken e-mail counts too, so the
    /// limit also bounds probing which addresses have accounts.
    pub async fn signup(&self, ip: IpAddr, signup: Signup) -> Result<SignedIn, EngineError> {
        let limiter = self.limiter.as_ref();
        let attempt = self.settings.signup_limit.reserve(limiter, ip).await?;
        let password_hash = match self.passwords.hash(&signup.password).await {
            Ok(hash) => hash,
            Err(e) => {
                // Not the caller's doing: the attempt is given back.
                attempt.release(limiter).await;
                return Err(e.into());
            }
        };
        let user = self
            .store
            .create_user(NewUser {
                id: UserId(Uuid::now_v7()),
                email: signup.email,
                password_hash,
                display_name: signup.display_name,
                role: Role::from(signup.role),
                created_at: self.clock.now(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { constraint } if constraint == "users_email_key" => {
                    EngineError::conflict(
                        "email-taken",
                        "an account with this e-mail address exists",
                    )
                }
                other => other.into(),
            })?;
        tracing::info!(userId = %user.id, role = user.role.as_str(), "User signed up");
        self.sign_in(user).await
    }

    /// Signs in with e-mail and password. The attempt is counted before the password is
    /// checked, so concurrent guesses cannot pass the limit; a login for an unknown e-mail costs
    /// the same as a wrong password.
    pub async fn login(
        &self,
        ip: IpAddr,
        email: &Email,
        password: &str,
    ) -> Result<SignedIn, EngineError> {
        let limiter = self.limiter.as_ref();
        let attempt = self
            .settings
            .login_limits
            .reserve(limiter, email, ip)
            .await?;
        let checked = async {
            let record = self.store.user_by_email(email).await?;
            let verified = self
                .passwords
                .verify(password, record.as_ref().map(|r| r.password_hash.as_str()))
                .await?;
            Ok::<_, EngineError>(record.filter(|_| verified))
        }
        .await;
        let record = match checked {
            Ok(Some(record)) => record,
            Ok(None) => {
                attempt.failed();
                tracing::info!(client_ip = %ip, "Login failed");
                return Err(EngineError::BadCredentials);
            }
            Err(e) => {
                attempt.abandoned(limiter).await;
                return Err(e);
            }
        };
        attempt.succeeded(limiter).await?;
        tracing::info!(userId = %record.user.id, "User logged in");
        self.sign_in(record.user).await
    }

    /// Exchanges a refresh token for the next of its family. Each works once; presenting one
    /// that was already exchanged revokes every token descended from the same login.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SignedIn, EngineError> {
        let now = self.clock.now();
        let next_token = new_refresh_token();
        let outcome = self
            .store
            .rotate_refresh_token(
                &refresh_token_hash(refresh_token),
                NextRefreshToken {
                    id: Uuid::now_v7(),
                    token_hash: refresh_token_hash(&next_token),
                    expires_at: now + self.settings.refresh_ttl,
                },
                now,
            )
            .await?;
        let user_id = match outcome {
            RotateOutcome::Rotated { user_id } => user_id,
            RotateOutcome::Reused { user_id } => {
                tracing::warn!(userId = %user_id, "Refresh token reused; its family is revoked");
                return Err(EngineError::Unauthenticated(
                    "this refresh token was already used; every session from the same login is now signed out",
                ));
            }
            RotateOutcome::Invalid => {
                return Err(EngineError::Unauthenticated(
                    "the refresh token is unknown or expired",
                ));
            }
        };
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or(EngineError::Unauthenticated("the account no longer exists"))?;
        Ok(SignedIn {
            account: self.account_of(user).await,
            refresh_token: next_token,
            at: now,
        })
    }

    /// Signs out: the refresh token and every token of its family stop working (an unknown
    /// token is not an error).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), EngineError> {
        self.store
            .revoke_refresh_family(&refresh_token_hash(refresh_token), self.clock.now())
            .await?;
        Ok(())
    }

    /// The signed-in user; `Unauthenticated` if their account no longer exists.
    pub async fn me(&self, user: UserId) -> Result<Account, EngineError> {
        let user = self
            .store
            .user(user)
            .await?
            .ok_or(EngineError::Unauthenticated("the account no longer exists"))?;
        Ok(self.account_of(user).await)
    }

    /// The user as answered, their avatar's download URL signed now.
    async fn account_of(&self, user: User) -> Account {
        let avatar_url = match user.avatar_key.as_deref() {
            Some(key) => download_url(self.objects.as_ref(), key).await,
            None => None,
        };
        Account { user, avatar_url }
    }

    /// Opens a refresh family for `user` (sign-up and login), then revokes their least recently
    /// used families beyond REFRESH_FAMILIES_PER_USER.
    async fn sign_in(&self, user: User) -> Result<SignedIn, EngineError> {
        let now = self.clock.now();
        let refresh_token = new_refresh_token();
        self.store
            .insert_refresh_token(NewRefreshToken {
                id: Uuid::now_v7(),
                user_id: user.id,
                family_id: Uuid::now_v7(),
                token_hash: refresh_token_hash(&refresh_token),
                created_at: now,
                expires_at: now + self.settings.refresh_ttl,
            })
            .await?;
        self.store
            .cap_refresh_families(user.id, self.settings.refresh_families_per_user, now)
            .await?;
        Ok(SignedIn {
            account: self.account_of(user).await,
            refresh_token,
            at: now,
        })
    }
}

/// A download URL for `key`, valid 300 s, or `None` if storage cannot sign one now (the rest of
/// the answer is still worth sending).
pub async fn download_url(objects: &dyn ObjectStorage, key: &str) -> Option<String> {
    let key = ObjectKey::parse(key).ok()?;
    match objects.presign_get(&key, URL_LIFETIME).await {
        Ok(request) => Some(request.url),
        Err(e) => {
            tracing::warn!(error = %e, "could not sign a download URL");
            None
        }
    }
}

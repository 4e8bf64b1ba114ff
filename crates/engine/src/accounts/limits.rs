//! How many password attempts a caller may make: per address for actions that need no account
//! (sign-up, and password reset when it exists), and per account and address for logins.
//!
//! Every limit here reserves its attempt before the password is hashed (see the limiter port),
//! so concurrent requests cannot all slip under a limit that none of them has counted yet.
//!
//! Login counts failures per (account, address) rather than per account: an attacker at one
//! address gets at most `per_account` guesses at one account per window, and at most
//! `per_address` guesses in all, whichever accounts they spray; but the account's owner, at an
//! address that has not failed for that account, can always log in. A per-account count would
//! let anyone lock out anyone (the administrator included) with ten wrong passwords, renewed
//! every window.

use std::net::IpAddr;
use std::time::Duration;

use dragoman_domain::Email;
use dragoman_ports::AttemptLimiter;

use crate::EngineError;

/// The address an attempt is counted against. IPv6 clients are counted by their /64, the block
/// one subscriber is usually given (any address in it costs them nothing to use); an
/// IPv4-mapped IPv6 address is its IPv4 address.
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A limit on one action per client address within a window, for actions that hash a password
/// and need no account: sign-up today (SIGNUP_LIMIT_PER_ADDRESS); a password-reset request is
/// the same kind of limit under its own action name, [`AddressLimit::PASSWORD_RESET`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLimit {
    /// The action's name in the limiter's keys.
    pub action: &'static str,
    /// Attempts per address per window.
    pub max: u32,
    pub window: Duration,
}

impl AddressLimit {
    pub const SIGNUP: &'static str = "signup";
    pub const PASSWORD_RESET: &'static str = "password-reset";

    pub fn signup(max: u32, window: Duration) -> Self {
        Self {
            action: Self::SIGNUP,
            max,
            window,
        }
    }

    /// Counts one attempt from `ip`, or answers 429 with the time left in its window.
    pub async fn reserve(
        &self,
        limiter: &dyn AttemptLimiter,
        ip: IpAddr,
    ) -> Result<Reserved, EngineError> {
        let key = format!("{}:address:{}", self.action, address_bucket(ip));
        match limiter.reserve(&key, self.max, self.window).await? {
            Some(retry_after) => Err(EngineError::RateLimited { retry_after }),
            None => Ok(Reserved(vec![key])),
        }
    }
}

/// Attempts counted before they are made. Dropping it confirms them (they stay counted: the
/// attempt failed, or its outcome is the caller's to bear); [`Reserved::release`] gives them
/// back when the server, not the caller, is why the attempt did not happen.
#[derive(Debug)]
#[must_use = "a reservation is kept by dropping it, or given back with release"]
pub struct Reserved(Vec<String>);

impl Reserved {
    pub async fn release(self, limiter: &dyn AttemptLimiter) {
        for key in &self.0 {
            if let Err(e) = limiter.release(key).await {
                // The attempt stays counted: the caller is throttled a little early, never late.
                tracing::warn!(error = %format!("{e:#}"), "a limiter reservation was not released");
            }
        }
    }
}

/// Login limits (LOGIN_MAX_FAILURES_PER_ACCOUNT and _PER_ADDRESS, LOGIN_WINDOW_SECS).
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures per (account, address) per window.
    pub per_account: u32,
    /// Failures per address per window, all accounts together.
    pub per_address: u32,
    pub window: Duration,
}

/// One login attempt, counted against its address and its (account, address) pair before the
/// password is checked.
#[derive(Debug)]
#[must_use = "a login attempt ends as succeeded, failed or abandoned"]
pub struct LoginAttempt {
    address_key: String,
    pair_key: String,
}

impl LoginLimits {
    /// Counts the attempt, or answers 429. The address is counted first so that a blocked
    /// address creates no per-account keys at all (spraying accounts from one address costs
    /// the limiter nothing more once the address is over its limit).
    pub async fn reserve(
        &self,
        limiter: &dyn AttemptLimiter,
        email: &Email,
        ip: IpAddr,
    ) -> Result<LoginAttempt, EngineError> {
        let address = address_bucket(ip);
        let address_key = format!("login:address:{address}");
        let pair_key = format!("login:account:{}:address:{address}", email.as_str());
        if let Some(retry_after) = limiter
            .reserve(&address_key, self.per_address, self.window)
            .await?
        {
            return Err(EngineError::RateLimited { retry_after });
        }
        let pair = limiter
            .reserve(&pair_key, self.per_account, self.window)
            .await;
        if !matches!(pair, Ok(None)) {
            Reserved(vec![address_key.clone()]).release(limiter).await;
        }
        if let Some(retry_after) = pair? {
            return Err(EngineError::RateLimited { retry_after });
        }
        Ok(LoginAttempt {
            address_key,
            pair_key,
        })
    }
}

impl LoginAttempt {
    /// The password was right: this address's failures for the account are forgotten, and the
    /// attempt does not count against the address.
    pub async fn succeeded(self, limiter: &dyn AttemptLimiter) -> Result<(), EngineError> {
        limiter.reset(&self.pair_key).await?;
        Reserved(vec![self.address_key]).release(limiter).await;
        Ok(())
    }

    /// The password was wrong: both counts stand.
    pub fn failed(self) {}

    /// The password was never checked (the hashing budget was spent, or a dependency failed):
    /// the attempt is given back.
    pub async fn abandoned(self, limiter: &dyn AttemptLimiter) {
        Reserved(vec![self.pair_key, self.address_key])
            .release(limiter)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_v4_address_or_v6_block() {
        let bucket = |s: &str| address_bucket(s.parse().expect("an address"));
        assert_eq!(bucket("203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            bucket("2001:db8:1:2:ffff:1:2:3"),
            bucket("2001:db8:1:2::9"),
            "one /64 is one subscriber"
        );
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
    }
}

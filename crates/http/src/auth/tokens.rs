//! Access tokens (short-lived JWTs, HS256): the bearer credential of the HTTP API. Refresh tokens
//! (opaque, stored hashed) belong to the accounts service (`dragoman_engine::accounts`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use dragoman_domain::{Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::extract::Caller;
use crate::problem::ApiError;

/// Issuer and audience written into every access token, so a token of another service that
/// happens to share the secret is still refused.
const ISSUER: &str = "dragoman";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    iss: String,
    iat: i64,
    exp: i64,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// `secret` must be at least 32 bytes (configuration checks it).
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Instances' clocks agree within a second or two under NTP; a long leeway would only
        // stretch the life of a stolen token.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// A signed access token for the user, valid `access_ttl` from `now`.
    pub fn issue_access(
        &self,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user.0,
            role,
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("signing an access token"))
        })
    }

    /// The caller named by a valid access token. Expiry is checked against the system clock.
    pub fn verify_access(&self, token: &str) -> Result<Caller, ApiError> {
        self.verify_access_until(token).map(|(caller, _)| caller)
    }

    /// The caller named by a valid access token, and when the token expires: what outlives the
    /// request (a WebSocket, a ticket) must not outlive the token.
    pub fn verify_access_until(&self, token: &str) -> Result<(Caller, DateTime<Utc>), ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                ApiError::Unauthenticated(match e.kind() {
                    ErrorKind::ExpiredSignature => "the access token has expired; refresh it",
                    ErrorKind::InvalidSignature => "the access token's signature is not valid",
                    _ => "the access token is malformed or not valid",
                })
            })?;
        let expires = DateTime::from_timestamp(data.claims.exp, 0).ok_or(
            ApiError::Unauthenticated("the access token's expiry is not valid"),
        )?;
        Ok((
            Caller {
                id: UserId(data.claims.sub),
                role: data.claims.role,
            },
            expires,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            &[7u8; 32],
            Duration::from_secs(900),
            Duration::from_secs(86_400),
        )
    }

    #[test]
    fn access_tokens_round_trip() {
        let t = tokens();
        let user = UserId(Uuid::now_v7());
        let jwt = t
            .issue_access(user, Role::Interpreter, Utc::now())
            .expect("signed");
        let caller = t.verify_access(&jwt).expect("valid");
        let (_, expires) = t.verify_access_until(&jwt).expect("valid");
        assert!((expires - Utc::now()).num_seconds() > 890, "{expires}");
        assert_eq!(
            caller,
            Caller {
                id: user,
                role: Role::Interpreter
            }
        );
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let t = tokens();
        let user = UserId(Uuid::now_v7());
        let old = t
            .issue_access(user, Role::Client, Utc::now() - chrono::Duration::hours(1))
            .expect("signed");
        assert!(t.verify_access(&old).is_err());
        let other = Tokens::new(
            &[8u8; 32],
            Duration::from_secs(900),
            Duration::from_secs(60),
        );
        let foreign = other
            .issue_access(user, Role::Admin, Utc::now())
            .expect("signed");
        assert!(t.verify_access(&foreign).is_err());
        assert!(t.verify_access("not.a.jwt").is_err());
    }
}

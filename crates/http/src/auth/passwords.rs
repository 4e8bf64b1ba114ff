//! Password hashing with Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
//!
//! Hashing costs tens of milliseconds of CPU by design, so it runs on the blocking pool, never
//! on the threads that serve other requests. A login for an unknown e-mail verifies against a
//! hash of a random password, so it costs the same time as a wrong password and does not
//! reveal which addresses have accounts.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use dragoman_domain::Password;

/// Memory in KiB, passes and lanes: OWASP's first Argon2id configuration.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct Passwords {
    argon: Arc<Argon2<'static>>,
    /// The hash checked when the e-mail is unknown (see the module documentation).
    decoy: Arc<str>,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        let decoy = argon
            .hash_password(&random)
            .map_err(|e| anyhow::anyhow!("hashing the decoy password: {e}"))?
            .to_string();
        Ok(Self {
            argon: Arc::new(argon),
            decoy: decoy.into(),
        })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of a new password.
    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let argon = self.argon.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            argon
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await
        .context("the hashing task stopped")?
    }

    /// Whether `password` matches `stored`; with `stored = None` (unknown account) the decoy is
    /// checked and the answer is always false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let argon = self.argon.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or(&self.decoy).to_owned();
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| anyhow::anyhow!("a stored password hash is unreadable: {e}"))?;
            Ok::<_, anyhow::Error>(argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .context("the verifying task stopped")??;
        Ok(known && matches)
    }
}

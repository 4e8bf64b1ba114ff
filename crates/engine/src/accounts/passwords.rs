//! Password hashing with Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
//!
//! Hashing costs tens of milliseconds of CPU by design, so it runs on the blocking pool, never
//! on the threads that serve other requests. A login for an unknown e-mail verifies against a
//! hash of a random password, so it costs the same time as a wrong password and does not
//! reveal which addresses have accounts.
//!
//! Each hash holds 19 MiB while it runs, so the number running at once is the process's memory
//! bound: a semaphore of `concurrency` slots (default: the number of cores, which is also all
//! the hashing the CPU can do at once) is taken before the work is handed to the blocking pool
//! and held until it ends, even if the caller has gone. A caller that finds every slot busy
//! waits at most `queue`, then gets [`PasswordError::Overloaded`], which the API answers with
//! 503 and `Retry-After`: a flood of sign-ups or logins costs the attacker answers, not the
//! server memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use dragoman_domain::Password;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Memory in KiB, passes and lanes: OWASP's first Argon2id configuration.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;

/// The 19 MiB working memories of the hashes, kept and reused: at most one per slot, since a
/// buffer is taken only by a holder of a slot. Letting Argon2 allocate its own each time
/// measured 250 MiB resident after twenty sign-ups one after the other and 600 MiB after a
/// burst with two slots (the allocator keeps freed 19 MiB blocks of many threads); reused
/// buffers keep the cost at the slots' count, allocated once. A std mutex: held only to push
/// or pop.
#[derive(Debug, Default)]
struct Memories(Mutex<Vec<Vec<Block>>>);

impl Memories {
    /// Runs `work` with a working memory of at least `blocks` blocks.
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let mut memory = taken.unwrap_or_default();
        if memory.len() < blocks {
            // Only when more than the configured cost is asked (a hash made with other
            // parameters): it grows once and stays grown.
            memory.resize(blocks, Block::new());
        }
        let result = work(&mut memory);
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(memory);
        result
    }
}

/// Hashes `password` with `argon` and `salt` into a PHC string, in pooled memory.
fn hash_phc(
    argon: &Argon2<'_>,
    params: &Params,
    memories: &Memories,
    password: &[u8],
    salt: Salt,
) -> anyhow::Result<String> {
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memories
        .with(params.block_count(), |memory| {
            argon.hash_password_into_with_memory(password, &salt, &mut out, memory)
        })
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("password hash parameters: {e}"))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("password hash output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`, recomputed in pooled memory with the
/// stored algorithm, version, parameters and salt; the comparison is constant-time.
fn verify_phc(memories: &Memories, password: &[u8], stored: &str) -> anyhow::Result<bool> {
    let unreadable =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("a stored password hash is unreadable: {e}");
    let parsed = PasswordHash::new(stored).map_err(|e| unreadable(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| unreadable(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| unreadable(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| unreadable(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(anyhow::anyhow!(
            "a stored password hash has no salt or no hash"
        ));
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    memories
        .with(params.block_count(), |memory| {
            argon.hash_password_into_with_memory(password, &salt, &mut out, memory)
        })
        .map_err(|e| anyhow::anyhow!("checking a password: {e}"))?;
    let computed = Output::new(&out).map_err(|e| unreadable(&e))?;
    Ok(computed == expected)
}

/// How much password work may run at once, and how long a caller waits for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordBudget {
    /// Hashes or verifications running at once (PASSWORD_HASH_CONCURRENCY).
    pub concurrency: usize,
    /// The longest a caller waits for a slot before the 503 (PASSWORD_HASH_QUEUE_MS).
    pub queue: Duration,
}

impl Default for PasswordBudget {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: Duration::from_millis(2000),
        }
    }
}

/// Why password work was not done.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every slot stayed busy for the whole queue time: the caller should come back later.
    #[error("every password hashing slot stayed busy; try again in {retry_after:?}")]
    Overloaded { retry_after: Duration },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct Passwords {
    argon: Arc<Argon2<'static>>,
    params: Params,
    memories: Arc<Memories>,
    /// The hash checked when the e-mail is unknown (see the module documentation).
    decoy: Arc<str>,
    /// One permit per hash allowed to run; tokio's, since callers wait for it asynchronously.
    slots: Arc<Semaphore>,
    queue: Duration,
}

impl Passwords {
    /// A hasher with the default budget (one hash per core, 2 s of queueing).
    pub fn new() -> anyhow::Result<Self> {
        Self::with_budget(PasswordBudget::default())
    }

    pub fn with_budget(budget: PasswordBudget) -> anyhow::Result<Self> {
        anyhow::ensure!(
            budget.concurrency >= 1,
            "password hashing needs at least one slot"
        );
        let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let memories = Arc::new(Memories::default());
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        let decoy = hash_phc(&argon, &params, &memories, &random, new_salt()?)
            .context("hashing the decoy password")?;
        Ok(Self {
            argon: Arc::new(argon),
            params,
            memories,
            decoy: decoy.into(),
            slots: Arc::new(Semaphore::new(budget.concurrency)),
            queue: budget.queue,
        })
    }

    /// A slot for one hash, waited for at most the queue time.
    async fn slot(&self, op: &'static str) -> Result<OwnedSemaphorePermit, PasswordError> {
        match tokio::time::timeout(self.queue, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => {
                metrics::counter!("dragoman_password_hashes_total", "op" => op).increment(1);
                Ok(permit)
            }
            Ok(Err(closed)) => Err(PasswordError::Failed(closed.into())),
            Err(_) => {
                metrics::counter!("dragoman_password_overloaded_total", "op" => op).increment(1);
                Err(PasswordError::Overloaded {
                    retry_after: self.queue.max(Duration::from_secs(1)),
                })
            }
        }
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of a new password.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let (argon, params, memories) = (
            self.argon.clone(),
            self.params.clone(),
            self.memories.clone(),
        );
        let password = password.clone();
        let salt = new_salt()?;
        let slot = self.slot("hash").await?;
        let hashed = tokio::task::spawn_blocking(move || {
            // Held until the hash is done, also when the request that asked is dropped.
            let _slot = slot;
            hash_phc(
                &argon,
                &params,
                &memories,
                password.expose().as_bytes(),
                salt,
            )
        })
        .await
        .context("the hashing task stopped")??;
        Ok(hashed)
    }

    /// Whether `password` matches `stored`; with `stored = None` (unknown account) the decoy is
    /// checked and the answer is always false.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let memories = self.memories.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or(&self.decoy).to_owned();
        let password = password.to_owned();
        let slot = self.slot("verify").await?;
        let matches = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            verify_phc(&memories, password.as_bytes(), &hash)
        })
        .await
        .context("the verifying task stopped")??;
        Ok(known && matches)
    }
}

/// A random salt of 16 bytes, as the PHC recommends.
fn new_salt() -> anyhow::Result<Salt> {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    Salt::new(&bytes).map_err(|e| anyhow::anyhow!("a password salt: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_are_the_argon2_crates_phc_strings_both_ways() {
        let passwords = Passwords::new().expect("a hasher");
        let password = Password::parse("correct horse battery").expect("valid");
        let ours = passwords.hash(&password).await.expect("hashed");
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let crate_own = Argon2::default();
        assert!(
            crate_own
                .verify_password(
                    b"correct horse battery",
                    &PasswordHash::new(&ours).expect("PHC")
                )
                .is_ok()
        );
        // A hash stored before the pooled memory (made by the crate's own hasher) still verifies.
        let params =
            Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None).expect("params");
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse battery")
            .expect("hashed")
            .to_string();
        assert!(
            passwords
                .verify("correct horse battery", Some(&stored))
                .await
                .expect("checked")
        );
        assert!(
            !passwords
                .verify("correct horse batterY", Some(&stored))
                .await
                .expect("checked")
        );
        assert!(
            !passwords
                .verify("correct horse battery", None)
                .await
                .expect("the decoy")
        );
        // A hash of another cost verifies too.
        let small = Params::new(8 * 1024, 1, 1, None).expect("params");
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"correct horse battery")
            .expect("hashed")
            .to_string();
        assert!(
            passwords
                .verify("correct horse battery", Some(&other))
                .await
                .expect("checked")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_who_finds_every_slot_busy_is_told_to_come_back() {
        let passwords = Passwords::with_budget(PasswordBudget {
            concurrency: 1,
            queue: Duration::from_millis(50),
        })
        .expect("a hasher");
        // The only slot, taken as a hash in progress would take it.
        let held = passwords
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the slot");
        let password = Password::parse("correct horse battery").expect("valid");
        match passwords.hash(&password).await {
            Err(PasswordError::Overloaded { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(1), "at least a second")
            }
            other => panic!("expected Overloaded, got {other:?}"),
        }
        assert!(matches!(
            passwords.verify("whatever it is", None).await,
            Err(PasswordError::Overloaded { .. })
        ));
        drop(held);
        let hash = passwords.hash(&password).await.expect("a free slot");
        assert!(
            passwords
                .verify("correct horse battery", Some(&hash))
                .await
                .expect("verified")
        );
    }
}

//! Per-type policy: how many at once, how many attempts, how long between them.

use std::time::Duration;

/// How a job type runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Jobs of this type running at once in one worker process.
    pub concurrency: usize,
    /// Runs before a job is dead-lettered (a run whose worker died counts).
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A run longer than this is failed ("timed out after ...") and retried.
    pub timeout: Duration,
    /// How long a reserved job stays invisible to other workers: past it, the job is taken to
    /// have stalled (its worker died) and is handed out again. Longer than `timeout`.
    pub visibility: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            concurrency: 16,
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            visibility: Duration::from_secs(60),
        }
    }
}

/// The delay before the retry that follows run number `attempt` (1-based): exponential from the
/// policy's base, capped, with "equal jitter" (half fixed, half random) so that jobs which failed
/// together do not all come back together. `unit` is a random number in [0, 1).
pub fn backoff(policy: &Policy, attempt: u32, unit: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = policy
        .backoff_base
        .saturating_mul(1u32 << exp)
        .min(policy.backoff_max);
    let half = full / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = Policy {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(20),
            ..Policy::default()
        };
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 3, 0.5), Duration::from_secs(6));
        assert_eq!(backoff(&p, 10, 1.0), Duration::from_secs(20));
        assert_eq!(backoff(&p, 200, 0.0), Duration::from_secs(10));
    }
}

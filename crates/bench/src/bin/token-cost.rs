//! The cost of the authentication every signed-in request pays: times
//! `Tokens::verify_access` (HS256 signature, claims, expiry) on one thread and prints the mean
//! microseconds per verification.
//!
//! Usage: `token-cost [VERIFICATIONS]` (default 200000).

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;
use dragoman_domain::{Role, UserId};
use dragoman_http::auth::Tokens;
use uuid::Uuid;

fn count() -> anyhow::Result<u32> {
    match std::env::args().nth(1) {
        None => Ok(200_000),
        Some(raw) => match raw.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("the number of verifications must be a positive integer, got {raw:?}"),
        },
    }
}

fn main() -> anyhow::Result<()> {
    let n = count()?;
    let secret = [7u8; 32];
    let tokens = Tokens::new(
        &secret,
        Duration::from_secs(15 * 60),
        Duration::from_secs(30 * 24 * 3600),
    );
    let user = UserId(Uuid::now_v7());
    let token = tokens
        .issue_access(user, Role::Client, Utc::now())
        .map_err(|e| anyhow::anyhow!("issuing a token: {e:?}"))?;
    let verify = || {
        tokens
            .verify_access(std::hint::black_box(&token))
            .map_err(|e| anyhow::anyhow!("verifying the token: {e:?}"))
    };
    for _ in 0..n / 10 {
        verify()?;
    }
    let started = Instant::now();
    for _ in 0..n {
        let caller = verify()?;
        if caller.id != user {
            bail!("the token named another user");
        }
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("access token verification (HS256 JWT): {per:.2} µs each, mean of {n}");
    Ok(())
}

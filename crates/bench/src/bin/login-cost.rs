//! The cost of a login's password work: times `Passwords::hash` (sign-up) and
//! `Passwords::verify` (login) one attempt at a time, after a warm-up, and prints Dragoman's
//! Argon2 parameters with the mean, median and maximum milliseconds per attempt.
//!
//! Usage: `login-cost [ATTEMPTS]` (default 20).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dragoman_bench::{Summary, summarize};
use dragoman_domain::Password;
use dragoman_http::auth::Passwords;
use dragoman_http::auth::passwords::{ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST};

const WARM_UP: usize = 3;

fn attempts() -> anyhow::Result<usize> {
    match std::env::args().nth(1) {
        None => Ok(20),
        Some(raw) => match raw.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("the number of attempts must be a positive integer, got {raw:?}"),
        },
    }
}

fn row(what: &str, n: usize, s: Summary) {
    println!(
        "{what:<28} {n:>8} {:>9.1} {:>8.1} {:>8.1}",
        s.mean_ms, s.p50_ms, s.max_ms
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let n = attempts()?;
    let passwords = Passwords::new()?;
    let password = Password::parse("correct horse battery staple").context("the test password")?;

    let stored = passwords.hash(&password).await?;
    for _ in 0..WARM_UP {
        passwords.hash(&password).await?;
        passwords.verify(password.expose(), Some(&stored)).await?;
    }

    let mut hashing = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        passwords.hash(&password).await?;
        hashing.push(started.elapsed());
    }
    let mut verifying: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let ok = passwords.verify(password.expose(), Some(&stored)).await?;
        verifying.push(started.elapsed());
        if !ok {
            bail!("the password did not verify against its own hash");
        }
    }

    let prefix: String = stored.split('$').take(4).collect::<Vec<_>>().join("$");
    println!(
        "Argon2id m={ARGON2_M_COST_KIB} KiB, t={ARGON2_T_COST}, p={ARGON2_P_COST} ({prefix}$...)"
    );
    println!(
        "{:<28} {:>8} {:>9} {:>8} {:>8}",
        "one attempt at a time", "attempts", "mean ms", "p50 ms", "max ms"
    );
    let h = summarize(&hashing).context("no hashing samples")?;
    let v = summarize(&verifying).context("no verifying samples")?;
    row("hash (sign-up)", n, h);
    row("verify (login)", n, v);
    Ok(())
}

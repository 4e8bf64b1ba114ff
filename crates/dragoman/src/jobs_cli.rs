//! `dragoman jobs list|retry|purge`: the durable job queue from the command line, on the queue the
//! configuration selects (Redis with REDIS_URL, else the table in DATABASE_URL's PostgreSQL or
//! in the embedded SQLite file).

use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use dragoman_ports::{JobQueue, JobState, SystemClock};

use crate::config::Settings;
use crate::startup::{StoreBackend, job_queue};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Print the jobs in one state, oldest first, one JSON object a line.
    List {
        #[arg(long, value_enum, default_value = "dead")]
        state: StateArg,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
    /// Hand a dead job back to the queue, its attempts reset (exit 1 if no dead job has this id).
    Retry { id: String },
    /// Delete every dead job; prints how many.
    Purge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Dead,
    Delayed,
    Active,
}

impl From<StateArg> for JobState {
    fn from(s: StateArg) -> Self {
        match s {
            StateArg::Dead => JobState::Dead,
            StateArg::Delayed => JobState::Delayed,
            StateArg::Active => JobState::Active,
        }
    }
}

/// Runs one `jobs` command; what it prints goes to standard output.
pub async fn run(settings: &Settings, command: JobsCommand) -> anyhow::Result<()> {
    let store = StoreBackend::open(settings).await?;
    let result = match job_queue(settings, &store, Arc::new(SystemClock)).await {
        Ok(queue) => execute(queue.as_ref(), command).await,
        Err(e) => Err(e),
    };
    store.close().await;
    result
}

async fn execute(queue: &dyn JobQueue, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::List { state, limit } => {
            for job in queue.list(state.into(), limit as usize).await? {
                let line = serde_json::json!({
                    "id": job.id,
                    "kind": job.kind,
                    "state": job.state.as_str(),
                    "key": job.key,
                    "attempts": job.attempts,
                    "last_error": job.last_error,
                    "enqueued_at": job.enqueued_at,
                    "at": job.at,
                    "payload": job.payload,
                });
                println!("{line}");
            }
        }
        JobsCommand::Retry { id } => {
            if !queue.retry_dead(&id).await? {
                anyhow::bail!("no dead job has the id {id:?}");
            }
            println!("{}", serde_json::json!({ "retried": id }));
        }
        JobsCommand::Purge => {
            let purged = queue.purge_dead().await?;
            println!("{}", serde_json::json!({ "purged": purged }));
        }
    }
    Ok(())
}

//! The command line: the subcommands and their arguments. The settings every subcommand shares
//! are [`Config`](super::Config), flattened in.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::Config;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "dragoman",
    version,
    about = "On-demand interpreting backend",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Bring the database schema up to date, then exit. Use a direct connection
    /// (DATABASE_MIGRATION_URL or DATABASE_URL), never a transaction pooler.
    Migrate,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// App assets served at GET /v1/assets/{path}.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// The durable job queue: list, replay and purge dead-lettered jobs.
    #[command(subcommand)]
    Jobs(crate::jobs_cli::JobsCommand),
    /// Exit 0 if the server on PORT answers GET /health with 200, else 1 (for container health
    /// checks, which have no curl in a minimal image).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (admins can only be created this way).
    CreateUser {
        #[arg(long)]
        email: String,
        /// `admin`, `client` or `interpreter`.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Read the password from standard input (one line). Required: a password on the
        /// command line would be visible to every user of the machine.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Upload one file as the asset at PATH (`i18n/es.json` is served at
    /// /v1/assets/i18n/es.json), replacing any earlier version.
    Put {
        /// The local file.
        file: PathBuf,
        /// Where it is served, under /v1/assets/.
        path: String,
        /// Its media type; unset: from the file's extension.
        #[arg(long)]
        content_type: Option<String>,
    },
}

//! The `dragoman` binary's library: configuration, start-up and the command-line commands.
//! `main` only parses the command line and calls into here; tests call the same functions.

pub mod commands;
pub mod config;
pub mod jobs_cli;
pub mod objects;
mod periodic_metrics;
mod secret;
pub mod startup;

pub use config::{Cli, Command, Config, Settings};
pub use startup::Application;

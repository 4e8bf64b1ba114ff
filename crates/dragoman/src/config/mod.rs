//! Configuration: every setting is an environment variable and a command-line flag (API.md's
//! table, plus the settings Dragoman adds), checked once at start into [`Settings`].
//!
//! An invalid setting stops the process before it serves anything, with one line naming the
//! variable and what is wrong, and exit status 2.
//!
//! The command line is in `cli`, the settings as given (one environment variable and flag each)
//! in `variables`, their checks in `validate` (the database's in `database`), and the checked
//! [`Settings`] in `settings`.

mod cli;
mod database;
mod settings;
mod validate;
mod variables;

pub use cli::{AdminCommand, AssetsCommand, Cli, Command};
pub use database::{AppRole, Database};
pub use settings::{JwtSecret, ObjectsSettings, RedisSettings, Settings};
pub use variables::{Config, LogFormatArg, MetricsFormatArg, PoolerArg};

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "configuration error: {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// A setting found unusable after the checks of [`Config::validate`], at start-up (a server
    /// it names that refuses it): `main` reports it the same way, exit status 2.
    pub fn new(variable: &'static str, message: impl std::fmt::Display) -> Self {
        // One line, whatever the cause's text holds.
        let message = message.to_string().replace(['\n', '\r'], " ");
        Self { variable, message }
    }
}

fn error(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

//! `dragoman`: parse the command line, check the configuration, run the command.

use std::process::ExitCode;

use clap::Parser;
use dragoman::config::{AdminCommand, AssetsCommand};
use dragoman::{Application, Cli, Command, commands};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.config.validate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        if let Command::Healthcheck = cli.command.as_ref().unwrap_or(&Command::Serve) {
            return if commands::healthcheck(settings.port).await {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        if let Err(e) = dragoman_telemetry::init_logs(
            &settings.service_name,
            settings.log_format,
            &settings.log_level,
        ) {
            eprintln!("configuration error: LOG_LEVEL: {e}");
            return ExitCode::from(2);
        }
        let result = match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => commands::migrate(&settings).await,
            Command::Admin(AdminCommand::CreateUser {
                email,
                role,
                display_name,
                ..
            }) => commands::create_user(&settings, &email, &role, &display_name).await,
            Command::Assets(AssetsCommand::Put {
                file,
                path,
                content_type,
            }) => commands::put_asset(&settings, &file, &path, content_type.as_deref()).await,
            Command::Jobs(command) => dragoman::jobs_cli::run(&settings, command).await,
            Command::Healthcheck => Ok(()),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            // A setting found unusable only once tried (a server that refuses it at start:
            // REDIS_URL, DATABASE_URL's certificate, a replica that does not answer).
            Err(e) if e.downcast_ref::<dragoman::config::ConfigError>().is_some() => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "Dragoman failed");
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn serve(settings: dragoman::Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped(shutdown_signal()).await
}

/// Completes at SIGTERM (ECS stopping the task) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received; stopping"),
        _ = terminate => tracing::info!("SIGTERM received; stopping"),
    }
}

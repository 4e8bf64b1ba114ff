//! The commands other than `serve`: `migrate`, `admin create-user`, `healthcheck`.

use std::io::BufRead;
use std::time::Duration;

use anyhow::Context;
use dragoman_domain::{DisplayName, Email, Password, Role, UserId};
use dragoman_http::auth::Passwords;
use dragoman_ports::{Clock, NewUser, StoreError, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{Database, Settings};
use crate::startup::{StoreBackend, migrate_postgres};

/// Brings the schema up to date. SQLite migrates by being opened.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    match &settings.database {
        Database::Postgres {
            url, migration_url, ..
        } => migrate_postgres(url, migration_url, settings.app_role.as_ref()).await?,
        Database::Sqlite { .. } => StoreBackend::open(settings).await?.close().await,
    }
    tracing::info!("Database migrated");
    Ok(())
}

/// Creates a user with the password read from one line of standard input; prints the user as
/// JSON.
pub async fn create_user(
    settings: &Settings,
    email: &str,
    role: &str,
    display_name: &str,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {}", e.reason))?;
    let role = Role::parse(role).map_err(|e| anyhow::anyhow!("--role: {}", e.reason))?;
    let display_name = DisplayName::parse(display_name)
        .map_err(|e| anyhow::anyhow!("--display-name: {}", e.reason))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = Password::parse(line.trim_end_matches(['\r', '\n']))
        .map_err(|e| anyhow::anyhow!("password: {}", e.reason))?;

    let store = StoreBackend::open(settings).await?;
    let hash = Passwords::new()?.hash(&password).await?;
    let created = store
        .as_port()
        .create_user(NewUser {
            id: UserId(uuid::Uuid::now_v7()),
            email,
            password_hash: hash,
            display_name,
            role,
            created_at: SystemClock.now(),
        })
        .await;
    store.close().await;
    let user = match created {
        Ok(user) => user,
        Err(StoreError::Conflict { .. }) => anyhow::bail!("a user with this e-mail address exists"),
        Err(e) => return Err(e.into()),
    };
    println!(
        "{}",
        serde_json::json!({
            "id": user.id.0,
            "email": user.email.as_str(),
            "role": user.role.as_str(),
            "display_name": user.display_name.as_str(),
        })
    );
    Ok(())
}

/// The media type of an asset from its file name's extension.
pub fn asset_content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("yaml" | "yml") => "application/yaml",
        _ => "application/octet-stream",
    }
}

/// Uploads `file` as the asset at `path` (under `assets/` in object storage); prints it as JSON.
pub async fn put_asset(
    settings: &Settings,
    file: &std::path::Path,
    path: &str,
    content_type: Option<&str>,
) -> anyhow::Result<()> {
    let key = dragoman_http::routes::assets::asset_key(path).ok_or_else(|| {
        anyhow::anyhow!(
            "{path:?} is not an asset path: use segments of letters, digits, '.', '_' and '-' separated by '/', without '..'"
        )
    })?;
    let content_type = content_type.unwrap_or_else(|| asset_content_type(path));
    let bytes = tokio::fs::read(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?;
    let secret = crate::secret::load(&settings.jwt_secret)?;
    let objects = crate::objects::open(settings, &secret, std::sync::Arc::new(SystemClock))?;
    let meta = objects
        .storage
        .put(&key, content_type, bytes)
        .await
        .map_err(|e| anyhow::anyhow!("storing the asset: {e}"))?;
    println!(
        "{}",
        serde_json::json!({
            "path": path,
            "key": key.as_str(),
            "size": meta.size,
            "content_type": content_type,
            "etag": meta.etag,
        })
    );
    Ok(())
}

/// Whether GET /health on 127.0.0.1:`port` answers 200 within two seconds. Plain HTTP/1.1 over
/// a socket: the runtime image has no curl, and this is all a health check needs.
pub async fn healthcheck(port: u16) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<bool, std::io::Error>(&head == b"HTTP/1.1 200")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Ok(true))
    )
}

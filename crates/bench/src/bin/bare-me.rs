//! A bare axum server: one route, GET /v1/me, no middleware, the same JSON shape as Dragoman's
//! /v1/me with fixed values. The baseline of `benches/me.sh`.
//!
//! Usage: `bare-me [PORT]` (or the PORT variable); listens on 127.0.0.1.

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The shape of Dragoman's `UserView`.
#[derive(Debug, Serialize)]
struct Me {
    id: &'static str,
    email: &'static str,
    display_name: &'static str,
    role: &'static str,
    avatar_url: Option<&'static str>,
    created_at: &'static str,
}

async fn me() -> Json<Me> {
    Json(Me {
        id: "019a9f3c-2b7e-7c41-9a55-3f1d2e4b6c70",
        email: "bench-client@example.org",
        display_name: "Bench Client",
        role: "client",
        avatar_url: None,
        created_at: "2026-11-20T09:30:00.123456Z",
    })
}

fn port() -> anyhow::Result<u16> {
    let raw = match std::env::args().nth(1) {
        Some(arg) => arg,
        None => std::env::var("PORT").context("give the port as the argument or in PORT")?,
    };
    raw.parse()
        .with_context(|| format!("the port must be a number from 0 to 65535, got {raw:?}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = port()?;
    let app = Router::new().route("/v1/me", get(me));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    println!("bare-me listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await.context("serving")?;
    Ok(())
}

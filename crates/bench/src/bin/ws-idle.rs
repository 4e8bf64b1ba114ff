//! Idle WebSocket connections for the connection density benchmark (benches/ws-idle.sh): opens
//! N connections to one server, each from its own source address spread over 127.0.0.0/8, keeps
//! them open and answers the server's pings, prints `connected N` once all are up, and holds them
//! until killed.
//!
//! Usage: `ws-idle PROTOCOL HOST:PORT N`, PROTOCOL one of
//!   dragoman   GET /v1/ws with a token per connection, each for a user of its own, signed with
//!              $JWT_SECRET (the server's)
//!   ws         GET / (the npm ws peer)
//!   socketio   the Engine.IO 4 WebSocket transport, joining the default namespace
//!              (the npm Socket.IO peer): answers its pings ("2") with pongs ("3")

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use dragoman_bench::fanout::{Protocol, source, upgrade_path};
use dragoman_http::auth::Tokens;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

async fn hold(
    protocol: Protocol,
    server: SocketAddr,
    n: usize,
    path: String,
    connected: Arc<AtomicUsize>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source(n).into(), 0))?;
    let stream = socket.connect(server).await.context("connecting")?;
    let url = format!("ws://{server}{path}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .context("upgrading")?;
    if protocol == Protocol::SocketIo {
        // The open packet ("0{...}"), then join the default namespace.
        ws.next().await.context("no open packet")??;
        ws.send(Message::text("40")).await?;
    }
    connected.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    // Reading answers WebSocket pings (tungstenite queues the pong); Engine.IO pings are text.
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message?
            && protocol == Protocol::SocketIo
            && text.as_str() == "2"
        {
            ws.send(Message::text("3")).await?;
        }
    }
    bail!("the server closed connection {n}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, protocol, server, count] = args.as_slice() else {
        bail!("usage: ws-idle dragoman|ws|socketio HOST:PORT N");
    };
    let protocol = Protocol::parse(protocol)?;
    let server: SocketAddr = server.parse().context("HOST:PORT")?;
    let count: usize = count.parse().context("N")?;
    let tokens = match protocol {
        Protocol::Dragoman => {
            let secret = std::env::var("JWT_SECRET").context("JWT_SECRET (the server's)")?;
            Some(Tokens::new(
                secret.as_bytes(),
                Duration::from_secs(3600),
                Duration::from_secs(3600),
            ))
        }
        _ => None,
    };
    let connected = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // A few hundred handshakes in flight at a time, as a fleet of apps reconnecting would.
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    for n in 0..count {
        let path = upgrade_path(tokens.as_ref(), protocol)?;
        let permit = permits.clone().acquire_owned().await?;
        let (connected, failed) = (connected.clone(), failed.clone());
        tokio::spawn(async move {
            if let Err(e) = hold(protocol, server, n, path, connected, permit).await
                && failed.fetch_add(1, Ordering::Relaxed) < 5
            {
                eprintln!("connection {n}: {e:#}");
            }
        });
    }
    loop {
        let (up, down) = (
            connected.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
        );
        if up + down >= count {
            println!("connected {up} failed {down}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Hold them until killed.
    std::future::pending::<()>().await;
    Ok(())
}

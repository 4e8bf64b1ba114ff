//! The WebSocket test client every test of the gateway uses (an instance of the test's own, two
//! instances sharing Redis, or the local stack behind nginx): connect with a token or a ticket,
//! send JSON, read the next event within a bound, read until the close frame, and see that no
//! event of a kind came without waiting for a timeout: a probe the server answers in order is the
//! witness that everything sent before it has arrived.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Account, TestApp};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame it expects before it fails: a bound for a loaded machine,
/// not a measure of anything.
pub const WAIT: Duration = Duration::from_secs(15);

/// The gateway's URL at `base` (`http://...`) with `query` (`""` for none).
pub fn url_at(base: &str, query: &str) -> String {
    let ws = format!("{}/v1/ws", base.replace("http://", "ws://"));
    if query.is_empty() {
        ws
    } else {
        format!("{ws}?{query}")
    }
}

/// The test application's gateway URL with `query`.
pub fn ws_url(app: &TestApp, query: &str) -> String {
    url_at(&app.base, query)
}

/// Opens a socket at `base` with the access token `access` in the Authorization header, and
/// `headers` besides (a sticky cookie, say).
pub async fn connect_at(base: &str, access: &str, headers: &[(&'static str, String)]) -> Socket {
    let mut request = url_at(base, "").into_client_request().expect("request");
    let all = request.headers_mut();
    all.insert(
        "authorization",
        format!("Bearer {access}").parse().expect("header"),
    );
    for (name, value) in headers {
        all.insert(*name, value.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded")
        .0
}

/// Opens a socket on the test application as `account`.
pub async fn connect(app: &TestApp, account: &Account) -> Socket {
    connect_at(&app.base, &account.access, &[]).await
}

/// Opens a socket at `url` (credentials in its query: a ticket or an access token).
pub async fn open(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("upgraded")
        .0
}

/// A socket at `url`, or the status its upgrade was refused with.
pub async fn upgrade(url: &str) -> Result<Socket, u16> {
    match tokio_tungstenite::connect_async(url).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("expected an upgrade or an HTTP refusal, got {other}"),
    }
}

/// The status an upgrade at `url` is refused with.
pub async fn refused(url: &str) -> u16 {
    match upgrade(url).await {
        Err(status) => status,
        Ok(_) => panic!("upgraded; expected a refusal"),
    }
}

pub async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("sent");
}

/// The next JSON text frame within `wait` (other frames are skipped); `None` if none came, or
/// the socket closed or broke.
pub async fn next_within(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(text.as_str()).expect("JSON"));
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// The next JSON text frame within [`WAIT`] (pings and pongs are skipped; any other frame fails
/// the test).
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Frames until one of `kind`.
pub async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next(socket).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// The close frame a socket received while its client stayed silent: the frames are read from
/// the TCP stream under the WebSocket layer, which would otherwise answer the server's pings (and
/// so stop being silent). Returns once the server has closed the connection (the witness that the
/// close happened), within [`WAIT`].
pub async fn closed_while_silent(socket: &mut Socket) -> (CloseCode, String) {
    use tokio::io::AsyncReadExt;
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() else {
        panic!("the tests' sockets are plain TCP");
    };
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut bytes))
        .await
        .expect("the server closed the connection in time")
        .expect("read the connection to its end");
    // Server frames are unmasked: opcode, length (7 bits, or 16 or 64 more), payload.
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])),
                4,
            ),
            127 => panic!("no frame here is that long"),
            short => (usize::from(short), 2),
        };
        let payload = &bytes[at + header..at + header + len];
        if opcode == 0x8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let reason = String::from_utf8_lossy(&payload[2..]).into_owned();
            return (CloseCode::from(code), reason);
        }
        at += header + len;
    }
    panic!("the connection ended without a close frame: {bytes:?}");
}

/// The close frame the server sends, within [`WAIT`] (frames before it are skipped).
pub async fn closed_with(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

/// Sends a message of a type the server does not know and returns the frames that came before
/// its `error` answer. The server answers a connection's messages in order, so these are all it
/// had sent that connection before it read the probe: what has not come by then did not happen
/// before it, and no test has to wait for a timeout to say so.
pub async fn until_probe_answered(socket: &mut Socket) -> Vec<Value> {
    send(socket, json!({"type": "probe"})).await;
    let mut before = Vec::new();
    loop {
        let frame = next(socket).await;
        if frame["type"] == "error" && frame["data"]["code"] == "unknown_type" {
            return before;
        }
        before.push(frame);
    }
}

/// The connection answers: an unknown message gets its `error` frame.
pub async fn still_answers(socket: &mut Socket) {
    send(socket, json!({"type": "ping?"})).await;
    assert_eq!(
        next_of(socket, "error").await["data"]["code"],
        "unknown_type"
    );
}

//! The object storage suite on the embedded implementation, through the server's own signed
//! routes served over real HTTP.

use std::sync::Arc;

use dragoman_objects_local::{LocalObjects, SigningKey};
use dragoman_ports::{ManualClock, ObjectStorage};

/// Serves the signed routes on port 0 over a fresh directory, signing and verifying on a manual
/// clock set to the present; the guard keeps both alive.
async fn local() -> (
    Arc<dyn ObjectStorage>,
    Arc<ManualClock>,
    (tempfile::TempDir, tokio::task::JoinHandle<()>),
) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    let objects = LocalObjects::open(
        dir.path().join("objects"),
        &format!("http://{address}"),
        SigningKey::derive(b"a test secret of at least 32 bytes!"),
        clock.clone(),
    )
    .expect("the storage opens");
    let app = dragoman_objects_local::routes::router::<()>(objects.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (Arc::new(objects), clock, (dir, server))
}

dragoman_conformance::objects_suite!(local().await);

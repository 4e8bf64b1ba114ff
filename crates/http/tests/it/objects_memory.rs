//! Memory of a 20 MiB upload to the embedded storage: the body is streamed to disk, so the
//! process grows by far less than the file. It measures its process, so it runs in one of its
//! own (`alone_in_process`). Run with
//! `cargo test -p dragoman-http --test it objects_memory -- --nocapture` (figures in
//! benches/files.md).

use std::sync::Arc;
use std::time::Duration;

use dragoman_conformance::process::alone_in_process;
use dragoman_objects_local::{LocalObjects, SigningKey};
use dragoman_ports::{ObjectKey, ObjectStorage, SystemClock, UploadSpec};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mib_upload_is_streamed_not_buffered() {
    if !alone_in_process(module_path!(), "a_20_mib_upload_is_streamed_not_buffered") {
        return;
    }
    const SIZE: u64 = 20 * 1024 * 1024;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    let objects = LocalObjects::open(
        dir.path().join("objects"),
        &format!("http://{address}"),
        SigningKey::derive(b"a test secret of at least 32 bytes!"),
        Arc::new(SystemClock),
    )
    .expect("the storage opens");
    let app = dragoman_objects_local::routes::router::<()>(objects.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let key = ObjectKey::parse("sessions/s/documents/d").expect("a key");
    let put = objects
        .presign_put(
            &key,
            &UploadSpec {
                content_type: "application/pdf".to_owned(),
                content_length: SIZE,
            },
            Duration::from_secs(300),
        )
        .await
        .expect("presign");
    // The client generates its body in 64 KiB chunks, so it holds no copy of the file either.
    let chunks = futures::stream::iter(
        (0..SIZE / 65_536).map(|_| Ok::<_, std::io::Error>(vec![b'%'; 65_536])),
    );
    let before = rss_kib();
    let response = reqwest::Client::new()
        .put(&put.url)
        .header("content-type", "application/pdf")
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("the upload is answered");
    let after = rss_kib();
    assert!(response.status().is_success(), "{}", response.status());
    let grown = after.saturating_sub(before);
    println!("20 MiB upload: RSS {before} KiB -> {after} KiB, growth {grown} KiB");
    assert_eq!(
        objects.head(&key).await.expect("head").map(|m| m.size),
        Some(SIZE)
    );
    assert!(
        grown < 8 * 1024,
        "the process grew by {grown} KiB for a 20 MiB upload"
    );
}

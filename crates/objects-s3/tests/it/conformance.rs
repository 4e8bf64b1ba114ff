//! The object storage suite on a real S3-compatible server that verifies SigV4 signatures:
//! s3s-fs 0.14.1, started with access keys for each test (without keys it would accept
//! anonymous requests and prove nothing).
//!
//! The binary is found at `$S3S_FS` or `~/.cache/dragoman/bin/s3s-fs` (scripts/services
//! installs it). Without it the suite fails: it is never skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use dragoman_objects_s3::{S3Objects, S3Settings};
use dragoman_ports::ObjectStorage;

const ACCESS_KEY: &str = "dragoman-test-key";
const SECRET_KEY: &str = "dragoman-test-secret-0123456789";

fn binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("S3S_FS").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dragoman/bin/s3s-fs")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Kills the server and removes its directory when the test ends.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3() -> Option<(Arc<dyn ObjectStorage>, Server)> {
    // Never skipped: without the server the suite fails (scripts/test installs it).
    let binary = binary().expect("s3s-fs is not installed: run scripts/s3s-fs (scripts/test does)");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("bucket")).expect("the bucket directory");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let server = Server { child, _dir: dir };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let objects = S3Objects::new(S3Settings {
        bucket: "bucket".to_owned(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".to_owned(),
        static_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
    })
    .expect("S3 configures");
    Some((Arc::new(objects), server))
}

dragoman_conformance::objects_suite!(match s3().await {
    Some(pair) => pair,
    None => return,
});

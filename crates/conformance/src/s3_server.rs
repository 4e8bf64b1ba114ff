//! The S3 test server every crate's tests share: s3s-fs (which verifies SigV4 signatures) on a
//! free port, serving a temporary directory with one bucket, started with access keys (without
//! them it would accept anonymous requests and prove nothing) and killed when dropped.
//!
//! The binary is found at `$S3S_FS` or `~/.cache/dragoman/bin/s3s-fs` (`scripts/s3s-fs` installs
//! it). Without it a test fails: it is never skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server is started with.
pub const ACCESS_KEY: &str = "dragoman-test-key";
/// The secret key the server is started with.
pub const SECRET_KEY: &str = "dragoman-test-secret-0123456789";
/// The one bucket the server holds.
pub const BUCKET: &str = "bucket";

/// An s3s-fs server of the test's own, killed on drop.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// What it serves: the bucket is the directory [`BUCKET`] in it.
    pub dir: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    let candidates = [
        std::env::var_os("S3S_FS").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dragoman/bin/s3s-fs")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .expect("s3s-fs is not installed: run scripts/s3s-fs (scripts/test does)")
}

impl S3Server {
    /// Starts s3s-fs with the bucket [`BUCKET`] and returns once it accepts connections.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join(BUCKET)).expect("the bucket directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs starts");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        };
        // A loaded machine may take a while to start a process; a server that never listens
        // fails the test rather than hang it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "s3s-fs did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The bucket's directory: an object `key` is the file `bucket_dir().join(key)`.
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join(BUCKET)
    }
}

//! The storage and upload quota settings: unusable ones stop the binary with status 2, naming the variable.

use std::process::Command;

fn refused(envs: &[(&str, &str)], variable: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dragoman"));
    command
        .env_clear()
        .env("DATA_DIR", dir.path())
        .args(["assets", "put", "/dev/null", "x.json"]);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("configuration error: {variable}: ")),
        "{stderr}"
    );
}

#[test]
fn unusable_storage_settings_stop_the_binary() {
    refused(&[("S3_ENDPOINT", "http://127.0.0.1:9000")], "S3_BUCKET");
    refused(&[("S3_BUCKET", "Not_A_Bucket")], "S3_BUCKET");
    refused(
        &[("S3_BUCKET", "uploads"), ("S3_ENDPOINT", "127.0.0.1:9000")],
        "S3_ENDPOINT",
    );
    refused(
        &[("S3_BUCKET", "uploads"), ("AWS_REGION", " ")],
        "AWS_REGION",
    );
    refused(&[("UPLOAD_ABANDON_SECS", "10")], "UPLOAD_ABANDON_SECS");
    refused(&[("DOCUMENTS_PER_SESSION", "0")], "DOCUMENTS_PER_SESSION");
    refused(
        &[("DOCUMENTS_PER_SESSION", "100000")],
        "DOCUMENTS_PER_SESSION",
    );
    refused(&[("UPLOAD_URLS_PER_HOUR", "0")], "UPLOAD_URLS_PER_HOUR");
}

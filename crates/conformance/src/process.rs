//! A process of a test's own, for the few tests that measure something process-wide (the
//! Prometheus recorder, every panic, the resident memory) and so must not share their process
//! with other tests.
//!
//! Every crate's integration tests are one test binary. cargo-nextest runs each test in a
//! process of its own, so there the test simply runs. Under `cargo test`, which runs a binary's
//! tests as threads of one process, the test runs itself again, alone, in a child process of the
//! same binary, and passes if and only if that run passed.

use std::process::Command;

/// Set in the child process that runs one test alone.
const ALONE: &str = "DRAGOMAN_TEST_ALONE";

/// Whether the calling test should run its body here: `true` when this process runs no other
/// test (under cargo-nextest, or in the child started below). Otherwise runs the test `name`
/// of module `module` (pass `module_path!()`) alone in a child process of this test binary,
/// prints its output, asserts that it ran and passed, and returns `false`: the caller returns.
pub fn alone_in_process(module: &str, name: &str) -> bool {
    let nextest = std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|m| m == "process-per-test");
    if nextest || std::env::var_os(ALONE).is_some() {
        return true;
    }
    // The test's path as the harness names it: the module path without the crate's name.
    let path = match module.split_once("::") {
        Some((_, inside)) => format!("{inside}::{name}"),
        None => name.to_owned(),
    };
    let binary = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(binary)
        .args([path.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{path}, alone: {}", output.status);
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{path} did not run alone: no such test"
    );
    false
}

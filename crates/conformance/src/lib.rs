//! Conformance suites: the behaviour every implementation of a port must show.
//!
//! Each suite is a set of async functions taking the port as a trait object, and a macro that
//! expands them into one `#[tokio::test]` per case inside an adapter's test module. The adapter
//! supplies only a factory expression that yields `(Arc<dyn Port>, guard)`: the guard keeps a
//! temporary directory or database alive until the test ends. Writing the suite once is what makes
//! the embedded and the networked implementations interchangeable rather than merely similar.
//!
//! Beside the suites, what several crates' tests share: the S3 test server ([`s3_server`]) and a
//! process of a test's own ([`process`]).

pub mod availability;
pub mod bus;
pub mod connections;
pub mod files;
pub mod limiter;
pub mod matching;
pub mod objects;
pub mod presence;
pub mod process;
pub mod queue;
pub mod retention;
pub mod s3_server;
pub mod store;
pub mod time;

pub use time::Time;

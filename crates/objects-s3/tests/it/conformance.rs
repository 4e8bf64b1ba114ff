//! The object storage suite on a real S3-compatible server that verifies SigV4 signatures:
//! s3s-fs 0.14.1, the test server of `dragoman_conformance::s3_server`, one per test.

use std::sync::Arc;

use dragoman_conformance::s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use dragoman_objects_s3::{S3Objects, S3Settings};
use dragoman_ports::{ManualClock, ObjectStorage};

/// The storage signs on a manual clock set to the present; the server verifies on its own.
async fn s3() -> (Arc<dyn ObjectStorage>, Arc<ManualClock>, S3Server) {
    let server = S3Server::start().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let objects = S3Objects::with_clock(
        S3Settings {
            bucket: BUCKET.to_owned(),
            endpoint: Some(server.endpoint.clone()),
            region: "us-east-1".to_owned(),
            static_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
        },
        clock.clone(),
    )
    .expect("S3 configures");
    (Arc::new(objects), clock, server)
}

dragoman_conformance::objects_suite!(s3().await);

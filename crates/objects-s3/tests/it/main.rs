//! The S3 object storage's integration tests, as one test binary (the layout every crate's
//! integration tests share): the object storage suite on s3s-fs (`conformance`).

mod conformance;

//! Files over HTTP, black-box: avatar and session document uploads with the embedded storage
//! (the server's own signed URLs) and with S3 (s3s-fs, which verifies SigV4), on both stores;
//! app assets; and the removal of abandoned uploads.

mod support;

mod abuse;
mod assets;
mod avatar;
mod config;
mod documents;
mod matched;
mod s3;
mod sweep;

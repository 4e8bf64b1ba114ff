//! The API's resources, one module each.

pub mod accounts;
pub mod assets;
pub mod availability;
pub mod files;
pub mod interpreters;
pub mod jobs;
pub mod offers;
pub mod operations;
pub mod requests;
pub mod sessions;

//! The API's resources, one module each.

pub mod accounts;
pub mod interpreters;
pub mod operations;

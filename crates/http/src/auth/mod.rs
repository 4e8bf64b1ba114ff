//! Credentials: password hashing, access tokens and refresh tokens.

pub mod passwords;
pub mod tokens;

pub use passwords::Passwords;
pub use tokens::Tokens;

//! Credentials: password hashing, access tokens and refresh tokens.

pub mod limits;
pub mod passwords;
pub mod tokens;

pub use limits::AddressLimit;
pub use passwords::{PasswordBudget, PasswordError, Passwords};
pub use tokens::Tokens;

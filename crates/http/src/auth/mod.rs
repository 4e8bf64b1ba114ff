//! Credentials at the API's edge: the access tokens it signs and verifies. Password hashing and
//! attempt limits are the accounts service's (`dragoman_engine::accounts`), re-exported here for
//! the binary that configures them.

pub mod tokens;

pub use dragoman_engine::accounts::{
    AddressLimit, PasswordBudget, PasswordError, Passwords, limits, passwords,
};
pub use tokens::Tokens;

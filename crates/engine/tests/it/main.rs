//! The engine's integration tests, as one test binary (the layout every crate's integration
//! tests share): two instances sharing one store (`roster`).

mod roster;

//! The embedded store's integration tests, as one test binary (the layout every crate's
//! integration tests share): the job queue suite and its effects (`queue`).

mod queue;

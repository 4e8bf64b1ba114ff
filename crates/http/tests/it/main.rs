//! The HTTP layer's integration tests, as one test binary: the object storage suite through the
//! embedded storage's signed routes (`objects_local`), the memory of a large upload
//! (`objects_memory`), and the WebSocket connection's bus instructions and outbox
//! (`ws_dismissal`, `ws_outbox`).

mod objects_local;
mod objects_memory;
mod ws_dismissal;
mod ws_outbox;

//! In-process implementations of the ports: the bus and its per-user event logs, presence
//! marks, the attempt limiter, the WebSocket connection registry and the availability cache, in
//! this process's memory. Start-up (`crates/dragoman/src/startup.rs`) picks them when REDIS_URL
//! is unset, and their Redis counterparts (`dragoman-redis`) when it is set.
//!
//! Each serves exactly one instance. Nothing refuses several instances sharing one PostgreSQL
//! without Redis, and nothing can at start-up: no setting says how many instances there are.
//! That fleet stays correct, because claims, leases, timers and the job queue are in the
//! database (the fleet tests run it on purpose: no double assignment), but each instance sees
//! only its half of the picture: events reach only its own WebSockets, login limits and
//! WS_MAX_PER_USER count per instance, and a status change made through another instance
//! reaches matching only at the roster's next full read. README.md ("Supported
//! configurations") supports one instance without Redis; a fleet sets REDIS_URL, as the
//! deployment does (infra/terraform/modules/service passes it to every task, and
//! infra/tests checks it), and JWT_SECRET, which REDIS_URL requires.

mod availability;
mod bus;
mod connections;
mod limiter;
mod presence;

pub use availability::InProcessAvailability;
pub use bus::InProcessBus;
pub use connections::InProcessConnections;
pub use limiter::InProcessLimiter;
pub use presence::InProcessPresence;

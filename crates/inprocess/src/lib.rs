//! In-process implementations of the ports. Each serves exactly one instance: two instances
//! sharing a database but not these would each see only half the picture. `startup` refuses to
//! run a fleet on them (REDIS_URL is how a fleet shares them).

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

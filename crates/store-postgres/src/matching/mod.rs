//! The matching roles on PostgreSQL: requests, claims, offers, sessions, presence, leases,
//! statistics and explanations, each implemented in the file of its name.
//!
//! Every state-changing method is one transaction that locks the rows it reads (`FOR UPDATE`,
//! interpreters first, then requests, then offers, each set in id order), applies the pure
//! transitions of `dragoman_domain::matching`, and writes the results back. The schema's named
//! unique indexes (`migrations/0002_matching.sql`) are the last line behind the locks. Nothing
//! here keeps session state, so it runs unchanged through PgBouncer in transaction pooling.
//!
//! The durable timers (offer timeouts in [`offers`], request expiries in [`requests`], the ends
//! of wrap-ups in [`sessions`]) are sweeps of one transaction each. A sweep finds what is due
//! without locking, locks the interpreters concerned, then the requests, then the offers (each
//! set in id order), and settles what is still due once locked: a row another instance settled
//! meanwhile is simply no longer due. A request that gained a pending offer between the first
//! read and the locks would need its interpreter locked out of order, so the sweep runs again
//! instead.
//!
//! Beside the roles: [`rows`] (reading rows into domain values), [`desk`] (an interpreter's
//! presence and counters), [`records`] (request and offer rows), [`retry`], and [`settle`] (what
//! an unanswered offer's end does).

mod claims;
mod desk;
mod explanations;
mod lease;
mod offers;
mod presence;
mod records;
mod requests;
mod retry;
mod rows;
mod sessions;
mod settle;
mod stats;

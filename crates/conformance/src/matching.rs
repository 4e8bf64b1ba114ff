//! The matching store suite: requests, offers, sessions, presence, timers, leases, statistics.
//!
//! Each case is `pub async fn case(store, matching)`: users and interpreter profiles are made
//! through the [`Store`](dragoman_ports::Store) port, everything else through
//! [`MatchingStore`](dragoman_ports::MatchingStore), both views of one database. Every instant
//! is fixed (see [`fixtures::at`]), so a case means the same thing on every run and every
//! backend; only identifiers are minted fresh.
//!
//! The cases are grouped by what they exercise, one file each, along the role ports of
//! `dragoman_ports::matching` (each role's module states the invariants these cases check):
//! - [`requests`]: creation, one open request per client, cancellation, the expiry timer
//!   (`RequestStore`);
//! - [`idempotency`]: replays of a creation under the same key (`RequestStore`);
//! - [`claims`]: the atomic claim of an interpreter and a request by an offer (`ClaimStore`);
//! - [`answers`]: accept and decline (`OfferStore`);
//! - [`timeouts`]: the offer timeout, late answers, races with the timer, repeated misses
//!   (`OfferStore`);
//! - [`presence`]: interpreters' statuses, by hand and by matching (`PresenceStore`);
//! - [`snapshot`]: what matching decides from, and the day's counters (`ClaimStore`);
//! - [`sessions`]: ending, rating, listing and the wrap-up timer (`SessionStore`);
//! - [`stats`]: loads, recent activity, match times and status counts (`StatsStore`);
//! - [`explanations`] (`ExplanationStore`) and [`leases`] (`LeaseStore`).

pub mod answers;
pub mod claims;
pub mod explanations;
pub mod fixtures;
pub mod idempotency;
pub mod leases;
pub mod presence;
pub mod requests;
pub mod sessions;
pub mod snapshot;
pub mod stats;
pub mod timeouts;

pub use answers::*;
pub use claims::*;
pub use explanations::*;
pub use idempotency::*;
pub use leases::*;
pub use presence::*;
pub use requests::*;
pub use sessions::*;
pub use snapshot::*;
pub use stats::*;
pub use timeouts::*;

/// Expands the matching suite into tests. `$factory` is an expression evaluated inside each
/// async test, yielding `(Arc<dyn Store>, Arc<dyn MatchingStore>, guard)` over one database.
#[macro_export]
macro_rules! matching_suite {
    ($factory:expr) => {
        $crate::matching_suite!(@cases $factory;
            creates_and_reads_requests,
            one_open_request_per_client,
            idempotency_keys_replay_within_their_window,
            cancel_follows_the_request_life_cycle,
            overdue_requests_expire_and_release_their_interpreter,
            apply_offer_claims_interpreter_and_request,
            concurrent_offers_to_one_interpreter_have_one_winner,
            concurrent_offers_of_one_request_have_one_winner,
            accept_opens_a_session,
            late_answers_are_refused,
            accept_and_expiry_race_has_one_winner,
            decline_requeues_and_is_never_offered_again,
            expired_offers_release_and_repeated_misses_set_away,
            new_interpreters_have_a_sane_presence,
            online_interpreters_are_listed,
            set_status_follows_the_manual_rules,
            leaving_reserved_rescinds_the_offer,
            snapshot_holds_what_matching_needs,
            today_counters_reset_on_a_new_utc_day,
            snapshot_sees_each_profile_change,
            snapshot_of_some_interpreters_matches_the_whole,
            end_session_by_participants_once,
            rate_session_by_the_client_once_after_the_end,
            wrap_ups_finish_after_the_pause,
            sessions_are_listed_newest_first_with_a_cursor,
            language_loads_count_interpreters_and_waiting_requests,
            recent_activity_of_a_language,
            match_times_since_an_instant,
            status_counts_by_language,
            explanations_round_trip_oldest_first,
            leases_are_exclusive_until_expiry,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, matching, _guard) = $factory;
                $crate::matching::$case(store, matching).await;
            }
        )+
    };
}

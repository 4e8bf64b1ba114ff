//! The invariants of API.md, checked from the outside after every step of random interleavings
//! of the service's operations.
//!
//! The checks read the model's records directly and re-derive what they need (whether a profile
//! fits, who was offered what, which request is ahead in line) without calling the code under
//! test, so that a bug in eligibility or in the plan cannot hide itself.

use std::cmp::Reverse;
use std::collections::HashSet;

use proptest::prelude::*;

use super::generate::{op, world};
use super::{Desk, Op, Outcome, World};
use crate::matching::{Need, Plan, Request, RequestStatus};
use crate::{InterpreterStatus, Profile};

fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// Whether the profile has the language, the specialization and the modality.
fn fits(profile: &Profile, need: &Need) -> bool {
    profile.languages().iter().any(|l| l.code == need.language)
        && profile.specializations.contains(need.specialization)
        && profile.modalities.contains(need.modality)
}

fn ever_offered(world: &World, r: &Request, desk: &Desk) -> bool {
    world
        .offers
        .iter()
        .any(|o| o.request_id == r.id && o.interpreter_id == desk.id)
}

/// Whether `desk` could be offered `r` in `world`.
fn could_take(world: &World, desk: &Desk, r: &Request) -> bool {
    desk.presence.status == InterpreterStatus::Available
        && fits(&desk.profile, &r.need)
        && !ever_offered(world, r, desk)
}

/// `a` is served before `b`: higher priority, then earlier, then smaller id.
fn ahead(a: &Request, b: &Request) -> bool {
    (Reverse(a.priority), a.created_at, a.id) < (Reverse(b.priority), b.created_at, b.id)
}

/// The invariants that hold after every step.
fn check(world: &World) -> Result<(), String> {
    for d in &world.desks {
        let pending = world
            .offers
            .iter()
            .filter(|o| o.interpreter_id == d.id && o.is_pending())
            .count();
        let open = world
            .sessions
            .iter()
            .filter(|s| s.interpreter_id == d.id && s.is_open())
            .count();
        ensure(pending + open <= 1, || {
            format!("{}: {pending} pending offers, {open} open sessions", d.id)
        })?;
        let status = d.presence.status;
        ensure(
            (status == InterpreterStatus::Reserved) == (pending == 1),
            || format!("{} is {status:?} with {pending} pending", d.id),
        )?;
        ensure((status == InterpreterStatus::Busy) == (open == 1), || {
            format!("{} is {status:?} with {open} open sessions", d.id)
        })?;
    }
    for r in &world.requests {
        let pending = world
            .offers
            .iter()
            .filter(|o| o.request_id == r.id && o.is_pending())
            .count();
        let sessions = world
            .sessions
            .iter()
            .filter(|s| s.request_id == r.id)
            .count();
        let expected = match r.status {
            RequestStatus::Offered => (1, 0),
            RequestStatus::Matched => (0, 1),
            RequestStatus::Queued | RequestStatus::Cancelled | RequestStatus::Expired => (0, 0),
        };
        ensure((pending, sessions) == expected, || {
            format!(
                "{:?} request with {pending} pending offers, {sessions} sessions",
                r.status
            )
        })?;
    }
    let records = world
        .offers
        .iter()
        .map(|o| (o.request_id, o.interpreter_id, o.need))
        .chain(
            world
                .sessions
                .iter()
                .map(|s| (s.request_id, s.interpreter_id, s.need)),
        );
    for (request, interpreter, need) in records {
        let r = world
            .requests
            .iter()
            .find(|r| r.id == request)
            .ok_or("an unknown request")?;
        let d = world
            .desks
            .iter()
            .find(|d| d.id == interpreter)
            .ok_or("an unknown interpreter")?;
        ensure(need == r.need && fits(&d.profile, &r.need), || {
            format!("{interpreter} cannot serve {:?}", r.need)
        })?;
    }
    let pairs: HashSet<_> = world
        .offers
        .iter()
        .map(|o| (o.request_id, o.interpreter_id))
        .collect();
    ensure(pairs.len() == world.offers.len(), || {
        "an interpreter was offered the same request twice".into()
    })?;
    ensure(
        pairs.iter().all(|&(r, i)| world.history.contains(r, i))
            && world.history.len() == pairs.len(),
        || "the offer history is wrong".into(),
    )
}

/// The invariants of one round of matching, from the world it saw to the world it left.
///
/// Interpreters whose pending offer went with an expiring request count as free from the start
/// of the round, as they are once the round is applied.
fn check_plan(before: &World, after: &World, plan: &Plan) -> Result<(), String> {
    let mut start = before.clone();
    for r in &after.requests {
        if r.status != RequestStatus::Expired {
            continue;
        }
        let held = before
            .offers
            .iter()
            .find(|o| o.request_id == r.id && o.is_pending());
        for d in start
            .desks
            .iter_mut()
            .filter(|d| held.is_some_and(|o| o.interpreter_id == d.id))
        {
            d.presence.status = InterpreterStatus::Available;
        }
    }
    let before = &start;
    let max_wait = after.matcher.config().max_wait;
    let waiting: Vec<&Request> = after
        .requests
        .iter()
        .filter(|r| r.status == RequestStatus::Queued)
        .collect();
    for r in after.requests.iter().filter(|r| r.status.is_open()) {
        ensure(after.now < r.created_at + max_wait, || {
            format!("{} outlived the maximum wait", r.id)
        })?;
    }
    for p in &plan.offers {
        let b = before
            .requests
            .iter()
            .find(|r| r.id == p.request_id)
            .ok_or("unknown request")?;
        let x = before
            .desks
            .iter()
            .find(|d| d.id == p.interpreter_id)
            .ok_or("unknown interpreter")?;
        ensure(
            b.status == RequestStatus::Queued && could_take(before, x, b),
            || {
                format!(
                    "{} offered {:?} to {} who could not take it",
                    b.id, b.status, x.id
                )
            },
        )?;
        for a in &waiting {
            ensure(!(ahead(a, b) && could_take(before, x, a)), || {
                format!(
                    "{} went to {} while {} waited ahead of it",
                    b.id, x.id, a.id
                )
            })?;
        }
        let e = &p.explanation;
        ensure(
            e.chosen == Some(x.id) && e.eligible.first().map(|c| c.interpreter_id) == Some(x.id),
            || "the explanation names someone else".into(),
        )?;
        ensure(
            e.eligible.len() as u64 + e.excluded_total() == before.desks.len() as u64,
            || "the explanation misses someone".into(),
        )?;
    }
    for a in &waiting {
        for y in &after.desks {
            ensure(!could_take(after, y, a), || {
                format!("{} waits while {} could take it", a.id, y.id)
            })?;
        }
    }
    Ok(())
}

/// Applies one operation and checks every invariant after it.
fn step(world: &mut World, op: &Op) -> Result<(), TestCaseError> {
    let fail = |e: String| TestCaseError::fail(format!("after {op:?}: {e}"));
    let outcome = world.apply(op).map_err(fail)?;
    check(world).map_err(fail)?;
    if let Outcome::Planned { before, plan } = outcome {
        check_plan(&before, world, &plan).map_err(fail)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random interleavings keep every invariant, and every request ends matched, cancelled or
    /// expired once the maximum wait has passed.
    #[test]
    fn every_interleaving_keeps_the_invariants(mut world in world(), ops in prop::collection::vec(op(), 1..150)) {
        for op in &ops {
            step(&mut world, op)?;
        }
        let max_wait = world.matcher.config().max_wait.num_seconds();
        step(&mut world, &Op::Tick { seconds: max_wait })?;
        step(&mut world, &Op::Plan)?;
        prop_assert!(world.requests.iter().all(|r| r.status.is_final()), "a request outlived the maximum wait");
    }
}

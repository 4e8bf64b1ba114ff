//! The order in which waiting requests are served.
//!
//! First in, first out per language, with an optional priority: a higher priority goes first,
//! then the earlier request, then the smaller id, so that two requests created in the same
//! millisecond still have one order on every instance. Matching walks all waiting requests in
//! this one order, whatever their language, so an interpreter with two languages goes to the
//! request that has waited longest; FIFO per language follows from it.
//!
//! A request's queue position is its place among the `queued` requests of its language (1 =
//! next), as API.md defines it; an offered, matched or closed request has none.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Request, RequestId, RequestStatus};

/// How urgently a request should be served. Higher goes first; 0 is the ordinary priority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Priority(pub i16);

impl Priority {
    pub const NORMAL: Priority = Priority(0);
}

/// `Less` when `a` is served before `b`.
pub fn queue_order(a: &Request, b: &Request) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.created_at.cmp(&b.created_at))
        .then(a.id.cmp(&b.id))
}

/// The queue position of every `queued` request, counted per language (1 = next).
pub fn queue_positions(requests: &[Request]) -> HashMap<RequestId, u32> {
    let mut queued: Vec<&Request> = requests
        .iter()
        .filter(|r| r.status == RequestStatus::Queued)
        .collect();
    queued.sort_by(|a, b| queue_order(a, b));
    let mut next_by_language = HashMap::new();
    let mut positions = HashMap::with_capacity(queued.len());
    for r in queued {
        let next = next_by_language.entry(r.need.language).or_insert(0u32);
        *next += 1;
        positions.insert(r.id, *next);
    }
    positions
}

/// The queue position of one request among `requests` (which should hold its language's queue),
/// or `None` when it is not `queued`.
pub fn queue_position(requests: &[Request], id: RequestId) -> Option<u32> {
    let me = requests
        .iter()
        .find(|r| r.id == id && r.status == RequestStatus::Queued)?;
    let ahead = requests
        .iter()
        .filter(|r| {
            r.status == RequestStatus::Queued
                && r.need.language == me.need.language
                && queue_order(r, me) == Ordering::Less
        })
        .count();
    u32::try_from(ahead + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::RequestEvent;
    use crate::matching::fixtures::{lang, request};

    fn with(mut r: Request, priority: i16, language: &str) -> Request {
        r.priority = Priority(priority);
        r.need.language = lang(language);
        r
    }

    #[test]
    fn higher_priority_then_earlier_then_smaller_id() {
        let mut rs = [
            with(request(1, 5), 0, "es"),
            with(request(2, 1), 0, "es"),
            with(request(3, 9), 1, "es"),
            with(request(4, 1), 0, "es"),
        ];
        rs.sort_by(queue_order);
        let ids: Vec<_> = rs.iter().map(|r| r.id).collect();
        assert_eq!(ids, [3, 2, 4, 1].map(|n| request(n, 0).id));
    }

    #[test]
    fn positions_count_queued_requests_of_the_same_language() {
        let offered = request(2, 1)
            .apply(RequestEvent::Offer)
            .expect("offer a queued request");
        let rs = vec![
            with(request(1, 0), 0, "es"),
            offered,
            with(request(3, 2), 0, "fr"),
            with(request(4, 3), 0, "es"),
            with(request(5, 4), 2, "es"),
        ];
        let positions = queue_positions(&rs);
        assert_eq!(positions.get(&rs[4].id), Some(&1));
        assert_eq!(positions.get(&rs[0].id), Some(&2));
        assert_eq!(positions.get(&rs[3].id), Some(&3));
        assert_eq!(positions.get(&rs[2].id), Some(&1));
        assert_eq!(positions.get(&offered.id), None);
        for r in &rs {
            assert_eq!(queue_position(&rs, r.id), positions.get(&r.id).copied());
        }
    }
}

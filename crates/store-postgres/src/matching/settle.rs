//! What settling a pending offer without an answer does to its request and its interpreter.
//!
//! A rescind (the request was cancelled or expired, or the interpreter left) and a timeout both
//! send the request back to `queued`; the interpreter goes back to `available` (a rescind keeps
//! the idle place, a miss does not and may lead to `away`). These are the domain's transitions,
//! applied to rows the caller has locked.
//!
//! Requests and offers are written only by this store, always together, so a request that
//! refuses the move is a corrupt row. An interpreter's status may also have been changed through
//! the older compare-and-set of the account store; if it is no longer `reserved` there is nothing
//! to release, and the presence is left as it is rather than wedging a timer.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Offer, RequestEvent};
use dragoman_ports::StoreError;
use dragoman_ports::matching::RequestRecord;

use super::desk::Desk;
use crate::corrupt;

/// The request of a settled offer waits again.
fn requeue(request: &RequestRecord) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        request: request
            .request
            .apply(RequestEvent::Requeue)
            .map_err(corrupt)?,
        ..request.clone()
    })
}

/// Rescinds `offer`: the offer is `rescinded`, the request `queued`, the interpreter back to
/// `available` in their old idle place.
pub(crate) fn rescind(
    offer: &Offer,
    request: &RequestRecord,
    desk: Option<&mut Desk>,
    now: DateTime<Utc>,
) -> Result<(Offer, RequestRecord), StoreError> {
    let offer = offer.rescind().map_err(corrupt)?;
    let request = requeue(request)?;
    if let Some(desk) = desk
        && let Ok(presence) = desk.presence.rescind(now)
    {
        desk.presence = presence;
    }
    Ok((offer, request))
}

/// Expires `offer` on its timer: the offer is `expired`, the request `queued`, the interpreter
/// back to `available` at the back of the idle line, or `away` after `max_no_answer` misses in
/// a row. The flag says whether the interpreter went away.
pub(crate) fn expire(
    offer: &Offer,
    request: &RequestRecord,
    desk: Option<&mut Desk>,
    now: DateTime<Utc>,
    max_no_answer: u32,
) -> Result<(Offer, RequestRecord, bool), StoreError> {
    let offer = offer.expire().map_err(corrupt)?;
    let request = requeue(request)?;
    let mut went_away = false;
    if let Some(desk) = desk
        && let Ok(presence) = desk.presence.miss(now, max_no_answer)
    {
        went_away = presence.away_reason.is_some();
        desk.presence = presence;
    }
    Ok((offer, request, went_away))
}

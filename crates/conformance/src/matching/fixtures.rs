//! Builders shared by the matching cases: fixed instants, users, interpreters, requests, offers
//! and sessions, each made through the ports so that every case starts from real rows.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dragoman_domain::matching::{
    Candidate, Explanation, Need, Offer, OfferId, OrderingKey, Priority, Request, RequestId,
    Session, SessionId, Strategy,
};
use dragoman_domain::{
    DisplayName, Email, InterpreterStatus, LanguageCode, LanguageSkill, Level, Modality, Profile,
    Role, Specialization, UserId,
};
use dragoman_ports::matching::{
    AcceptOutcome, CreateRequestOutcome, SessionOutcome, SetStatusOutcome,
};
use dragoman_ports::{MatchingStore, NewUser, Store, StoreError};
use uuid::Uuid;

/// The offer timeout every case uses.
pub const OFFER_TIMEOUT: TimeDelta = TimeDelta::seconds(20);
/// The maximum wait every case uses.
pub const MAX_WAIT: TimeDelta = TimeDelta::seconds(300);
/// Seconds from [`at`]`(0)` to the next UTC midnight: `at(0)` is 2027-01-15T08:00:00Z.
pub const TO_NEXT_UTC_DAY: i64 = 16 * 3600;

/// `seconds` after a fixed origin (2027-01-15T08:00:00Z).
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("a valid instant")
}

pub fn lang(code: &str) -> LanguageCode {
    LanguageCode::parse(code).expect("a valid language code")
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId(Uuid::now_v7()),
        email: Email::parse(&format!("{name}@example.org")).expect("a valid e-mail"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        display_name: DisplayName::parse(name).expect("a valid name"),
        role,
        created_at: at(0),
    }
}

/// A client, created at `at(0)`.
pub async fn client(store: &dyn Store, name: &str) -> UserId {
    let user = store
        .create_user(new_user(name, Role::Client))
        .await
        .expect("a client is created");
    user.id
}

/// An interpreter created at `at(0)`, `offline`, without a profile.
pub async fn bare_interpreter(store: &dyn Store, name: &str) -> UserId {
    let user = store
        .create_user(new_user(name, Role::Interpreter))
        .await
        .expect("an interpreter is created");
    user.id
}

/// A profile with `codes`, every specialization of general and medical, video and audio.
pub fn profile(codes: &[&str]) -> Profile {
    Profile::new(
        codes
            .iter()
            .map(|c| LanguageSkill {
                code: lang(c),
                level: Level::Professional,
                certified: false,
            })
            .collect(),
        [Specialization::General, Specialization::Medical]
            .into_iter()
            .collect(),
        [Modality::Video, Modality::Audio].into_iter().collect(),
    )
    .expect("a valid profile")
}

/// An interpreter with a profile of `codes`, still `offline`.
pub async fn interpreter(store: &dyn Store, name: &str, codes: &[&str]) -> UserId {
    let id = bare_interpreter(store, name).await;
    store
        .put_profile(id, &profile(codes), at(0))
        .await
        .expect("the profile is saved");
    id
}

/// An interpreter with a profile of `codes` who became `available` at `at(since)`.
pub async fn available_interpreter(
    store: &dyn Store,
    matching: &dyn MatchingStore,
    name: &str,
    codes: &[&str],
    since: i64,
) -> UserId {
    let id = interpreter(store, name, codes).await;
    set_status(matching, id, InterpreterStatus::Available, since).await;
    id
}

/// A manual status change that must apply.
pub async fn set_status(matching: &dyn MatchingStore, id: UserId, to: InterpreterStatus, t: i64) {
    match matching.set_status(id, to, at(t)).await {
        Ok(SetStatusOutcome::Changed { presence, .. }) => assert_eq!(presence.status, to),
        other => panic!("expected the status to change to {to:?}, got {other:?}"),
    }
}

/// A new `queued` general video request of `code`, created at `at(t)` (not stored).
pub fn new_request(client: UserId, code: &str, t: i64) -> Request {
    Request::new(
        RequestId(Uuid::now_v7()),
        client,
        Need::new(lang(code), None, None),
        Priority::NORMAL,
        at(t),
    )
}

/// A request created at `at(t)`, expiring after [`MAX_WAIT`].
pub async fn queued(matching: &dyn MatchingStore, client: UserId, code: &str, t: i64) -> Request {
    let request = new_request(client, code, t);
    let outcome = matching
        .create_request(&request, request.created_at + MAX_WAIT, None)
        .await
        .expect("the request is stored");
    assert_eq!(outcome, CreateRequestOutcome::Created);
    request
}

/// A pending offer of `request` to `interpreter` made at `at(t)` (not stored).
pub fn new_offer(request: &Request, interpreter: UserId, t: i64) -> Offer {
    Offer::new(
        OfferId(Uuid::now_v7()),
        request,
        interpreter,
        at(t),
        OFFER_TIMEOUT,
    )
}

/// The explanation of choosing `interpreter` alone for `request` at `at(t)`.
pub fn explanation(request: &Request, interpreter: UserId, t: i64) -> Explanation {
    Explanation {
        request_id: request.id,
        need: request.need,
        strategy: Strategy::LongestIdleFirst,
        decided_at: at(t),
        eligible: vec![Candidate {
            interpreter_id: interpreter,
            ordering: OrderingKey::LongestIdle {
                idle_since: at(0),
                declines_today: 0,
            },
        }],
        excluded: Vec::new(),
        excluded_counts: Default::default(),
        chosen: Some(interpreter),
    }
}

/// Offers `request` to `interpreter` at `at(t)`; the claim must succeed.
pub async fn offered(
    matching: &dyn MatchingStore,
    request: &Request,
    interpreter: UserId,
    t: i64,
) -> Offer {
    let offer = new_offer(request, interpreter, t);
    let applied = matching
        .apply_offer(&offer, &explanation(request, interpreter, t))
        .await
        .expect("apply_offer");
    assert!(applied, "the offer of {} could not be made", request.id);
    offer
}

/// Accepts `offer` at `at(t)`; it must succeed.
pub async fn accepted(matching: &dyn MatchingStore, offer: &Offer, t: i64) -> Session {
    let outcome = matching
        .accept_offer(
            offer.id,
            offer.interpreter_id,
            SessionId(Uuid::now_v7()),
            at(t),
        )
        .await
        .expect("accept_offer");
    match outcome {
        AcceptOutcome::Accepted { session } => session,
        other => panic!("expected the offer to be accepted, got {other:?}"),
    }
}

/// A session between `client` and an available `interpreter`: a request of `code` created at
/// `at(t)`, offered at `t + 1`, accepted at `t + 2`.
pub async fn session_between(
    matching: &dyn MatchingStore,
    client: UserId,
    interpreter: UserId,
    code: &str,
    t: i64,
) -> Session {
    let request = queued(matching, client, code, t).await;
    let offer = offered(matching, &request, interpreter, t + 1).await;
    accepted(matching, &offer, t + 2).await
}

/// Ends `session` by `by` at `at(t)`; it must succeed.
pub async fn ended(matching: &dyn MatchingStore, session: &Session, by: UserId, t: i64) -> Session {
    match matching
        .end_session(session.id, by, at(t))
        .await
        .expect("end_session")
    {
        SessionOutcome::Done(s) => s,
        other => panic!("expected the session to end, got {other:?}"),
    }
}

/// The interpreter's current status.
pub async fn status_of(matching: &dyn MatchingStore, id: UserId) -> InterpreterStatus {
    matching
        .presence(id)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence
        .status
}

/// The creation was refused because the client already has an open request.
pub fn assert_one_open_conflict(result: Result<CreateRequestOutcome, StoreError>) {
    match result {
        Err(StoreError::Conflict { constraint }) => {
            assert_eq!(constraint, "requests_one_open_per_client")
        }
        other => panic!("expected requests_one_open_per_client, got {other:?}"),
    }
}

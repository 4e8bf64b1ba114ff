//! The fleet as it runs: `deploy/local/stack` starts three `dragoman` processes on PostgreSQL
//! (through PgBouncer) and Redis, behind nginx. Offers and matches cross instances, directly and
//! through nginx; availability reaches every instance's subscribers; a client resuming on
//! another instance misses nothing; a killed instance leaves no interpreter online.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::ws::{Socket, next_of, next_within, send};
use crate::stack::{Account, Api, Stack, subscribe_availability};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FAST: &[(&str, &str)] = &[
    ("MATCH_TICK_MS", "100"),
    ("LEASE_TTL_SECS", "1"),
    ("PRESENCE_GRACE_SECS", "3"),
];

/// A client on `client_api` asks for `language`; the interpreter on `interpreter_api` gets the
/// offer on its socket, accepts through `accept_api`, and the client's socket hears the match.
async fn offer_and_match(
    client_api: &Api,
    interpreter_api: &Api,
    accept_api: &Api,
    language: &str,
) {
    let interpreter = interpreter_api.interpreter(&[language]).await;
    let mut interpreter_ws = interpreter_api.connect(&interpreter).await;
    interpreter_api.set_status(&interpreter, "available").await;
    let client = client_api.signup("client").await;
    let mut client_ws = client_api.connect(&client).await;
    let request = client_api.ask_for(&client, language).await;
    let offer = next_of(&mut interpreter_ws, "offer.created").await;
    assert_eq!(offer["data"]["request_id"], request["id"]);
    accept_api.accept(&interpreter, &offer).await;
    let matched = next_of(&mut client_ws, "request.matched").await;
    assert_eq!(
        matched["data"]["interpreter"]["id"],
        interpreter.id.as_str()
    );
}

/// Two sticky cookies that nginx sends to different instances.
async fn two_routes(balancer: &str) -> (Api, Api) {
    let first = Api::new(balancer.to_owned(), Some("route-0"));
    let upstream = first.upstream().await;
    for i in 1..200 {
        let other = Api::new(balancer.to_owned(), Some(&format!("route-{i}")));
        let other_upstream = other.upstream().await;
        if other_upstream != upstream {
            // Sticky: the same cookie keeps going to the same instance.
            assert_eq!(first.upstream().await, upstream);
            assert_eq!(other.upstream().await, other_upstream);
            return (first, other);
        }
    }
    panic!("every cookie went to {upstream}");
}

/// The ids of the user events that arrive on `socket` until it has been quiet for `quiet`.
async fn ids_until_quiet(socket: &mut Socket, quiet: Duration) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(v) = next_within(socket, quiet).await {
        if let Some(id) = v["id"].as_u64() {
            ids.push(id);
        }
    }
    ids
}

async fn cancelled_request(api: &Api, client: &Account) {
    let request = api.ask_for(client, "de").await;
    let id = request["id"].as_str().expect("id");
    api.json(
        Method::POST,
        &format!("/v1/requests/{id}/cancel"),
        &client.access,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_cross_instances_directly_and_through_nginx() {
    let stack = Stack::up(FAST);
    assert!(stack.status_ok(), "every process of the stack runs");
    let direct: Vec<Api> = (1..=3).map(|n| Api::new(stack.instance(n), None)).collect();

    // Client on 2, interpreter on 1, accepted through 3.
    offer_and_match(&direct[1], &direct[0], &direct[2], "es").await;
    // The same through nginx, the two parties stuck to different instances.
    let (one, other) = two_routes(&stack.balancer()).await;
    offer_and_match(&one, &other, &other, "fr").await;

    // availability.changed reaches the subscribers of every instance.
    let mut subscribers = Vec::new();
    for api in &direct {
        let watcher = api.signup("client").await;
        let mut ws = api.connect(&watcher).await;
        subscribe_availability(&mut ws).await;
        subscribers.push(ws);
    }
    let nl = direct[1].interpreter(&["nl"]).await;
    let _nl_ws = direct[1].connect(&nl).await;
    direct[1].set_status(&nl, "available").await;
    for (n, ws) in subscribers.iter_mut().enumerate() {
        loop {
            let update = next_of(ws, "availability.changed").await;
            assert!(update["id"].is_null());
            if update["data"]["code"] == "nl" {
                assert_eq!(update["data"]["available"], 1, "on instance {}", n + 1);
                break;
            }
        }
    }

    // A client reconnecting to another instance with resume misses no event. A witness socket
    // of the same user on instance 3 stays connected throughout and sees every event live.
    let client = direct[0].signup("client").await;
    let mut witness = direct[2].connect(&client).await;
    let mut first = direct[0].connect(&client).await;
    for _ in 0..2 {
        cancelled_request(&direct[0], &client).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let v = next_of(&mut first, "request.updated").await;
        seen.push(v["id"].as_u64().expect("an id"));
    }
    seen.extend(ids_until_quiet(&mut first, Duration::from_millis(500)).await);
    drop(first);
    // While away: more cancellations, and a request matched by an interpreter on instance 3.
    for _ in 0..3 {
        cancelled_request(&direct[1], &client).await;
    }
    let it = direct[2].interpreter(&["it"]).await;
    let mut it_ws = direct[2].connect(&it).await;
    direct[2].set_status(&it, "available").await;
    direct[1].ask_for(&client, "it").await;
    let offer = next_of(&mut it_ws, "offer.created").await;
    direct[2].accept(&it, &offer).await;
    let all = ids_until_quiet(&mut witness, Duration::from_secs(2)).await;

    let mut again = direct[1].connect(&client).await;
    let last = *seen.iter().max().expect("ids seen");
    send(&mut again, json!({"type": "resume", "after": last})).await;
    let replayed = ids_until_quiet(&mut again, Duration::from_secs(2)).await;
    let mut sorted = replayed.clone();
    sorted.sort_unstable();
    assert_eq!(replayed, sorted, "replayed in order");
    let mut union: Vec<u64> = seen.iter().chain(&replayed).copied().collect();
    union.sort_unstable();
    assert_eq!(
        union.len(),
        union.iter().collect::<BTreeSet<_>>().len(),
        "an event delivered twice: seen {seen:?}, replayed {replayed:?}"
    );
    assert_eq!(
        union, all,
        "seen before {seen:?} + replayed {replayed:?} vs live {all:?}"
    );
    assert!(replayed.len() >= 5, "the events while away: {replayed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_instance_leaves_its_interpreter_offline_and_unoffered() {
    let stack = Stack::up(FAST);
    let direct: Vec<Api> = (1..=3).map(|n| Api::new(stack.instance(n), None)).collect();
    let grace = Duration::from_secs(3);

    let doomed = direct[2].interpreter(&["pl"]).await;
    let _doomed_ws = direct[2].connect(&doomed).await;
    direct[2].set_status(&doomed, "available").await;
    let survivor = direct[0].interpreter(&["pl"]).await;
    let mut survivor_ws = direct[0].connect(&survivor).await;
    direct[0].set_status(&survivor, "available").await;
    // Past the grace period, instance 3's renewed marks keep its interpreter available. The
    // witness that the sweeps ran past it: an interpreter made available later, and never
    // connected, goes offline.
    let unconnected = direct[1].interpreter(&["cs"]).await;
    direct[1].set_status(&unconnected, "available").await;
    let made_available = Instant::now();
    while direct[0].status_of(&unconnected).await != "offline" {
        assert!(
            made_available.elapsed() < grace + Duration::from_secs(30),
            "an unconnected interpreter still online after the grace period plus 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(direct[0].status_of(&doomed).await, "available");

    stack.kill(3);
    let killed = Instant::now();
    loop {
        if direct[0].status_of(&doomed).await == "offline" {
            break;
        }
        assert!(
            killed.elapsed() < grace + Duration::from_secs(10),
            "still {} after the grace period plus 10 s",
            direct[0].status_of(&doomed).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // From now on, nothing is offered to it: the survivor gets the first request; the second
    // waits rather than go to the offline interpreter.
    let client = direct[1].signup("client").await;
    direct[1].ask_for(&client, "pl").await;
    let offer = next_of(&mut survivor_ws, "offer.created").await;
    direct[0].accept(&survivor, &offer).await;
    let second = direct[1].ask_for(&client, "pl").await;
    let second_id = second["id"].as_str().expect("id");
    // The witness that rounds of `pl` ran after the second request: a later request that only a
    // medical interpreter can take (the second needs a general one) is offered to one.
    let medical = direct[1].signup("interpreter").await;
    direct[1]
        .json(
            Method::PUT,
            "/v1/interpreters/me",
            &medical.access,
            Some(json!({
                "languages": [{"code": "pl", "level": "professional", "certified": true}],
                "specializations": ["medical"],
                "modalities": ["video"],
            })),
        )
        .await;
    let mut medical_ws = direct[1].connect(&medical).await;
    direct[1].set_status(&medical, "available").await;
    let other_client = direct[1].signup("client").await;
    let later = direct[1]
        .json(
            Method::POST,
            "/v1/requests",
            &other_client.access,
            Some(json!({"language": "pl", "specialization": "medical"})),
        )
        .await;
    let witnessed = next_of(&mut medical_ws, "offer.created").await;
    assert_eq!(witnessed["data"]["request_id"], later["id"]);
    let offers: Value = direct[0]
        .json(Method::GET, "/v1/offers", &doomed.access, None)
        .await;
    assert_eq!(
        offers["items"],
        json!([]),
        "offered to an offline interpreter"
    );
    let waiting = direct[1]
        .json(
            Method::GET,
            &format!("/v1/requests/{second_id}"),
            &client.access,
            None,
        )
        .await;
    assert_eq!(waiting["status"], "queued");
    assert!(!stack.status_ok(), "status reports the killed instance");
}

/// Behind the balancer every connection comes from nginx: the instances take the client's
/// address from the X-Forwarded-For entry nginx appends (the Terraform's TRUST_FORWARDED_FOR),
/// so failed logins from one address lock out that address, not everyone behind the balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_logins_lock_out_their_address_not_the_balancer() {
    let limit = 5;
    let stack = Stack::up(&[
        ("MATCH_TICK_MS", "100"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "5"),
    ]);
    let owner_api = Api::from_address(stack.balancer(), "127.0.0.3");
    let email = format!("owner-{}@example.org", uuid::Uuid::new_v4().simple());
    owner_api.signup_as("client", &email).await;

    let attacker = Api::from_address(stack.balancer(), "127.0.0.2");
    for n in 0..limit {
        // A different account each time: only the per-address count can stop it.
        let status = attacker
            .login_status(&format!("nobody-{n}@example.org"), "wrong password")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    assert_eq!(
        attacker.login_status(&email, "correct horse battery").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacking address is locked out"
    );
    assert_eq!(
        owner_api
            .login_status(&email, "correct horse battery")
            .await,
        StatusCode::OK,
        "another address behind the same balancer is not"
    );
}

/// The uploads bucket of the task's S3_BUCKET is shared by the fleet: an avatar uploaded with
/// a URL from one instance is verified by another and served to a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_crosses_instances_through_the_bucket() {
    let stack = Stack::up(FAST);
    let direct: Vec<Api> = (1..=3).map(|n| Api::new(stack.instance(n), None)).collect();
    let user = direct[0].signup("client").await;
    // A 1x1 PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let created = direct[0]
        .json(
            Method::POST,
            "/v1/me/avatar",
            &user.access,
            Some(json!({"content_type": "image/png", "size_bytes": png.len()})),
        )
        .await;
    let upload = &created["upload"];
    let url = upload["url"].as_str().expect("an upload URL");
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.starts_with(&stack.balancer()),
        "presigned for the bucket, not served by an instance: {url}"
    );
    let mut put = reqwest::Client::new().put(url).body(png.to_vec());
    for (name, value) in upload["headers"].as_object().expect("headers") {
        put = put.header(name.as_str(), value.as_str().expect("a header value"));
    }
    let response = put.send().await.expect("the bucket answers");
    assert!(response.status().is_success(), "PUT: {}", response.status());

    let user_after = direct[1]
        .json(Method::POST, "/v1/me/avatar/complete", &user.access, None)
        .await;
    let avatar = user_after["avatar_url"].as_str().expect("an avatar URL");
    let me = direct[2]
        .json(Method::GET, "/v1/me", &user.access, None)
        .await;
    assert!(me["avatar_url"].is_string(), "{me}");
    let served = reqwest::get(avatar).await.expect("the bucket serves it");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("bytes").as_ref(), png);
}

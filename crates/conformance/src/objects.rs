//! The object storage suite: what a client holding a presigned URL can and cannot do, checked
//! over real HTTP against the storage that serves the URL (the server's own routes, or S3):
//! among others, that once an upload is sealed its URL can no longer change what is served, and
//! that downloads are attachments.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_ports::{ManualClock, ObjectKey, ObjectStorage, PresignedRequest, UploadSpec};

/// Expands the object storage suite into tests. `$factory` is an expression evaluated inside
/// each async test, yielding `(Arc<dyn ObjectStorage>, Arc<ManualClock>, guard)`: the storage
/// signs its URLs on that clock (and, where it verifies them itself, verifies on it too), which
/// starts at the present. The expiry cases sign in the past and come back, so no case waits for
/// a URL to expire.
#[macro_export]
macro_rules! objects_suite {
    ($factory:expr) => {
        $crate::objects_suite!(@cases $factory;
            upload_and_download_round_trip,
            tampered_signature_is_refused,
            url_for_another_key_is_refused,
            another_content_type_is_refused,
            size_mismatch_is_refused,
            download_url_is_signed,
            put_get_list_and_delete,
            settled_upload_is_kept_as_it_was,
            sealed_upload_cannot_be_replaced_through_its_url,
            nothing_to_seal_without_an_upload,
            deleting_a_sealed_upload_frees_its_url,
            download_is_an_attachment,
        );
        $crate::objects_suite!(@timed $factory;
            expired_url_is_refused,
            expired_download_url_is_refused,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (objects, _clock, _guard) = $factory;
                $crate::objects::$case(objects).await;
            }
        )+
    };
    (@timed $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (objects, clock, _guard) = $factory;
                $crate::objects::$case(objects, clock).await;
            }
        )+
    };
}

/// Signs with `sign` as if it were an hour ago, then brings the clock back to the present: with
/// a time to live under an hour the URL has expired, for a verifier on this clock as for one on
/// its own (S3's).
async fn signed_an_hour_ago<T>(
    clock: &ManualClock,
    sign: impl std::future::Future<Output = T>,
) -> T {
    clock.advance(-TimeDelta::hours(1));
    let signed = sign.await;
    clock.advance(TimeDelta::hours(1));
    signed
}

fn key(name: &str) -> ObjectKey {
    // A fresh prefix per test: the S3 suite shares one bucket between tests.
    ObjectKey::parse(&format!("t/{}/{name}", uuid::Uuid::now_v7())).expect("a valid key")
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len, 7);
    bytes
}

fn spec(len: usize) -> UploadSpec {
    UploadSpec {
        content_type: "image/png".to_owned(),
        content_length: len as u64,
    }
}

/// Sends `request` as the app would, with `body`, optionally overriding one header.
async fn send(
    request: &PresignedRequest,
    url: &str,
    body: Vec<u8>,
    replace: Option<(&str, &str)>,
) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method");
    let mut builder = client.request(method, url);
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // reqwest sets it from the body
        }
        match replace {
            Some((n, v)) if n.eq_ignore_ascii_case(name) => builder = builder.header(name, v),
            _ => builder = builder.header(name, value),
        }
    }
    builder
        .body(body)
        .send()
        .await
        .expect("storage answers")
        .status()
}

async fn assert_absent(objects: &Arc<dyn ObjectStorage>, key: &ObjectKey) {
    assert_eq!(objects.head(key).await.expect("head"), None, "{key} exists");
}

pub async fn upload_and_download_round_trip(objects: Arc<dyn ObjectStorage>) {
    let key = key("a.png");
    let bytes = png(70_000);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    assert_eq!(put.method, "PUT");
    assert!(
        put.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v == "image/png")
    );
    let status = send(&put, &put.url, bytes.clone(), None).await;
    assert!(status.is_success(), "upload answered {status}");
    assert!(
        objects.seal(&key).await.expect("seal"),
        "the upload is there"
    );

    let meta = objects.head(&key).await.expect("head").expect("the object");
    assert_eq!(meta.size, bytes.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    let start = objects
        .read_start(&key, 8)
        .await
        .expect("read")
        .expect("the object");
    assert_eq!(start, &bytes[..8]);

    let get = objects
        .presign_get(&key, Duration::from_secs(300))
        .await
        .expect("presign");
    let response = reqwest::get(&get.url).await.expect("storage answers");
    assert!(
        response.status().is_success(),
        "download answered {}",
        response.status()
    );
    assert_eq!(response.bytes().await.expect("body").to_vec(), bytes);
}

pub async fn tampered_signature_is_refused(objects: Arc<dyn ObjectStorage>) {
    let key = key("a.png");
    let bytes = png(100);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    // Change the signature's last character.
    let mut url = put.url.clone();
    let last = url.pop().expect("a non-empty URL");
    url.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(send(&put, &url, bytes, None).await, 403);
    assert_absent(&objects, &key).await;
}

pub async fn expired_url_is_refused(objects: Arc<dyn ObjectStorage>, clock: Arc<ManualClock>) {
    // Signed an hour ago for two hours: still good, so what refuses the next one is its expiry.
    let good = key("good.png");
    let bytes = png(100);
    let put = signed_an_hour_ago(
        &clock,
        objects.presign_put(&good, &spec(bytes.len()), Duration::from_secs(7_200)),
    )
    .await
    .expect("presign");
    assert_eq!(send(&put, &put.url, bytes.clone(), None).await, 200);
    // Signed an hour ago for a second.
    let key = key("a.png");
    let put = signed_an_hour_ago(
        &clock,
        objects.presign_put(&key, &spec(bytes.len()), Duration::from_secs(1)),
    )
    .await
    .expect("presign");
    assert_eq!(send(&put, &put.url, bytes, None).await, 403);
    assert_absent(&objects, &key).await;
}

pub async fn url_for_another_key_is_refused(objects: Arc<dyn ObjectStorage>) {
    let key = key("a.png");
    let bytes = png(100);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    let other = ObjectKey::parse(&format!("{key}.other")).expect("a key");
    let url = put.url.replacen(key.as_str(), other.as_str(), 1);
    assert_ne!(url, put.url);
    assert_eq!(send(&put, &url, bytes, None).await, 403);
    assert_absent(&objects, &key).await;
    assert_absent(&objects, &other).await;
}

pub async fn another_content_type_is_refused(objects: Arc<dyn ObjectStorage>) {
    let key = key("a.png");
    let bytes = png(100);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    let status = send(&put, &put.url, bytes, Some(("content-type", "text/html"))).await;
    assert_eq!(status, 403);
    assert_absent(&objects, &key).await;
}

pub async fn size_mismatch_is_refused(objects: Arc<dyn ObjectStorage>) {
    let key = key("a.png");
    let put = objects
        .presign_put(&key, &spec(100), Duration::from_secs(300))
        .await
        .expect("presign");
    for len in [99, 101, 10_000] {
        let status = send(&put, &put.url, png(len), None).await;
        assert!(
            status.is_client_error(),
            "{len} bytes for 100 answered {status}"
        );
        assert_absent(&objects, &key).await;
    }
}

pub async fn download_url_is_signed(objects: Arc<dyn ObjectStorage>) {
    let key = key("doc.pdf");
    objects
        .put(&key, "application/pdf", b"%PDF-1.7 tiny".to_vec())
        .await
        .expect("put");
    let get = objects
        .presign_get(&key, Duration::from_secs(300))
        .await
        .expect("presign");
    let mut tampered = get.url.clone();
    let last = tampered.pop().expect("a non-empty URL");
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    let status = reqwest::get(&tampered).await.expect("answers").status();
    assert_eq!(status, 403);
    let other = get.url.replacen(key.as_str(), &format!("{key}x"), 1);
    assert_eq!(reqwest::get(&other).await.expect("answers").status(), 403);
    assert_eq!(reqwest::get(&get.url).await.expect("answers").status(), 200);
}

pub async fn expired_download_url_is_refused(
    objects: Arc<dyn ObjectStorage>,
    clock: Arc<ManualClock>,
) {
    let key = key("doc.pdf");
    objects
        .put(&key, "application/pdf", b"%PDF-1.7 tiny".to_vec())
        .await
        .expect("put");
    // Signed an hour ago for two hours: still good, so what refuses the next one is its expiry.
    let good = signed_an_hour_ago(
        &clock,
        objects.presign_get(&key, Duration::from_secs(7_200)),
    )
    .await
    .expect("presign");
    assert_eq!(
        reqwest::get(&good.url).await.expect("answers").status(),
        200
    );
    let expired = signed_an_hour_ago(&clock, objects.presign_get(&key, Duration::from_secs(1)))
        .await
        .expect("presign");
    assert_eq!(
        reqwest::get(&expired.url).await.expect("answers").status(),
        403
    );
}

pub async fn put_get_list_and_delete(objects: Arc<dyn ObjectStorage>) {
    let base = key("assets");
    let a = ObjectKey::parse(&format!("{base}/i18n/es.json")).expect("a key");
    let b = ObjectKey::parse(&format!("{base}/config.json")).expect("a key");
    let stored = objects
        .put(&a, "application/json", br#"{"hola":"hello"}"#.to_vec())
        .await
        .expect("put");
    assert_eq!(stored.size, 16);
    objects
        .put(&b, "application/json", b"{}".to_vec())
        .await
        .expect("put");
    let read = objects.get(&a).await.expect("get").expect("the object");
    assert_eq!(read.bytes, br#"{"hola":"hello"}"#);
    assert_eq!(read.meta.content_type.as_deref(), Some("application/json"));
    assert!(read.meta.etag.is_some());

    let listed: Vec<_> = objects
        .list(&format!("{base}/"))
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, vec![b.clone(), a.clone()]);
    let none = objects
        .list(&format!("{base}/nothing"))
        .await
        .expect("list");
    assert!(none.is_empty());

    objects.delete(&a).await.expect("delete");
    objects.delete(&a).await.expect("deleting twice");
    assert_absent(&objects, &a).await;
    assert_eq!(objects.get(&a).await.expect("get").map(|o| o.bytes), None);
    assert_eq!(objects.read_start(&a, 4).await.expect("read"), None);
}

pub async fn settled_upload_is_kept_as_it_was(objects: Arc<dyn ObjectStorage>) {
    let key = key("kept.png");
    let bytes = png(64);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    assert_eq!(send(&put, &put.url, bytes.clone(), None).await, 200);
    assert!(objects.seal(&key).await.expect("seal"));
    objects.settle(&key).await.expect("settled");
    let meta = objects
        .head(&key)
        .await
        .expect("head")
        .expect("still there");
    assert_eq!(meta.size, 64);
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    let start = objects
        .read_start(&key, 8)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(start, bytes[..8]);
}

/// An HTML page of exactly `len` bytes (`len` at least 40), as an attacker would put in place of
/// a verified image.
fn html(len: usize) -> Vec<u8> {
    let mut page = b"<html><script>alert(1)</script>".to_vec();
    page.resize(len - 7, b' ');
    page.extend_from_slice(b"</html>");
    page
}

async fn served(objects: &Arc<dyn ObjectStorage>, key: &ObjectKey) -> Vec<u8> {
    let get = objects
        .presign_get(key, Duration::from_secs(300))
        .await
        .expect("presign");
    let response = reqwest::get(&get.url).await.expect("storage answers");
    assert_eq!(response.status(), 200, "download of {key}");
    response.bytes().await.expect("body").to_vec()
}

pub async fn sealed_upload_cannot_be_replaced_through_its_url(objects: Arc<dyn ObjectStorage>) {
    let key = key("avatar");
    let bytes = png(300);
    let put = objects
        .presign_put(&key, &spec(bytes.len()), Duration::from_secs(300))
        .await
        .expect("presign");
    assert_eq!(send(&put, &put.url, bytes.clone(), None).await, 200);
    assert!(objects.seal(&key).await.expect("seal"));
    // The same URL, valid and unexpired, with the signed type and length: refused (the
    // embedded storage) or stored where nothing is served from (S3).
    let again = send(&put, &put.url, html(300), None).await;
    assert!(
        again.is_success() || again == 409,
        "a second upload answered {again}"
    );
    assert!(objects.seal(&key).await.expect("sealing again"));
    assert_eq!(
        objects.get(&key).await.expect("get").expect("kept").bytes,
        bytes
    );
    assert_eq!(served(&objects, &key).await, bytes);
}

pub async fn nothing_to_seal_without_an_upload(objects: Arc<dyn ObjectStorage>) {
    let key = key("not-yet-uploaded");
    let put = objects
        .presign_put(&key, &spec(10), Duration::from_secs(300))
        .await
        .expect("presign");
    assert!(!objects.seal(&key).await.expect("seal"));
    assert_absent(&objects, &key).await;
    // `complete` called too early seals nothing: the URL still uploads.
    assert_eq!(send(&put, &put.url, png(10), None).await, 200);
    assert!(objects.seal(&key).await.expect("seal"));
    assert_eq!(served(&objects, &key).await, png(10));
}

pub async fn deleting_a_sealed_upload_frees_its_url(objects: Arc<dyn ObjectStorage>) {
    let key = key("refused");
    let put = objects
        .presign_put(&key, &spec(200), Duration::from_secs(300))
        .await
        .expect("presign");
    assert_eq!(send(&put, &put.url, html(200), None).await, 200);
    assert!(objects.seal(&key).await.expect("seal"));
    // Verification refused it: removed, and the app may upload the right file again.
    objects.delete(&key).await.expect("delete");
    assert!(!objects.seal(&key).await.expect("seal"), "nothing is left");
    let bytes = png(200);
    assert_eq!(send(&put, &put.url, bytes.clone(), None).await, 200);
    assert!(objects.seal(&key).await.expect("seal"));
    assert_eq!(served(&objects, &key).await, bytes);
    // An upload never sealed is removed with its key too.
    let abandoned = self::key("abandoned");
    let put = objects
        .presign_put(&abandoned, &spec(100), Duration::from_secs(300))
        .await
        .expect("presign");
    assert_eq!(send(&put, &put.url, png(100), None).await, 200);
    objects.delete(&abandoned).await.expect("delete");
    assert!(!objects.seal(&abandoned).await.expect("seal"));
}

pub async fn download_is_an_attachment(objects: Arc<dyn ObjectStorage>) {
    let key = key("page");
    objects
        .put(&key, "text/html", html(100))
        .await
        .expect("put");
    let get = objects
        .presign_get(&key, Duration::from_secs(300))
        .await
        .expect("presign");
    let response = reqwest::get(&get.url).await.expect("storage answers");
    assert_eq!(response.status(), 200);
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment"),
        "Content-Disposition: {disposition:?}"
    );
}

//! SigV4 query-string presigning (AWS "Authenticating Requests: Using Query Parameters").
//!
//! Written here rather than taken from object_store's `Signer`, because that signer refuses to
//! sign `content-length` and an upload URL must bind the exact length: a client given a URL for
//! a 2 MiB avatar must not be able to store 2 GiB with it. The credentials still come from
//! object_store's provider chain (environment, web identity, ECS task role, instance metadata).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Credentials to sign with.
#[derive(Debug, Clone)]
pub struct Credentials<'a> {
    pub key_id: &'a str,
    pub secret_key: &'a str,
    pub token: Option<&'a str>,
}

/// One request to presign. `headers` are lower-case names the client must send with exactly
/// these values; `host` is added.
#[derive(Debug, Clone)]
pub struct Presign<'a> {
    pub method: &'a str,
    /// `scheme://host[:port]`, no trailing slash.
    pub origin: &'a str,
    /// The absolute path, already URI-encoded (`/bucket/key` or `/key`).
    pub path: &'a str,
    pub region: &'a str,
    pub headers: Vec<(&'a str, String)>,
    /// Query parameters of the request itself (`tagging` for PutObjectTagging), signed with it.
    pub query: Vec<(&'a str, String)>,
    pub now: DateTime<Utc>,
    pub expires_secs: u64,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding of a query component, as SigV4 requires (unreserved characters kept).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The presigned URL.
pub fn presign(request: &Presign<'_>, credentials: &Credentials<'_>) -> String {
    let host = request
        .origin
        .split_once("://")
        .map_or(request.origin, |(_, rest)| rest);
    let date_time = request.now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = request.now.format("%Y%m%d").to_string();
    let scope = format!("{date}/{}/s3/aws4_request", request.region);

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    headers.push(("host".to_owned(), host.to_owned()));
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");

    let mut query = request.query.clone();
    query.extend([
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        (
            "X-Amz-Credential",
            format!("{}/{scope}", credentials.key_id),
        ),
        ("X-Amz-Date", date_time.clone()),
        ("X-Amz-Expires", request.expires_secs.to_string()),
        ("X-Amz-SignedHeaders", signed_headers.clone()),
    ]);
    if let Some(token) = credentials.token {
        query.push(("X-Amz-Security-Token", token.to_owned()));
    }
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");

    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD",
        request.method, request.path
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = hmac(format!("AWS4{}", credentials.secret_key).as_bytes(), &date);
    let key = hmac(&key, request.region);
    let key = hmac(&key, "s3");
    let key = hmac(&key, "aws4_request");
    let signature = hex(&hmac(&key, &string_to_sign));
    format!(
        "{}{}?{query}&X-Amz-Signature={signature}",
        request.origin, request.path
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The example of AWS's documentation for a presigned GET (examplebucket/test.txt).
    #[test]
    fn matches_the_documented_example() {
        let now = Utc
            .with_ymd_and_hms(2013, 5, 24, 0, 0, 0)
            .single()
            .expect("a valid date");
        let url = presign(
            &Presign {
                method: "GET",
                origin: "https://examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                region: "us-east-1",
                headers: vec![],
                query: vec![],
                now,
                expires_secs: 86400,
            },
            &Credentials {
                key_id: "AKIAIOSFODNN7EXAMPLE",
                secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                token: None,
            },
        );
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }
}

//! The signatures of the server's own upload and download URLs.
//!
//! A URL carries only its expiry and an HMAC-SHA256 over the method, the key, the expiry, the
//! content type and the content length. The server recomputes the MAC from the request it
//! actually receives (its path, its `Content-Type` and `Content-Length` headers), so a request
//! for another key, with another type or length, after the expiry, or with an altered signature
//! does not verify. Comparison is constant-time (`Mac::verify_slice`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The secret the URLs are signed with.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Derives the URL key from the server's secret, so that a URL signature can never be
    /// mistaken for, or help forge, anything else signed with that secret (tokens).
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this branch cannot be taken.
            HmacSha256::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
        });
        mac.update(b"dragoman object URLs v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, request: &SignedRequest<'_>) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        // Fields are separated by a newline, which none of them may contain (keys are restricted,
        // header values cannot hold one), so no two requests share a message.
        for field in [
            request.method,
            request.key,
            &request.expires.to_string(),
            request.content_type.unwrap_or(""),
            &request
                .content_length
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ] {
            mac.update(field.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    /// The signature of `request`, as it appears in the URL.
    pub fn sign(&self, request: &SignedRequest<'_>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(request).finalize().into_bytes())
    }

    /// Whether `signature` is this key's signature of `request`, compared in constant time.
    pub fn verify(&self, request: &SignedRequest<'_>, signature: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(request).verify_slice(&given).is_ok()
    }
}

/// What a URL's signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub key: &'a str,
    /// Unix seconds after which the URL is refused.
    pub expires: i64,
    pub content_type: Option<&'a str>,
    pub content_length: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str) -> SignedRequest<'_> {
        SignedRequest {
            method: "PUT",
            key,
            expires: 1_800_000_000,
            content_type: Some("image/png"),
            content_length: Some(10),
        }
    }

    #[test]
    fn a_signature_verifies_only_what_it_signed() {
        let key = SigningKey::derive(b"a secret of at least thirty-two bytes");
        let signature = key.sign(&put("a/b"));
        assert!(key.verify(&put("a/b"), &signature));
        assert!(!key.verify(&put("a/c"), &signature));
        let other_type = SignedRequest {
            content_type: Some("image/jpeg"),
            ..put("a/b")
        };
        assert!(!key.verify(&other_type, &signature));
        let other_length = SignedRequest {
            content_length: Some(11),
            ..put("a/b")
        };
        assert!(!key.verify(&other_length, &signature));
        let later = SignedRequest {
            expires: 1_800_000_001,
            ..put("a/b")
        };
        assert!(!key.verify(&later, &signature));
        let get = SignedRequest {
            method: "GET",
            ..put("a/b")
        };
        assert!(!key.verify(&get, &signature));
        assert!(!key.verify(&put("a/b"), "not base64!"));
        let other_secret = SigningKey::derive(b"another secret of thirty-two bytes..");
        assert!(!other_secret.verify(&put("a/b"), &signature));
    }
}

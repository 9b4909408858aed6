//! Standard Webhooks signatures: each delivery carries `webhook-id` (the message's id, the
//! same on every attempt and replay: the receiver's idempotency key), `webhook-timestamp`
//! (Unix seconds of this attempt) and `webhook-signature`, `v1,` and the base64 HMAC-SHA256
//! of `id.timestamp.body` under the endpoint's secret. While a rotated-out secret is still
//! honoured, the header holds both signatures, space-separated, the newest first.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore as _;
use sha2::Sha256;

/// How a secret is written: this prefix, then its 32 bytes in base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of key in a secret this service makes.
const SECRET_BYTES: usize = 32;

/// A fresh endpoint secret.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key a secret holds; `None` when it is not `whsec_` and base64.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok().filter(|k| !k.is_empty())
}

/// One signature, `v1,<base64>`; `None` for a malformed secret.
pub fn sign(secret: &str, message_id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).ok()?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header's value: one signature per secret given.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    message_id: &str,
    timestamp: u64,
    body: &[u8],
) -> Option<String> {
    let signatures: Option<Vec<String>> =
        secrets.into_iter().map(|s| sign(s, message_id, timestamp, body)).collect();
    Some(signatures?.join(" "))
}

/// Whether `header` holds a `v1` signature of the message under `secret`, as a receiver
/// checks it (the comparison does not stop at the first differing byte).
pub fn verify(secret: &str, header: &str, message_id: &str, timestamp: u64, body: &[u8]) -> bool {
    let Some(expected) = sign(secret, message_id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|candidate| {
        candidate.len() == expected.len()
            && candidate.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_the_specifications_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(secret, &signature, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body));
        assert!(!verify(secret, &signature, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body));
        assert!(!verify(secret, &signature, "msg_other", 1614265330, body));
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_and_either_verifies() {
        let (new, old) = (new_secret(), new_secret());
        assert!(new.starts_with(SECRET_PREFIX) && new != old);
        let header = signature_header([new.as_str(), old.as_str()], "msg_1", 7, b"{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&new, &header, "msg_1", 7, b"{}"));
        assert!(verify(&old, &header, "msg_1", 7, b"{}"));
        assert!(!verify(&new_secret(), &header, "msg_1", 7, b"{}"));
        assert_eq!(sign("not-a-secret", "msg_1", 7, b"{}"), None);
        assert_eq!(sign("whsec_", "msg_1", 7, b"{}"), None);
    }
}

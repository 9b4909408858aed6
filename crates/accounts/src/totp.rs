//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1 over 30-second steps, six digits,
//! as every authenticator app reads from an `otpauth://` URI.

use hmac12::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub(crate) const STEP_SECS: u64 = 30;
/// Steps either side of now a code may come from (clocks and typing take time).
const SKEW_STEPS: u64 = 1;
/// Bytes of a fresh secret (RFC 4226's recommended 160 bits).
pub(crate) const SECRET_BYTES: usize = 20;

/// The six-digit code of `secret` at `step` (RFC 4226's HOTP with the step as counter).
pub(crate) fn code_at(secret: &[u8], step: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 1_000_000
}

/// The step `now_ms` falls in.
pub(crate) fn step_of(now_ms: u64) -> u64 {
    now_ms / 1000 / STEP_SECS
}

/// The newest step within the skew of now whose code `code` is, if any.
pub(crate) fn matching_step(secret: &[u8], code: &str, now_ms: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step_of(now_ms);
    (now.saturating_sub(SKEW_STEPS)..=now + SKEW_STEPS)
        .rev()
        .find(|&step| code_at(secret, step) == wanted)
}

/// A secret as the user types it into an app: base32 without padding.
pub(crate) fn secret_text(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI an authenticator app scans (as a QR code) to add `account`.
pub(crate) fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", escape(issuer), escape(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        secret_text(secret),
        escape(issuer)
    )
}

/// Percent-escapes all but RFC 3986's unreserved characters.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, cut to six digits.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (unix, code) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(code_at(secret, step_of(unix * 1000)), code, "at {unix}");
        }
    }

    #[test]
    fn a_code_matches_within_one_step_either_side_and_nothing_else_does() {
        let secret = [9u8; SECRET_BYTES];
        let now = 1_800_000_000_000;
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            let code = format!("{:06}", code_at(&secret, s));
            assert_eq!(matching_step(&secret, &code, now), Some(s));
        }
        let old = format!("{:06}", code_at(&secret, step - 2));
        assert_eq!(matching_step(&secret, &old, now), None);
        for bad in ["", "12345", "1234567", "12 456", "abcdef", "１２３４５６"] {
            assert_eq!(matching_step(&secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_uri_names_the_account_and_the_secret() {
        let uri = otpauth_uri("BTCR", "ann+x@example.org", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/BTCR:ann%2Bx%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=BTCR&algorithm=SHA1&digits=6&period=30"
        );
    }
}

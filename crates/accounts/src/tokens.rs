//! Access tokens: JWTs signed with Ed25519 (`EdDSA`), the only algorithm accepted, for one
//! issuer and audience, valid [`ACCESS_TOKEN_TTL`]. Refresh tokens: 32 random bytes the
//! client holds and the database keeps only as a SHA-256 hash.

use std::{collections::HashMap, time::Duration};

use parking_lot::Mutex;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AccountsError;

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a session lasts without a refresh.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The longest access token read; anything longer is refused unparsed.
const MAX_TOKEN_BYTES: usize = 2048;
/// How far a token's issue time may be ahead of this clock (replicas' clocks differ).
const CLOCK_LEEWAY_SECS: u64 = 30;
/// The prefix of every refresh token, so that one is recognised in a log or a leak scan.
const REFRESH_PREFIX: &str = "btcr_rt_";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's id.
    pub sub: String,
    /// The user's role (`user` or `admin`).
    pub role: String,
    /// The session (refresh-token family) it was issued in.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

/// Tokens whose signature was checked, remembered until they expire (a client sends the
/// same token with every request for ten minutes: its signature is checked once).
const MAX_VERIFIED: usize = 10_000;

/// Signs and checks access tokens with one key.
pub(crate) struct TokenKeys {
    signing: SigningKey,
    verifying: VerifyingKey,
    issuer: String,
    audience: String,
    /// SHA-256 of a token whose signature, issuer and audience held, and its claims.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub(crate) fn new(secret: [u8; 32], issuer: String, audience: String) -> Self {
        let signing = SigningKey::from_bytes(&secret);
        let verifying = signing.verifying_key();
        Self { signing, verifying, issuer, audience, verified: Mutex::new(HashMap::new()) }
    }

    /// A signed access token for `claims` (issuer and audience are this service's).
    pub(crate) fn issue(&self, sub: String, role: String, sid: String, now_ms: u64) -> String {
        let iat = now_ms / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            role,
            sid,
            iat,
            exp: iat + ACCESS_TOKEN_TTL.as_secs(),
        };
        let header = Header { alg: "EdDSA".into(), typ: "JWT".into() };
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("a header serialises")),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise")),
        );
        let signature = self.signing.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// The claims of `token` if this key signed it, for this issuer and audience, and it is
    /// valid at `now_ms`.
    pub(crate) fn check(&self, token: &str, now_ms: u64) -> Result<AccessClaims, AccountsError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AccountsError::InvalidToken("too long"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = self.verified.lock().get(&digest).cloned();
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = self.verify(token)?;
                let mut verified = self.verified.lock();
                if verified.len() >= MAX_VERIFIED {
                    let now = now_ms / 1000;
                    verified.retain(|_, c| c.exp > now);
                    if verified.len() >= MAX_VERIFIED {
                        verified.clear();
                    }
                }
                verified.insert(digest, claims.clone());
                claims
            }
        };
        let now = now_ms / 1000;
        if claims.iat > now + CLOCK_LEEWAY_SECS {
            return Err(AccountsError::InvalidToken("issued in the future"));
        }
        if now >= claims.exp {
            return Err(AccountsError::TokenExpired);
        }
        Ok(claims)
    }

    /// The claims of `token` if its signature, issuer and audience hold (times unchecked).
    fn verify(&self, token: &str) -> Result<AccessClaims, AccountsError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AccountsError::InvalidToken("not a JWT"));
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD.decode(part).map_err(|_| AccountsError::InvalidToken("not base64url"))
        };
        let parsed: Header = serde_json::from_slice(&decode(header)?)
            .map_err(|_| AccountsError::InvalidToken("malformed header"))?;
        // The algorithm is pinned: a token naming another (`none`, `HS256` with the public
        // key as secret, …) is refused before anything else is read.
        if parsed.alg != "EdDSA" || parsed.typ != "JWT" {
            return Err(AccountsError::InvalidToken("unexpected algorithm"));
        }
        let signature: [u8; 64] = decode(signature)?
            .try_into()
            .map_err(|_| AccountsError::InvalidToken("malformed signature"))?;
        let signed_len = header.len() + 1 + claims.len();
        self.verifying
            .verify_strict(&token.as_bytes()[..signed_len], &Signature::from_bytes(&signature))
            .map_err(|_| AccountsError::InvalidToken("bad signature"))?;
        let claims: AccessClaims = serde_json::from_slice(&decode(claims)?)
            .map_err(|_| AccountsError::InvalidToken("malformed claims"))?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(AccountsError::InvalidToken("wrong issuer or audience"));
        }
        Ok(claims)
    }
}

/// A fresh refresh token and the hash the database keeps of it.
pub(crate) fn fresh_refresh_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The database's key for a refresh token; `None` for one that is not shaped like ours.
pub(crate) fn parse_refresh_token(token: &str) -> Option<Vec<u8>> {
    let body = token.strip_prefix(REFRESH_PREFIX)?;
    (body.len() == 43 && URL_SAFE_NO_PAD.decode(body).is_ok_and(|b| b.len() == 32))
        .then(|| refresh_hash(token))
}

fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random identifier (a session's), 16 bytes as base64url.
pub(crate) fn fresh_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new([7; 32], "btcr".into(), "btcr-api".into())
    }

    #[test]
    fn a_token_checks_until_it_expires() {
        let k = keys();
        let token = k.issue("1".into(), "user".into(), "s".into(), 1_000_000);
        let claims = k.check(&token, 1_000_000).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str(), claims.sid.as_str()),
            ("1", "user", "s")
        );
        let expiry = 1_000_000 + ACCESS_TOKEN_TTL.as_millis() as u64;
        assert!(k.check(&token, expiry - 1000).is_ok());
        assert!(matches!(k.check(&token, expiry), Err(AccountsError::TokenExpired)));
    }

    #[test]
    fn a_remembered_token_still_expires_and_the_memory_stays_bounded() {
        let k = keys();
        let token = k.issue("1".into(), "user".into(), "s".into(), 1_000_000);
        k.check(&token, 1_000_000).unwrap();
        k.check(&token, 1_000_000).unwrap();
        assert_eq!(k.verified.lock().len(), 1, "checked once, remembered");
        let expiry = 1_000_000 + ACCESS_TOKEN_TTL.as_millis() as u64;
        assert!(matches!(k.check(&token, expiry), Err(AccountsError::TokenExpired)));
        // Only tokens that verified are remembered, and never more than the bound.
        let [h, c, _]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        assert!(k.check(&format!("{h}.{c}.{}", "A".repeat(86)), 1_000_000).is_err());
        assert_eq!(k.verified.lock().len(), 1);
        for i in 0..MAX_VERIFIED + 500 {
            let t = k.issue(i.to_string(), "user".into(), "s".into(), 1_000_000);
            k.check(&t, 1_000_000).unwrap();
            assert!(k.verified.lock().len() <= MAX_VERIFIED);
        }
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_refused() {
        let k = keys();
        let token = k.issue("1".into(), "user".into(), "s".into(), 1_000_000);
        let [h, c, s]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let refused = |t: &str| k.check(t, 1_000_000).unwrap_err().to_string();

        // Claims changed to admin, signature kept.
        let mut claims: AccessClaims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap();
        claims.role = "admin".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(refused(&format!("{h}.{forged}.{s}")), "invalid token: bad signature");
        // `alg: none` with no signature, and HS256.
        for alg in ["none", "HS256", "ES256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            assert_eq!(refused(&format!("{header}.{c}.")), "invalid token: unexpected algorithm");
        }
        // Another key, another issuer, another audience.
        let other = TokenKeys::new([8; 32], "btcr".into(), "btcr-api".into());
        assert_eq!(
            refused(&other.issue("1".into(), "user".into(), "s".into(), 1_000_000)),
            "invalid token: bad signature"
        );
        for (iss, aud) in [("other", "btcr-api"), ("btcr", "other")] {
            let k2 = TokenKeys::new([7; 32], iss.into(), aud.into());
            let t = k2.issue("1".into(), "user".into(), "s".into(), 1_000_000);
            assert_eq!(refused(&t), "invalid token: wrong issuer or audience");
        }
        // Malformed shapes and sizes.
        assert_eq!(refused("abc"), "invalid token: not a JWT");
        assert_eq!(refused(&format!("{token}.x")), "invalid token: not a JWT");
        assert_eq!(refused(&"a".repeat(MAX_TOKEN_BYTES + 1)), "invalid token: too long");
        assert_eq!(refused(&format!("{h}.{c}.!!")), "invalid token: not base64url");
        // Issued far in the future.
        let future = k.issue("1".into(), "user".into(), "s".into(), 1_000_000 + 3_600_000);
        assert_eq!(refused(&future), "invalid token: issued in the future");
    }

    #[test]
    fn refresh_tokens_are_recognised_by_shape_and_hashed() {
        let (token, hash) = fresh_refresh_token();
        assert_eq!(parse_refresh_token(&token), Some(hash));
        assert_eq!(parse_refresh_token(&token[1..]), None);
        assert_eq!(parse_refresh_token(&format!("{token}x")), None);
        assert_eq!(parse_refresh_token("btcr_rt_"), None);
    }
}

//! Who is asking: argon2 password hashes, short-lived JWT access tokens (HS256 pinned, `exp` and
//! `iss` required), opaque rotating refresh tokens stored hashed, and a login rate limit per
//! account and per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use patrol_core::ids::{SiteId, UserId};
use patrol_core::routing::Team;
use patrol_core::user::{Actor, Role, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

/// The `iss` of every access token.
pub const ISSUER: &str = "patrol-server";
/// How long an access token lives.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// How long a refresh token lives.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: UserId,
    /// Their role.
    pub role: Role,
    /// Their team.
    #[serde(default)]
    pub team: Option<Team>,
    /// Their sites.
    pub sites: Vec<SiteId>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
}

/// Hash a password for storage.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(&e))
}

/// Whether a password matches its stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).ok().is_some_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fresh random secret, base64url (refresh tokens, the JWT key).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source does not fail on the platforms the server runs on; if it ever did,
    // a zeroed secret must not be used, so this aborts the request or start-up instead.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("no randomness from the operating system: {e}");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A refresh token as stored: its SHA-256.
pub fn token_hash(token: &str) -> String {
    patrol_core::blob::sha256_hex(token.as_bytes())
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys from the server's shared secret.
    pub fn new(secret: &str) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// An access token for a user, and its lifetime in seconds.
    pub fn issue(&self, user: &User, now: Timestamp) -> Result<(String, u64), ApiError> {
        let claims = Claims {
            sub: user.id,
            role: user.role,
            team: user.team,
            sites: user.site_ids.clone(),
            iat: now.as_second(),
            exp: now.as_second() + ACCESS_TTL_SECS,
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((token, ACCESS_TTL_SECS as u64))
    }

    /// The claims of a valid token.
    pub fn check(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| {
                ApiError::unauthorized(
                    "登录已失效，请重新登录 / sign-in expired or invalid; sign in again",
                )
            })
    }
}

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// As the rules see them.
    pub actor: Actor,
}

impl Caller {
    /// Refuse unless the caller works on `site`.
    pub fn require_site(&self, site: SiteId) -> Result<(), ApiError> {
        if self.actor.works_on(site) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "你无权访问该小区 / you have no access to this site",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("请先登录 / sign in first"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("请先登录 / sign in first"))?;
        let claims = state.tokens.check(token)?;
        Ok(Caller {
            actor: Actor {
                user_id: claims.sub,
                role: claims.role,
                team: claims.team,
                site_ids: claims.sites,
            },
        })
    }
}

/// Failed logins allowed per account and per address within the window.
const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts failed logins per account and per address.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    fn keys(username: &str, addr: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{}", username.to_lowercase())];
        if let Some(a) = addr {
            keys.push(format!("addr:{a}"));
        }
        keys
    }

    /// Whether another attempt is allowed now.
    pub fn allowed(&self, username: &str, addr: Option<IpAddr>) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        Self::keys(username, addr).iter().all(|k| {
            map.get(k)
                .is_none_or(|(n, since)| *n < MAX_FAILURES || since.elapsed() > WINDOW)
        })
    }

    /// Count a failed attempt.
    pub fn failed(&self, username: &str, addr: Option<IpAddr>) {
        if let Ok(mut map) = self.failures.lock() {
            for k in Self::keys(username, addr) {
                let entry = map.entry(k).or_insert((0, Instant::now()));
                if entry.1.elapsed() > WINDOW {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
            }
        }
    }

    /// A successful login clears the account's count (not the address's).
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("user:{}", username.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: UserId::new(),
            username: "demo-patrol".into(),
            display_name: "x".into(),
            role: Role::Patrol,
            team: None,
            site_ids: vec![SiteId::new()],
        }
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("demo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("demo", &h));
        assert!(!verify_password("Demo", &h));
        assert!(!verify_password("demo", "not a hash"));
    }

    #[test]
    fn tokens_from_another_key_or_without_a_signature_are_refused() {
        let keys = TokenKeys::new("secret-one");
        let now = Timestamp::now();
        let (token, ttl) = keys.issue(&user(), now).unwrap();
        assert_eq!(ttl, 900);
        assert!(keys.check(&token).is_ok());
        assert!(TokenKeys::new("secret-two").check(&token).is_err());
        // alg: none with the same claims.
        let (_, body) = token.split_once('.').unwrap();
        let (claims, _) = body.split_once('.').unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.check(&format!("{none_header}.{claims}.")).is_err());
        let expired = keys
            .issue(&user(), now - jiff::SignedDuration::from_hours(1))
            .unwrap()
            .0;
        assert!(keys.check(&expired).is_err());
    }

    #[test]
    fn the_limiter_stops_guessing_per_account_and_address() {
        let l = LoginLimiter::default();
        let addr: Option<IpAddr> = "10.0.0.9".parse().ok();
        for _ in 0..MAX_FAILURES {
            assert!(l.allowed("demo-patrol", addr));
            l.failed("demo-patrol", addr);
        }
        assert!(
            !l.allowed("demo-patrol", None),
            "the account is locked from anywhere"
        );
        assert!(
            !l.allowed("someone-else", addr),
            "the address is locked for any account"
        );
        assert!(l.allowed("someone-else", None));
    }
}

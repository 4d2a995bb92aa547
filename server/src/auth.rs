//! Who is asking: argon2 password hashes, short-lived JWT access tokens (HS256 pinned, `exp` and
//! `iss` required), opaque rotating refresh tokens stored hashed, and a login rate limit per
//! account and per address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use patrol_core::ids::{SiteId, UserId};
use patrol_core::team::Team;
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

/// Sign-in attempts: each is counted before its password is checked, against three budgets —
/// the account from one address, the account from anywhere, and the address for any account.
/// A spent budget is a wait (`429` with `Retry-After`) that ends by itself, never a lock-out:
/// guessing from one address cannot keep the account's owner out from another, and a flood of
/// parallel guesses is refused before any of them costs an argon2 hash.
pub struct LoginLimiter {
    by_pair: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_account: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

/// Attempts one address may make at one account at once, and how often one more comes back.
const PAIR_BURST: u32 = 10;
const PAIR_EVERY: Duration = Duration::from_secs(6);
/// Attempts at one account from anywhere: only a guessing campaign from many addresses meets
/// it, and the owner then waits a second, not a quarter of an hour.
const ACCOUNT_BURST: u32 = 100;
const ACCOUNT_EVERY: Duration = Duration::from_secs(1);
/// Attempts from one address at any account (an office's shared connection signs in a shift).
const ADDRESS_BURST: u32 = 60;
const ADDRESS_EVERY: Duration = Duration::from_secs(1);

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every).map_or(Quota::per_second(burst), |q| q.allow_burst(burst))
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter {
            by_pair: RateLimiter::keyed(quota(PAIR_BURST, PAIR_EVERY)),
            by_account: RateLimiter::keyed(quota(ACCOUNT_BURST, ACCOUNT_EVERY)),
            by_address: RateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_EVERY)),
        }
    }
}

impl LoginLimiter {
    /// Count an attempt, before its password is checked. `Err` carries how long to wait.
    pub fn attempt(&self, username: &str, addr: IpAddr) -> Result<(), Duration> {
        let account = username.trim().to_lowercase();
        let addr = network_of(addr);
        let now = self.by_pair.clock().now();
        let wait = |n: governor::NotUntil<_>| n.wait_time_from(now);
        self.by_address.check_key(&addr).map_err(wait)?;
        self.by_account.check_key(&account).map_err(wait)?;
        self.by_pair.check_key(&(account, addr)).map_err(wait)?;
        Ok(())
    }

    /// Forget budgets that have filled up again, so that made-up usernames do not pile up.
    pub fn forget_idle(&self) {
        self.by_pair.retain_recent();
        self.by_account.retain_recent();
        self.by_address.retain_recent();
    }
}

/// The address a budget is kept for: an IPv6 client is its /64 (one household or phone gets a
/// whole /64, and could otherwise take a new address for every guess).
fn network_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Password hashing off the async workers: argon2 takes tens of milliseconds of a core and its
/// memory, so it runs on the blocking pool, a few at a time.
pub struct Passwords {
    permits: tokio::sync::Semaphore,
    dummy: String,
}

impl Passwords {
    /// At most `at_once` hashes run together.
    pub fn new(at_once: usize) -> Result<Passwords, ApiError> {
        Ok(Passwords {
            permits: tokio::sync::Semaphore::new(at_once.max(1)),
            dummy: hash_password("not a real password")?,
        })
    }

    /// Hash a new password for storage, on the blocking pool like every check.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::internal(&e))?
    }

    /// Whether `password` matches `stored`; with no account, a dummy hash is checked so that
    /// timing does not tell which usernames exist.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let password = password.to_owned();
        let stored = stored.unwrap_or(&self.dummy).to_owned();
        tokio::task::spawn_blocking(move || verify_password(&password, &stored))
            .await
            .unwrap_or(false)
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
    fn the_limiter_slows_guessing_without_locking_anyone_out() {
        let l = LoginLimiter::default();
        let guesser: IpAddr = "10.0.0.9".parse().unwrap();
        let owner: IpAddr = "10.0.0.10".parse().unwrap();
        for _ in 0..PAIR_BURST {
            assert!(l.attempt("demo-manager", guesser).is_ok());
        }
        let wait = l.attempt("Demo-Manager", guesser).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= PAIR_EVERY, "{wait:?}");
        assert!(
            l.attempt("demo-manager", owner).is_ok(),
            "the owner signs in from elsewhere"
        );
        assert!(
            l.attempt("someone-else", guesser).is_ok(),
            "the address may still sign in others"
        );
        l.forget_idle();
    }

    #[test]
    fn an_ipv6_client_is_its_network() {
        let l = LoginLimiter::default();
        for i in 0..PAIR_BURST {
            let addr: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            assert!(l.attempt("demo-manager", addr).is_ok());
        }
        let next: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        assert!(l.attempt("demo-manager", next).is_err());
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.attempt("demo-manager", elsewhere).is_ok());
    }

    #[test]
    fn many_addresses_at_one_account_are_slowed_too() {
        let l = LoginLimiter::default();
        let mut refused = 0;
        for i in 0..(ACCOUNT_BURST + 5) {
            let addr = IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
            if l.attempt("demo-manager", addr).is_err() {
                refused += 1;
            }
        }
        assert_eq!(refused, 5);
    }
}

//! Rate limits, as Palette documents them: per source address **and** per top-level path
//! prefix (`/v1/apiKeys/…` counts toward `/v1/apiKeys`), `rate` requests per second with a
//! burst of `burst` seconds' worth (Palette's "10 requests/s with a burst of 5": 50 at once,
//! then 10 a second), stricter on sign-in and password reset; optionally also per API key.
//!
//! Each bucket is a token bucket of `rate × burst` tokens refilled at `rate` a second. Buckets
//! live in the node's memory (limits are per node, as with any in-process limiter), in shards
//! so that concurrent requests rarely meet on one lock, and are bounded: past the configured
//! number, full buckets (idle callers) are dropped first, then the whole shard. Time comes
//! from the injected clock, so that tests can move it.
//!
//! Behind a reverse proxy every request comes from the proxy's address; the client's own
//! address is taken from `X-Forwarded-For` only when the peer is a configured trusted proxy
//! (the rightmost address that is not itself a trusted proxy), so that a client cannot pick
//! the address it is counted under by sending the header itself.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use easel_core::Clock;
use ipnet::IpNet;

/// `rate` requests per second, with `rate × burst` allowed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub rate: u32,
    pub burst: u32,
}

impl Limit {
    fn capacity(&self) -> f64 {
        f64::from(self.rate) * f64::from(self.burst)
    }
}

impl FromStr for Limit {
    type Err = String;

    /// `RATE/BURST`, for example `10/5`.
    fn from_str(s: &str) -> Result<Limit, String> {
        let bad = || format!("{s:?} is not RATE/BURST (for example 10/5)");
        let (rate, burst) = s.split_once('/').ok_or_else(bad)?;
        let rate: u32 = rate.trim().parse().map_err(|_| bad())?;
        let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
        if rate == 0 || burst == 0 {
            return Err(format!("{s:?}: rate and burst must both be at least 1"));
        }
        Ok(Limit { rate, burst })
    }
}

/// A limit for every path under `prefix`, counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixLimit {
    pub prefix: String,
    pub limit: Limit,
}

impl FromStr for PrefixLimit {
    type Err = String;

    /// `PREFIX=RATE/BURST`, for example `/v1/auth/authenticate=5/5`.
    fn from_str(s: &str) -> Result<PrefixLimit, String> {
        let (prefix, limit) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not PREFIX=RATE/BURST"))?;
        let prefix = prefix.trim().trim_end_matches('/');
        if !prefix.starts_with('/') {
            return Err(format!("{s:?}: the prefix must start with /"));
        }
        Ok(PrefixLimit {
            prefix: prefix.to_owned(),
            limit: limit.parse()?,
        })
    }
}

/// How the node limits requests; see `docs/api.md ("Rate limits")`.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Whether limits apply at start; `PATCH /v1/system/ratelimit` switches it at run time.
    pub active: bool,
    /// For every top-level prefix without a rule of its own.
    pub default_limit: Limit,
    /// Prefixes with limits of their own (the longest match wins).
    pub prefixes: Vec<PrefixLimit>,
    /// Per API key, besides the per-address limits; `None` for none.
    pub per_key: Option<Limit>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How many buckets the node keeps at most.
    pub max_buckets: usize,
}

impl RateLimitConfig {
    /// Palette's table (NOTES §6), with sign-in, password reset, "forgot my organisation"
    /// and sign-up stricter than the rest: each of them is a door for guessing or for
    /// sending mail to someone else.
    pub fn palette_defaults() -> Vec<PrefixLimit> {
        let strict = |prefix: &str, rate| PrefixLimit {
            prefix: prefix.to_owned(),
            limit: Limit { rate, burst: 5 },
        };
        vec![
            strict("/v1/auth/authenticate", 5),
            strict("/v1/auth/user/password/reset", 2),
            strict("/v1/auth/user/org/forgot", 2),
            strict("/v1/auth/password", 2),
            strict("/v1/tenants/signup", 2),
        ]
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            active: true,
            default_limit: Limit { rate: 10, burst: 5 },
            prefixes: RateLimitConfig::palette_defaults(),
            per_key: None,
            trusted_proxies: Vec::new(),
            max_buckets: 100_000,
        }
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date, in microseconds of the clock.
    at_micros: i64,
}

const SHARDS: usize = 16;

/// What a check decided, with what the `RateLimit` headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// Which policy counted the request: `"ip"` or `"key"`.
    pub policy: &'static str,
    pub limit: Limit,
    /// Whole requests left in the bucket after this one.
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until one more request is allowed (0 when allowed).
    pub retry_after_secs: u64,
}

impl Verdict {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers), and
    /// `Retry-After` on a refusal.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
        static STATE: HeaderName = HeaderName::from_static("ratelimit");
        let window = u64::from(self.limit.burst);
        let quota = u64::from(self.limit.rate) * window;
        let policy = format!("\"{}\";q={quota};w={window}", self.policy);
        let state = format!(
            "\"{}\";r={};t={}",
            self.policy, self.remaining, self.reset_secs
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(POLICY.clone(), value);
        }
        if let Ok(value) = HeaderValue::from_str(&state) {
            headers.insert(STATE.clone(), value);
        }
        if !self.allowed {
            headers.insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(self.retry_after_secs.max(1)),
            );
        }
    }
}

/// The node's rate limiter.
pub struct RateLimiter {
    active: AtomicBool,
    default_limit: Limit,
    /// Longest prefix first.
    prefixes: Vec<PrefixLimit>,
    per_key: Option<Limit>,
    trusted_proxies: Vec<IpNet>,
    max_per_shard: usize,
    clock: Arc<dyn Clock>,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<u64, Bucket>>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> RateLimiter {
        let mut prefixes = config.prefixes;
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        RateLimiter {
            active: AtomicBool::new(config.active),
            default_limit: config.default_limit,
            prefixes,
            per_key: config.per_key,
            trusted_proxies: config.trusted_proxies,
            max_per_shard: (config.max_buckets / SHARDS).max(1),
            clock,
            hasher: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Switches limits on or off on this node. Buckets are kept as they are.
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    /// The address a request is counted under: the peer's, or, when the peer is a trusted
    /// proxy, the rightmost `X-Forwarded-For` address that is not a trusted proxy.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.into_iter().rev() {
            // A hop that is not an address ends the chain: what lies left of it is unknowable.
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            client = address;
            if !self.is_trusted(address) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.trusted_proxies
            .iter()
            .any(|net| net.contains(&address))
    }

    /// The prefix a path is counted under, and its limit.
    pub fn prefix_of<'a>(&'a self, path: &'a str) -> (&'a str, Limit) {
        for rule in &self.prefixes {
            let under = path
                .strip_prefix(rule.prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if under {
                return (&rule.prefix, rule.limit);
            }
        }
        // `/v1/apiKeys/abc` → `/v1/apiKeys`; outside `/v1/`, the first segment.
        let skip = if path.starts_with("/v1/") { 4 } else { 1 };
        let end = path
            .get(skip..)
            .and_then(|rest| rest.find('/'))
            .map_or(path.len(), |i| i + skip);
        (&path[..end], self.default_limit)
    }

    /// Counts one request from `client` to `path`; `None` when limits are off.
    pub fn check_address(&self, client: IpAddr, path: &str) -> Option<Verdict> {
        if !self.is_active() {
            return None;
        }
        let (prefix, limit) = self.prefix_of(path);
        let mut hasher = self.hasher.build_hasher();
        0u8.hash(&mut hasher);
        canonical(client).hash(&mut hasher);
        prefix.hash(&mut hasher);
        Some(self.take(hasher.finish(), "ip", limit))
    }

    /// Whether API keys have limits of their own ([`RateLimiter::check_key`] can refuse).
    pub fn limits_keys(&self) -> bool {
        self.per_key.is_some() && self.is_active()
    }

    /// Counts one request made with the API key `key_uid`; `None` when there is no per-key
    /// limit or limits are off.
    pub fn check_key(&self, key_uid: &str) -> Option<Verdict> {
        let limit = self.per_key?;
        if !self.is_active() {
            return None;
        }
        let mut hasher = self.hasher.build_hasher();
        1u8.hash(&mut hasher);
        key_uid.hash(&mut hasher);
        Some(self.take(hasher.finish(), "key", limit))
    }

    fn take(&self, bucket_key: u64, policy: &'static str, limit: Limit) -> Verdict {
        let now = self.clock.now().timestamp_micros();
        let capacity = limit.capacity();
        let rate = f64::from(limit.rate);
        let shard = &self.shards[(bucket_key as usize) % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= self.max_per_shard && !buckets.contains_key(&bucket_key) {
            evict(&mut buckets, now, rate, capacity, self.max_per_shard);
        }
        let bucket = buckets.entry(bucket_key).or_insert(Bucket {
            tokens: capacity,
            at_micros: now,
        });
        // A clock that steps back refills nothing rather than draining.
        let elapsed = (now - bucket.at_micros).max(0) as f64 / 1e6;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at_micros = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let tokens = bucket.tokens;
        drop(buckets);
        Verdict {
            allowed,
            policy,
            limit,
            remaining: tokens.floor() as u64,
            reset_secs: ((capacity - tokens) / rate).ceil() as u64,
            retry_after_secs: if allowed {
                0
            } else {
                ((1.0 - tokens) / rate).ceil() as u64
            },
        }
    }
}

/// Makes room in a full shard: buckets that would be full by now belong to callers that went
/// quiet and lose nothing by being forgotten; if every bucket is busy, the shard starts over.
fn evict(buckets: &mut HashMap<u64, Bucket>, now: i64, rate: f64, capacity: f64, max: usize) {
    buckets.retain(|_, b| b.tokens + (now - b.at_micros).max(0) as f64 / 1e6 * rate < capacity);
    if buckets.len() >= max {
        tracing::warn!(
            buckets = buckets.len(),
            "rate-limit buckets are full of busy callers: forgetting a shard of them"
        );
        buckets.clear();
    }
}

/// IPv4 addresses arriving as IPv4-mapped IPv6 (dual-stack listeners) count as themselves.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use easel_core::ManualClock;

    fn limiter(config: RateLimitConfig) -> (RateLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
        ));
        (RateLimiter::new(config, clock.clone()), clock)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_of_rate_times_burst_then_rate_per_second() {
        let (limiter, clock) = limiter(RateLimitConfig::default());
        let client = ip("192.0.2.1");
        for i in 0..50 {
            let v = limiter.check_address(client, "/v1/apiKeys").unwrap();
            assert!(v.allowed, "request {i} of the burst");
            assert_eq!(v.remaining, 49 - i);
        }
        let refused = limiter.check_address(client, "/v1/apiKeys/abc").unwrap();
        assert!(!refused.allowed, "sub-resources count toward their parent");
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.reset_secs, 5);
        // Another prefix and another address have buckets of their own.
        assert!(limiter.check_address(client, "/v1/users").unwrap().allowed);
        assert!(
            limiter
                .check_address(ip("192.0.2.2"), "/v1/apiKeys")
                .unwrap()
                .allowed
        );
        // A tenth of a second gives one request back.
        clock.advance(chrono::Duration::milliseconds(100));
        assert!(
            limiter
                .check_address(client, "/v1/apiKeys")
                .unwrap()
                .allowed
        );
        assert!(
            !limiter
                .check_address(client, "/v1/apiKeys")
                .unwrap()
                .allowed
        );
        clock.advance(chrono::Duration::seconds(10));
        let v = limiter.check_address(client, "/v1/apiKeys").unwrap();
        assert!(v.allowed);
        assert_eq!(v.remaining, 49, "a bucket never fills past its capacity");
    }

    #[test]
    fn stricter_prefixes_win_by_longest_match() {
        let (limiter, _) = limiter(RateLimitConfig::default());
        assert_eq!(
            limiter.prefix_of("/v1/auth/user/password/reset"),
            ("/v1/auth/user/password/reset", Limit { rate: 2, burst: 5 })
        );
        assert_eq!(
            limiter.prefix_of("/v1/auth/refresh/abc"),
            ("/v1/auth", Limit { rate: 10, burst: 5 })
        );
        assert_eq!(
            limiter.prefix_of("/v1/auth/authenticatex"),
            ("/v1/auth", Limit { rate: 10, burst: 5 }),
            "a prefix matches whole segments only"
        );
        assert_eq!(limiter.prefix_of("/v1/apiKeys").0, "/v1/apiKeys");
        assert_eq!(limiter.prefix_of("/").0, "/");
        assert_eq!(limiter.prefix_of("/assets/app.js").0, "/assets");
        let client = ip("192.0.2.1");
        let allowed = (0..20)
            .filter(|_| {
                limiter
                    .check_address(client, "/v1/auth/user/password/reset")
                    .unwrap()
                    .allowed
            })
            .count();
        assert_eq!(allowed, 10);
    }

    #[test]
    fn switched_off_counts_nothing() {
        let (limiter, _) = limiter(RateLimitConfig {
            default_limit: Limit { rate: 1, burst: 1 },
            per_key: Some(Limit { rate: 1, burst: 1 }),
            ..RateLimitConfig::default()
        });
        limiter.set_active(false);
        assert!(limiter
            .check_address(ip("192.0.2.1"), "/v1/users")
            .is_none());
        assert!(limiter.check_key("k").is_none());
        limiter.set_active(true);
        assert!(limiter.check_key("k").unwrap().allowed);
        assert!(!limiter.check_key("k").unwrap().allowed);
        assert!(limiter.check_key("other").unwrap().allowed);
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let (limiter, _) = limiter(RateLimitConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..RateLimitConfig::default()
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.7, 10.1.2.3"),
        );
        assert_eq!(
            limiter.client_address(ip("10.0.0.1"), &headers),
            ip("198.51.100.7"),
            "the rightmost address that is not a trusted proxy"
        );
        assert_eq!(
            limiter.client_address(ip("192.0.2.50"), &headers),
            ip("192.0.2.50"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            limiter.client_address(ip("::ffff:10.0.0.1"), &headers),
            ip("198.51.100.7"),
            "IPv4-mapped peers are matched as IPv4"
        );
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("junk, 10.9.9.9"),
        );
        assert_eq!(
            limiter.client_address(ip("10.0.0.1"), &headers),
            ip("10.9.9.9")
        );
        assert_eq!(
            limiter.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn bounded_memory_drops_idle_buckets_first() {
        let (limiter, clock) = limiter(RateLimitConfig {
            max_buckets: SHARDS * 4,
            ..RateLimitConfig::default()
        });
        for i in 0..2000u32 {
            let client = IpAddr::from(i.to_be_bytes());
            limiter.check_address(client, "/v1/users");
            if i % 100 == 0 {
                clock.advance(chrono::Duration::seconds(10));
            }
        }
        let total: usize = limiter.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * 4, "{total} buckets kept");
    }

    #[test]
    fn limits_parse_and_refuse_nonsense() {
        assert_eq!("10/5".parse::<Limit>(), Ok(Limit { rate: 10, burst: 5 }));
        assert!("0/5".parse::<Limit>().is_err());
        assert!("ten".parse::<Limit>().is_err());
        assert_eq!(
            "/v1/auth/=3/2".parse::<PrefixLimit>(),
            Ok(PrefixLimit {
                prefix: "/v1/auth".into(),
                limit: Limit { rate: 3, burst: 2 }
            })
        );
        assert!("v1/auth=3/2".parse::<PrefixLimit>().is_err());
    }
}

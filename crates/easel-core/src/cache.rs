//! The verify cache: callers already authenticated, keyed by the SHA-256 of the key or of the
//! token's signature they presented, so that an authenticated request costs a checksum, a hash
//! and a map lookup instead of a store round trip (and, for tokens, an Ed25519 verification).
//! A token's entry also keeps the token's signed part (its header and claims), which a hit
//! must match byte for byte: the cache answers only the very token it verified.
//!
//! - It holds no secret: keys are hashes, a token's signed part is readable by anyone who
//!   holds the token, and values are what the store would return anyway.
//! - It only ever holds successes: unknown or refused credentials are never cached.
//! - It is bounded (`capacity` entries across 16 shards; a full shard drops its oldest).
//! - An entry is used only while its key or token is unexpired, and for at most `recheck`
//!   after it was loaded or last checked: past that, the store is asked again (for a key in
//!   use, in the background, and only its tenant's authentication stamp if that is enough:
//!   [`AuthCache::extend`]). That bounds how long a change this node was not told about (a
//!   lost notification) can go unnoticed.
//! - Every change that can affect authentication removes the entries it concerns at once on
//!   the node that made it ([`Change`]), and other nodes are told through the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::access::Caller;
use crate::ids::Uid;

const SHARDS: usize = 16;

/// How many re-check intervals a cached key may be kept on its tenant's unchanged
/// authentication stamp before the background refresh reads it in full again
/// ([`CacheSlot::full_read_due`]).
pub const FULL_READ_EVERY: i64 = 10;

/// Something that changed in the store and may make cached callers stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Key(Uid),
    User(Uid),
    Session(Uid),
    /// Anything tenant-wide: roles, teams, projects, the tenant's own state.
    Tenant(Uid),
    /// Everything (after a lost connection to the change feed).
    All,
}

impl Change {
    /// The wire form other nodes receive: `key:<uid>`, `user:<uid>`, …
    pub fn encode(&self) -> String {
        match self {
            Change::Key(u) => format!("key:{u}"),
            Change::User(u) => format!("user:{u}"),
            Change::Session(u) => format!("session:{u}"),
            Change::Tenant(u) => format!("tenant:{u}"),
            Change::All => "all".to_owned(),
        }
    }

    pub fn decode(s: &str) -> Option<Change> {
        if s == "all" {
            return Some(Change::All);
        }
        let (kind, uid) = s.split_once(':')?;
        let uid = Uid::parse(uid)?;
        match kind {
            "key" => Some(Change::Key(uid)),
            "user" => Some(Change::User(uid)),
            "session" => Some(Change::Session(uid)),
            "tenant" => Some(Change::Tenant(uid)),
            _ => None,
        }
    }
}

/// What a hit on the verify cache reads and writes of a caller it holds, inside the caller
/// itself ([`Caller::cache`], first in it): with the `Arc`'s reference counts before it and
/// the caller's tenant and user after it, it fills the caller's first 64 bytes, so that a hit
/// reads and writes one cache line of the caller. The bookkeeping only the cache's background
/// work reads is at the caller's end ([`CacheRecord`]), and the hash a lookup compares is in
/// the cache's own map (docs/performance.md, round 21).
///
/// Empty for a caller the cache does not hold (a project-scoped one, say); a clone is empty
/// too.
#[derive(Default)]
pub struct CacheSlot {
    /// Trusted until here (milliseconds since the epoch): the earlier of its key's or token's
    /// expiry and its re-check ([`CacheRecord`]). Changed only under the shard's lock; atomic
    /// only because the caller is shared.
    trusted_until_ms: AtomicI64,
    /// Uses of the key (for tokens, of the key they were exchanged for) not yet written to
    /// the store, and the last one's time, in one word ([`Usage`]). Changed only under the
    /// shard's lock, which a lookup holds anyway; atomic only because the caller is shared.
    usage: AtomicU64,
    /// The part of the credential that its hash does not cover, which a lookup must match
    /// byte for byte: none for an API key (its hash covers all of it), a token's header and
    /// claims for a token (its hash covers only its signature: [`crate::token::cache_key`]).
    /// A key's lookup never finds a token's entry, nor a token's a key's. `None` rather than
    /// an empty part: an empty slice's pointer dangles (the address 1), and glibc's AVX-512
    /// `memcmp` reads short slices with a masked load, which from an unmapped page takes a
    /// microcode assist of hundreds of cycles, even with every byte masked off. Comparing two
    /// empty parts that way was about 100 ns of a key's lookup, 1.4 % of a request under row 2
    /// of the benchmark (docs/performance.md, round 24). The `Option` costs no room (a box is
    /// never null), so the slot's layout is the same.
    signed: Option<Box<[u8]>>,
}

/// What the verify cache keeps of a caller it holds that only its background work reads
/// (the refresh, the usage flush), at the end of the caller ([`Caller::cached`]): a hit
/// does not touch it.
#[derive(Default)]
pub struct CacheRecord {
    /// The last eight bytes of the hash the caller is cached under: the map holds the first
    /// 24 ([`Entry`]).
    hash_tail: [u8; 8],
    /// The key or token stops being valid here (milliseconds since the epoch).
    valid_until_ms: i64,
    /// The store is asked again from here: `recheck` after loading, less up to a quarter of
    /// it ([`AuthCache::recheck_at`]); moved on by [`AuthCache::extend`] when the key's
    /// tenant's authentication stamp shows nothing changed. Changed only under the shard's
    /// lock; atomic only because the caller is shared.
    recheck_at_ms: AtomicI64,
    /// The tenant's authentication stamp read with the key (zero for a token): a change that
    /// could alter this caller moves it, in the transaction that makes the change.
    auth_stamp: i64,
    /// From here the background refresh reads the key again in full, whatever the stamp
    /// says: [`FULL_READ_EVERY`] re-checks after it was read, less a spread fixed by the
    /// hash. The stamp catches every change made through the store; this bounds the life of
    /// anything it could not (a database restored from an older backup, say).
    reread_at_ms: i64,
}

impl Clone for CacheSlot {
    fn clone(&self) -> Self {
        CacheSlot::default()
    }
}

impl std::fmt::Debug for CacheSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheSlot(..)")
    }
}

impl Clone for CacheRecord {
    fn clone(&self) -> Self {
        CacheRecord::default()
    }
}

impl std::fmt::Debug for CacheRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheRecord(..)")
    }
}

impl CacheRecord {
    /// An empty record that remembers the tenant's authentication stamp read with a key:
    /// [`AuthCache::insert`] and [`AuthCache::refresh`] keep it in the record they make.
    pub fn stamped(auth_stamp: i64) -> CacheRecord {
        CacheRecord {
            auth_stamp,
            ..CacheRecord::default()
        }
    }

    /// The tenant's authentication stamp read with the key.
    pub fn auth_stamp(&self) -> i64 {
        self.auth_stamp
    }

    /// Whether the background refresh must read the key in full at `now_ms`, whatever its
    /// tenant's stamp says.
    pub fn full_read_due(&self, now_ms: i64) -> bool {
        self.reread_at_ms <= now_ms
    }
}

/// A key's uses and its last use's time in one word, so that counting a use writes the line
/// a hit reads anyway: the count in the low [`Usage::COUNT_BITS`] bits, the time
/// (milliseconds since the epoch, enough until the year 2527) above them. A count that would
/// overflow is handed to the next flush first ([`AuthCache::get_signed`]).
struct Usage;

impl Usage {
    const COUNT_BITS: u32 = 20;
    const MAX_COUNT: i64 = (1 << Self::COUNT_BITS) - 1;

    fn pack(count: i64, last_ms: i64) -> u64 {
        ((last_ms.max(0) as u64) << Self::COUNT_BITS) | count.clamp(0, Self::MAX_COUNT) as u64
    }

    /// The count and the last use's time.
    fn unpack(word: u64) -> (i64, i64) {
        (
            (word & Self::MAX_COUNT as u64) as i64,
            (word >> Self::COUNT_BITS) as i64,
        )
    }
}

impl CacheSlot {
    /// Counts a use (the caller holds the shard's lock). A count already at its most is
    /// returned, to be written by the next flush, and the count starts again at this use.
    fn record(&self, now_ms: i64) -> Option<(i64, i64)> {
        let (count, last_ms) = Usage::unpack(self.usage.load(Ordering::Relaxed));
        let last_ms = last_ms.max(now_ms);
        let (count, full) = if count == Usage::MAX_COUNT {
            (1, Some((count, last_ms)))
        } else {
            (count + 1, None)
        };
        self.usage
            .store(Usage::pack(count, last_ms), Ordering::Relaxed);
        full
    }

    /// Takes the counts so far, leaving zero uses and the last use's time, which the
    /// background refresh asks (the caller holds the shard's lock).
    fn take(&self) -> Option<(i64, i64)> {
        let (count, last_ms) = Usage::unpack(self.usage.load(Ordering::Relaxed));
        if count == 0 {
            return None;
        }
        self.usage.store(Usage::pack(0, last_ms), Ordering::Relaxed);
        Some((count, last_ms))
    }

    /// When the key was last used (0 if never since it was cached).
    fn last_used_ms(&self) -> i64 {
        Usage::unpack(self.usage.load(Ordering::Relaxed)).1
    }
}

/// Cache keys are SHA-256 digests: already uniformly distributed, and no caller can choose
/// one (that would take a preimage), so their first eight bytes ([`map_key`]) are a hash
/// that needs no hashing and cannot be flooded.
#[derive(Default, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed ([`map_key`]).
        let mut first = [0u8; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 = u64::from_le_bytes(first);
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

type DigestHash = std::hash::BuildHasherDefault<DigestHasher>;

/// A hint to the processor to start loading the cache line that holds `value`; it never
/// waits, faults or changes anything (a no-op on processors other than x86-64).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(value);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Whether a change concerns a cached caller.
fn concerns(caller: &Caller, change: &Change) -> bool {
    match change {
        Change::Key(u) => caller.key_uid.as_ref() == Some(u),
        Change::User(u) => &caller.user.uid == u,
        Change::Session(u) => caller.session_uid.as_ref() == Some(u),
        Change::Tenant(u) => &caller.tenant.uid == u,
        Change::All => true,
    }
}

/// The map key of a hash: its first eight bytes (see [`DigestHasher`]). Two hashes that
/// share them (about one chance in 4 × 10^9 among the 100,000 callers cached by default) take
/// turns in the cache; a lookup compares the next sixteen too ([`check_of`]).
fn map_key(hash: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

/// Bytes 8 to 23 of a hash, which an entry keeps beside its caller ([`Entry::check`]).
fn check_of(hash: &[u8; 32]) -> [u8; 16] {
    let mut check = [0u8; 16];
    check.copy_from_slice(&hash[8..24]);
    check
}

/// The last eight bytes of a hash, which its caller keeps ([`CacheRecord::hash_tail`]).
fn tail_of(hash: &[u8; 32]) -> [u8; 8] {
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&hash[24..]);
    tail
}

/// The verify cache's counters, as read at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Store lookups made to authenticate (on misses).
    pub store_lookups: u64,
    pub invalidations: u64,
    /// Cached keys re-read in the background before their re-check was due.
    pub refreshes: u64,
}

/// A cached caller, with the part of its hash that a lookup compares besides the map key.
///
/// A lookup compares 24 of the hash's 32 bytes (the map key and [`Entry::check`]), all in
/// the map's own memory: comparing the whole hash read the caller's first line for it, and
/// the caller's tenant and user then took a second. 192 bits of SHA-256 leave no chance match
/// (about 2^-175 per lookup among the 100,000 callers cached by default) and no chosen one (a
/// key made to match a cached key's hash would take a preimage of 192 bits, of a hash nobody
/// outside the node sees); inserting, replacing and removing compare all 32 bytes.
struct Entry {
    caller: Arc<Caller>,
    /// Bytes 8 to 23 of the hash ([`check_of`]).
    check: [u8; 16],
}

impl Entry {
    /// Whether this entry holds exactly `hash` (all 32 bytes; its map key is `hash`'s).
    fn holds(&self, hash: &[u8; 32]) -> bool {
        self.check == check_of(hash) && self.caller.cached.hash_tail == tail_of(hash)
    }

    /// The whole hash of this entry, held under `key`.
    fn hash(&self, key: u64) -> [u8; 32] {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&key.to_le_bytes());
        hash[8..24].copy_from_slice(&self.check);
        hash[24..].copy_from_slice(&self.caller.cached.hash_tail);
        hash
    }
}

/// One shard: its entries, and the hits and misses counted under its lock (a counter shared
/// by every request would be written by both cores on every request, and its cache line
/// would travel between them each time).
#[derive(Default)]
struct Shard {
    /// Entries by [`map_key`].
    entries: HashMap<u64, Entry, DigestHash>,
    hits: u64,
    misses: u64,
}

/// When and against what a caller was read from the store, for [`AuthCache::put`].
struct Loaded {
    /// Its key or token stops being valid here.
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
    /// [`AuthCache::generation`] before the read began.
    generation: u64,
}

/// What [`AuthCache::put`] gives the caller's [`CacheSlot::signed`].
enum SignedPart<'a> {
    /// The credential's own: none for a key, a token's header and claims.
    Given(Option<&'a [u8]>),
    /// That of the entry it replaces (a refresh reads again what is held).
    Held,
}

/// Why a caller is put in the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    /// A request read it (and counts as a use).
    Request,
    /// The background refresh read it again (only for an entry still held).
    Refresh,
}

/// A shard's lock on a cache line of its own, so that two cores locking neighbouring shards
/// do not take the same line from each other (128 bytes: adjacent-line prefetch pairs lines).
#[repr(align(128))]
#[derive(Default)]
struct Padded(Mutex<Shard>);

pub struct AuthCache {
    shards: Box<[Padded]>,
    per_shard: usize,
    recheck_ms: i64,
    /// Counts of entries that left the cache before the next flush.
    orphaned_usage: Mutex<Vec<(Uid, i64, DateTime<Utc>)>>,
    store_lookups: AtomicU64,
    invalidations: AtomicU64,
    refreshes: AtomicU64,
    /// Moves on every invalidation, before any entry is removed. A caller read from the store
    /// is cached only if it has not moved since the read began ([`AuthCache::generation`]):
    /// a change that landed meanwhile may have made what was read stale.
    generation: AtomicU64,
}

impl Padded {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shard> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AuthCache {
    pub fn new(capacity: usize, recheck: Duration) -> AuthCache {
        AuthCache {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            per_shard: (capacity / SHARDS).max(1),
            recheck_ms: recheck.num_milliseconds(),
            orphaned_usage: Mutex::new(Vec::new()),
            store_lookups: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Read before reading a caller from the store, and handed back to [`AuthCache::insert`]
    /// or [`AuthCache::refresh`] with what was read.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Counts a store lookup made because the cache could not answer.
    pub fn count_store_lookup(&self) {
        self.store_lookups.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            store_lookups: self.store_lookups.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock();
            stats.hits += shard.hits;
            stats.misses += shard.misses;
        }
        stats
    }

    /// Keeps the counts of a caller leaving the cache for the next flush.
    fn orphan(&self, caller: &Caller) {
        self.orphan_counts(caller, caller.cache.take());
    }

    /// Keeps counts taken from a caller's slot for the next flush.
    fn orphan_counts(&self, caller: &Caller, counts: Option<(i64, i64)>) {
        if let (Some((count, last_ms)), Some(key)) = (counts, &caller.key_uid) {
            self.keep_unwritten(&[(key.clone(), count, crate::model::from_millis(last_ms))]);
        }
    }

    /// Every key's uses since the last call, for a batched write to the store, sorted by
    /// key, each key once: the counts of every cached caller (taking one shard's lock at a
    /// time, so requests wait for at most one shard's walk), of entries that left the cache
    /// and of writes that failed. A key's own entry and its tokens' entries sit in different
    /// shards; their counts are added up here.
    pub fn take_usage(&self) -> Vec<(Uid, i64, DateTime<Utc>)> {
        let mut out = std::mem::take(
            &mut *self
                .orphaned_usage
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for Entry { caller, .. } in shard.entries.values() {
                if let Some(key) = &caller.key_uid {
                    if let Some((count, last_ms)) = caller.cache.take() {
                        out.push((key.clone(), count, crate::model::from_millis(last_ms)));
                    }
                }
            }
        }
        merge_usage(&mut out);
        out
    }

    /// Counts a write to the store did not take: the next flush writes them.
    pub fn keep_unwritten(&self, usage: &[(Uid, i64, DateTime<Utc>)]) {
        self.orphaned_usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(usage);
    }

    fn shard(&self, hash: &[u8; 32]) -> &Padded {
        // The last byte picks the shard; the first eight are the hash inside it (`DigestHasher`).
        &self.shards[hash[31] as usize % SHARDS]
    }

    /// Asks the processor to start loading the caller cached under this hash, if there is
    /// one, and returns at once: nothing is counted, checked or changed. Called before a
    /// request is routed, so that the [`AuthCache::get`] that follows routing finds the
    /// caller's first line (all a hit and `GET /v1/users/info` read of it) in the processor's
    /// caches instead of waiting for memory. For a `token`, it also asks for the token's
    /// signed part that the lookup compares: it waits for the caller's line to find it.
    ///
    /// Why: with ten thousand keys in use, the caller of a random key is rarely in those
    /// caches, and reading it was the largest single cost of an authenticated request in
    /// time, though not in instructions (docs/performance.md, round 16). This still waits
    /// for the map's entry, which holds the caller's address; the caller's line loads while
    /// the router runs.
    pub fn warm(&self, hash: &[u8; 32], token: bool) {
        let shard = self.shard(hash).lock();
        if let Some(Entry { caller, .. }) = shard.entries.get(&map_key(hash)) {
            prefetch(&caller.cache);
            if token {
                // Every line of a token's signed part (about 380 bytes): one byte every 64,
                // and the last, which may start a line of its own.
                if let Some(signed) = &caller.cache.signed {
                    for byte in signed.iter().step_by(64).chain(signed.last()) {
                        prefetch(byte);
                    }
                }
            }
        }
    }

    /// The cached caller of the API key of this hash, counting a use of the key. `now_ms` is
    /// [`crate::Clock::now_millis`]: this runs on every authenticated request.
    pub fn get(&self, hash: &[u8; 32], now_ms: i64) -> Option<Arc<Caller>> {
        self.lookup(hash, None, now_ms)
    }

    /// The cached caller of the token whose signature has this hash and whose signed part is
    /// `signed` ([`crate::token::cache_key`]), counting a use of its key, if any.
    pub fn get_signed(&self, hash: &[u8; 32], signed: &[u8], now_ms: i64) -> Option<Arc<Caller>> {
        self.lookup(hash, Some(signed), now_ms)
    }

    /// [`AuthCache::get`] (`signed` is `None`) and [`AuthCache::get_signed`].
    fn lookup(&self, hash: &[u8; 32], signed: Option<&[u8]>, now_ms: i64) -> Option<Arc<Caller>> {
        let mut shard = self.shard(hash).lock();
        let check = check_of(hash);
        let mut full_count = None;
        let found = shard
            .entries
            .get(&map_key(hash))
            .filter(|entry| {
                let slot = &entry.caller.cache;
                entry.check == check
                    && now_ms < slot.trusted_until_ms.load(Ordering::Relaxed)
                    && slot.signed.as_deref() == signed
            })
            .map(|Entry { caller, .. }| {
                full_count = caller.cache.record(now_ms);
                caller.clone()
            });
        if let (Some(full), Some(caller)) = (full_count, &found) {
            self.orphan_counts(caller, Some(full));
        }
        if found.is_some() {
            shard.hits += 1;
        } else {
            shard.misses += 1;
        }
        found
    }

    /// Caches the caller of an API key read from the store when the cache was at
    /// `generation`, counting this use of its key (the counts of an entry it replaces carry
    /// over), and returns it as shared. If a change was applied since `generation`, the
    /// caller is returned but not cached: the change may have landed after the read.
    pub fn insert(
        &self,
        hash: [u8; 32],
        caller: Caller,
        valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
        generation: u64,
    ) -> Arc<Caller> {
        self.insert_given(hash, None, caller, valid_until, now, generation)
    }

    /// [`AuthCache::insert`] for a verified token: `hash` is its signature's, `signed` the
    /// rest ([`crate::token::cache_key`]).
    pub fn insert_signed(
        &self,
        hash: [u8; 32],
        signed: &[u8],
        caller: Caller,
        valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
        generation: u64,
    ) -> Arc<Caller> {
        self.insert_given(hash, Some(signed), caller, valid_until, now, generation)
    }

    /// [`AuthCache::insert`] (`signed` is `None`) and [`AuthCache::insert_signed`].
    fn insert_given(
        &self,
        hash: [u8; 32],
        signed: Option<&[u8]>,
        caller: Caller,
        valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
        generation: u64,
    ) -> Arc<Caller> {
        let loaded = Loaded {
            valid_until,
            now,
            generation,
        };
        self.put(
            hash,
            SignedPart::Given(signed),
            caller,
            loaded,
            Load::Request,
        )
        .0
    }

    /// Replaces a held caller with one read again from the store (in the background, before
    /// its re-check is due), which is then trusted for a whole re-check interval from `now`.
    /// Its counts carry over and no use is counted. Nothing is cached if a change was applied
    /// since `generation`, or if the entry has left the cache meanwhile (a refresh brings back
    /// nothing that was dropped).
    pub fn refresh(
        &self,
        hash: [u8; 32],
        caller: Caller,
        valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
        generation: u64,
    ) -> bool {
        let loaded = Loaded {
            valid_until,
            now,
            generation,
        };
        let refreshed = self
            .put(hash, SignedPart::Held, caller, loaded, Load::Refresh)
            .1;
        if refreshed {
            self.refreshes.fetch_add(1, Ordering::Relaxed);
        }
        refreshed
    }

    /// Drops the entry of this hash, keeping its counts for the next flush: what the store
    /// now says of its key would refuse it.
    pub fn remove(&self, hash: &[u8; 32]) {
        let mut shard = self.shard(hash).lock();
        let key = map_key(hash);
        if shard
            .entries
            .get(&key)
            .is_some_and(|entry| entry.holds(hash))
        {
            if let Some(removed) = shard.entries.remove(&key) {
                self.orphan(&removed.caller);
            }
        }
    }

    /// Cached API-key callers (not tokens), with their hashes, to read again in the
    /// background, soonest due first: of those used in the last half of a re-check interval, every one whose
    /// re-check falls within `window.urgent_ms` of `now_ms` (or has passed), then, up to
    /// `1 / window.rounds` of the keys in use, those within `window.early_ms`; at most
    /// `window.limit`. Reading some keys early, a few each round, spreads out the keys that
    /// were loaded together (all of a node's keys, when it starts under load), which would
    /// otherwise fall due together every interval. An entry nobody uses is left to lapse;
    /// its next use reads it on the request.
    pub fn due_for_refresh(
        &self,
        now_ms: i64,
        window: &RefreshWindow,
    ) -> Vec<([u8; 32], Arc<Caller>)> {
        let mut due = Vec::new();
        let mut in_use = 0usize;
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (key, entry) in shard.entries.iter() {
                let caller = &entry.caller;
                let record = &caller.cached;
                if caller.key_uid.is_some()
                    && caller.session_uid.is_none()
                    && now_ms < record.valid_until_ms
                    && caller.cache.last_used_ms() >= now_ms - self.recheck_ms / 2
                {
                    in_use += 1;
                    let recheck_at_ms = record.recheck_at_ms.load(Ordering::Relaxed);
                    if recheck_at_ms - window.early_ms <= now_ms {
                        due.push((recheck_at_ms, entry.hash(*key), caller.clone()));
                    }
                }
            }
        }
        due.sort_unstable_by_key(|(at, _, _)| *at);
        let urgent = due.partition_point(|(at, _, _)| at - window.urgent_ms <= now_ms);
        let early_share = in_use.div_ceil(window.rounds.max(1));
        due.truncate(urgent.max(early_share).min(window.limit));
        due.into_iter()
            .map(|(_, hash, caller)| (hash, caller))
            .collect()
    }

    /// Trusts these callers, which [`AuthCache::due_for_refresh`] returned, for another
    /// re-check interval from `now_ms` without reading them again: the caller of the refresh
    /// found their tenants' authentication stamps where they were when each was read, so the
    /// store would answer the same. Only a caller still held is extended (one replaced or
    /// removed meanwhile is not). Returns how many were.
    pub fn extend(&self, callers: &[([u8; 32], Arc<Caller>)], now_ms: i64) -> usize {
        let mut extended = 0;
        for (hash, caller) in callers {
            let shard = self.shard(hash).lock();
            if shard
                .entries
                .get(&map_key(hash))
                .is_some_and(|held| Arc::ptr_eq(&held.caller, caller))
            {
                let recheck_at_ms = self.recheck_at(hash, now_ms);
                caller
                    .cached
                    .recheck_at_ms
                    .store(recheck_at_ms, Ordering::Relaxed);
                caller.cache.trusted_until_ms.store(
                    recheck_at_ms.min(caller.cached.valid_until_ms),
                    Ordering::Relaxed,
                );
                extended += 1;
            }
        }
        self.refreshes.fetch_add(extended as u64, Ordering::Relaxed);
        extended
    }

    /// Caches a caller unless the generation moved since it was read (or, for a refresh, its
    /// entry is no longer held), and returns it shared with whether it was cached.
    fn put(
        &self,
        hash: [u8; 32],
        signed: SignedPart<'_>,
        mut caller: Caller,
        loaded: Loaded,
        load: Load,
    ) -> (Arc<Caller>, bool) {
        let now_ms = loaded.now.timestamp_millis();
        let key = map_key(&hash);
        let mut guard = self.shard(&hash).lock();
        // Checked under the shard's lock: an invalidation moves the generation before it takes
        // any shard's lock, so either this sees it move, or the invalidation, coming later to
        // this shard, removes what is put here.
        let held = || {
            guard
                .entries
                .get(&key)
                .is_some_and(|entry| entry.holds(&hash))
        };
        if self.generation.load(Ordering::SeqCst) != loaded.generation
            || (load == Load::Refresh && !held())
        {
            return (Arc::new(caller), false);
        }
        let entries = &mut guard.entries;
        if entries.len() >= self.per_shard && !entries.contains_key(&key) {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.caller.cached.recheck_at_ms.load(Ordering::Relaxed))
                .map(|(k, _)| *k)
            {
                if let Some(evicted) = entries.remove(&oldest) {
                    self.orphan(&evicted.caller);
                }
            }
        }
        let (mut uses, mut last_ms) = (0, 0);
        let mut held_signed = None;
        match entries.remove(&key) {
            Some(held) if held.holds(&hash) => {
                last_ms = held.caller.cache.last_used_ms();
                // The counts carry over, unless one more would not fit: then they are kept
                // for the next flush, as those of an entry that left.
                match held.caller.cache.take() {
                    Some((count, _)) if count < Usage::MAX_COUNT => uses = count,
                    full => self.orphan_counts(&held.caller, full),
                }
                if let SignedPart::Held = signed {
                    held_signed = held.caller.cache.signed.clone();
                }
            }
            Some(other) => self.orphan(&other.caller),
            None => {}
        }
        let signed = match signed {
            SignedPart::Given(signed) => signed.map(Box::from),
            SignedPart::Held => held_signed,
        };
        // A request's load counts its use; a background refresh does not.
        let (uses, last_ms) = match load {
            Load::Request => (uses + 1, last_ms.max(now_ms)),
            Load::Refresh => (uses, last_ms),
        };
        let valid_until_ms = loaded.valid_until.timestamp_millis();
        let recheck_at_ms = self.recheck_at(&hash, now_ms);
        caller.cache = CacheSlot {
            trusted_until_ms: AtomicI64::new(valid_until_ms.min(recheck_at_ms)),
            usage: AtomicU64::new(Usage::pack(uses, last_ms)),
            signed,
        };
        caller.cached = CacheRecord {
            hash_tail: tail_of(&hash),
            valid_until_ms,
            recheck_at_ms: AtomicI64::new(recheck_at_ms),
            auth_stamp: caller.cached.auth_stamp,
            reread_at_ms: self.reread_at(&hash, now_ms),
        };
        let caller = Arc::new(caller);
        entries.insert(
            key,
            Entry {
                caller: caller.clone(),
                check: check_of(&hash),
            },
        );
        (caller, true)
    }

    /// When an entry loaded at `now_ms` is next checked against the store: `recheck` later,
    /// less a part of up to a quarter of it, fixed by the key's hash. Entries loaded together
    /// (a node starting under load fills its cache within a second) would otherwise all be
    /// re-read in the same instant, one store lookup per key at once, every interval, each
    /// request behind them waiting for the store. Never later than `recheck`: that is the
    /// bound on a missed change.
    fn recheck_at(&self, hash: &[u8; 32], now_ms: i64) -> i64 {
        let spread = (self.recheck_ms / 4).max(1);
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash[8..16]);
        let early = (u64::from_le_bytes(bytes) % spread as u64) as i64;
        now_ms + self.recheck_ms - early
    }

    /// When a key loaded at `now_ms` is next read in full by the background refresh:
    /// [`FULL_READ_EVERY`] re-check intervals later, less up to half of that, fixed by the
    /// hash, so that keys loaded together are not all read again in the same round.
    fn reread_at(&self, hash: &[u8; 32], now_ms: i64) -> i64 {
        let full_ms = self.recheck_ms * FULL_READ_EVERY;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash[16..24]);
        let early = (u64::from_le_bytes(bytes) % (full_ms / 2).max(1) as u64) as i64;
        now_ms + full_ms - early
    }

    pub fn invalidate(&self, change: &Change) {
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in self.shards.iter() {
            shard.lock().entries.retain(|_, Entry { caller, .. }| {
                let keep = !concerns(caller, change);
                if !keep {
                    self.orphan(caller);
                }
                keep
            });
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which cached keys a background refresh reads ([`AuthCache::due_for_refresh`]).
#[derive(Debug, Clone, Copy)]
pub struct RefreshWindow {
    /// Keys whose re-check is this close, or past, are read in this round.
    pub urgent_ms: i64,
    /// Keys whose re-check is this close may be read early, a share of them per round.
    pub early_ms: i64,
    /// The early share: the keys in use divided by this (rounded up).
    pub rounds: usize,
    /// At most this many keys per round.
    pub limit: usize,
}

/// Sorts counts by key and adds up those of the same key (a key's own entry and its tokens'
/// count towards it), so that a key appears once in a write: the journal row is smaller, and
/// the fold has fewer entries to add up.
fn merge_usage(usage: &mut Vec<(Uid, i64, DateTime<Utc>)>) {
    usage.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    usage.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
            kept.2 = kept.2.max(later.2);
        }
        same
    });
}

/// Records that cached callers share, so that every cached caller of a tenant points to one
/// copy of it (and every key and token of a user to one copy of the user).
///
/// - The copy handed out is always the one just read from the store: an equal copy already
///   held is handed out instead, never an older, different one. A caller loaded after a
///   rename gets the renamed record; callers loaded before it were dropped by the change.
/// - Why: a cached caller with copies of its own puts its tenant's name and uid, and its
///   user's uid, in allocations of their own, which the request path then reads. With
///   thousands of keys cached, those reads missed the processor's caches on most requests.
/// - Bounded: at `capacity` records, those no cached caller holds any more are dropped
///   (and if that frees nothing, all are; callers keep theirs).
pub struct Interned<T> {
    records: Mutex<HashMap<Uid, Arc<T>>>,
    capacity: usize,
}

/// A record with a uid of its own.
pub trait Keyed {
    fn uid(&self) -> &Uid;
}

impl Keyed for crate::model::Tenant {
    fn uid(&self) -> &Uid {
        &self.uid
    }
}

impl Keyed for crate::model::User {
    fn uid(&self) -> &Uid {
        &self.uid
    }
}

impl<T: Keyed + PartialEq> Interned<T> {
    pub fn new(capacity: usize) -> Interned<T> {
        Interned {
            records: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// `record` as a shared copy: the one held if it is equal, else a new one, kept.
    pub fn share(&self, record: T) -> Arc<T> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = records.get(record.uid()) {
            if **held == record {
                return held.clone();
            }
        }
        if records.len() >= self.capacity && !records.contains_key(record.uid()) {
            records.retain(|_, held| Arc::strong_count(held) > 1);
            if records.len() >= self.capacity {
                records.clear();
            }
        }
        let shared = Arc::new(record);
        records.insert(shared.uid().clone(), shared.clone());
        shared
    }

    pub fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Key owners' names for key lists, so that a page of keys is one indexed range read in the
/// store instead of that plus one user lookup per key: at a million keys with a hundred
/// thousand owners, those lookups were three quarters of PostgreSQL's work per page.
///
/// - Names are not secrets and grant nothing; they are shown, never used to decide.
/// - Bounded: `capacity` names; a full cache drops an arbitrary one to make room.
/// - A name is reused for at most `recheck` after it was read, like a cached caller, so a
///   rename another node announced but this node missed shows within that time.
/// - A rename or deletion drops the user's name at once on the node that made it, and on the
///   others when they hear of it ([`Change::User`]).
/// - Names read from the store while a change was being applied are not kept: a read that
///   started before a rename could otherwise put the old name back after the rename dropped
///   it. Every change bumps a generation; names are kept only if it did not move.
pub struct NameCache {
    names: Mutex<HashMap<Uid, CachedNames>>,
    generation: AtomicU64,
    capacity: usize,
    recheck: Duration,
}

struct CachedNames {
    tenant: Uid,
    /// Shared with the lookups that found it: a page of 50 keys copies no names to find them.
    names: Arc<crate::model::PersonNames>,
    loaded_at: DateTime<Utc>,
}

/// What [`NameCache::lookup`] found: the names it holds, the users it does not, and the
/// generation to hand back to [`NameCache::keep`] with the names read for those.
pub struct NameLookup {
    pub found: HashMap<Uid, Arc<crate::model::PersonNames>>,
    pub missing: Vec<Uid>,
    pub generation: u64,
}

impl NameCache {
    pub fn new(capacity: usize, recheck: Duration) -> NameCache {
        NameCache {
            names: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            capacity: capacity.max(1),
            recheck,
        }
    }

    /// The names of `users` of `tenant` that are held and fresh; the others, once each.
    pub fn lookup<'a>(
        &self,
        tenant: &Uid,
        users: impl IntoIterator<Item = &'a Uid>,
        now: DateTime<Utc>,
    ) -> NameLookup {
        // Read before the names: a change that lands between the two makes `keep` refuse.
        let generation = self.generation.load(Ordering::Acquire);
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for user in users {
            match names.get(user) {
                Some(cached)
                    if &cached.tenant == tenant
                        && now >= cached.loaded_at
                        && now - cached.loaded_at < self.recheck =>
                {
                    // A user seen twice is found twice: the second insert is the same names.
                    found.insert(user.clone(), Arc::clone(&cached.names));
                }
                _ if missing.contains(user) => {}
                _ => missing.push(user.clone()),
            }
        }
        NameLookup {
            found,
            missing,
            generation,
        }
    }

    /// Keeps names read from the store, unless a change was applied since `generation`.
    pub fn keep(
        &self,
        tenant: &Uid,
        read: &[(Uid, crate::model::PersonNames)],
        generation: u64,
        now: DateTime<Utc>,
    ) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock that `forget` also takes: no change can slip in between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        for (user, read_names) in read {
            if names.len() >= self.capacity && !names.contains_key(user) {
                if let Some(any) = names.keys().next().cloned() {
                    names.remove(&any);
                }
            }
            names.insert(
                user.clone(),
                CachedNames {
                    tenant: tenant.clone(),
                    names: Arc::new(read_names.clone()),
                    loaded_at: now,
                },
            );
        }
    }

    /// Drops what a change may have made stale: a user's names, or all of them.
    pub fn forget(&self, change: &Change) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        match change {
            Change::User(user) => {
                names.remove(user);
            }
            Change::All => names.clear(),
            // Names change only through their user. A deleted tenant's keys went with it,
            // so its users' names are never asked for again; they age out.
            Change::Key(_) | Change::Session(_) | Change::Tenant(_) => return,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn len(&self) -> usize {
        self.names.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long a counted list total is served before it is counted again. `listmeta.count` is
/// documented as a total "which might change during pagination"; counting a million keys on
/// every page is what this saves. Changes made on this node adjust the counts they affect at
/// once; changes made on other nodes show after the next recount.
const COUNT_REUSE: Duration = Duration::seconds(5);

/// A count is also reused for at least this many times as long as it took, so that
/// recounting a list takes at most about 1 % of the time of whoever counts it: at a million
/// keys a PostgreSQL count took 0.1–0.4 s (a parallel scan of the table, on three backends),
/// and recounting every 5 s took a tenth of a 2-core machine from the pages being served.
const COUNT_COST_FACTOR: i32 = 100;

/// However long a count took, it is recounted after this at the latest.
const COUNT_REUSE_MAX: Duration = Duration::minutes(5);

/// The most counts kept; past it, stale ones are dropped (and if none is, all are).
const COUNTS_KEPT: usize = 10_000;

/// A counted list: its tenant and its filter (the owner, for API keys).
pub type CountedList = (Uid, Option<Uid>);

struct Counted {
    total: i64,
    counted_at: DateTime<Utc>,
    /// How long it is served before it is recounted: `COUNT_REUSE`, or longer for a count
    /// that took long (`COUNT_COST_FACTOR`).
    reuse: Duration,
    /// Since when one request has been recounting it, if one is.
    recounting_since: Option<DateTime<Utc>>,
}

/// What the count cache knows of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountLookup {
    /// Counted recently (or being recounted by another request): use it.
    Fresh(i64),
    /// Old: use it, and recount it in the background. Exactly one caller gets this per
    /// recount, so that a count going stale under load starts one recount, not one per
    /// request in flight (which, at a million keys, queued every request behind them).
    Stale(i64),
    /// Never counted (or dropped): count it now.
    Missing,
}

/// Recent list totals, and when each was counted.
#[derive(Default)]
pub struct CountCache {
    counts: Mutex<HashMap<CountedList, Counted>>,
}

impl CountCache {
    pub fn get(&self, list: &CountedList, now: DateTime<Utc>) -> CountLookup {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let Some(counted) = counts.get_mut(list) else {
            return CountLookup::Missing;
        };
        let reuse = counted.reuse;
        let fresh = |at: DateTime<Utc>| now - at < reuse && now >= at;
        if fresh(counted.counted_at) || counted.recounting_since.is_some_and(fresh) {
            return CountLookup::Fresh(counted.total);
        }
        // A recount that never reported back (its store call failed) is retried.
        counted.recounting_since = Some(now);
        CountLookup::Stale(counted.total)
    }

    /// Keeps a count made at `now` that took `took` to make.
    pub fn put(&self, list: CountedList, total: i64, now: DateTime<Utc>, took: Duration) {
        let reuse =
            (took.max(Duration::zero()) * COUNT_COST_FACTOR).clamp(COUNT_REUSE, COUNT_REUSE_MAX);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= COUNTS_KEPT {
            counts.retain(|_, c| now - c.counted_at < c.reuse);
            if counts.len() >= COUNTS_KEPT {
                counts.clear();
            }
        }
        counts.insert(
            list,
            Counted {
                total,
                counted_at: now,
                reuse,
                recounting_since: None,
            },
        );
    }

    /// A key created (`+1`) or deleted (`-1`) on this node: the tenant's total and its
    /// owner's follow at once.
    pub fn adjust(&self, tenant: &Uid, owner: &Uid, delta: i64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for list in [
            (tenant.clone(), None),
            (tenant.clone(), Some(owner.clone())),
        ] {
            if let Some(counted) = counts.get_mut(&list) {
                counted.total = (counted.total + delta).max(0);
            }
        }
    }

    pub fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Tenant, User};

    fn uid(n: u8) -> Uid {
        Uid::parse(&format!("{n:024x}")).unwrap()
    }

    fn tenant(n: u8, name: &str) -> Tenant {
        let t0 = DateTime::UNIX_EPOCH;
        Tenant {
            uid: uid(n),
            name: name.into(),
            is_active: true,
            max_key_lifetime_days: 1,
            token_lifetime_minutes: 15,
            password_min_length: 8,
            created_at: t0,
            updated_at: t0,
        }
    }

    fn caller(key: u8, user: u8, tenant_n: u8) -> Caller {
        let t0 = DateTime::UNIX_EPOCH;
        Caller {
            cache: Default::default(),
            tenant: Arc::new(tenant(tenant_n, "t")),
            user: Arc::new(User {
                uid: uid(user),
                tenant_uid: uid(tenant_n),
                email: "e@x.test".into(),
                first_name: "f".into(),
                last_name: "l".into(),
                is_active: true,
                is_operator: false,
                password_hash: None,
                roles: vec![],
                created_at: t0,
                updated_at: t0,
            }),
            key_uid: Some(uid(key)),
            session_uid: None,
            project: None,
            permissions: Default::default(),
            cached: Default::default(),
        }
    }

    fn hashes(due: Vec<([u8; 32], Arc<Caller>)>) -> Vec<[u8; 32]> {
        due.iter().map(|(hash, _)| *hash).collect()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    fn ms(secs: i64) -> i64 {
        secs * 1000
    }

    #[test]
    fn entries_expire_with_their_credential_and_after_the_recheck_interval() {
        let cache = AuthCache::new(100, Duration::seconds(8));
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), cache.generation());
        assert!(
            cache.get(&[1; 32], ms(6) - 1).is_some(),
            "trusted for 3/4 of it"
        );
        assert!(cache.get(&[1; 32], ms(8)).is_none(), "rechecked after 8 s");
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(98), cache.generation());
        assert!(cache.get(&[1; 32], ms(99)).is_some());
        assert!(cache.get(&[1; 32], ms(100)).is_none(), "the key expired");
    }

    #[test]
    fn entries_loaded_together_are_rechecked_spread_over_a_quarter_of_the_interval() {
        let cache = AuthCache::new(10_000, Duration::seconds(60));
        let hashes: Vec<[u8; 32]> = (0..1000u32)
            .map(|i| {
                let mut hash = [0u8; 32];
                hash[..4].copy_from_slice(&i.to_le_bytes());
                hash[8..12].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
                hash[31] = i as u8; // spread over the shards
                hash
            })
            .collect();
        for hash in &hashes {
            cache.insert(*hash, caller(1, 2, 3), t(1000), t(0), cache.generation());
        }
        let trusted_at = |secs: i64| {
            hashes
                .iter()
                .filter(|h| cache.get(h, ms(secs)).is_some())
                .count()
        };
        assert_eq!(
            trusted_at(45),
            1000,
            "every one trusted for 3/4 of the interval"
        );
        let halfway = trusted_at(52);
        assert!(
            (300..700).contains(&halfway),
            "{halfway} of 1000 still trusted"
        );
        assert_eq!(trusted_at(60), 0, "none past the interval");
    }

    #[test]
    fn a_caller_read_before_a_change_is_answered_but_not_cached() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        // A request begins reading key 1; meanwhile key 1 is revoked on this node.
        let read_at = cache.generation();
        cache.invalidate(&Change::Key(uid(1)));
        let answered = cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), read_at);
        assert_eq!(answered.key_uid, Some(uid(1)));
        assert!(
            cache.get(&[1; 32], ms(1)).is_none(),
            "not cached: the read may be stale"
        );
        // Read after the change, it is cached; a refresh read before a change is not kept.
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), cache.generation());
        let read_at = cache.generation();
        cache.invalidate(&Change::Key(uid(9)));
        assert!(!cache.refresh([1; 32], caller(1, 2, 3), t(100), t(30), read_at));
        assert_eq!(cache.stats().refreshes, 0);
    }

    #[test]
    fn only_key_entries_in_use_and_near_their_recheck_are_due_for_a_refresh() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        // Nothing read early here (see the next test).
        let window = |limit| RefreshWindow {
            urgent_ms: ms(60) / 8,
            early_ms: ms(60) / 8,
            rounds: 1,
            limit,
        };
        for (n, expires) in [(1u8, 1000), (2, 1000), (3, 50)] {
            cache.insert(
                [n; 32],
                caller(n, 2, 3),
                t(expires),
                t(0),
                cache.generation(),
            );
        }
        // A token's entry (it has a session): tokens are re-read on their requests.
        let mut token = caller(4, 2, 3);
        token.session_uid = Some(uid(40));
        cache.insert([4; 32], token, t(1000), t(0), cache.generation());
        assert!(
            cache.due_for_refresh(ms(30), &window(10)).is_empty(),
            "none near its re-check"
        );
        // At 44 s keys 1, 3 and 4 are used (key 3 expires at 50 s), key 2 is not; at 53 s
        // every re-check (45-60 s) is within the lead.
        for n in [1, 3, 4] {
            cache.get(&[n; 32], ms(44)).unwrap();
        }
        assert_eq!(
            hashes(cache.due_for_refresh(ms(53), &window(10))),
            vec![[1; 32]]
        );
        assert!(
            cache.due_for_refresh(ms(53), &window(0)).is_empty(),
            "at most `limit`"
        );
        // Refreshed at 53 s, it is due again only near its next re-check, counts unchanged.
        assert!(cache.refresh([1; 32], caller(1, 2, 3), t(1000), t(53), cache.generation()));
        assert!(cache.due_for_refresh(ms(54), &window(10)).is_empty());
        assert_eq!(
            cache.take_usage(),
            vec![
                (uid(1), 2, t(44)),
                (uid(2), 1, t(0)),
                (uid(3), 2, t(44)),
                (uid(4), 2, t(44))
            ]
        );
        // An entry that left the cache is not brought back by a refresh.
        cache.invalidate(&Change::Key(uid(2)));
        assert!(!cache.refresh([2; 32], caller(2, 2, 3), t(1000), t(55), cache.generation()));
        assert!(cache.get(&[2; 32], ms(55)).is_none());
    }

    #[test]
    fn an_extended_caller_is_trusted_another_interval_and_keeps_its_stamp_and_counts() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let window = RefreshWindow {
            urgent_ms: ms(60) / 8,
            early_ms: ms(60) / 8,
            rounds: 1,
            limit: 10,
        };
        let stamped = |key: u8, stamp: i64| Caller {
            cached: CacheRecord::stamped(stamp),
            ..caller(key, 2, 3)
        };
        cache.insert([1; 32], stamped(1, 7), t(1000), t(0), cache.generation());
        cache.insert([2; 32], stamped(2, 7), t(1000), t(0), cache.generation());
        cache.get(&[1; 32], ms(44)).unwrap();
        cache.get(&[2; 32], ms(44)).unwrap();
        let due = cache.due_for_refresh(ms(53), &window);
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|(_, c)| c.cached.auth_stamp() == 7));
        assert!(due.iter().all(|(_, c)| !c.cached.full_read_due(ms(53))));
        // Key 2 is revoked while the refresh asks the store for stamps: it is not brought back.
        cache.invalidate(&Change::Key(uid(2)));
        assert_eq!(cache.extend(&due, ms(53)), 1);
        assert_eq!(cache.stats().refreshes, 1);
        assert!(cache.get(&[2; 32], ms(54)).is_none());
        // Key 1 is trusted until a whole interval (less the spread) after 53 s, not after 0 s.
        let kept = cache
            .get(&[1; 32], ms(98))
            .expect("extended past its first re-check");
        assert_eq!(kept.cached.auth_stamp(), 7);
        assert!(
            cache.get(&[1; 32], ms(113)).is_none(),
            "never past 53 + 60 s"
        );
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), 3, t(98)), (uid(2), 2, t(44))]
        );
        // A caller replaced since the round began (a request read it again) is not extended.
        cache.insert([3; 32], stamped(3, 7), t(1000), t(200), cache.generation());
        cache.get(&[3; 32], ms(244)).unwrap();
        let due = cache.due_for_refresh(ms(253), &window);
        cache.insert([3; 32], stamped(3, 8), t(1000), t(253), cache.generation());
        assert_eq!(cache.extend(&due, ms(253)), 0);
        assert_eq!(cache.get(&[3; 32], ms(254)).unwrap().cached.auth_stamp(), 8);
    }

    #[test]
    fn a_key_kept_on_its_stamp_is_read_in_full_within_ten_intervals() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let due_at = |hash: [u8; 32]| {
            cache.insert(hash, caller(1, 2, 3), t(1000), t(0), cache.generation());
            let held = cache.get(&hash, ms(1)).unwrap();
            (0..=600)
                .find(|s| held.cached.full_read_due(ms(*s)))
                .unwrap()
        };
        let mut first = [1; 32];
        first[16..24].copy_from_slice(&0u64.to_le_bytes());
        let mut second = [2; 32];
        second[16..24].copy_from_slice(&299_999u64.to_le_bytes());
        assert_eq!(
            due_at(first),
            600,
            "at most ten intervals after it was read"
        );
        assert_eq!(
            due_at(second),
            301,
            "spread over the last half of them by the hash"
        );
    }

    #[test]
    fn keys_loaded_together_are_read_early_a_share_per_round_soonest_first() {
        // 48 keys loaded at 0 s and in use, their re-checks at 45-60 s (fixed by the hash);
        // two more in use not near theirs, and one idle. A share is 50 / 24, rounded up: 3.
        let cache = AuthCache::new(100, Duration::seconds(60));
        let window = RefreshWindow {
            urgent_ms: ms(60) / 8,
            early_ms: ms(60) / 2,
            rounds: 24,
            limit: 100,
        };
        let hash = |n: u8| {
            let mut hash = [n; 32];
            // The re-check's offset: n × 300 ms earlier than 60 s.
            hash[8..16].copy_from_slice(&(u64::from(n) * 300).to_le_bytes());
            hash
        };
        for n in 0..48u8 {
            cache.insert(hash(n), caller(n, 2, 3), t(1000), t(0), cache.generation());
        }
        for n in [100u8, 101, 102] {
            cache.insert(hash(n), caller(n, 2, 3), t(1000), t(20), cache.generation());
        }
        for n in (0..48u8).chain([100, 101]) {
            cache.get(&hash(n), ms(20)).unwrap();
        }
        // Key n's re-check is at 60 s - n × 0.3 s. At 20 s none is within 7.5 s of it; keys
        // 34-47 are within 30 s (re-checks at 45.9-49.8 s): the share, soonest first.
        assert_eq!(
            hashes(cache.due_for_refresh(ms(20), &window)),
            vec![hash(47), hash(46), hash(45)]
        );
        // At 40 s keys 42-47 are within 7.5 s (re-checks at 45.9-47.4 s): all of them, more
        // than a share.
        let due = hashes(cache.due_for_refresh(ms(40), &window));
        assert_eq!(due, (42..48u8).rev().map(hash).collect::<Vec<_>>());
        // `limit` still caps a round.
        let capped = RefreshWindow { limit: 2, ..window };
        assert_eq!(cache.due_for_refresh(ms(40), &capped).len(), 2);
    }

    #[test]
    fn changes_remove_exactly_the_entries_they_concern() {
        let cache = AuthCache::new(100, Duration::seconds(5));
        cache.insert([1; 32], caller(1, 10, 20), t(100), t(0), cache.generation());
        cache.insert([2; 32], caller(2, 11, 20), t(100), t(0), cache.generation());
        cache.insert([3; 32], caller(3, 12, 21), t(100), t(0), cache.generation());
        cache.invalidate(&Change::Key(uid(1)));
        assert!(cache.get(&[1; 32], ms(1)).is_none());
        assert!(cache.get(&[2; 32], ms(1)).is_some());
        cache.invalidate(&Change::Tenant(uid(20)));
        assert!(cache.get(&[2; 32], ms(1)).is_none());
        assert!(cache.get(&[3; 32], ms(1)).is_some());
        cache.invalidate(&Change::All);
        assert!(cache.is_empty());
    }

    /// Warming is a hint to the processor and nothing else: it counts no use, hit or miss,
    /// moves no re-check, and makes no expired or unknown entry answer.
    #[test]
    fn warming_an_entry_counts_and_changes_nothing() {
        let cache = AuthCache::new(100, Duration::seconds(8));
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), cache.generation());
        let mut other_half = [1; 32];
        other_half[8] = 2;
        for hash in [[1; 32], [2; 32], other_half] {
            cache.warm(&hash, false);
            cache.warm(&hash, true);
        }
        assert_eq!(cache.stats(), CacheStats::default());
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), 1, t(0))],
            "the insert's use only"
        );
        assert!(cache.get(&[1; 32], ms(6) - 1).is_some());
        cache.warm(&[1; 32], false);
        assert!(
            cache.get(&[1; 32], ms(8)).is_none(),
            "still rechecked after 8 s"
        );
        assert!(cache.get(&other_half, ms(1)).is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 2));
    }

    #[test]
    fn a_token_entry_answers_only_its_own_signed_part_and_never_a_key() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let mut token = caller(1, 2, 3);
        token.session_uid = Some(uid(40));
        cache.insert_signed([4; 32], b"head.claims", token, t(100), t(0), 0);
        cache.warm(&[4; 32], true);
        cache.warm(&[4; 32], false);
        assert!(cache.get_signed(&[4; 32], b"head.claims", ms(1)).is_some());
        for other in [&b"head.claimz"[..], b"head.claims.", b"head.claim", b""] {
            assert!(
                cache.get_signed(&[4; 32], other, ms(1)).is_none(),
                "{other:?}"
            );
        }
        assert!(cache.get(&[4; 32], ms(1)).is_none(), "a key's lookup");
        // A key's entry has no signed part: a token's lookup with one never finds it.
        cache.insert([5; 32], caller(5, 2, 3), t(100), t(0), 0);
        assert!(cache.get_signed(&[5; 32], b"head.claims", ms(1)).is_none());
        assert!(cache.get(&[5; 32], ms(1)).is_some());
        // A refresh keeps what the held entry is found by.
        assert!(cache.refresh([4; 32], caller(1, 2, 3), t(100), t(2), 0));
        assert!(cache.get_signed(&[4; 32], b"head.claims", ms(3)).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (3, 6));
    }

    #[test]
    fn uses_are_counted_across_replacement_eviction_and_invalidation() {
        let cache = AuthCache::new(100, Duration::seconds(5));
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), cache.generation());
        cache.get(&[1; 32], ms(1)).unwrap();
        // A token exchanged for key 1 counts as a use of key 1 too.
        cache.insert([9; 32], caller(1, 2, 3), t(100), t(2), cache.generation());
        // Reloaded after the recheck: the counts so far carry over.
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(3), cache.generation());
        // [1; 32] and [9; 32] sit in different shards: their counts are added up, with the
        // later of the two last uses.
        assert_eq!(cache.take_usage(), vec![(uid(1), 4, t(3))]);
        assert_eq!(
            cache.take_usage(),
            vec![],
            "taken counts are not taken twice"
        );
        cache.get(&[1; 32], ms(4)).unwrap();
        cache.invalidate(&Change::Key(uid(1)));
        cache.keep_unwritten(&[(uid(1), 2, t(1))]);
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), 3, t(4))],
            "kept when removed, and merged with a failed write's"
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.invalidations), (2, 0, 1));
    }

    #[test]
    fn equal_records_are_shared_and_a_changed_one_replaces_them() {
        let tenants = Interned::new(2);
        let first = tenants.share(tenant(1, "acme"));
        let again = tenants.share(tenant(1, "acme"));
        assert!(Arc::ptr_eq(&first, &again), "one copy for equal records");
        let renamed = tenants.share(tenant(1, "acme-renamed"));
        assert_eq!(
            renamed.name, "acme-renamed",
            "never an older, different copy"
        );
        assert!(Arc::ptr_eq(
            &renamed,
            &tenants.share(tenant(1, "acme-renamed"))
        ));
        assert_eq!(first.name, "acme", "a caller keeps the copy it has");
        // Bounded: records no caller holds make room first.
        drop((first, again));
        let other = tenants.share(tenant(2, "other"));
        drop(renamed);
        tenants.share(tenant(3, "third"));
        assert!(tenants.len() <= 2, "{}", tenants.len());
        assert!(
            Arc::ptr_eq(&other, &tenants.share(tenant(2, "other"))),
            "held, so kept"
        );
    }

    #[test]
    fn hashes_that_share_their_map_key_never_answer_for_each_other() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let first = [7u8; 32];
        let mut second = first;
        second[20] = 8; // the same first eight bytes and shard, another hash
        assert_eq!(map_key(&first), map_key(&second));
        cache.insert(first, caller(1, 2, 3), t(100), t(0), cache.generation());
        assert!(
            cache.get(&second, ms(1)).is_none(),
            "not the other key's caller"
        );
        let replacing = cache.insert(second, caller(4, 5, 3), t(100), t(2), cache.generation());
        assert_eq!(replacing.key_uid, Some(uid(4)));
        assert!(cache.get(&first, ms(3)).is_none(), "replaced, not shared");
        assert_eq!(
            cache.get(&second, ms(3)).and_then(|c| c.key_uid.clone()),
            Some(uid(4))
        );
        // The replaced caller's use (its insert) is kept for the flush, beside the live one's
        // (its insert and one use).
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), 1, t(0)), (uid(4), 2, t(3))],
            "the replaced entry's counts are not lost"
        );
        assert!(
            Caller::clone(&replacing).cache.take().is_none(),
            "a copy does not carry the cache's counts"
        );
    }

    /// A lookup compares the map key and the next sixteen bytes (192 bits, see [`Entry`]);
    /// putting and removing compare all 32, so a hash that differs only in its last eight
    /// bytes replaces the entry as another key's would, and removing it leaves the other.
    #[test]
    fn putting_and_removing_compare_the_whole_hash() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let first = [7u8; 32];
        let mut second = first;
        second[25] = 8; // in the tail, not the last byte, which picks the shard
        cache.insert(first, caller(1, 2, 3), t(100), t(0), cache.generation());
        cache.remove(&second);
        assert_eq!(cache.len(), 1, "removing another hash leaves the entry");
        cache.insert(second, caller(4, 5, 3), t(100), t(1), cache.generation());
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), 1, t(0)), (uid(4), 1, t(1))],
            "the replaced entry's counts are kept, not carried over to another key"
        );
        cache.remove(&first);
        assert_eq!(
            cache.len(),
            1,
            "removing the replaced hash leaves its successor"
        );
        cache.remove(&second);
        assert!(cache.is_empty());
    }

    /// A key's uses are counted in 20 bits beside its last use's time: a count that would
    /// overflow is kept for the next flush, and counting goes on from the use that filled it.
    #[test]
    fn a_full_use_count_is_kept_for_the_flush_not_lost() {
        let cache = AuthCache::new(100, Duration::seconds(60));
        let held = cache.insert([1; 32], caller(1, 2, 3), t(100), t(0), cache.generation());
        held.cache
            .usage
            .store(Usage::pack(Usage::MAX_COUNT, ms(1)), Ordering::Relaxed);
        cache.get(&[1; 32], ms(2)).unwrap();
        cache.get(&[1; 32], ms(3)).unwrap();
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), Usage::MAX_COUNT + 2, t(3))]
        );
        // Reloading a full entry keeps its counts for the flush too.
        held.cache
            .usage
            .store(Usage::pack(Usage::MAX_COUNT, ms(4)), Ordering::Relaxed);
        cache.insert([1; 32], caller(1, 2, 3), t(100), t(5), cache.generation());
        assert_eq!(
            cache.take_usage(),
            vec![(uid(1), Usage::MAX_COUNT + 1, t(5))]
        );
        assert_eq!(
            Usage::unpack(Usage::pack(3, ms(1_700_000_000))),
            (3, ms(1_700_000_000))
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = AuthCache::new(32, Duration::seconds(5));
        for i in 0..1000u32 {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_le_bytes());
            cache.insert(
                hash,
                caller(1, 2, 3),
                t(100),
                t(i as i64),
                cache.generation(),
            );
        }
        assert!(cache.len() <= 32, "{}", cache.len());
    }

    #[test]
    fn changes_travel_as_text() {
        for change in [
            Change::Key(uid(1)),
            Change::User(uid(2)),
            Change::Session(uid(3)),
            Change::Tenant(uid(4)),
            Change::All,
        ] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(Change::decode("key:nope"), None);
        assert_eq!(Change::decode("bogus"), None);
    }

    #[test]
    fn a_count_is_reused_for_a_few_seconds_then_recounted_by_one_caller() {
        use CountLookup::*;
        let counts = CountCache::default();
        let t0 = DateTime::UNIX_EPOCH + Duration::days(1);
        let list = (uid(1), None);
        assert_eq!(counts.get(&list, t0), Missing);
        counts.put(list.clone(), 42, t0, Duration::zero());
        assert_eq!(counts.get(&list, t0 + Duration::seconds(4)), Fresh(42));
        // Gone stale: the first caller recounts, everyone else keeps the old total meanwhile.
        let later = t0 + COUNT_REUSE;
        assert_eq!(counts.get(&list, later), Stale(42));
        assert_eq!(counts.get(&list, later), Fresh(42));
        assert_eq!(counts.get(&list, later + Duration::seconds(1)), Fresh(42));
        counts.put(
            list.clone(),
            43,
            later + Duration::seconds(1),
            Duration::zero(),
        );
        assert_eq!(counts.get(&list, later + Duration::seconds(2)), Fresh(43));
        // A recount that never came back is handed to another caller.
        let much_later = later + Duration::seconds(30);
        assert_eq!(counts.get(&list, much_later), Stale(43));
        assert_eq!(counts.get(&list, much_later + COUNT_REUSE), Stale(43));
        // A clock that went back does not make an old count look fresh forever.
        counts.put(list.clone(), 44, t0, Duration::zero());
        assert_eq!(counts.get(&list, t0 - Duration::seconds(1)), Stale(44));
    }

    #[test]
    fn a_count_that_took_long_is_reused_for_longer() {
        use CountLookup::*;
        let counts = CountCache::default();
        let t0 = DateTime::UNIX_EPOCH + Duration::days(1);
        let list = (uid(1), None);
        // 0.3 s to count: reused for 30 s, a hundred times as long.
        counts.put(list.clone(), 1_000_000, t0, Duration::milliseconds(300));
        assert_eq!(
            counts.get(&list, t0 + Duration::seconds(29)),
            Fresh(1_000_000)
        );
        assert_eq!(
            counts.get(&list, t0 + Duration::seconds(30)),
            Stale(1_000_000)
        );
        // A count that took very long (a stalled store) is still recounted within minutes.
        counts.put(list.clone(), 7, t0, Duration::hours(1));
        assert_eq!(
            counts.get(&list, t0 + COUNT_REUSE_MAX - Duration::seconds(1)),
            Fresh(7)
        );
        assert_eq!(counts.get(&list, t0 + COUNT_REUSE_MAX), Stale(7));
        // A quick count keeps the usual few seconds.
        counts.put(list.clone(), 8, t0, Duration::milliseconds(1));
        assert_eq!(counts.get(&list, t0 + COUNT_REUSE), Stale(8));
    }

    #[test]
    fn local_creations_and_deletions_adjust_the_counts_they_touch() {
        use CountLookup::*;
        let counts = CountCache::default();
        let t0 = DateTime::UNIX_EPOCH;
        counts.put((uid(1), None), 10, t0, Duration::zero());
        counts.put((uid(1), Some(uid(7))), 3, t0, Duration::zero());
        counts.put((uid(1), Some(uid(8))), 4, t0, Duration::zero());
        counts.put((uid(2), None), 5, t0, Duration::zero());
        counts.adjust(&uid(1), &uid(7), 1);
        counts.adjust(&uid(1), &uid(7), 1);
        counts.adjust(&uid(1), &uid(8), -1);
        assert_eq!(counts.get(&(uid(1), None), t0), Fresh(11));
        assert_eq!(counts.get(&(uid(1), Some(uid(7))), t0), Fresh(5));
        assert_eq!(counts.get(&(uid(1), Some(uid(8))), t0), Fresh(3));
        assert_eq!(counts.get(&(uid(2), None), t0), Fresh(5));
    }

    #[test]
    fn clearing_drops_every_count() {
        let counts = CountCache::default();
        let t0 = DateTime::UNIX_EPOCH;
        counts.put((uid(1), None), 1, t0, Duration::zero());
        counts.put((uid(2), Some(uid(9))), 3, t0, Duration::zero());
        counts.clear();
        assert_eq!(counts.get(&(uid(1), None), t0), CountLookup::Missing);
        assert_eq!(
            counts.get(&(uid(2), Some(uid(9))), t0),
            CountLookup::Missing
        );
    }

    #[test]
    fn counts_are_bounded() {
        let counts = CountCache::default();
        let t0 = DateTime::UNIX_EPOCH;
        for n in 0..COUNTS_KEPT + 10 {
            let owner = Uid::parse(&format!("{n:024x}")).unwrap();
            counts.put((uid(1), Some(owner)), 1, t0, Duration::zero());
        }
        assert!(counts.counts.lock().unwrap().len() <= COUNTS_KEPT);
    }

    fn names(first: &str) -> crate::model::PersonNames {
        crate::model::PersonNames {
            first_name: first.to_owned(),
            last_name: "Lee".to_owned(),
        }
    }

    /// Looks up `users` of `tenant`, returning what was found (sorted) and what was missing.
    fn look(
        cache: &NameCache,
        tenant: u8,
        users: &[u8],
        now: DateTime<Utc>,
    ) -> (Vec<(Uid, String)>, Vec<Uid>, u64) {
        let users: Vec<Uid> = users.iter().map(|&n| uid(n)).collect();
        let lookup = cache.lookup(&uid(tenant), &users, now);
        let mut found: Vec<_> = lookup
            .found
            .into_iter()
            .map(|(u, n)| (u, n.first_name.clone()))
            .collect();
        found.sort();
        (found, lookup.missing, lookup.generation)
    }

    #[test]
    fn names_kept_are_served_to_their_tenant_until_the_recheck() {
        let cache = NameCache::new(100, Duration::seconds(60));
        let t0 = DateTime::UNIX_EPOCH;
        let (found, missing, generation) = look(&cache, 1, &[7, 8, 7], t0);
        assert!(found.is_empty());
        assert_eq!(missing, vec![uid(7), uid(8)], "each missing user once");
        cache.keep(
            &uid(1),
            &[(uid(7), names("Ann")), (uid(8), names("Bo"))],
            generation,
            t0,
        );
        let (found, missing, _) = look(&cache, 1, &[7, 8, 9], t0 + Duration::seconds(59));
        assert_eq!(found, vec![(uid(7), "Ann".into()), (uid(8), "Bo".into())]);
        assert_eq!(missing, vec![uid(9)]);
        // Another tenant never gets them.
        let (found, missing, _) = look(&cache, 2, &[7], t0);
        assert!(found.is_empty());
        assert_eq!(missing, vec![uid(7)]);
        // Past the re-check, or with a clock that went back, they are read again.
        assert_eq!(
            look(&cache, 1, &[7], t0 + Duration::seconds(60)).1,
            vec![uid(7)]
        );
        assert_eq!(
            look(&cache, 1, &[7], t0 - Duration::seconds(1)).1,
            vec![uid(7)]
        );
    }

    #[test]
    fn a_change_drops_the_users_names_and_names_read_across_it_are_not_kept() {
        let cache = NameCache::new(100, Duration::seconds(60));
        let t0 = DateTime::UNIX_EPOCH;
        let (_, _, generation) = look(&cache, 1, &[7, 8], t0);
        cache.keep(
            &uid(1),
            &[(uid(7), names("Ann")), (uid(8), names("Bo"))],
            generation,
            t0,
        );
        cache.forget(&Change::Key(uid(7)));
        cache.forget(&Change::Tenant(uid(1)));
        assert!(
            look(&cache, 1, &[7, 8], t0).1.is_empty(),
            "keys and roles leave names alone"
        );
        cache.forget(&Change::User(uid(7)));
        let (found, missing, generation) = look(&cache, 1, &[7, 8], t0);
        assert_eq!(found, vec![(uid(8), "Bo".into())]);
        assert_eq!(missing, vec![uid(7)]);
        // A read that began before a rename landed must not put the old name back.
        cache.forget(&Change::User(uid(7)));
        cache.keep(&uid(1), &[(uid(7), names("Old"))], generation, t0);
        assert_eq!(look(&cache, 1, &[7], t0).1, vec![uid(7)]);
        cache.forget(&Change::All);
        assert!(cache.is_empty());
    }

    #[test]
    fn names_are_bounded() {
        let cache = NameCache::new(10, Duration::seconds(60));
        let t0 = DateTime::UNIX_EPOCH;
        let read: Vec<_> = (0..25u8).map(|n| (uid(n), names("N"))).collect();
        cache.keep(&uid(1), &read, 0, t0);
        assert_eq!(cache.len(), 10);
        // The most recent is always kept.
        assert!(look(&cache, 1, &[24], t0).1.is_empty());
    }
}

//! [`Easel`]: the domain service. Each public method is one use case; it checks the caller's
//! permission, validates input into newtypes, and makes one store call with its audit row.

mod audits;
mod rbac;
mod sessions;
mod tenants;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

pub use audits::AuditQuery;
pub use rbac::{FilterString, NewProject, ProjectChanges, RoleView, SortField, UserSummaryView};
pub use sessions::{IssuedToken, PasswordPolicySettings};
pub use tenants::{parse_tenant_filters, NewTenant};

use crate::access::{Caller, Permission, TENANT_ADMIN};
use crate::apikey::{KeyFormat, KeyHash};
use crate::cache::{AuthCache, Change};
use crate::clock::Clock;
use crate::error::{AuthFailure, Error, Result};
use crate::ids::Uid;
use crate::mail::{Mail, Mailer, NoMailer};
use crate::model::{
    at_millis, ApiKey, ApiKeyView, AuditEntry, Binding, BootstrapSeed, KeyAuth, Listed,
    SigningKeyRecord, Tenant, User, DEFAULT_MAX_KEY_LIFETIME_DAYS, DEFAULT_TOKEN_LIFETIME_MINUTES,
};
use crate::names::{Description, Email, KeyName, PersonName, TenantName};
use crate::paging::{Page, PageCodec, PageParams};
use crate::password;
use crate::rng::{base62_string, Rng};
use crate::store::Store;
use crate::throttle::{Throttle, ThrottlePolicy};

/// What the verify cache says of a well-formed API key ([`Easel::api_key_from_cache`]).
pub enum CachedKey {
    /// Cached: who presents it.
    Hit(Arc<Caller>),
    /// Not cached: its hash, for [`Easel::api_key_from_store`].
    Miss(KeyHash),
}

#[derive(Debug, Clone)]
pub struct EaselConfig {
    /// Prefix of new API keys (`easel_…`).
    pub key_prefix: String,
    /// Lifetime of a key created without an expiry, capped by the tenant's maximum.
    pub default_key_lifetime_days: i64,
    /// The address people reach Easel at, for links in mail (no trailing slash).
    pub public_url: String,
    /// The absolute lifetime of a session: no refresh goes past it.
    pub session_lifetime: Duration,
    /// How long a token-signing key signs before a new one takes over.
    pub signing_key_rotation: Duration,
    /// Failed sign-ins allowed per account, and per source address, in `throttle_window`.
    pub failures_per_account: u32,
    pub failures_per_address: u32,
    pub throttle_window: Duration,
    /// Whether people may sign up for a new organisation themselves.
    pub allow_signup: bool,
    /// How many authenticated callers the verify cache keeps.
    pub cache_capacity: usize,
    /// How long a cached caller is trusted before the store is asked again (the bound on a
    /// change another node failed to announce).
    pub cache_recheck: Duration,
    /// How long audit rows are kept; `None` keeps them for good.
    pub audit_retention: Option<Duration>,
}

impl Default for EaselConfig {
    fn default() -> Self {
        EaselConfig {
            key_prefix: crate::apikey::DEFAULT_PREFIX.to_owned(),
            default_key_lifetime_days: 30,
            public_url: "http://127.0.0.1:8080".to_owned(),
            session_lifetime: Duration::hours(24),
            signing_key_rotation: Duration::days(7),
            failures_per_account: 5,
            failures_per_address: 50,
            throttle_window: Duration::minutes(15),
            allow_signup: false,
            cache_capacity: 100_000,
            cache_recheck: Duration::seconds(60),
            audit_retention: None,
        }
    }
}

/// What the first start may be told; anything left out is generated.
#[derive(Debug, Clone, Default)]
pub struct BootstrapRequest {
    pub tenant_name: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
}

/// What the first start created, to be shown once to whoever started it.
pub struct BootstrapOutcome {
    pub tenant_name: String,
    pub admin_email: String,
    /// Only when the password was generated; a password the operator chose is not echoed.
    pub generated_password: Option<String>,
    pub api_key: String,
    pub api_key_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Role uids or built-in role names.
    pub roles: Vec<String>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: Option<String>,
    pub description: Option<String>,
    pub expiry: Option<DateTime<Utc>>,
    /// The owner's uid; `None` or empty means the caller.
    pub owner: Option<String>,
}

/// A change to a key; `None` leaves a field as it is. The owner can never change.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub expiry: Option<DateTime<Utc>>,
}

/// A key about to be created, its fields already validated.
struct KeyDraft {
    name: KeyName,
    description: Description,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

pub struct Easel {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    mailer: Arc<dyn Mailer>,
    keys: KeyFormat,
    pages: PageCodec,
    config: EaselConfig,
    /// Token-signing keys as last read from the store, newest first, and when.
    signing_keys: RwLock<(Vec<SigningKeyRecord>, DateTime<Utc>)>,
    /// The current signing key, ready to sign.
    signer: RwLock<Option<Arc<crate::token::TokenSigner>>>,
    account_throttle: Throttle,
    address_throttle: Throttle,
    signup_throttle: Throttle,
    /// A hash to verify against when an email has no account, so that the answer takes as
    /// long as for a wrong password.
    dummy_hash: String,
    /// Serialises signing-key creation on this node.
    signing_key_creation: tokio::sync::Mutex<()>,
    /// Taken by a list request that finds no count at all, so that the requests in flight
    /// when a count is missing (at start, or after a user or tenant change) count once, not
    /// once each. Striped by list, so that a slow first count of one large list does not
    /// hold up the first counts of others (unless they share a stripe: 1 in 64).
    first_count: [tokio::sync::Mutex<()>; 64],
    /// Verified callers, and the key uses counted since the last flush.
    cache: AuthCache,
    /// The one copy of each tenant and user that cached callers point to.
    tenants: crate::cache::Interned<crate::model::Tenant>,
    users: crate::cache::Interned<crate::model::User>,
    /// Recent counts of API-key lists (`listmeta.count`).
    key_counts: Arc<crate::cache::CountCache>,
    /// Key owners' names, for key lists.
    owner_names: crate::cache::NameCache,
    /// Shares durable commits among concurrent sign-ins; queues API-key sign-ins' audit rows.
    sign_ins: crate::group_commit::SignInWriter,
}

/// Cached keys are read again in the background from this part of the re-check interval
/// before their re-check is due (an eighth: 7.5 s of the default 60).
const REFRESH_LEAD: i64 = 8;
/// From this part of the interval before its re-check (a half: 30 s of 60), a key may be
/// read early, a share of the keys in use per round, so that keys loaded together spread
/// out instead of falling due together.
const REFRESH_EARLY: i64 = 2;
/// At most this many cached keys are read again per round (the rest wait for the next).
const REFRESH_LIMIT: usize = 16_384;

/// Whether a key the store returned may authenticate at `now`: active, unexpired, its owner
/// and tenant enabled.
fn check_key_auth(auth: &KeyAuth, now: DateTime<Utc>) -> Result<()> {
    match auth.key.state(now) {
        crate::model::KeyState::Inactive => Err(Error::Unauthenticated(AuthFailure::Revoked)),
        crate::model::KeyState::Expired => Err(Error::Unauthenticated(AuthFailure::Expired)),
        crate::model::KeyState::Active if !auth.user.is_active || !auth.tenant.is_active => {
            Err(Error::Unauthenticated(AuthFailure::Disabled))
        }
        crate::model::KeyState::Active => Ok(()),
    }
}

const LIST_USERS: &str = "users";

/// Bulk-loads keys in the order of their uids, as keys created one at a time arrive (a uid
/// begins with its creation second): the rows of a list page then sit together in the table
/// as they would in a real deployment, rather than scattered by the random tail of uids
/// minted in the same second.
async fn insert_in_uid_order(
    store: &dyn Store,
    batch: &mut [(ApiKey, crate::apikey::KeyHash)],
) -> Result<()> {
    batch.sort_by(|a, b| a.0.uid.cmp(&b.0.uid));
    store.bulk_insert(&[], batch).await
}

fn not_found_uid(kind: &'static str, raw: &str) -> Result<Uid> {
    Uid::parse(raw).ok_or(Error::NotFound { kind })
}

impl Easel {
    pub async fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        config: EaselConfig,
    ) -> Result<Easel> {
        let keys = KeyFormat::new(&config.key_prefix).map_err(Error::Invalid)?;
        let mut candidate = [0u8; 32];
        rng.fill(&mut candidate);
        let secret = store.deployment_secret(&candidate).await?;
        let dummy = base62_string(rng.as_ref(), 24);
        let dummy_rng = rng.clone();
        let dummy_hash =
            tokio::task::spawn_blocking(move || password::hash(&dummy, dummy_rng.as_ref()))
                .await
                .map_err(Error::internal)??;
        let throttle = |limit| {
            Throttle::new(
                ThrottlePolicy {
                    limit,
                    window: config.throttle_window,
                },
                100_000,
            )
        };
        Ok(Easel {
            account_throttle: throttle(config.failures_per_account),
            address_throttle: throttle(config.failures_per_address),
            signup_throttle: Throttle::new(
                ThrottlePolicy {
                    limit: 10,
                    window: Duration::hours(1),
                },
                100_000,
            ),
            sign_ins: crate::group_commit::SignInWriter::start(store.clone()),
            key_counts: Arc::default(),
            store,
            clock,
            rng,
            mailer: Arc::new(NoMailer),
            keys,
            pages: PageCodec::new(secret),
            signing_keys: RwLock::new((Vec::new(), DateTime::UNIX_EPOCH)),
            signer: RwLock::new(None),
            dummy_hash,
            signing_key_creation: tokio::sync::Mutex::new(()),
            first_count: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            cache: AuthCache::new(config.cache_capacity, config.cache_recheck),
            tenants: crate::cache::Interned::new(config.cache_capacity),
            users: crate::cache::Interned::new(config.cache_capacity),
            owner_names: crate::cache::NameCache::new(config.cache_capacity, config.cache_recheck),
            config,
        })
    }

    /// Sends mail through `mailer` instead of dropping it.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Sends a message without making the request wait for (or learn from) the delivery.
    fn mail_in_background(&self, mail: Mail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let subject = mail.subject.clone();
            if let Err(e) = mailer.send(mail).await {
                tracing::warn!(%subject, error = ?e, "mail could not be sent");
            }
        });
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        at_millis(self.clock.now())
    }

    fn new_uid(&self) -> Uid {
        Uid::generate(self.clock.as_ref(), self.rng.as_ref())
    }

    fn audit(
        &self,
        tenant: &Uid,
        actor: Option<&Uid>,
        action: &str,
        resource: &Uid,
        detail: impl Into<String>,
    ) -> AuditEntry {
        let resource_kind = action.split('.').next().unwrap_or_default().to_owned();
        let project_uid = (resource_kind == "project").then(|| resource.clone());
        AuditEntry {
            project_uid,
            uid: self.new_uid(),
            tenant_uid: tenant.clone(),
            actor_uid: actor.cloned(),
            action: action.to_owned(),
            resource_kind,
            resource_uid: resource.clone(),
            detail: detail.into(),
            at: self.now(),
        }
    }

    /// Checks that the store answers.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await
    }

    async fn hash_password(&self, password: String) -> Result<String> {
        let rng = self.rng.clone();
        tokio::task::spawn_blocking(move || password::hash(&password, rng.as_ref()))
            .await
            .map_err(Error::internal)?
    }

    // ---- bootstrap -----------------------------------------------------------------------

    /// On an empty database, creates the first tenant, its admin and a first key for that
    /// admin. On any later start it creates nothing and returns `None`.
    pub async fn bootstrap(&self, request: BootstrapRequest) -> Result<Option<BootstrapOutcome>> {
        if !self.store.tenants().await?.is_empty() {
            return Ok(None);
        }
        let tenant_name =
            TenantName::parse(request.tenant_name.as_deref().unwrap_or("easel"))?.into_inner();
        let email = Email::parse(
            request
                .admin_email
                .as_deref()
                .unwrap_or("admin@easel.local"),
        )?;
        let (password, generated) = match request.admin_password {
            Some(p) => {
                crate::policy::check(
                    crate::policy::DEFAULT_MIN_LENGTH,
                    &p,
                    &[email.as_str(), &tenant_name],
                )
                .map_err(|e| Error::invalid(format!("--admin-password: {e}")))?;
                (p, false)
            }
            None => (base62_string(self.rng.as_ref(), 20), true),
        };
        let now = self.now();
        let tenant = Tenant {
            uid: self.new_uid(),
            name: tenant_name.clone(),
            is_active: true,
            max_key_lifetime_days: DEFAULT_MAX_KEY_LIFETIME_DAYS,
            token_lifetime_minutes: DEFAULT_TOKEN_LIFETIME_MINUTES,
            password_min_length: crate::policy::DEFAULT_MIN_LENGTH,
            created_at: now,
            updated_at: now,
        };
        let admin = User {
            uid: self.new_uid(),
            tenant_uid: tenant.uid.clone(),
            email: email.as_str().to_owned(),
            first_name: "Easel".into(),
            last_name: "Admin".into(),
            is_active: true,
            is_operator: true,
            password_hash: Some(self.hash_password(password.clone()).await?),
            roles: vec![TENANT_ADMIN.to_owned()],
            created_at: now,
            updated_at: now,
        };
        let generated_key = self.keys.generate(self.rng.as_ref());
        let key = ApiKey {
            uid: self.new_uid(),
            tenant_uid: tenant.uid.clone(),
            owner_uid: admin.uid.clone(),
            name: "bootstrap".into(),
            description: "created at the first start".into(),
            hint: generated_key.hint.clone(),
            expires_at: now + Duration::days(self.config.default_key_lifetime_days),
            is_active: true,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            use_count: 0,
        };
        let audit = vec![
            self.audit(&tenant.uid, None, "tenant.create", &tenant.uid, "bootstrap"),
            self.audit(&tenant.uid, None, "user.create", &admin.uid, "bootstrap"),
            self.audit(&tenant.uid, None, "apiKey.create", &key.uid, "bootstrap"),
        ];
        let seed = BootstrapSeed {
            tenant,
            admin,
            key: key.clone(),
            key_hash: generated_key.hash,
            audit,
        };
        if !self.store.bootstrap(&seed).await? {
            return Ok(None);
        }
        Ok(Some(BootstrapOutcome {
            tenant_name,
            admin_email: email.into_inner(),
            generated_password: generated.then_some(password),
            api_key: generated_key.value,
            api_key_expires_at: key.expires_at,
        }))
    }

    // ---- authentication --------------------------------------------------------------------

    /// Who presents this key. A malformed key is refused without asking the store; a key
    /// seen recently is answered from the verify cache.
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Arc<Caller>> {
        match self.api_key_from_cache(presented)? {
            CachedKey::Hit(caller) => Ok(caller),
            CachedKey::Miss(hash) => self.api_key_from_store(hash).await,
        }
    }

    /// Authenticates a well-formed key the verify cache does not hold (its hash, from
    /// [`Easel::api_key_from_cache`]), from the store, and caches it.
    pub async fn api_key_from_store(&self, hash: KeyHash) -> Result<Arc<Caller>> {
        let now = self.now();
        self.cache.count_store_lookup();
        let generation = self.cache.generation();
        let auth = self
            .store
            .api_key_by_hash(&hash)
            .await?
            .ok_or(Error::Unauthenticated(AuthFailure::Unknown))?;
        check_key_auth(&auth, now)?;
        let permissions = self.permissions_in(&auth.tenant, &auth.user, None).await?.0;
        let (caller, valid_until) = self.key_caller(auth, permissions);
        Ok(self
            .cache
            .insert(hash.0, caller, valid_until, now, generation))
    }

    /// The caller of a key the store returned and [`check_key_auth`] accepted, and until when
    /// it may be trusted (its key's expiry).
    fn key_caller(
        &self,
        auth: KeyAuth,
        permissions: BTreeSet<Permission>,
    ) -> (Caller, DateTime<Utc>) {
        let valid_until = auth.key.expires_at;
        let caller = Caller {
            cache: Default::default(),
            key_uid: Some(auth.key.uid),
            session_uid: None,
            tenant: self.tenants.share(auth.tenant),
            user: self.users.share(auth.user),
            project: None,
            permissions,
            cached: crate::cache::CacheRecord::stamped(auth.auth_stamp),
        };
        (caller, valid_until)
    }

    /// Re-checks, before their re-check is due on a request, the cached keys in use whose
    /// re-check is near ([`REFRESH_LEAD`] of the interval ahead, and a share of those within
    /// [`REFRESH_EARLY`]: [`Easel::refresh_window`]), so that a key in steady use is never
    /// re-read on a request.
    ///
    /// First one read of the authentication stamps of the keys' tenants
    /// ([`Store::auth_stamps`], one row per tenant): a key whose tenant's stamp has not moved
    /// since the key was read is still what the store would say, and is trusted for another
    /// interval without reading it ([`AuthCache::extend`]). The others (their tenant changed
    /// something, or their full read is due: [`crate::cache::FULL_READ_EVERY`]) are read
    /// again, one round trip per 64 keys. A key the store now refuses (revoked, expired,
    /// deleted, its owner or tenant disabled) leaves the cache; its next request is refused
    /// as it would be on a re-check. Returns how many entries were refreshed.
    ///
    /// Runs every few seconds (see `easel::serve`). A key it misses (a busy store, a change
    /// applied while it read) is re-read on its next request after its re-check, as before.
    pub async fn refresh_cached_keys(&self) -> Result<usize> {
        let now = self.now();
        let now_ms = now.timestamp_millis();
        let due = self.cache.due_for_refresh(now_ms, &self.refresh_window());
        if due.is_empty() {
            return Ok(0);
        }
        let (full_reads, stamped): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|(_, caller)| caller.cached.full_read_due(now_ms));
        let tenants: BTreeSet<&Uid> = stamped
            .iter()
            .map(|(_, caller)| &caller.tenant.uid)
            .collect();
        let tenants: Vec<Uid> = tenants.into_iter().cloned().collect();
        let stamps: HashMap<Uid, i64> = if tenants.is_empty() {
            HashMap::new()
        } else {
            self.store
                .auth_stamps(&tenants)
                .await?
                .into_iter()
                .collect()
        };
        let (unchanged, changed): (Vec<_>, Vec<_>) =
            stamped.into_iter().partition(|(_, caller)| {
                stamps.get(&caller.tenant.uid) == Some(&caller.cached.auth_stamp())
            });
        let extended = self.cache.extend(&unchanged, now_ms);
        let hashes: Vec<[u8; 32]> = changed
            .iter()
            .chain(&full_reads)
            .map(|(hash, _)| *hash)
            .collect();
        Ok(extended + self.read_cached_keys_again(&hashes, now).await?)
    }

    /// Reads these cached keys again, one round trip per 64 keys, and replaces their entries
    /// with what the store says now; those it refuses leave the cache. Returns how many were
    /// replaced.
    async fn read_cached_keys_again(&self, due: &[[u8; 32]], now: DateTime<Utc>) -> Result<usize> {
        const BATCH: usize = 256;
        let mut refreshed = 0;
        for batch in due.chunks(BATCH) {
            tokio::task::yield_now().await;
            let generation = self.cache.generation();
            let hashes: Vec<KeyHash> = batch.iter().map(|h| KeyHash(*h)).collect();
            let found = self.store.api_keys_by_hashes(&hashes).await?;
            let permissions = self.permissions_of_owners(&found).await?;
            let mut seen = HashSet::with_capacity(found.len());
            for (hash, auth) in found {
                seen.insert(hash.0);
                if check_key_auth(&auth, now).is_err() {
                    self.cache.remove(&hash.0);
                    continue;
                }
                let granted = permissions
                    .get(&auth.tenant.uid)
                    .and_then(|users| users.get(&auth.user.uid))
                    .cloned()
                    .unwrap_or_default();
                let (caller, valid_until) = self.key_caller(auth, granted);
                if self
                    .cache
                    .refresh(hash.0, caller, valid_until, now, generation)
                {
                    refreshed += 1;
                }
            }
            for gone in batch.iter().filter(|h| !seen.contains(*h)) {
                self.cache.remove(gone);
            }
        }
        Ok(refreshed)
    }

    /// How often [`Easel::refresh_cached_keys`] should run: four times per lead, so that an
    /// entry in use is read again well before its re-check, even if a round is skipped.
    pub fn key_refresh_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis((self.refresh_lead_ms() / 4).max(100) as u64)
    }

    /// How long before its re-check a cached key in use is read again ([`REFRESH_LEAD`]).
    fn refresh_lead_ms(&self) -> i64 {
        self.config.cache_recheck.num_milliseconds() / REFRESH_LEAD
    }

    /// Which keys a refresh reads: those within [`REFRESH_LEAD`] of their re-check, and a
    /// share of those within [`REFRESH_EARLY`] such that every key in use could be read once
    /// in the rounds of the shortest re-check interval (three quarters of it, 24 rounds at
    /// the default).
    fn refresh_window(&self) -> crate::cache::RefreshWindow {
        let recheck_ms = self.config.cache_recheck.num_milliseconds();
        let round_ms = self.key_refresh_interval().as_millis() as i64;
        crate::cache::RefreshWindow {
            urgent_ms: self.refresh_lead_ms(),
            early_ms: recheck_ms / REFRESH_EARLY,
            rounds: (recheck_ms * 3 / 4 / round_ms.max(1)).max(1) as usize,
            limit: REFRESH_LIMIT,
        }
    }

    /// The tenant-scope permissions of the owners of `keys`, by tenant and user: one read of
    /// bindings per tenant (and of its custom roles, if a binding names one), however many
    /// owners.
    async fn permissions_of_owners(
        &self,
        keys: &[(KeyHash, KeyAuth)],
    ) -> Result<HashMap<Uid, HashMap<Uid, BTreeSet<Permission>>>> {
        let mut owners: HashMap<&Uid, BTreeSet<&Uid>> = HashMap::new();
        for (_, auth) in keys {
            owners
                .entry(&auth.tenant.uid)
                .or_default()
                .insert(&auth.user.uid);
        }
        let mut permissions = HashMap::new();
        for (tenant, users) in owners {
            let users: Vec<Uid> = users.into_iter().cloned().collect();
            let held = self.store.effective_bindings_of(tenant, &users).await?;
            let custom = self
                .custom_roles_for(tenant, held.iter().map(|(_, b)| b))
                .await?;
            let mut by_user: HashMap<Uid, Vec<&Binding>> =
                users.into_iter().map(|user| (user, Vec::new())).collect();
            for (user, binding) in &held {
                by_user.entry(user.clone()).or_default().push(binding);
            }
            let granted = by_user
                .into_iter()
                .map(|(user, bindings)| (user, rbac::permissions_from(bindings, &custom, None).0))
                .collect();
            permissions.insert(tenant.clone(), granted);
        }
        Ok(permissions)
    }

    /// What can be said of a presented API key without the store, and without awaiting
    /// anything: refused if it is malformed (a bad checksum never reaches the store), its
    /// caller if the verify cache holds it, else its hash, for
    /// [`Easel::api_key_from_store`] to ask the store with. The server tries this first, so
    /// that a cached caller never builds the store path's future.
    pub fn api_key_from_cache(&self, presented: &str) -> Result<CachedKey> {
        Ok(self.hashed_api_key_from_cache(Self::api_key_hash(presented)?))
    }

    /// The hash a presented API key is known by, once its format and checksum are checked:
    /// refused as malformed otherwise.
    pub fn api_key_hash(presented: &str) -> Result<KeyHash> {
        KeyFormat::parse(presented).map_err(|_| Error::Unauthenticated(AuthFailure::Malformed))
    }

    /// [`Easel::api_key_from_cache`] for a key hashed already ([`Easel::api_key_hash`]).
    pub fn hashed_api_key_from_cache(&self, hash: KeyHash) -> CachedKey {
        match self.cache.get(&hash.0, self.clock.now_millis()) {
            Some(caller) => CachedKey::Hit(caller),
            None => CachedKey::Miss(hash),
        }
    }

    /// Starts loading the cached caller of a credential's hash (a key's or a token's) into
    /// the processor's caches, for a lookup a little later ([`AuthCache::warm`]); for a
    /// `token`, also its signed part.
    pub fn warm_cached_caller(&self, hash: &[u8; 32], token: bool) {
        self.cache.warm(hash, token);
    }

    /// Writes the counted key uses to the store and adds them to the keys
    /// ([`Easel::write_usage`], then [`Easel::fold_usage`]): at shutdown, and where a test
    /// reads the counts.
    pub async fn flush_usage(&self) -> Result<()> {
        self.write_usage().await?;
        self.fold_usage().await.map(|_| ())
    }

    /// Adds the uses the store journalled to the keys, so that key reads show them
    /// ([`Store::fold_key_usage`]); returns how many journal entries it folded. Runs about
    /// once a minute (`easel::serve`), on any node: each entry is folded once.
    pub async fn fold_usage(&self) -> Result<u64> {
        self.store.fold_key_usage().await
    }

    /// Writes the counted key uses to the store's journal: they show on the keys at the next
    /// [`Easel::fold_usage`]. Runs every few seconds; a crash loses at most one interval of
    /// counts, never a key. Counts a write did not take (the store is away) are kept for the
    /// next write.
    ///
    /// Every shard's counts are taken (each shard's lock briefly), merged and sorted by key
    /// ([`AuthCache::take_usage`]), and written `SLICE` keys per store call (one transaction
    /// each), yielding between calls.
    /// Sorted, a slice is a run of neighbouring keys. (When a flush still updated the keys
    /// themselves, that made it write each page it touched about once: on SQLite, 1,200
    /// page writes for 10,000 keys instead of 42,000 with unsorted slices of 512.)
    pub async fn write_usage(&self) -> Result<()> {
        const SLICE: usize = 2048;
        let usage = self.cache.take_usage();
        for (i, slice) in usage.chunks(SLICE).enumerate() {
            tokio::task::yield_now().await;
            if let Err(e) = self.store.record_key_usage(slice).await {
                // This slice's counts and the later ones wait for the next flush.
                self.cache.keep_unwritten(&usage[i * SLICE..]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes every sign-in audit row queued so far (API-key sign-ins do not wait for theirs).
    /// Called at shutdown, and by tests that read the audit trail.
    pub async fn drain_sign_ins(&self) {
        self.sign_ins.drain().await;
    }

    /// A change that may make cached callers stale: applied here at once, and announced to
    /// the other nodes.
    pub(crate) async fn changed(&self, change: Change) {
        self.cache.invalidate(&change);
        self.owner_names.forget(&change);
        self.forget_counts_after(&change);
        if let Err(e) = self.store.publish(&change.encode()).await {
            // The other nodes still re-check within `cache_recheck`.
            tracing::warn!(error = ?e, "could not announce a change to other nodes");
        }
    }

    /// A change another node announced.
    pub fn apply_remote_change(&self, encoded: &str) {
        if let Some(change) = Change::decode(encoded) {
            self.cache.invalidate(&change);
            self.owner_names.forget(&change);
            self.forget_counts_after(&change);
        }
    }

    /// A user or tenant change may have deleted keys with it: their lists are counted again.
    /// Keys created and deleted on this node adjust the counts themselves.
    fn forget_counts_after(&self, change: &Change) {
        if matches!(change, Change::User(_) | Change::Tenant(_) | Change::All) {
            self.key_counts.clear();
        }
    }

    /// Recounts a list whose count went stale, off the request path.
    fn recount_api_keys(&self, list: crate::cache::CountedList) {
        let (store, counts, clock) = (
            self.store.clone(),
            self.key_counts.clone(),
            self.clock.clone(),
        );
        tokio::spawn(async move {
            let started = clock.now();
            match store.count_api_keys(&list.0, list.1.as_ref()).await {
                Ok(total) => counts.put(list, total, started, clock.now() - started),
                // The next request after the retry interval recounts.
                Err(e) => tracing::warn!(error = %e, "could not recount API keys"),
            }
        });
    }

    /// The verify cache's counters: hits, misses, store lookups, invalidations.
    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        self.cache.stats()
    }

    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    // ---- users -----------------------------------------------------------------------------

    /// Needs `user.create`.
    pub async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<Uid> {
        caller.require(Permission::UserCreate)?;
        let email = Email::parse(&new.email)?;
        let first = PersonName::parse("spec.firstName", &new.first_name)?;
        let last = PersonName::parse("spec.lastName", &new.last_name)?;
        let roles = self
            .resolve_roles(caller, &new.roles, crate::access::Scope::Tenant, None)
            .await?;
        let now = self.now();
        let user = User {
            uid: self.new_uid(),
            tenant_uid: caller.tenant.uid.clone(),
            email: email.into_inner(),
            first_name: first.into_inner(),
            last_name: last.into_inner(),
            is_active: true,
            is_operator: false,
            password_hash: None,
            roles,
            created_at: now,
            updated_at: now,
        };
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "user.create",
            &user.uid,
            "",
        );
        self.store.insert_user(&user, &audit).await?;
        self.send_activation(&caller.tenant, &user).await?;
        Ok(user.uid)
    }

    async fn load_user(&self, tenant: &Uid, raw_uid: &str) -> Result<User> {
        let uid = not_found_uid("user", raw_uid)?;
        self.store
            .user(tenant, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "user" })
    }

    /// Anyone may read themselves; reading another user needs `user.get`.
    pub async fn get_user(&self, caller: &Caller, raw_uid: &str) -> Result<User> {
        let user = self.load_user(&caller.tenant.uid, raw_uid).await?;
        caller.require_self_or(&user.uid, Permission::UserGet)?;
        Ok(user)
    }

    /// Needs `user.list`.
    pub async fn list_users(&self, caller: &Caller, params: &PageParams) -> Result<Page<User>> {
        caller.require(Permission::UserList)?;
        let window = self.pages.window(LIST_USERS, params)?;
        let listed = self.store.list_users(&caller.tenant.uid, &window).await?;
        self.pages.page(LIST_USERS, &window, listed, |u| &u.uid)
    }

    /// Needs `user.update`. Deactivating a user revokes the user's keys.
    pub async fn update_user(
        &self,
        caller: &Caller,
        raw_uid: &str,
        changes: UserChanges,
    ) -> Result<()> {
        caller.require(Permission::UserUpdate)?;
        let mut user = self.load_user(&caller.tenant.uid, raw_uid).await?;
        let mut changed = Vec::new();
        if let Some(email) = changes.email {
            user.email = Email::parse(&email)?.into_inner();
            changed.push("emailId");
        }
        if let Some(first) = changes.first_name {
            user.first_name = PersonName::parse("spec.firstName", &first)?.into_inner();
            changed.push("firstName");
        }
        if let Some(last) = changes.last_name {
            user.last_name = PersonName::parse("spec.lastName", &last)?.into_inner();
            changed.push("lastName");
        }
        if let Some(roles) = changes.roles {
            user.roles = self
                .resolve_roles(caller, &roles, crate::access::Scope::Tenant, None)
                .await?;
            changed.push("roles");
        }
        let mut action = "user.update";
        if let Some(active) = changes.is_active {
            if active != user.is_active {
                action = if active {
                    "user.activate"
                } else {
                    "user.deactivate"
                };
            }
            user.is_active = active;
        }
        user.updated_at = self.now();
        let detail = if action == "user.deactivate" {
            "the user's API keys were revoked".to_owned()
        } else {
            changed.join(",")
        };
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            action,
            &user.uid,
            detail,
        );
        self.store.update_user(&user, &audit).await?;
        self.changed(Change::User(user.uid)).await;
        Ok(())
    }

    /// Needs `user.delete`. The user's keys go with the user.
    pub async fn delete_user(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        caller.require(Permission::UserDelete)?;
        let uid = not_found_uid("user", raw_uid)?;
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "user.delete",
            &uid,
            "",
        );
        self.store
            .delete_user(&caller.tenant.uid, &uid, &audit)
            .await?;
        self.changed(Change::User(uid)).await;
        Ok(())
    }

    // ---- API keys --------------------------------------------------------------------------

    /// Checks an expiry against the clock and the tenant's maximum lifetime.
    fn check_expiry(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
        expiry: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        let expiry = at_millis(expiry);
        if expiry <= now {
            return Err(Error::invalid("spec.expiry must lie in the future"));
        }
        if expiry > now + Duration::days(tenant.max_key_lifetime_days) {
            return Err(Error::invalid(format!(
                "spec.expiry must be at most {} days from now (the tenant's maximum key lifetime)",
                tenant.max_key_lifetime_days
            )));
        }
        Ok(expiry)
    }

    async fn insert_key(
        &self,
        tenant: &Tenant,
        owner: &User,
        actor: Option<&Uid>,
        draft: KeyDraft,
    ) -> Result<(Uid, String)> {
        if !owner.is_active {
            return Err(Error::conflict(
                "UserDisabled",
                "keys cannot be created for a disabled user",
            ));
        }
        let generated = self.keys.generate(self.rng.as_ref());
        let key = ApiKey {
            uid: self.new_uid(),
            tenant_uid: tenant.uid.clone(),
            owner_uid: owner.uid.clone(),
            name: draft.name.into_inner(),
            description: draft.description.into_inner(),
            hint: generated.hint,
            expires_at: draft.expires_at,
            is_active: true,
            created_at: draft.created_at,
            updated_at: draft.created_at,
            last_used_at: None,
            use_count: 0,
        };
        let audit = self.audit(
            &tenant.uid,
            actor,
            "apiKey.create",
            &key.uid,
            format!("owner {}", owner.uid),
        );
        self.store
            .insert_api_key(&key, &generated.hash, &audit)
            .await?;
        self.key_counts.adjust(&tenant.uid, &owner.uid, 1);
        Ok((key.uid, generated.value))
    }

    fn default_expiry(&self, tenant: &Tenant, now: DateTime<Utc>) -> DateTime<Utc> {
        let days = self
            .config
            .default_key_lifetime_days
            .min(tenant.max_key_lifetime_days);
        now + Duration::days(days)
    }

    /// Anyone may create keys for themselves; creating one for another user needs
    /// `apiKey.create`. Returns the key's uid and its value, which is never shown again.
    pub async fn create_api_key(&self, caller: &Caller, new: NewApiKey) -> Result<(Uid, String)> {
        let owner_uid = match new
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => caller.user.uid.clone(),
            Some(raw) => not_found_uid("user", raw)?,
        };
        caller.require_self_or(&owner_uid, Permission::ApiKeyCreate)?;
        let owner = if caller.is(&owner_uid) {
            User::clone(&caller.user)
        } else {
            self.store
                .user(&caller.tenant.uid, &owner_uid)
                .await?
                .ok_or(Error::NotFound { kind: "user" })?
        };
        let name = KeyName::parse(
            new.name
                .as_deref()
                .ok_or_else(|| Error::invalid("metadata.name is required"))?,
        )?;
        let description = Description::parse(new.description.as_deref().unwrap_or(""))?;
        let now = self.now();
        let expiry = match new.expiry {
            Some(e) => self.check_expiry(&caller.tenant, now, e)?,
            None => self.default_expiry(&caller.tenant, now),
        };
        let draft = KeyDraft {
            name,
            description,
            created_at: now,
            expires_at: expiry,
        };
        self.insert_key(&caller.tenant, &owner, Some(&caller.user.uid), draft)
            .await
    }

    async fn load_key(&self, caller: &Caller, raw_uid: &str) -> Result<ApiKeyView> {
        let uid = not_found_uid("apiKey", raw_uid)?;
        self.store
            .api_key(&caller.tenant.uid, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "apiKey" })
    }

    /// One's own keys need nothing; another user's need `apiKey.get`.
    pub async fn get_api_key(&self, caller: &Caller, raw_uid: &str) -> Result<ApiKeyView> {
        let view = self.load_key(caller, raw_uid).await?;
        caller.require_self_or(&view.key.owner_uid, Permission::ApiKeyGet)?;
        Ok(view)
    }

    /// With `apiKey.list`, all of the tenant's keys (optionally one user's); without it,
    /// one's own.
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        owner: Option<&str>,
        params: &PageParams,
    ) -> Result<Page<ApiKeyView>> {
        let owner = match owner.map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(Uid::parse(raw).ok_or_else(|| {
                Error::invalid("userUid must be a user's uid (24 hex characters)")
            })?),
            None if caller.can(Permission::ApiKeyList) => None,
            None => Some(caller.user.uid.clone()),
        };
        if let Some(owner) = &owner {
            caller.require_self_or(owner, Permission::ApiKeyList)?;
        }
        let list = match &owner {
            Some(o) => format!("apiKeys:{o}"),
            None => "apiKeys".to_owned(),
        };
        let window = self.pages.window(&list, params)?;
        let counted = (caller.tenant.uid.clone(), owner.clone());
        let now = self.now();
        let mut lookup = self.key_counts.get(&counted, now);
        let _counting = if lookup == crate::cache::CountLookup::Missing {
            // Wait for whoever is counting this list, then look again.
            let stripe = {
                use std::hash::{BuildHasher, BuildHasherDefault};
                let hasher =
                    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
                hasher.hash_one(&counted) as usize % self.first_count.len()
            };
            let counting = self.first_count[stripe].lock().await;
            lookup = self.key_counts.get(&counted, now);
            Some(counting)
        } else {
            None
        };
        let known_total = match lookup {
            crate::cache::CountLookup::Fresh(total) => Some(total),
            crate::cache::CountLookup::Stale(total) => {
                self.recount_api_keys(counted.clone());
                Some(total)
            }
            crate::cache::CountLookup::Missing => None,
        };
        let listed = self
            .store
            .list_api_keys(&caller.tenant.uid, owner.as_ref(), &window, known_total)
            .await?;
        if known_total.is_none() {
            // Timed with the page it was counted with: an upper bound on the count's cost.
            let took = self.now() - now;
            self.key_counts.put(counted, listed.total, now, took);
        }
        let listed = Listed {
            rows: self
                .with_owner_names(&caller.tenant.uid, listed.rows, now)
                .await?,
            total: listed.total,
        };
        self.pages.page(&list, &window, listed, |v| &v.key.uid)
    }

    /// Puts each key beside its owner's names, read from the node's name cache or, for those
    /// it lacks, from the store in one call. A key whose owner is gone (deleted with its keys
    /// between the two reads) stays on the page, as it was when the page was read, with empty
    /// names: leaving it out would shorten the page and could end the paging early.
    async fn with_owner_names(
        &self,
        tenant: &Uid,
        keys: Vec<ApiKey>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ApiKeyView>> {
        let mut lookup = self
            .owner_names
            .lookup(tenant, keys.iter().map(|k| &k.owner_uid), now);
        if !lookup.missing.is_empty() {
            let read = self.store.user_names(tenant, &lookup.missing).await?;
            self.owner_names.keep(tenant, &read, lookup.generation, now);
            lookup.found.extend(
                read.into_iter()
                    .map(|(user, names)| (user, Arc::new(names))),
            );
        }
        Ok(keys
            .into_iter()
            .map(|key| {
                let (first, last) = lookup
                    .found
                    .get(&key.owner_uid)
                    .map(|n| (n.first_name.clone(), n.last_name.clone()))
                    .unwrap_or_default();
                ApiKeyView {
                    owner_first_name: first,
                    owner_last_name: last,
                    key,
                }
            })
            .collect())
    }

    /// One's own keys need nothing; another user's need `apiKey.update`. The expiry of an
    /// expired key cannot be moved: create a new key instead.
    pub async fn update_api_key(
        &self,
        caller: &Caller,
        raw_uid: &str,
        changes: ApiKeyChanges,
    ) -> Result<()> {
        let view = self.load_key(caller, raw_uid).await?;
        caller.require_self_or(&view.key.owner_uid, Permission::ApiKeyUpdate)?;
        let mut key = view.key;
        let mut changed = Vec::new();
        if let Some(name) = changes.name {
            key.name = KeyName::parse(&name)?.into_inner();
            changed.push("name");
        }
        if let Some(description) = changes.description {
            key.description = Description::parse(&description)?.into_inner();
            changed.push("description");
        }
        let now = self.now();
        if let Some(expiry) = changes.expiry {
            let expiry = at_millis(expiry);
            if expiry != key.expires_at {
                if now >= key.expires_at {
                    return Err(Error::conflict(
                        "ApiKeyExpired",
                        "the key has expired and its expiry cannot be moved; create a new key",
                    ));
                }
                key.expires_at = self.check_expiry(&caller.tenant, now, expiry)?;
                changed.push("expiry");
            }
        }
        key.updated_at = now;
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "apiKey.update",
            &key.uid,
            changed.join(","),
        );
        self.store.update_api_key(&key, &audit).await?;
        self.changed(Change::Key(key.uid)).await;
        Ok(())
    }

    /// Revokes (`false`) or re-activates (`true`) a key. One's own keys need nothing;
    /// another user's need `apiKey.update`. An expired key cannot be re-activated.
    pub async fn set_api_key_active(
        &self,
        caller: &Caller,
        raw_uid: &str,
        active: bool,
    ) -> Result<()> {
        let view = self.load_key(caller, raw_uid).await?;
        caller.require_self_or(&view.key.owner_uid, Permission::ApiKeyUpdate)?;
        let mut key = view.key;
        if active {
            if self.now() >= key.expires_at {
                return Err(Error::conflict(
                    "ApiKeyExpired",
                    "an expired key cannot be re-activated; create a new key",
                ));
            }
            if key.owner_uid != caller.user.uid {
                let owner = self.store.user(&caller.tenant.uid, &key.owner_uid).await?;
                if !owner.map(|o| o.is_active).unwrap_or(false) {
                    return Err(Error::conflict(
                        "UserDisabled",
                        "the key's owner is disabled; re-activate the user first",
                    ));
                }
            }
        }
        let action = if active {
            "apiKey.activate"
        } else {
            "apiKey.revoke"
        };
        key.is_active = active;
        key.updated_at = self.now();
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            action,
            &key.uid,
            "",
        );
        self.store.update_api_key(&key, &audit).await?;
        self.changed(Change::Key(key.uid)).await;
        Ok(())
    }

    /// One's own keys need nothing; another user's need `apiKey.delete`.
    pub async fn delete_api_key(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        let view = self.load_key(caller, raw_uid).await?;
        caller.require_self_or(&view.key.owner_uid, Permission::ApiKeyDelete)?;
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "apiKey.delete",
            &view.key.uid,
            format!("owner {}", view.key.owner_uid),
        );
        self.store
            .delete_api_key(&caller.tenant.uid, &view.key.uid, &audit)
            .await?;
        self.key_counts
            .adjust(&caller.tenant.uid, &view.key.owner_uid, -1);
        self.changed(Change::Key(view.key.uid)).await;
        Ok(())
    }

    // ---- tenant settings -------------------------------------------------------------------

    pub(crate) fn own_tenant(caller: &Caller, raw_uid: &str) -> Result<()> {
        // Another tenant's uid is indistinguishable from a missing one.
        if Uid::parse(raw_uid).as_ref() != Some(&caller.tenant.uid) {
            return Err(Error::NotFound { kind: "tenant" });
        }
        Ok(())
    }

    /// The tenant's maximum key lifetime in days. Any member of the tenant may read it (the
    /// console needs it to offer expiry choices).
    pub fn api_key_settings(&self, caller: &Caller, tenant_uid: &str) -> Result<i64> {
        Self::own_tenant(caller, tenant_uid)?;
        Ok(caller.tenant.max_key_lifetime_days)
    }

    /// Needs `tenant.update`. Applies to keys created or edited from now on.
    pub async fn set_api_key_settings(
        &self,
        caller: &Caller,
        tenant_uid: &str,
        max_lifetime_days: i64,
    ) -> Result<()> {
        Self::own_tenant(caller, tenant_uid)?;
        caller.require(Permission::TenantUpdate)?;
        if !(1..=3650).contains(&max_lifetime_days) {
            return Err(Error::invalid("maxLifetimeDays must be between 1 and 3650"));
        }
        let mut tenant = Tenant::clone(&caller.tenant);
        tenant.max_key_lifetime_days = max_lifetime_days;
        tenant.updated_at = self.now();
        let audit = self.audit(
            &tenant.uid,
            Some(&caller.user.uid),
            "tenant.update",
            &tenant.uid,
            format!("maxKeyLifetimeDays={max_lifetime_days}"),
        );
        self.store.update_tenant(&tenant, &audit).await?;
        self.changed(Change::Tenant(tenant.uid)).await;
        Ok(())
    }

    // ---- tenants ---------------------------------------------------------------------------

    /// Creates a tenant and its first Tenant Admin (who has no password yet, and is mailed
    /// an activation link), as the system itself (the operator CLI and the tests).
    pub async fn create_tenant(
        &self,
        name: &str,
        admin_email: &str,
        admin_first_name: &str,
        admin_last_name: &str,
    ) -> Result<(Tenant, User)> {
        self.create_tenant_by(None, name, admin_email, admin_first_name, admin_last_name)
            .await
    }

    async fn create_tenant_by(
        &self,
        actor: Option<&Uid>,
        name: &str,
        admin_email: &str,
        admin_first_name: &str,
        admin_last_name: &str,
    ) -> Result<(Tenant, User)> {
        let name = TenantName::parse_new(name)?.into_inner();
        let email = Email::parse(admin_email)?.into_inner();
        let first = PersonName::parse("firstName", admin_first_name)?.into_inner();
        let last = PersonName::parse("lastName", admin_last_name)?.into_inner();
        let now = self.now();
        let tenant = Tenant {
            uid: self.new_uid(),
            name,
            is_active: true,
            max_key_lifetime_days: DEFAULT_MAX_KEY_LIFETIME_DAYS,
            token_lifetime_minutes: DEFAULT_TOKEN_LIFETIME_MINUTES,
            password_min_length: crate::policy::DEFAULT_MIN_LENGTH,
            created_at: now,
            updated_at: now,
        };
        let admin = User {
            uid: self.new_uid(),
            tenant_uid: tenant.uid.clone(),
            email,
            first_name: first,
            last_name: last,
            is_active: true,
            is_operator: false,
            password_hash: None,
            roles: vec![TENANT_ADMIN.to_owned()],
            created_at: now,
            updated_at: now,
        };
        let audit = [
            self.audit(&tenant.uid, actor, "tenant.create", &tenant.uid, ""),
            self.audit(&tenant.uid, actor, "user.create", &admin.uid, ""),
        ];
        self.store.insert_tenant(&tenant, &admin, &audit).await?;
        self.send_activation(&tenant, &admin).await?;
        Ok((tenant, admin))
    }

    // ---- benchmarks ----

    /// Seeds a tenant with `users` users (no roles, no password) and `keys` keys spread over
    /// them (or over the tenant's first admin when `users` is 0), in batches. Returns up to
    /// `sample` of the key values, for a load generator. For benchmarks: no audit rows.
    pub async fn seed(
        &self,
        tenant_name: Option<&str>,
        users: usize,
        keys: usize,
        sample: usize,
    ) -> Result<Vec<String>> {
        let tenant = match tenant_name {
            Some(name) => self
                .store
                .tenant_by_name(&name.trim().to_lowercase())
                .await?
                .ok_or(Error::NotFound { kind: "tenant" })?,
            None => self
                .store
                .tenants()
                .await?
                .into_iter()
                .next()
                .ok_or(Error::NotFound { kind: "tenant" })?,
        };
        let now = self.now();
        let mut owners: Vec<Uid> = Vec::new();
        const BATCH: usize = 20_000;
        let mut batch = Vec::new();
        for i in 0..users {
            let user = User {
                uid: self.new_uid(),
                tenant_uid: tenant.uid.clone(),
                email: format!(
                    "seed{i}-{}@seed.easel.test",
                    base62_string(self.rng.as_ref(), 6)
                )
                .to_lowercase(),
                first_name: "Seed".into(),
                last_name: format!("User {i}"),
                is_active: true,
                is_operator: false,
                password_hash: None,
                roles: Vec::new(),
                created_at: now,
                updated_at: now,
            };
            owners.push(user.uid.clone());
            batch.push(user);
            if batch.len() == BATCH {
                self.store.bulk_insert(&batch, &[]).await?;
                batch.clear();
            }
        }
        self.store.bulk_insert(&batch, &[]).await?;
        if owners.is_empty() {
            let admin = self
                .store
                .all_users(&tenant.uid)
                .await?
                .into_iter()
                .next()
                .ok_or(Error::NotFound { kind: "user" })?;
            owners.push(admin.uid);
        }
        let mut sampled = Vec::new();
        let mut keys_batch = Vec::new();
        for i in 0..keys {
            let generated = self.keys.generate(self.rng.as_ref());
            let key = ApiKey {
                uid: self.new_uid(),
                tenant_uid: tenant.uid.clone(),
                owner_uid: owners[i % owners.len()].clone(),
                name: format!("seed {i}"),
                description: String::new(),
                hint: generated.hint.clone(),
                expires_at: now + Duration::days(tenant.max_key_lifetime_days.min(365)),
                is_active: true,
                created_at: now,
                updated_at: now,
                last_used_at: None,
                use_count: 0,
            };
            if sampled.len() < sample {
                sampled.push(generated.value);
            }
            keys_batch.push((key, generated.hash));
            if keys_batch.len() == BATCH {
                insert_in_uid_order(self.store.as_ref(), &mut keys_batch).await?;
                keys_batch.clear();
            }
        }
        insert_in_uid_order(self.store.as_ref(), &mut keys_batch).await?;
        self.store.refresh_statistics().await?;
        Ok(sampled)
    }

    // ---- operator CLI ----------------------------------------------------------------------

    /// Creates a key for a user directly on the store, for bootstrap and recovery when nobody
    /// holds a key. `tenant` may be left out when the deployment has one tenant.
    pub async fn admin_create_api_key(
        &self,
        tenant: Option<&str>,
        email: &str,
        expires_in_days: Option<i64>,
    ) -> Result<String> {
        let tenant = match tenant {
            Some(name) => self
                .store
                .tenant_by_name(&name.trim().to_lowercase())
                .await?
                .ok_or(Error::NotFound { kind: "tenant" })?,
            None => {
                let mut tenants = self.store.tenants().await?;
                match tenants.len() {
                    0 => return Err(Error::NotFound { kind: "tenant" }),
                    1 => tenants.remove(0),
                    _ => {
                        return Err(Error::invalid(
                            "this deployment has several tenants: name one with --tenant",
                        ))
                    }
                }
            }
        };
        let email = Email::parse(email)?;
        let owner = self
            .store
            .user_by_email(&tenant.uid, email.as_str())
            .await?
            .ok_or(Error::NotFound { kind: "user" })?;
        let now = self.now();
        let expiry = match expires_in_days {
            Some(days) if days < 1 => {
                return Err(Error::invalid("--expires-in must be at least 1 day"))
            }
            Some(days) => self.check_expiry(&tenant, now, now + Duration::days(days))?,
            None => self.default_expiry(&tenant, now),
        };
        let (_, value) = self
            .insert_key(
                &tenant,
                &owner,
                None,
                KeyDraft {
                    name: KeyName::parse("created by easel admin")?,
                    description: Description::parse("")?,
                    created_at: now,
                    expires_at: expiry,
                },
            )
            .await?;
        Ok(value)
    }
}

//! Sign-in for people, authorisation tokens and their sessions, and the password flows that
//! go by mail.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::Easel;
use crate::access::{Caller, Permission};
use crate::cache::Change;
use crate::error::{AuthFailure, Error, Result};
use crate::ids::Uid;
use crate::mail::Mail;
use crate::model::{
    KeyState, PasswordPurpose, PasswordToken, Session, SessionAuth, SigningKeyRecord, Tenant, User,
};
use crate::names::Email;
use crate::rng::base62_string;
use crate::token::{self, Claims};
use crate::{password, policy};

/// A freshly issued token.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The password policy as a tenant admin sees and sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordPolicySettings {
    pub min_length: i64,
    /// Composition rules and expiry, which NIST SP 800-63B advises against: accepted only
    /// when zero, so that a client that sends them set learns they are not applied.
    pub composition_rules: i64,
    pub expiry_days: i64,
    pub regex: Option<String>,
}

const RESET_TOKEN_LIFETIME_HOURS: i64 = 1;
const ACTIVATION_TOKEN_LIFETIME_DAYS: i64 = 7;
const LONGEST_TOKEN_MINUTES: i64 = 1440;

fn invalid_link() -> Error {
    Error::invalid(
        "this link is not valid: it was used already, has expired, or was replaced by a newer one",
    )
}

impl Easel {
    // ---- signing keys ----------------------------------------------------------------------

    async fn reload_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let keys = self.store.signing_keys().await?;
        let mut cache = self.signing_keys.write().unwrap_or_else(|p| p.into_inner());
        *cache = (keys.clone(), self.now());
        Ok(keys)
    }

    /// The key that signs now: the newest, unless it has served its rotation period, in which
    /// case a new one is made. Older keys keep verifying until their tokens have all expired.
    async fn current_signing_key(&self) -> Result<SigningKeyRecord> {
        let now = self.now();
        let rotation = self.config.signing_key_rotation;
        let fresh = |k: &SigningKeyRecord| now < k.created_at + rotation;
        if let Some(key) = self
            .signing_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .first()
            .filter(|k| fresh(k))
        {
            return Ok(key.clone());
        }
        let _creating = self.signing_key_creation.lock().await;
        let keys = self.reload_signing_keys().await?;
        if let Some(key) = keys.first().filter(|k| fresh(k)) {
            return Ok(key.clone());
        }
        let mut seed = [0u8; 32];
        self.rng.fill(&mut seed);
        let key = SigningKeyRecord {
            kid: base62_string(self.rng.as_ref(), 16),
            public_key: token::public_key(&seed).to_vec(),
            seed: seed.to_vec(),
            created_at: now,
            retires_at: now + rotation + Duration::minutes(LONGEST_TOKEN_MINUTES),
        };
        self.store.insert_signing_key(&key).await?;
        self.reload_signing_keys().await?;
        Ok(key)
    }

    /// The public key for `kid`, if it is one of ours and not retired. An unknown kid reloads
    /// the keys from the store at most once a second (another node may have rotated).
    async fn verifying_key(&self, kid: &str) -> Result<Option<Vec<u8>>> {
        let now = self.now();
        let lookup = |keys: &[SigningKeyRecord]| {
            keys.iter()
                .find(|k| k.kid == kid && now < k.retires_at)
                .map(|k| k.public_key.clone())
        };
        let (found, loaded_at) = {
            let cache = self.signing_keys.read().unwrap_or_else(|p| p.into_inner());
            (lookup(&cache.0), cache.1)
        };
        if found.is_some() || now - loaded_at < Duration::seconds(1) {
            return Ok(found);
        }
        Ok(lookup(&self.reload_signing_keys().await?))
    }

    /// The public keys that tokens may be signed with now (for the JWKS document).
    pub async fn token_public_keys(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.current_signing_key().await?;
        let now = self.now();
        let keys = self.reload_signing_keys().await?;
        Ok(keys
            .into_iter()
            .filter(|k| now < k.retires_at)
            .map(|k| (k.kid, k.public_key))
            .collect())
    }

    // ---- sessions and tokens ---------------------------------------------------------------

    /// The ready-to-sign form of the current signing key, made once per key.
    fn signer_for(&self, key: &SigningKeyRecord) -> Result<Arc<token::TokenSigner>> {
        if let Some(signer) = self
            .signer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|s| s.kid() == key.kid)
        {
            return Ok(signer.clone());
        }
        let signer = Arc::new(token::TokenSigner::new(key).map_err(Error::Internal)?);
        *self.signer.write().unwrap_or_else(|p| p.into_inner()) = Some(signer.clone());
        Ok(signer)
    }

    async fn issue(&self, session: &Session, tenant: &Tenant) -> Result<IssuedToken> {
        let now = self.now();
        let expires_at =
            (now + Duration::minutes(tenant.token_lifetime_minutes)).min(session.expires_at);
        let claims = Claims {
            sub: session.user_uid.to_string(),
            tid: session.tenant_uid.to_string(),
            sid: session.uid.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: base62_string(self.rng.as_ref(), 16),
            key: session.api_key_uid.as_ref().map(|k| k.to_string()),
            sxp: session
                .api_key_uid
                .is_some()
                .then(|| session.expires_at.timestamp()),
            sst: session
                .api_key_uid
                .is_some()
                .then(|| session.created_at.timestamp_millis()),
        };
        let key = self.current_signing_key().await?;
        let signer = self.signer_for(&key)?;
        let token = token::sign_with(&signer, &claims).map_err(Error::Internal)?;
        Ok(IssuedToken {
            token,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    async fn start_session(&self, caller: &Caller, how: &str) -> Result<IssuedToken> {
        let now = self.now();
        let session = Session {
            uid: self.new_uid(),
            tenant_uid: caller.tenant.uid.clone(),
            user_uid: caller.user.uid.clone(),
            api_key_uid: caller.key_uid.clone(),
            expires_at: now + self.config.session_lifetime,
            is_revoked: false,
            created_at: now,
        };
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "session.create",
            &session.uid,
            how,
        );
        if session.api_key_uid.is_some() {
            // No row: the token carries the session, which lives and dies with its key.
            self.sign_ins.record(audit).await?;
        } else {
            self.sign_ins.write(session.clone(), audit).await?;
        }
        self.issue(&session, &caller.tenant).await
    }

    /// Trades an API key for a token of a new session tied to that key.
    pub async fn token_for_api_key(&self, presented: &str) -> Result<IssuedToken> {
        let caller = self.authenticate_api_key(presented).await?;
        self.start_session(&caller, "apiKey").await
    }

    /// Checks a token's signature and expiry, then its session, user, tenant and key.
    async fn session_of(&self, presented: &str) -> Result<(SessionAuth, Claims)> {
        let invalid = || Error::Unauthenticated(AuthFailure::TokenInvalid);
        let parsed = token::parse(presented).map_err(|_| invalid())?;
        let public_key = self.verifying_key(&parsed.kid).await?.ok_or_else(invalid)?;
        parsed.verify(&public_key).map_err(|_| invalid())?;
        let claims = parsed.claims;
        let now = self.now();
        if now.timestamp() >= claims.exp {
            return Err(Error::Unauthenticated(AuthFailure::TokenExpired));
        }
        let sid = Uid::parse(&claims.sid).ok_or_else(invalid)?;
        let auth = match &claims.key {
            Some(key) => self.key_session(&sid, key, &claims).await?,
            // A session that is gone went with its user, its key or its tenant.
            None => self
                .store
                .session_auth(&sid)
                .await?
                .ok_or(Error::Unauthenticated(AuthFailure::SessionRevoked))?,
        };
        if auth.session.user_uid.as_str() != claims.sub
            || auth.session.tenant_uid.as_str() != claims.tid
        {
            return Err(invalid());
        }
        if auth.session.is_revoked {
            return Err(Error::Unauthenticated(AuthFailure::SessionRevoked));
        }
        if now >= auth.session.expires_at {
            return Err(Error::Unauthenticated(AuthFailure::SessionExpired));
        }
        if let Some(key) = &auth.key {
            if key.state(now) != KeyState::Active {
                return Err(Error::Unauthenticated(AuthFailure::SessionRevoked));
            }
        }
        if !auth.user.is_active || !auth.tenant.is_active {
            return Err(Error::Unauthenticated(AuthFailure::Disabled));
        }
        Ok((auth, claims))
    }

    /// The session of a token traded for an API key, rebuilt from the token's claims and
    /// checked against the key (which has no row of its own unless it was revoked).
    async fn key_session(&self, sid: &Uid, key: &str, claims: &Claims) -> Result<SessionAuth> {
        let invalid = || Error::Unauthenticated(AuthFailure::TokenInvalid);
        let key_uid = Uid::parse(key).ok_or_else(invalid)?;
        let expires_at = claims
            .sxp
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or_else(invalid)?;
        let started_at = claims
            .sst
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(invalid)?;
        let found = self
            .store
            .key_session_auth(&key_uid, sid)
            .await?
            .ok_or(Error::Unauthenticated(AuthFailure::SessionRevoked))?;
        // A session that started at the very instant of a password change ends with it.
        let cut_off = found
            .sessions_revoked_before
            .is_some_and(|cut| started_at <= cut);
        let auth = found.auth;
        Ok(SessionAuth {
            session: Session {
                uid: sid.clone(),
                tenant_uid: auth.key.tenant_uid.clone(),
                user_uid: auth.key.owner_uid.clone(),
                api_key_uid: Some(key_uid),
                expires_at,
                is_revoked: found.session_revoked || cut_off,
                created_at: started_at,
            },
            user: auth.user,
            tenant: auth.tenant,
            key: Some(auth.key),
        })
    }

    /// The caller of a token the verify cache holds, without awaiting anything; `None`:
    /// [`Easel::token_from_store`] verifies it and asks the store. A token verified recently
    /// is answered from the cache until it expires, so its Ed25519 signature is checked once,
    /// not on every request.
    pub fn token_from_cache(&self, presented: &str) -> Option<Arc<Caller>> {
        self.keyed_token_from_cache(&token::cache_key(presented)?)
    }

    /// [`Easel::token_from_cache`] for a token whose cache key is worked out already
    /// ([`token::cache_key`]).
    pub fn keyed_token_from_cache(&self, key: &token::TokenCacheKey<'_>) -> Option<Arc<Caller>> {
        self.cache
            .get_signed(&key.hash, key.signed, self.clock.now_millis())
    }

    /// Verifies a token the verify cache does not hold, reads its session, and caches it.
    pub async fn token_from_store(&self, presented: &str) -> Result<Arc<Caller>> {
        let now = self.now();
        self.cache.count_store_lookup();
        let generation = self.cache.generation();
        let (auth, claims) = self.session_of(presented).await?;
        // A token that verifies has a signed part and a signature ([`token::parse`]).
        let cache_key =
            token::cache_key(presented).ok_or(Error::Unauthenticated(AuthFailure::TokenInvalid))?;
        let permissions = self.permissions_in(&auth.tenant, &auth.user, None).await?.0;
        let mut valid_until = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        valid_until = valid_until.min(auth.session.expires_at);
        if let Some(key) = &auth.key {
            valid_until = valid_until.min(key.expires_at);
        }
        let caller = Caller {
            cache: Default::default(),
            cached: Default::default(),
            key_uid: auth.session.api_key_uid.clone(),
            session_uid: Some(auth.session.uid),
            tenant: self.tenants.share(auth.tenant),
            user: self.users.share(auth.user),
            project: None,
            permissions,
        };
        Ok(self.cache.insert_signed(
            cache_key.hash,
            cache_key.signed,
            caller,
            valid_until,
            now,
            generation,
        ))
    }

    /// A new token of the same session, while the token is valid and the session lives.
    pub async fn refresh(&self, presented: &str) -> Result<IssuedToken> {
        let (auth, _) = self.session_of(presented).await?;
        self.issue(&auth.session, &auth.tenant).await
    }

    /// Ends the sessions of these tokens. One's own need nothing; another user's need
    /// `user.update`. Tokens of another tenant are not found.
    pub async fn revoke_tokens(&self, caller: &Caller, tokens: &[String]) -> Result<()> {
        let mut sessions = Vec::new();
        let mut audit = Vec::new();
        for (i, presented) in tokens.iter().enumerate() {
            let invalid = || Error::invalid(format!("tokens[{i}] is not a token of this service"));
            let parsed = token::parse(presented).map_err(|_| invalid())?;
            let public_key = self.verifying_key(&parsed.kid).await?.ok_or_else(invalid)?;
            parsed.verify(&public_key).map_err(|_| invalid())?;
            if parsed.claims.tid != caller.tenant.uid.as_str() {
                return Err(Error::NotFound { kind: "session" });
            }
            let owner = Uid::parse(&parsed.claims.sub).ok_or_else(invalid)?;
            caller.require_self_or(&owner, Permission::UserUpdate)?;
            let sid = Uid::parse(&parsed.claims.sid).ok_or_else(invalid)?;
            let key = match &parsed.claims.key {
                Some(key) => Some(Uid::parse(key).ok_or_else(invalid)?),
                None => None,
            };
            let ends = parsed.claims.sxp.unwrap_or(parsed.claims.exp);
            audit.push(self.audit(
                &caller.tenant.uid,
                Some(&caller.user.uid),
                "session.revoke",
                &sid,
                "",
            ));
            sessions.push(self.ended_session(
                sid,
                &caller.tenant.uid,
                owner,
                key,
                DateTime::from_timestamp(ends, 0),
            ));
        }
        self.store.revoke_sessions(&sessions, &audit).await?;
        for session in sessions {
            self.changed(Change::Session(session.uid)).await;
        }
        Ok(())
    }

    /// A session as revoking it writes it: a password session's row only changes its flag;
    /// an API-key session gets a row, kept until `ends` (or a session lifetime from now).
    fn ended_session(
        &self,
        sid: Uid,
        tenant: &Uid,
        user: Uid,
        key: Option<Uid>,
        ends: Option<DateTime<Utc>>,
    ) -> Session {
        let now = self.now();
        Session {
            uid: sid,
            tenant_uid: tenant.clone(),
            user_uid: user,
            api_key_uid: key,
            expires_at: ends.unwrap_or(now + self.config.session_lifetime),
            is_revoked: true,
            created_at: now,
        }
    }

    /// Ends the caller's own session (the one of the token the request came with).
    pub async fn sign_out(&self, caller: &Caller) -> Result<()> {
        let sid = caller.session_uid.clone().ok_or_else(|| {
            Error::invalid("sign-out ends a token's session; this request came with an API key")
        })?;
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "session.revoke",
            &sid,
            "sign-out",
        );
        let session = self.ended_session(
            sid.clone(),
            &caller.tenant.uid,
            caller.user.uid.clone(),
            caller.key_uid.clone(),
            None,
        );
        self.store.revoke_sessions(&[session], &[audit]).await?;
        self.changed(Change::Session(sid)).await;
        Ok(())
    }

    // ---- password sign-in ------------------------------------------------------------------

    pub(super) fn throttled(&self, keys: &[(&crate::throttle::Throttle, String)]) -> Result<()> {
        let now = self.now();
        for (throttle, key) in keys {
            if let Err(wait) = throttle.check(key, now) {
                return Err(Error::TooManyRequests {
                    retry_after_secs: wait.num_seconds().max(1) as u64,
                });
            }
        }
        Ok(())
    }

    /// Signs a person in with email, organisation and password. Without an organisation,
    /// one matching account signs in directly; several give `OrganizationRequired` with
    /// the organisations for which the password is right (only after it checked out).
    pub async fn sign_in(
        &self,
        email: &str,
        org: Option<&str>,
        password: &str,
        source: &str,
    ) -> Result<IssuedToken> {
        let email = email.trim().to_lowercase();
        let org = org
            .map(|o| o.trim().to_lowercase())
            .filter(|o| !o.is_empty());
        let account_key = format!("account:{email}");
        let address_key = format!("address:{source}");
        self.throttled(&[
            (&self.address_throttle, address_key.clone()),
            (&self.account_throttle, account_key.clone()),
        ])?;

        let accounts = match Email::parse(&email) {
            Ok(email) => self.store.accounts_by_email(email.as_str()).await?,
            Err(_) => Vec::new(),
        };
        let candidates: Vec<(User, Tenant)> = accounts
            .into_iter()
            .filter(|(user, tenant)| {
                user.password_hash.is_some() && org.as_ref().is_none_or(|o| &tenant.name == o)
            })
            .collect();
        let hashes: Vec<String> = if candidates.is_empty() {
            vec![self.dummy_hash.clone()]
        } else {
            candidates
                .iter()
                .filter_map(|(u, _)| u.password_hash.clone())
                .collect()
        };
        let attempt = password.to_owned();
        let verdicts = tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .map(|h| password::verify(&attempt, h))
                .collect::<Vec<bool>>()
        })
        .await
        .map_err(Error::internal)?;
        let (matches, misses): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .zip(verdicts)
            .partition(|(_, ok)| *ok);
        let matches: Vec<(User, Tenant)> = matches.into_iter().map(|(a, _)| a).collect();

        let now = self.now();
        if matches.is_empty() {
            self.address_throttle.fail(&address_key, now);
            self.account_throttle.fail(&account_key, now);
            // Each organisation learns of a wrong password for one of its accounts; an email
            // no organisation knows has no tenant to tell (the throttle still counts it).
            for ((user, tenant), _) in &misses {
                self.sign_in_failed(user, tenant, &format!("wrong password, from {source}"))
                    .await;
            }
            return Err(Error::Unauthenticated(AuthFailure::BadCredentials));
        }
        self.account_throttle.succeed(&account_key);
        let (usable, disabled): (Vec<_>, Vec<_>) = matches
            .into_iter()
            .partition(|(u, t)| u.is_active && t.is_active);
        let (user, tenant) = match usable.len() {
            0 => {
                for (user, tenant) in &disabled {
                    self.sign_in_failed(
                        user,
                        tenant,
                        &format!("account or organisation disabled, from {source}"),
                    )
                    .await;
                }
                return Err(Error::Unauthenticated(AuthFailure::Disabled));
            }
            1 => usable
                .into_iter()
                .next()
                .ok_or_else(|| Error::internal("empty"))?,
            _ => {
                let mut organizations: Vec<String> =
                    usable.into_iter().map(|(_, t)| t.name).collect();
                organizations.sort();
                return Err(Error::OrganizationRequired { organizations });
            }
        };
        let caller = Caller {
            cache: Default::default(),
            cached: Default::default(),
            tenant: Arc::new(tenant),
            user: Arc::new(user),
            key_uid: None,
            session_uid: None,
            project: None,
            permissions: Default::default(),
        };
        self.start_session(&caller, "password").await
    }

    /// Records a failed sign-in in the account's organisation (`session.signInFailed`).
    async fn sign_in_failed(&self, user: &User, tenant: &Tenant, why: &str) {
        let entry = self.audit(
            &tenant.uid,
            Some(&user.uid),
            "session.signInFailed",
            &user.uid,
            why,
        );
        self.queue_audit(entry).await;
    }

    // ---- organisations ---------------------------------------------------------------------

    /// The organisations in which the caller's email has an active account.
    pub async fn organizations_of(&self, caller: &Caller) -> Result<Vec<Tenant>> {
        let mut tenants: Vec<Tenant> = self
            .store
            .accounts_by_email(&caller.user.email)
            .await?
            .into_iter()
            .filter(|(u, t)| u.is_active && t.is_active)
            .map(|(_, t)| t)
            .collect();
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tenants)
    }

    /// An active organisation by name (any letter case), for its sign-in page.
    pub async fn organization(&self, name: &str) -> Result<Tenant> {
        self.store
            .tenant_by_name(&name.trim().to_lowercase())
            .await?
            .filter(|t| t.is_active)
            .ok_or(Error::NotFound {
                kind: "organization",
            })
    }

    /// Where an organisation's people sign in.
    pub fn sign_in_url(&self, tenant: &Tenant) -> String {
        format!(
            "{}/console/login?org={}",
            self.config.public_url, tenant.name
        )
    }

    async fn active_accounts(&self, email: &str) -> Result<Vec<(User, Tenant)>> {
        let Ok(email) = Email::parse(email) else {
            return Ok(Vec::new());
        };
        let mut accounts: Vec<(User, Tenant)> = self
            .store
            .accounts_by_email(email.as_str())
            .await?
            .into_iter()
            .filter(|(u, t)| u.is_active && t.is_active)
            .collect();
        accounts.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        Ok(accounts)
    }

    /// Mails the organisations an address belongs to, with their sign-in URLs. Answers the
    /// same whether or not the address has accounts.
    pub async fn forgot_organization(&self, email: &str) -> Result<()> {
        let accounts = self.active_accounts(email).await?;
        let Some((first, _)) = accounts.first() else {
            return Ok(());
        };
        let mut text = String::from(
            "You asked which Easel organisations this address belongs to. Sign in to each here:\n\n",
        );
        for (_, tenant) in &accounts {
            text.push_str(&format!(
                "  {}: {}\n",
                tenant.name,
                self.sign_in_url(tenant)
            ));
        }
        text.push_str("\nIf you did not ask, you can ignore this message.\n");
        self.mail_in_background(Mail {
            to: first.email.clone(),
            subject: "Your Easel organisations".into(),
            text,
        });
        Ok(())
    }

    // ---- password tokens -------------------------------------------------------------------

    async fn new_password_token(
        &self,
        user: &User,
        purpose: PasswordPurpose,
        lifetime: Duration,
    ) -> Result<String> {
        let value = base62_string(self.rng.as_ref(), 43);
        let now = self.now();
        self.store
            .insert_password_token(&PasswordToken {
                hash: token::token_hash(&value),
                tenant_uid: user.tenant_uid.clone(),
                user_uid: user.uid.clone(),
                purpose,
                expires_at: now + lifetime,
                created_at: now,
            })
            .await?;
        Ok(value)
    }

    /// The link in a password mail. The token rides in the fragment, which browsers never
    /// send to a server, so it stays out of access logs and referrers.
    fn password_link(&self, purpose: PasswordPurpose, token: &str) -> String {
        format!(
            "{}/console/password/{}#token={token}",
            self.config.public_url,
            purpose.as_str()
        )
    }

    /// Mails a new user (who has no password yet) a link to set one.
    pub(super) async fn send_activation(&self, tenant: &Tenant, user: &User) -> Result<()> {
        if user.password_hash.is_some() {
            return Ok(());
        }
        let token = self
            .new_password_token(
                user,
                PasswordPurpose::Activate,
                Duration::days(ACTIVATION_TOKEN_LIFETIME_DAYS),
            )
            .await?;
        let text = format!(
            "Hello {},\n\nYou have an account in the organisation {} on Easel. Set your password \
             to activate it (the link works once, for {ACTIVATION_TOKEN_LIFETIME_DAYS} days):\n\n  {}\n\n\
             Then sign in at {}\n",
            user.first_name,
            tenant.name,
            self.password_link(PasswordPurpose::Activate, &token),
            self.sign_in_url(tenant),
        );
        self.mail_in_background(Mail {
            to: user.email.clone(),
            subject: format!("Activate your Easel account in {}", tenant.name),
            text,
        });
        Ok(())
    }

    /// Mails a reset link for every active account of the address. Answers the same whether
    /// or not it has any.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let accounts = self.active_accounts(email).await?;
        let Some((first, _)) = accounts.first() else {
            return Ok(());
        };
        let mut text = format!(
            "Someone asked to reset the Easel password of {}. Each link works once, for \
             {RESET_TOKEN_LIFETIME_HOURS} hour:\n\n",
            first.email
        );
        for (user, tenant) in &accounts {
            let token = self
                .new_password_token(
                    user,
                    PasswordPurpose::Reset,
                    Duration::hours(RESET_TOKEN_LIFETIME_HOURS),
                )
                .await?;
            text.push_str(&format!(
                "  {}: {}\n",
                tenant.name,
                self.password_link(PasswordPurpose::Reset, &token)
            ));
        }
        text.push_str("\nIf you did not ask, ignore this message: your password stays as it is.\n");
        self.mail_in_background(Mail {
            to: first.email.clone(),
            subject: "Reset your Easel password".into(),
            text,
        });
        Ok(())
    }

    /// A tenant admin sends a user a reset link. Needs `user.update`.
    pub async fn send_password_reset(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        caller.require(Permission::UserUpdate)?;
        let user = self.load_user(&caller.tenant.uid, raw_uid).await?;
        if !user.is_active {
            return Err(Error::conflict("UserDisabled", "the user is disabled"));
        }
        let token = self
            .new_password_token(
                &user,
                PasswordPurpose::Reset,
                Duration::hours(RESET_TOKEN_LIFETIME_HOURS),
            )
            .await?;
        self.mail_in_background(Mail {
            to: user.email.clone(),
            subject: "Reset your Easel password".into(),
            text: format!(
                "An administrator of {} asked for your Easel password to be reset. The link \
                 works once, for {RESET_TOKEN_LIFETIME_HOURS} hour:\n\n  {}\n",
                caller.tenant.name,
                self.password_link(PasswordPurpose::Reset, &token)
            ),
        });
        Ok(())
    }

    async fn hashed_acceptable_password(
        &self,
        tenant: &Tenant,
        user: &User,
        password: &str,
    ) -> Result<String> {
        policy::check(
            tenant.password_min_length,
            password,
            &[&user.email, &user.first_name, &user.last_name, &tenant.name],
        )?;
        self.hash_password(password.to_owned()).await
    }

    /// Sets a password with a mailed token (reset or activation); the token works once.
    pub async fn set_password_with_token(
        &self,
        presented: &str,
        purpose: PasswordPurpose,
        password: &str,
    ) -> Result<()> {
        let hash = token::token_hash(presented.trim());
        let (stored, mut user) = self
            .store
            .password_token(&hash)
            .await?
            .ok_or_else(invalid_link)?;
        let now = self.now();
        if stored.purpose != purpose || now >= stored.expires_at {
            return Err(invalid_link());
        }
        let tenant = self
            .store
            .tenant(&user.tenant_uid)
            .await?
            .ok_or_else(invalid_link)?;
        user.password_hash = Some(
            self.hashed_acceptable_password(&tenant, &user, password)
                .await?,
        );
        user.updated_at = now;
        let action = match purpose {
            PasswordPurpose::Reset => "user.passwordReset",
            PasswordPurpose::Activate => "user.activatePassword",
        };
        let audit = self.audit(&tenant.uid, Some(&user.uid), action, &user.uid, "");
        match self
            .store
            .redeem_password_token(&hash, purpose, &user, &audit)
            .await
        {
            Err(Error::NotFound { .. }) => Err(invalid_link()),
            Err(e) => Err(e),
            Ok(()) => {
                self.changed(Change::User(user.uid)).await;
                Ok(())
            }
        }
    }

    /// Changes a password. One's own needs the current password; another user's needs
    /// `user.update`. Every session of the user ends.
    pub async fn change_password(
        &self,
        caller: &Caller,
        target: &User,
        current: Option<&str>,
        new_password: &str,
    ) -> Result<()> {
        if caller.is(&target.uid) {
            let current = current.unwrap_or_default();
            let account_key = format!("account:{}", target.email);
            self.throttled(&[(&self.account_throttle, account_key.clone())])?;
            let hash = target
                .password_hash
                .clone()
                .unwrap_or_else(|| self.dummy_hash.clone());
            let attempt = current.to_owned();
            let ok = tokio::task::spawn_blocking(move || password::verify(&attempt, &hash))
                .await
                .map_err(Error::internal)?;
            if !ok || target.password_hash.is_none() {
                self.account_throttle.fail(&account_key, self.now());
                return Err(Error::forbidden("the current password is not right"));
            }
        } else {
            caller.require(Permission::UserUpdate)?;
        }
        let mut user = target.clone();
        user.password_hash = Some(
            self.hashed_acceptable_password(&caller.tenant, &user, new_password)
                .await?,
        );
        user.updated_at = self.now();
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "user.passwordChange",
            &user.uid,
            "",
        );
        self.store.set_password(&user, &audit).await?;
        self.changed(Change::User(user.uid)).await;
        Ok(())
    }

    /// `PATCH /v1/users/password/change`: the caller's own, named by email.
    pub async fn change_own_password(
        &self,
        caller: &Caller,
        email: &str,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        if email.trim().to_lowercase() != caller.user.email {
            return Err(Error::forbidden(
                "emailId must be the address of the signed-in user",
            ));
        }
        let me = caller.user.clone();
        self.change_password(caller, &me, Some(current), new_password)
            .await
    }

    /// `PATCH /v1/users/{uid}/password/change`.
    pub async fn change_user_password(
        &self,
        caller: &Caller,
        raw_uid: &str,
        current: Option<&str>,
        new_password: &str,
    ) -> Result<()> {
        let target = self.load_user(&caller.tenant.uid, raw_uid).await?;
        if !caller.is(&target.uid) {
            caller.require(Permission::UserUpdate)?;
        }
        self.change_password(caller, &target, current, new_password)
            .await
    }

    // ---- tenant settings -------------------------------------------------------------------

    async fn update_tenant_setting(
        &self,
        caller: &Caller,
        change: impl FnOnce(&mut Tenant),
        detail: String,
    ) -> Result<()> {
        let mut tenant = Tenant::clone(&caller.tenant);
        change(&mut tenant);
        tenant.updated_at = self.now();
        let audit = self.audit(
            &tenant.uid,
            Some(&caller.user.uid),
            "tenant.update",
            &tenant.uid,
            detail,
        );
        self.store.update_tenant(&tenant, &audit).await?;
        self.changed(Change::Tenant(tenant.uid)).await;
        Ok(())
    }

    /// Needs `tenant.update`.
    pub fn token_lifetime(&self, caller: &Caller, tenant_uid: &str) -> Result<i64> {
        Self::own_tenant(caller, tenant_uid)?;
        caller.require(Permission::TenantUpdate)?;
        Ok(caller.tenant.token_lifetime_minutes)
    }

    /// Needs `tenant.update`. 15 to 1440 minutes; applies to tokens issued from now on.
    pub async fn set_token_lifetime(
        &self,
        caller: &Caller,
        tenant_uid: &str,
        minutes: i64,
    ) -> Result<()> {
        Self::own_tenant(caller, tenant_uid)?;
        caller.require(Permission::TenantUpdate)?;
        if !(15..=LONGEST_TOKEN_MINUTES).contains(&minutes) {
            return Err(Error::invalid(
                "expiryTimeMinutes must be between 15 and 1440",
            ));
        }
        self.update_tenant_setting(
            caller,
            |t| t.token_lifetime_minutes = minutes,
            format!("tokenLifetimeMinutes={minutes}"),
        )
        .await
    }

    /// Needs `tenant.update`.
    pub fn password_policy(&self, caller: &Caller, tenant_uid: &str) -> Result<i64> {
        Self::own_tenant(caller, tenant_uid)?;
        caller.require(Permission::TenantUpdate)?;
        Ok(caller.tenant.password_min_length)
    }

    /// Needs `tenant.update`. The minimum length may be raised (8 to 64); composition rules,
    /// regular expressions and periodic expiry are refused, after NIST SP 800-63B.
    pub async fn set_password_policy(
        &self,
        caller: &Caller,
        tenant_uid: &str,
        settings: PasswordPolicySettings,
    ) -> Result<()> {
        Self::own_tenant(caller, tenant_uid)?;
        caller.require(Permission::TenantUpdate)?;
        if !(policy::DEFAULT_MIN_LENGTH..=64).contains(&settings.min_length) {
            return Err(Error::invalid("minLength must be between 8 and 64"));
        }
        if settings.composition_rules != 0
            || settings.expiry_days != 0
            || settings.regex.as_deref().is_some_and(|r| !r.is_empty())
        {
            return Err(Error::invalid(
                "composition rules, regular expressions and password expiry are not supported: \
                 NIST SP 800-63B advises against them; Easel refuses guessable passwords instead",
            ));
        }
        self.update_tenant_setting(
            caller,
            |t| t.password_min_length = settings.min_length,
            format!("passwordMinLength={}", settings.min_length),
        )
        .await
    }
}

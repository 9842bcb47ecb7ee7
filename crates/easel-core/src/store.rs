//! The storage trait. One implementation per backend (`easel-store-sqlite`,
//! `easel-store-postgres`), both held to the same test suite.
//!
//! Rules every implementation keeps:
//! - every call that reads or changes tenant data takes the tenant's uid and filters by it,
//!   so no call can reach another tenant's rows;
//! - every change is written in one transaction together with its audit rows;
//! - a unique violation becomes [`Error::Conflict`](crate::Error::Conflict), a lost
//!   connection [`Error::Unavailable`](crate::Error::Unavailable), never a panic;
//! - a tenant never loses its last active Tenant Admin: a change that would leave none is
//!   rolled back with a `LastTenantAdmin` conflict.

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::apikey::KeyHash;
use crate::error::Result;
use crate::ids::Uid;
use crate::model::{
    ApiKey, ApiKeyView, AuditEntry, AuditFilter, AuditView, Binding, BootstrapSeed, CustomRole,
    KeyAuth, KeySessionAuth, Listed, Member, PasswordPurpose, PasswordToken, PersonNames, Project,
    Session, SessionAuth, SignIn, SigningKeyRecord, Signup, SubjectKind, Team, Tenant,
    TenantFilter, User, Window,
};

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the store answers (for `/v1/health/ready`).
    async fn ping(&self) -> Result<()>;

    /// The deployment's secret (for `continue` tokens): stores `candidate` if there is none
    /// yet, and returns the one stored, so that every node agrees.
    async fn deployment_secret(&self, candidate: &[u8]) -> Result<Vec<u8>>;

    /// Writes the first tenant, its admin and the admin's first key, if and only if this
    /// database was never bootstrapped. Returns whether it wrote anything. Safe to race.
    async fn bootstrap(&self, seed: &BootstrapSeed) -> Result<bool>;

    /// Creates a tenant with its first admin. `Conflict` if the name is taken.
    async fn insert_tenant(
        &self,
        tenant: &Tenant,
        admin: &User,
        audit: &[AuditEntry],
    ) -> Result<()>;
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    async fn tenant(&self, uid: &Uid) -> Result<Option<Tenant>>;
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>>;
    /// Writes the tenant's settings (`max_key_lifetime_days`).
    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<()>;

    async fn insert_user(&self, user: &User, audit: &AuditEntry) -> Result<()>;
    async fn user(&self, tenant: &Uid, uid: &Uid) -> Result<Option<User>>;
    async fn user_by_email(&self, tenant: &Uid, email: &str) -> Result<Option<User>>;
    async fn list_users(&self, tenant: &Uid, window: &Window) -> Result<Listed<User>>;
    /// Writes names, email, active flag and roles. Deactivating a user revokes all of the
    /// user's keys in the same transaction.
    async fn update_user(&self, user: &User, audit: &AuditEntry) -> Result<()>;
    /// Deletes the user and the user's keys. `NotFound` if there is no such user.
    async fn delete_user(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()>;

    async fn insert_api_key(&self, key: &ApiKey, hash: &KeyHash, audit: &AuditEntry) -> Result<()>;
    async fn api_key(&self, tenant: &Uid, uid: &Uid) -> Result<Option<ApiKeyView>>;
    /// A page of the tenant's keys in uid order, optionally only those of `owner`, without
    /// their owners' names (see [`Store::user_names`]); `known_total` skips counting them (the
    /// caller has a recent count).
    async fn list_api_keys(
        &self,
        tenant: &Uid,
        owner: Option<&Uid>,
        window: &Window,
        known_total: Option<i64>,
    ) -> Result<Listed<ApiKey>>;
    /// The names of those of `users` that are users of the tenant, in any order. Key lists
    /// ask for the owners' names apart from the keys, so that a node can keep them.
    async fn user_names(&self, tenant: &Uid, users: &[Uid]) -> Result<Vec<(Uid, PersonNames)>>;
    /// How many keys the tenant has (only those of `owner`, if given).
    async fn count_api_keys(&self, tenant: &Uid, owner: Option<&Uid>) -> Result<i64>;
    /// Writes name, description, expiry and active flag.
    async fn update_api_key(&self, key: &ApiKey, audit: &AuditEntry) -> Result<()>;
    /// `NotFound` if there is no such key in the tenant.
    async fn delete_api_key(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()>;
    /// The key with this hash, with its owner and tenant. The only call not scoped by a
    /// tenant: the hash is what tells the tenant.
    async fn api_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyAuth>>;
    /// The keys with these hashes, each with its hash, owner and tenant, in any order; a
    /// hash no key has is left out. For re-reading many cached keys in one round trip.
    async fn api_keys_by_hashes(&self, hashes: &[KeyHash]) -> Result<Vec<(KeyHash, KeyAuth)>>;
    /// The authentication stamps of these tenants (a tenant that no longer exists is left
    /// out). The store moves a tenant's stamp in the same transaction as every change that
    /// could alter what one of its keys authenticates as: an update or deletion of a key
    /// (but not a usage fold's counts), of a user, team, custom role or project, an
    /// insertion, update or deletion of a role binding or team membership, and any update of
    /// the tenant itself. A key read with the stamp its tenant still has is still what the
    /// store would return.
    async fn auth_stamps(&self, tenants: &[Uid]) -> Result<Vec<(Uid, i64)>>;

    // ---- sign-in and tokens ----

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;

    /// Sign-ins: their audit rows, and the sessions of those that have one (password
    /// sign-ins), in one transaction (the group commit of [`crate::group_commit`]): all are
    /// written, or none.
    async fn write_sign_ins(&self, batch: &[SignIn]) -> Result<()>;
    /// The session with its user, tenant and (if it came from one) API key.
    async fn session_auth(&self, uid: &Uid) -> Result<Option<SessionAuth>>;
    /// For a session opened with an API key (which has no row unless it was revoked): the
    /// key with its owner and tenant, whether session `sid` was revoked, and the owner's
    /// session cut-off.
    async fn key_session_auth(&self, key: &Uid, sid: &Uid) -> Result<Option<KeySessionAuth>>;
    /// Revokes these sessions of the tenant, writing a revoked row for a session that had
    /// none (one opened with an API key). A session whose user or key is gone is skipped:
    /// it ended with them.
    async fn revoke_sessions(&self, sessions: &[Session], audit: &[AuditEntry]) -> Result<()>;

    /// Every account with this (lower-case) email, in every tenant, with its tenant.
    async fn accounts_by_email(&self, email: &str) -> Result<Vec<(User, Tenant)>>;
    /// Sets a user's password hash and revokes all of the user's sessions.
    async fn set_password(&self, user: &User, audit: &AuditEntry) -> Result<()>;

    /// Stores a password token, replacing the user's earlier ones of the same purpose.
    async fn insert_password_token(&self, token: &PasswordToken) -> Result<()>;
    /// The token with this hash, with its user and tenant, if it exists.
    async fn password_token(&self, hash: &[u8; 32]) -> Result<Option<(PasswordToken, User)>>;
    /// Uses a token: in one transaction, deletes it (so it works once) and sets the user's
    /// password as in `user`, revoking the user's sessions. `NotFound` if the token is gone,
    /// of another purpose, or expired at `user.updated_at`.
    async fn redeem_password_token(
        &self,
        hash: &[u8; 32],
        purpose: PasswordPurpose,
        user: &User,
        audit: &AuditEntry,
    ) -> Result<()>;

    // ---- system scope ----

    async fn list_tenants(&self, filter: &TenantFilter, window: &Window) -> Result<Listed<Tenant>>;
    /// Deletes a tenant and everything in it, in one transaction. Audit rows stay.
    async fn delete_tenant(&self, uid: &Uid, audit: &AuditEntry) -> Result<()>;
    /// A user of any tenant, with the tenant (for operators).
    async fn user_anywhere(&self, uid: &Uid) -> Result<Option<(User, Tenant)>>;
    async fn operators(&self) -> Result<Vec<(User, Tenant)>>;
    /// Grants or withdraws operator rights; refuses to leave no active operator
    /// (`LastOperator`).
    async fn set_operator(&self, user: &User, is_operator: bool, audit: &AuditEntry) -> Result<()>;

    async fn tenant_domains(&self, tenant: &Uid) -> Result<Vec<String>>;
    /// Replaces the tenant's domains. `Conflict` (`DomainTaken`) if another tenant has one.
    async fn set_tenant_domains(
        &self,
        tenant: &Uid,
        domains: &[String],
        audit: &AuditEntry,
    ) -> Result<()>;
    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>>;

    async fn insert_signup(&self, signup: &Signup) -> Result<()>;
    async fn signup(&self, hash: &[u8; 32]) -> Result<Option<Signup>>;
    /// Completes a sign-up in one transaction: uses up the sign-up (`NotFound` if it is gone
    /// or expired at `tenant.created_at`), creates the tenant and its admin, and stores the
    /// admin's password token.
    async fn complete_signup(
        &self,
        hash: &[u8; 32],
        tenant: &Tenant,
        admin: &User,
        password_token: &PasswordToken,
        audit: &[AuditEntry],
    ) -> Result<()>;

    // ---- projects, teams, roles and bindings ----

    /// Creates a project and binds `members` in it.
    async fn insert_project(
        &self,
        project: &Project,
        members: &[Member],
        audit: &AuditEntry,
    ) -> Result<()>;
    async fn project(&self, tenant: &Uid, uid: &Uid) -> Result<Option<Project>>;
    /// All of the tenant's projects, by name.
    async fn projects(&self, tenant: &Uid) -> Result<Vec<Project>>;
    /// Writes name, description and labels.
    async fn update_project(&self, project: &Project, audit: &AuditEntry) -> Result<()>;
    /// Deletes the project and every binding in it.
    async fn delete_project(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()>;
    /// Who holds which roles in the project.
    async fn project_members(&self, tenant: &Uid, project: &Uid) -> Result<Vec<Member>>;
    /// Replaces the project's bindings of one kind of subject.
    async fn set_project_members(
        &self,
        tenant: &Uid,
        project: &Uid,
        kind: SubjectKind,
        members: &[Member],
        audit: &AuditEntry,
    ) -> Result<()>;

    async fn insert_team(&self, team: &Team, audit: &AuditEntry) -> Result<()>;
    async fn team(&self, tenant: &Uid, uid: &Uid) -> Result<Option<Team>>;
    async fn list_teams(&self, tenant: &Uid, window: &Window) -> Result<Listed<Team>>;
    /// Writes the name and replaces the members; keeps an active Tenant Admin.
    async fn update_team(&self, team: &Team, audit: &AuditEntry) -> Result<()>;
    /// Deletes the team and its bindings; keeps an active Tenant Admin.
    async fn delete_team(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()>;

    async fn insert_role(&self, role: &CustomRole, audit: &AuditEntry) -> Result<()>;
    async fn role(&self, tenant: &Uid, uid: &Uid) -> Result<Option<CustomRole>>;
    async fn roles(&self, tenant: &Uid) -> Result<Vec<CustomRole>>;
    async fn update_role(&self, role: &CustomRole, audit: &AuditEntry) -> Result<()>;
    /// Deletes the role and every binding of it.
    async fn delete_role(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()>;

    /// A subject's own bindings.
    async fn bindings(
        &self,
        tenant: &Uid,
        kind: SubjectKind,
        subject: &Uid,
    ) -> Result<Vec<Binding>>;
    /// Replaces a subject's bindings at tenant scope (`projects` `false`) or in projects
    /// (`true`) with `bindings`; keeps an active Tenant Admin.
    async fn set_bindings(
        &self,
        tenant: &Uid,
        kind: SubjectKind,
        subject: &Uid,
        projects: bool,
        bindings: &[Binding],
        audit: &AuditEntry,
    ) -> Result<()>;
    /// Everything a user holds: their own bindings and those of their teams.
    async fn effective_bindings(&self, tenant: &Uid, user: &Uid) -> Result<Vec<Binding>>;
    /// [`Store::effective_bindings`] of many of a tenant's users at once, each binding with
    /// the user who holds it (a binding held twice may come twice).
    async fn effective_bindings_of(
        &self,
        tenant: &Uid,
        users: &[Uid],
    ) -> Result<Vec<(Uid, Binding)>>;
    /// The teams a user belongs to.
    async fn teams_of(&self, tenant: &Uid, user: &Uid) -> Result<Vec<Team>>;
    /// All of the tenant's users (for the metadata and summary calls).
    async fn all_users(&self, tenant: &Uid) -> Result<Vec<User>>;

    /// Bulk load for benchmarks and migrations: users (without roles) and keys, in one
    /// transaction. No audit rows.
    async fn bulk_insert(&self, users: &[User], keys: &[(ApiKey, KeyHash)]) -> Result<()>;
    /// Refreshes the planner's statistics after a bulk load, where the store needs it
    /// (PostgreSQL: `ANALYZE`).
    async fn refresh_statistics(&self) -> Result<()>;

    // ---- usage and the change feed ----

    /// Records counted uses of keys, `(key, uses, last use)`, in one transaction: once it
    /// returns, they survive a crash. Both stores write them to a journal that
    /// [`Store::fold_key_usage`] later adds to the keys: on PostgreSQL, updating every key in
    /// use every few seconds cost the database server more CPU than anything else it did
    /// under load (docs/performance.md, round 10); on SQLite the journal writes less
    /// (round 11).
    async fn record_key_usage(
        &self,
        usage: &[(Uid, i64, chrono::DateTime<chrono::Utc>)],
    ) -> Result<()>;
    /// Adds the journalled uses to the keys (use counts add up, the last use only moves
    /// forward) and empties the journal, each entry exactly once however many nodes fold at
    /// once; returns how many journal entries it folded.
    async fn fold_key_usage(&self) -> Result<u64>;
    /// Tells every other node about a change (PostgreSQL `NOTIFY`; nothing for SQLite, which
    /// has one node).
    async fn publish(&self, change: &str) -> Result<()>;
    /// The changes other nodes publish, if this store has a feed.
    async fn subscribe(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>>;

    /// The tenant's newest audit rows, newest first.
    async fn audit_entries(&self, tenant: &Uid, limit: i64) -> Result<Vec<AuditEntry>>;

    /// A page of audit rows, newest first: `window.after` is the last (oldest) uid of the
    /// page before. The total is counted when `count` is set.
    async fn list_audits(
        &self,
        filter: &AuditFilter,
        window: &Window,
        count: bool,
    ) -> Result<Listed<AuditView>>;

    /// One audit row, within `tenant` unless `None` (operators).
    async fn audit_entry(&self, tenant: Option<&Uid>, uid: &Uid) -> Result<Option<AuditView>>;

    /// Retention: deletes audit rows written before `before`; returns how many.
    async fn delete_audits_before(&self, before: DateTime<Utc>) -> Result<u64>;
}

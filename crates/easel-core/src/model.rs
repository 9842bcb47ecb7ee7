//! The entities the domain works with, as the store keeps them.

use chrono::{DateTime, TimeZone, Utc};

use std::collections::BTreeMap;

use crate::access::{Permission, Scope};
use crate::apikey::KeyHash;
use crate::ids::Uid;

/// Stores keep times as milliseconds since the Unix epoch, UTC: one representation that
/// both SQLite and PostgreSQL index and compare natively.
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Truncates to whole milliseconds, the precision the stores and the wire keep.
pub fn at_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(to_millis(t))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub uid: Uid,
    /// The organisation name, lower-case, unique.
    pub name: String,
    pub is_active: bool,
    /// The longest lifetime a new or edited API key may have.
    pub max_key_lifetime_days: i64,
    /// How long an authorisation token lives (15 to 1440 minutes).
    pub token_lifetime_minutes: i64,
    /// The shortest password the tenant accepts (at least 8).
    pub password_min_length: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const DEFAULT_MAX_KEY_LIFETIME_DAYS: i64 = 366;
pub const DEFAULT_TOKEN_LIFETIME_MINUTES: i64 = 15;

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub uid: Uid,
    pub tenant_uid: Uid,
    /// Lower-case; unique within the tenant.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    /// An operator of the deployment: works at system scope, above tenants.
    pub is_operator: bool,
    /// argon2id in PHC format; `None` until the user has set a password.
    pub password_hash: Option<String>,
    /// Uids of the roles bound to the user directly at tenant scope.
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("uid", &self.uid)
            .field("tenant_uid", &self.tenant_uid)
            .field("is_active", &self.is_active)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// The state of a key, derived from the stored revocation flag and the clock; `expired` is
/// never stored, so it cannot drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Inactive,
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Inactive => "inactive",
            KeyState::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub uid: Uid,
    pub tenant_uid: Uid,
    pub owner_uid: Uid,
    pub name: String,
    pub description: String,
    pub hint: String,
    pub expires_at: DateTime<Utc>,
    /// False once revoked.
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// As of the last flush of the nodes' usage counters.
    pub last_used_at: Option<DateTime<Utc>>,
    pub use_count: i64,
}

impl ApiKey {
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        if !self.is_active {
            KeyState::Inactive
        } else if now >= self.expires_at {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

/// A user's names, as key lists show them beside each key's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonNames {
    pub first_name: String,
    pub last_name: String,
}

/// A key with its owner's names, as lists and reads show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyView {
    pub key: ApiKey,
    pub owner_first_name: String,
    pub owner_last_name: String,
}

/// What a key lookup by hash returns: everything needed to decide on the request.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key: ApiKey,
    pub user: User,
    pub tenant: Tenant,
    /// The tenant's authentication stamp, read in the same statement as the rest: every
    /// change that could alter what the key authenticates as moves it
    /// ([`crate::Store::auth_stamps`]).
    pub auth_stamp: i64,
}

/// One row of the audit trail: who did what to which object, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub uid: Uid,
    pub tenant_uid: Uid,
    /// `None` for the system itself (bootstrap, the `easel admin` CLI).
    pub actor_uid: Option<Uid>,
    /// `resource.operation`, e.g. `apiKey.revoke`.
    pub action: String,
    pub resource_kind: String,
    pub resource_uid: Uid,
    /// A short, secret-free note (e.g. which fields changed).
    pub detail: String,
    pub at: DateTime<Utc>,
    /// The project the change was made in or to, for `projectUid` filters.
    pub project_uid: Option<Uid>,
}

impl AuditEntry {
    /// Palette's `actionType` of the action: `create`, `update`, `delete`, `activity` (sign-ins
    /// and sessions, refused requests) or `action` (mail sent on someone's behalf). Stored
    /// with the row so that lists filter on it; migration 0007 applies the same rule to rows
    /// written before.
    pub fn action_type(action: &str) -> &'static str {
        let (kind, operation) = action.split_once('.').unwrap_or((action, ""));
        match operation {
            "create" => "create",
            "delete" => "delete",
            _ if kind == "session" || kind == "access" => "activity",
            "passwordReset" => "action",
            _ => "update",
        }
    }
}

/// Which audit rows a list or an export asks for; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `None` only for operators asking across tenants.
    pub tenant: Option<Uid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub actor: Option<Uid>,
    pub project: Option<Uid>,
    pub resource_kind: Option<String>,
    pub resource: Option<Uid>,
    pub action_type: Option<String>,
}

/// An audit row with its actor's email, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditView {
    pub entry: AuditEntry,
    pub actor_email: Option<String>,
}

/// Everything the first start writes, in one transaction.
#[derive(Debug, Clone)]
pub struct BootstrapSeed {
    pub tenant: Tenant,
    pub admin: User,
    pub key: ApiKey,
    pub key_hash: KeyHash,
    pub audit: Vec<AuditEntry>,
}

/// Which rows a list call asks the store for: `limit + 1` rows (the extra one tells whether
/// there is a next page) after `after` in uid order, or from `offset` when there is no
/// keyset position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub limit: i64,
    pub after: Option<Uid>,
    pub offset: i64,
}

/// What the store answers to a [`Window`].
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    /// All rows matching the filter, across pages.
    pub total: i64,
}

/// An Ed25519 key that signs tokens, shared by every node through the store.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// The 32-byte private seed.
    pub seed: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// After this, tokens it signed are no longer accepted (they have all expired by then).
    pub retires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One sign-in: every token of it carries its uid; refreshes keep it; revoking it ends them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub uid: Uid,
    pub tenant_uid: Uid,
    pub user_uid: Uid,
    /// The key it was traded for, if it came from a key.
    pub api_key_uid: Option<Uid>,
    /// The absolute end: no refresh goes past it.
    pub expires_at: DateTime<Utc>,
    pub is_revoked: bool,
    pub created_at: DateTime<Utc>,
}

/// What deciding on a token of an API-key session needs from the store.
#[derive(Debug, Clone)]
pub struct KeySessionAuth {
    pub auth: KeyAuth,
    /// The session was revoked (it has a revoked row).
    pub session_revoked: bool,
    /// The owner's sessions that started before this were ended (by a password change).
    pub sessions_revoked_before: Option<DateTime<Utc>>,
}

/// One sign-in as the audit trail and the session table record it. A password sign-in opens
/// a session with a row; one with an API key does not (its token carries the session), so
/// only its audit row is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub session: Option<Session>,
    pub audit: AuditEntry,
}

/// What a session lookup returns: everything needed to decide on a token.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub session: Session,
    pub user: User,
    pub tenant: Tenant,
    pub key: Option<ApiKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPurpose {
    Reset,
    Activate,
}

impl PasswordPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordPurpose::Reset => "reset",
            PasswordPurpose::Activate => "activate",
        }
    }
}

/// A self-service sign-up waiting for its mailed link to be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    pub hash: [u8; 32],
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub org_name: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Which tenants a list asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFilter {
    /// Exact, lower-case.
    pub name: Option<String>,
    pub is_active: Option<bool>,
}

/// A single-use password token, kept as the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordToken {
    pub hash: [u8; 32],
    pub tenant_uid: Uid,
    pub user_uid: Uid,
    pub purpose: PasswordPurpose,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub uid: Uid,
    pub tenant_uid: Uid,
    pub name: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The name every tenant's first project has.
pub const DEFAULT_PROJECT: &str = "Default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub uid: Uid,
    pub tenant_uid: Uid,
    pub name: String,
    /// Member user uids.
    pub members: Vec<Uid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's own role (built-in roles live in `access::BUILTIN_ROLES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    pub uid: Uid,
    pub tenant_uid: Uid,
    pub name: String,
    pub scope: Scope,
    pub permissions: Vec<Permission>,
    pub is_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who a role binding is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    User,
    Team,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Team => "team",
        }
    }
}

/// A role held by a subject, at tenant scope (`project_uid` `None`) or in a project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    pub role_uid: String,
    pub project_uid: Option<Uid>,
}

/// A binding as a project lists it: which subject holds which roles there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub kind: SubjectKind,
    pub subject_uid: Uid,
    pub role_uids: Vec<String>,
}

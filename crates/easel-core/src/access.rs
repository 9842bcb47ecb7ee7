//! Who may do what.
//!
//! A [`Caller`] carries the roles of the user behind a request; each role grants a set of
//! [`Permission`]s, named as Palette names them (`resource.operation`). Domain methods ask
//! `caller.require(Permission::…)` and never look at roles directly, so that full RBAC
//! (custom roles, teams, project scope) can replace the role table without touching them.

use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::model::{Tenant, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    ApiKeyCreate,
    ApiKeyGet,
    ApiKeyList,
    ApiKeyUpdate,
    ApiKeyDelete,
    UserCreate,
    UserGet,
    UserList,
    UserUpdate,
    UserDelete,
    TenantUpdate,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::ApiKeyCreate,
        Permission::ApiKeyGet,
        Permission::ApiKeyList,
        Permission::ApiKeyUpdate,
        Permission::ApiKeyDelete,
        Permission::UserCreate,
        Permission::UserGet,
        Permission::UserList,
        Permission::UserUpdate,
        Permission::UserDelete,
        Permission::TenantUpdate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ApiKeyCreate => "apiKey.create",
            Permission::ApiKeyGet => "apiKey.get",
            Permission::ApiKeyList => "apiKey.list",
            Permission::ApiKeyUpdate => "apiKey.update",
            Permission::ApiKeyDelete => "apiKey.delete",
            Permission::UserCreate => "user.create",
            Permission::UserGet => "user.get",
            Permission::UserList => "user.list",
            Permission::UserUpdate => "user.update",
            Permission::UserDelete => "user.delete",
            Permission::TenantUpdate => "tenant.update",
        }
    }
}

/// Built-in tenant roles. Only Tenant Admin exists so far; a user without roles can still
/// manage their own API keys and read themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    TenantAdmin,
}

impl Role {
    pub const ALL: [Role; 1] = [Role::TenantAdmin];

    /// The stable key the stores keep.
    pub fn key(self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant-admin",
        }
    }

    /// The name Palette uses.
    pub fn name(self) -> &'static str {
        match self {
            Role::TenantAdmin => "Tenant Admin",
        }
    }

    /// Built-in roles have fixed uids, the same in every deployment, so that clients can
    /// name them in `spec.roles` without looking them up first.
    pub fn uid(self) -> &'static str {
        match self {
            Role::TenantAdmin => "000000000000000000000001",
        }
    }

    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// Reads a role as clients name it in `spec.roles`: by uid or by its Palette name.
    pub fn from_reference(reference: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.uid() == reference || r.name().eq_ignore_ascii_case(reference.trim()))
    }

    pub fn grants(self, permission: Permission) -> bool {
        match self {
            Role::TenantAdmin => Permission::ALL.contains(&permission),
        }
    }
}

/// Who is making a request, and how.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub user: User,
    /// The API key the request came with.
    pub key_uid: Option<Uid>,
    /// The session of the token the request came with.
    pub session_uid: Option<Uid>,
}

impl Caller {
    pub fn can(&self, permission: Permission) -> bool {
        self.user.roles.iter().any(|r| r.grants(permission))
    }

    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "this needs the {} permission",
                permission.as_str()
            )))
        }
    }

    pub fn is(&self, user: &Uid) -> bool {
        &self.user.uid == user
    }

    /// Acting on one's own objects needs nothing; acting on another user's needs `permission`.
    pub fn require_self_or(&self, owner: &Uid, permission: Permission) -> Result<()> {
        if self.is(owner) {
            Ok(())
        } else {
            self.require(permission)
        }
    }
}

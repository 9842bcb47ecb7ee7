//! Who may do what.
//!
//! Permissions are `resource.operation` strings, as Palette names them (`apiKey.create`,
//! `user.list`, …), each belonging to a scope: tenant or project. Roles are sets of
//! permissions of one scope: the built-in ones ([`BUILTIN_ROLES`], fixed uids, not editable)
//! and a tenant's custom ones. A role binding gives a user or a team a role at tenant scope
//! or in one project. A caller's permissions in a request's scope are the union of the roles
//! bound to them and to their teams in that scope; tenant roles apply in every project.
//!
//! Domain methods ask `caller.require(Permission::…)` against those effective permissions and
//! never look at roles, so the model can grow without touching them.

use std::collections::BTreeSet;

use crate::cache::{CacheRecord, CacheSlot};
use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::model::{Project, Tenant, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Tenant,
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::Project => "project",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "tenant" => Some(Scope::Tenant),
            "project" => Some(Scope::Project),
            _ => None,
        }
    }
}

macro_rules! permissions {
    ($($variant:ident = $name:literal, $scope:ident;)*) => {
        /// Every permission Easel knows, with the scope it belongs to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant,)* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            pub fn scope(self) -> Scope {
                match self { $(Permission::$variant => Scope::$scope,)* }
            }

            pub fn parse(s: &str) -> Option<Permission> {
                match s { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    ApiKeyCreate = "apiKey.create", Tenant;
    ApiKeyGet = "apiKey.get", Tenant;
    ApiKeyList = "apiKey.list", Tenant;
    ApiKeyUpdate = "apiKey.update", Tenant;
    ApiKeyDelete = "apiKey.delete", Tenant;
    UserCreate = "user.create", Tenant;
    UserGet = "user.get", Tenant;
    UserList = "user.list", Tenant;
    UserUpdate = "user.update", Tenant;
    UserDelete = "user.delete", Tenant;
    TeamCreate = "team.create", Tenant;
    TeamGet = "team.get", Tenant;
    TeamList = "team.list", Tenant;
    TeamUpdate = "team.update", Tenant;
    TeamDelete = "team.delete", Tenant;
    RoleCreate = "role.create", Tenant;
    RoleGet = "role.get", Tenant;
    RoleList = "role.list", Tenant;
    RoleUpdate = "role.update", Tenant;
    RoleDelete = "role.delete", Tenant;
    ProjectCreate = "project.create", Tenant;
    ProjectList = "project.list", Tenant;
    ProjectDelete = "project.delete", Tenant;
    TenantGet = "tenant.get", Tenant;
    TenantUpdate = "tenant.update", Tenant;
    AuditGet = "audit.get", Tenant;
    AuditList = "audit.list", Tenant;
    ProjectGet = "project.get", Project;
    ProjectUpdate = "project.update", Project;
    ProjectMembersUpdate = "project.membersUpdate", Project;
}

/// A built-in role: the same uid in every deployment, not editable.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRole {
    pub uid: &'static str,
    pub name: &'static str,
    pub scope: Scope,
    pub permissions: fn() -> Vec<Permission>,
}

pub const TENANT_ADMIN: &str = "000000000000000000000001";

fn all_of(scope: Scope) -> Vec<Permission> {
    Permission::ALL
        .iter()
        .copied()
        .filter(|p| p.scope() == scope)
        .collect()
}

fn tenant_viewer() -> Vec<Permission> {
    Permission::ALL
        .iter()
        .copied()
        .filter(|p| p.as_str().ends_with(".get") || p.as_str().ends_with(".list"))
        .collect()
}

fn of_resources(resources: &'static [&'static str]) -> impl Fn() -> Vec<Permission> {
    move || {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| {
                resources
                    .iter()
                    .any(|r| p.as_str().starts_with(&format!("{r}.")))
            })
            .collect()
    }
}

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    // Tenant roles apply in every project, so the admin holds the project permissions too.
    BuiltinRole {
        uid: TENANT_ADMIN,
        name: "Tenant Admin",
        scope: Scope::Tenant,
        permissions: || Permission::ALL.to_vec(),
    },
    BuiltinRole {
        uid: "000000000000000000000002",
        name: "Tenant Viewer",
        scope: Scope::Tenant,
        permissions: tenant_viewer,
    },
    BuiltinRole {
        uid: "000000000000000000000003",
        name: "Tenant User Admin Role",
        scope: Scope::Tenant,
        permissions: || of_resources(&["user", "apiKey"])(),
    },
    BuiltinRole {
        uid: "000000000000000000000004",
        name: "Tenant Team Admin",
        scope: Scope::Tenant,
        permissions: || {
            let mut p = of_resources(&["team"])();
            p.extend([Permission::UserGet, Permission::UserList]);
            p
        },
    },
    BuiltinRole {
        uid: "000000000000000000000005",
        name: "Tenant Role Admin",
        scope: Scope::Tenant,
        permissions: || of_resources(&["role"])(),
    },
    BuiltinRole {
        uid: "000000000000000000000006",
        name: "Tenant Project Admin",
        scope: Scope::Tenant,
        permissions: || {
            let mut p = vec![
                Permission::ProjectCreate,
                Permission::ProjectList,
                Permission::ProjectDelete,
            ];
            p.extend(all_of(Scope::Project));
            p.extend([Permission::UserList, Permission::TeamList]);
            p
        },
    },
    BuiltinRole {
        uid: "000000000000000000000011",
        name: "Project Admin",
        scope: Scope::Project,
        permissions: || all_of(Scope::Project),
    },
    BuiltinRole {
        uid: "000000000000000000000012",
        name: "Project Editor",
        scope: Scope::Project,
        permissions: || vec![Permission::ProjectGet, Permission::ProjectUpdate],
    },
    BuiltinRole {
        uid: "000000000000000000000013",
        name: "Project Viewer",
        scope: Scope::Project,
        permissions: || vec![Permission::ProjectGet],
    },
];

pub fn builtin_role(uid: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.uid == uid)
}

/// Who is making a request, how, in which scope, and with which permissions there.
///
/// `repr(C)` keeps the verify cache's slot first, beside the reference counts of the `Arc`
/// the cache hands out, and the tenant and user right after it: the four fill the first 64
/// bytes, all that a hit on the cache reads and writes of the caller (see [`CacheSlot`]).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Caller {
    /// What a hit on the verify cache reads and writes, when it holds this caller; empty
    /// otherwise.
    pub cache: CacheSlot,
    /// Shared by the cached callers of a tenant (and of a user): see
    /// [`crate::cache::Interned`].
    pub tenant: std::sync::Arc<Tenant>,
    pub user: std::sync::Arc<User>,
    /// The API key the request came with.
    pub key_uid: Option<Uid>,
    /// The session of the token the request came with.
    pub session_uid: Option<Uid>,
    /// The project a `ProjectUid` selected; `None` is tenant scope. Boxed: a project-scoped
    /// caller is never cached, and inline the project took 144 of the caller's 312 bytes, so
    /// that each cached caller took a 384-byte block where it now takes a 192-byte one
    /// (about 11 MiB less with 100,000 callers cached, docs/performance.md, round 20).
    pub project: Option<Box<Project>>,
    /// The caller's effective permissions in this scope.
    pub permissions: BTreeSet<Permission>,
    /// The verify cache's bookkeeping that only its background work reads, when it holds
    /// this caller; empty otherwise.
    pub cached: CacheRecord,
}

impl Caller {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The verify cache holds up to 100,000 callers by default, each in an `Arc` (two counts,
    /// 16 bytes, before the caller): they fit mimalloc's 192-byte blocks, where an inline
    /// project made them take 384-byte ones. A field added inline pushes them back over.
    #[test]
    fn a_cached_caller_fits_a_192_byte_block() {
        let with_counts = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Caller>();
        assert!(with_counts <= 192, "{with_counts} bytes");
    }

    /// A hit on the verify cache reads and writes the caller's slot, the `Arc`'s strong count
    /// and, for `GET /v1/users/info`, its tenant and user: all in the first 64 bytes of the
    /// `Arc`'s block, which starts on a 64-byte line (the binary's
    /// `cached_callers_start_on_a_cache_line` holds its allocator to that), so that with ten
    /// thousand keys in use a hit waits for one line of the caller, not two.
    #[test]
    fn what_a_cache_hit_reads_of_a_caller_is_in_its_first_64_bytes() {
        let counts = 2 * std::mem::size_of::<usize>();
        assert_eq!(std::mem::offset_of!(Caller, cache), 0);
        let user_ends = counts + std::mem::offset_of!(Caller, user) + std::mem::size_of::<usize>();
        assert!(
            user_ends <= 64,
            "the user's pointer ends at byte {user_ends}"
        );
        assert!(counts + std::mem::offset_of!(Caller, cached) >= 64);
    }

    #[test]
    fn builtin_roles_hold_only_permissions_of_their_scope_except_the_project_admins() {
        for role in BUILTIN_ROLES {
            let permissions = (role.permissions)();
            assert!(!permissions.is_empty(), "{}", role.name);
            if role.scope == Scope::Project {
                assert!(
                    permissions.iter().all(|p| p.scope() == Scope::Project),
                    "{}",
                    role.name
                );
            }
        }
    }

    #[test]
    fn tenant_admin_has_every_tenant_permission_and_the_viewer_only_reads() {
        let admin = (builtin_role(TENANT_ADMIN).unwrap().permissions)();
        assert!(Permission::ALL
            .iter()
            .filter(|p| p.scope() == Scope::Tenant)
            .all(|p| admin.contains(p)));
        let viewer = (builtin_role("000000000000000000000002")
            .unwrap()
            .permissions)();
        assert!(viewer.contains(&Permission::UserList));
        assert!(!viewer.contains(&Permission::UserCreate));
        assert!(!viewer.contains(&Permission::ApiKeyDelete));
    }

    #[test]
    fn permission_names_parse_back() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Permission::parse("cluster.create"), None);
    }
}

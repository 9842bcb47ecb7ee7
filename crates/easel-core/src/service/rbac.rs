//! Projects, teams, roles and role bindings, and how they become a caller's permissions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::Easel;
use crate::access::{builtin_role, Caller, Permission, Scope, BUILTIN_ROLES};
use crate::cache::Change;
use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::model::{
    AuditEntry, Binding, CustomRole, Member, Project, SubjectKind, Team, Tenant, User,
    DEFAULT_PROJECT,
};
use crate::names::{Description, KeyName};
use crate::paging::{Page, PageParams};

/// A role as lists show it: built-in or the tenant's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    pub uid: String,
    pub name: String,
    pub scope: Scope,
    pub permissions: Vec<Permission>,
    pub builtin: bool,
    pub is_enabled: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// `v1FilterString`: `eq`, `ne`, `contains`, `beginsWith`; letter case ignored unless
/// `ignore_case` is false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterString {
    pub eq: Option<String>,
    pub ne: Option<String>,
    pub contains: Option<String>,
    pub begins_with: Option<String>,
    pub ignore_case: bool,
}

impl FilterString {
    pub fn matches(&self, value: &str) -> bool {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_lowercase()
            } else {
                s.to_owned()
            }
        };
        let v = fold(value);
        self.eq.as_deref().is_none_or(|e| v == fold(e))
            && self.ne.as_deref().is_none_or(|e| v != fold(e))
            && self
                .contains
                .as_deref()
                .is_none_or(|e| v.contains(&fold(e)))
            && self
                .begins_with
                .as_deref()
                .is_none_or(|e| v.starts_with(&fold(e)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Name,
    Created,
    Modified,
}

#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: Option<String>,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `(subject uid, role references)`.
    pub users: Vec<(String, Vec<String>)>,
    pub teams: Vec<(String, Vec<String>)>,
}

/// A change to a project; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub users: Option<Vec<(String, Vec<String>)>>,
    pub teams: Option<Vec<(String, Vec<String>)>>,
}

/// A user as `POST /v1/users/summary` shows them.
#[derive(Debug, Clone)]
pub struct UserSummaryView {
    pub user: User,
    pub roles: Vec<(String, String)>,
    pub teams: Vec<(String, String)>,
    pub projects_count: usize,
}

const LIST_TEAMS: &str = "teams";

fn uid_or_404(raw: &str, kind: &'static str) -> Result<Uid> {
    Uid::parse(raw.trim()).ok_or(Error::NotFound { kind })
}

fn builtin_view(role: &crate::access::BuiltinRole) -> RoleView {
    RoleView {
        uid: role.uid.to_owned(),
        name: role.name.to_owned(),
        scope: role.scope,
        permissions: (role.permissions)(),
        builtin: true,
        is_enabled: true,
        created_at: None,
        updated_at: None,
    }
}

fn custom_view(role: &CustomRole) -> RoleView {
    RoleView {
        uid: role.uid.to_string(),
        name: role.name.clone(),
        scope: role.scope,
        permissions: role.permissions.clone(),
        builtin: false,
        is_enabled: role.is_enabled,
        created_at: Some(role.created_at),
        updated_at: Some(role.updated_at),
    }
}

/// The permissions `bindings` grant at tenant scope (`project` `None`) or in a project, and
/// whether any of them is bound in that project. A disabled custom role grants nothing.
pub(crate) fn permissions_from<'a>(
    bindings: impl IntoIterator<Item = &'a Binding>,
    custom: &[CustomRole],
    project: Option<&Uid>,
) -> (BTreeSet<Permission>, bool) {
    let mut permissions = BTreeSet::new();
    let mut bound_here = false;
    for binding in bindings {
        let applies = match (&binding.project_uid, project) {
            (None, _) => true,
            (Some(p), Some(q)) => p == q,
            (Some(_), None) => false,
        };
        if !applies {
            continue;
        }
        bound_here |= binding.project_uid.is_some();
        if let Some(role) = builtin_role(&binding.role_uid) {
            permissions.extend((role.permissions)());
        } else if let Some(role) = custom
            .iter()
            .find(|r| r.uid.as_str() == binding.role_uid && r.is_enabled)
        {
            permissions.extend(role.permissions.iter().copied());
        }
    }
    (permissions, bound_here)
}

impl Easel {
    // ---- effective permissions -------------------------------------------------------------

    /// A user's permissions at tenant scope (`project` `None`) or in a project, and whether
    /// they hold any role in that project themselves or through a team.
    pub(crate) async fn permissions_in(
        &self,
        tenant: &Tenant,
        user: &User,
        project: Option<&Uid>,
    ) -> Result<(BTreeSet<Permission>, bool)> {
        let bindings = self
            .store
            .effective_bindings(&tenant.uid, &user.uid)
            .await?;
        let custom = self.custom_roles_for(&tenant.uid, &bindings).await?;
        Ok(permissions_from(bindings.iter(), &custom, project))
    }

    /// The tenant's custom roles, if any of `bindings` names one (built-in roles need no read).
    pub(crate) async fn custom_roles_for<'a>(
        &self,
        tenant: &Uid,
        bindings: impl IntoIterator<Item = &'a Binding>,
    ) -> Result<Vec<CustomRole>> {
        if bindings
            .into_iter()
            .any(|b| builtin_role(&b.role_uid).is_none())
        {
            self.store.roles(tenant).await
        } else {
            Ok(Vec::new())
        }
    }

    /// The same caller in the scope of a project. A project of another tenant, or one the
    /// caller has no role in (nor `project.get` at tenant scope), is not found.
    pub async fn enter_project(&self, caller: Caller, raw_project: &str) -> Result<Caller> {
        let uid = uid_or_404(raw_project, "project")?;
        let project = self
            .store
            .project(&caller.tenant.uid, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "project" })?;
        let (permissions, bound) = self
            .permissions_in(&caller.tenant, &caller.user, Some(&uid))
            .await?;
        if !bound && !permissions.contains(&Permission::ProjectGet) {
            return Err(Error::NotFound { kind: "project" });
        }
        Ok(Caller {
            project: Some(Box::new(project)),
            permissions,
            ..caller
        })
    }

    /// The caller's permissions in a project, for acting on it by uid from tenant scope.
    async fn project_access(
        &self,
        caller: &Caller,
        raw_uid: &str,
    ) -> Result<(Project, BTreeSet<Permission>)> {
        let entered = self.enter_project(caller.clone(), raw_uid).await?;
        let project = entered
            .project
            .ok_or_else(|| Error::internal("a project scope without a project"))?;
        Ok((*project, entered.permissions))
    }

    // ---- roles -----------------------------------------------------------------------------

    async fn role_view(&self, tenant: &Uid, uid: &str) -> Result<Option<RoleView>> {
        if let Some(role) = builtin_role(uid) {
            return Ok(Some(builtin_view(role)));
        }
        let Some(uid) = Uid::parse(uid) else {
            return Ok(None);
        };
        Ok(self
            .store
            .role(tenant, &uid)
            .await?
            .as_ref()
            .map(custom_view))
    }

    /// Resolves role references (uids, or names) to enabled roles of `scope`, checking that
    /// the caller may grant them: nobody grants permissions they do not hold themselves
    /// (in `project`, for project roles).
    pub(crate) async fn resolve_roles(
        &self,
        caller: &Caller,
        references: &[String],
        scope: Scope,
        project: Option<&Uid>,
    ) -> Result<Vec<String>> {
        if references.is_empty() {
            return Ok(Vec::new());
        }
        let custom = self.store.roles(&caller.tenant.uid).await?;
        let held = match project {
            Some(p) => {
                self.permissions_in(&caller.tenant, &caller.user, Some(p))
                    .await?
                    .0
            }
            None => caller.permissions.clone(),
        };
        let mut uids = Vec::new();
        for reference in references {
            let reference = reference.trim();
            let role = BUILTIN_ROLES
                .iter()
                .find(|r| r.uid == reference || r.name.eq_ignore_ascii_case(reference))
                .map(builtin_view)
                .or_else(|| {
                    custom
                        .iter()
                        .find(|r| r.uid.as_str() == reference || r.name == reference)
                        .map(custom_view)
                })
                .ok_or_else(|| Error::invalid(format!("unknown role {reference:?}")))?;
            if role.scope != scope {
                return Err(Error::invalid(format!(
                    "{:?} is a {}-scope role; this assignment needs a {}-scope role",
                    role.name,
                    role.scope.as_str(),
                    scope.as_str()
                )));
            }
            if !role.is_enabled {
                return Err(Error::invalid(format!(
                    "the role {:?} is disabled",
                    role.name
                )));
            }
            if let Some(missing) = role.permissions.iter().find(|p| !held.contains(p)) {
                return Err(Error::forbidden(format!(
                    "granting {:?} needs {} yourself: nobody grants more than they hold",
                    role.name,
                    missing.as_str()
                )));
            }
            if !uids.contains(&role.uid) {
                uids.push(role.uid);
            }
        }
        Ok(uids)
    }

    /// `role.list`: the built-in roles, then the tenant's own; optionally of one scope.
    pub async fn list_roles(&self, caller: &Caller, scope: Option<Scope>) -> Result<Vec<RoleView>> {
        caller.require(Permission::RoleList)?;
        let mut roles: Vec<RoleView> = BUILTIN_ROLES.iter().map(builtin_view).collect();
        roles.extend(
            self.store
                .roles(&caller.tenant.uid)
                .await?
                .iter()
                .map(custom_view),
        );
        roles.retain(|r| scope.is_none_or(|s| r.scope == s));
        Ok(roles)
    }

    /// `role.get`.
    pub async fn get_role(&self, caller: &Caller, uid: &str) -> Result<RoleView> {
        caller.require(Permission::RoleGet)?;
        self.role_view(&caller.tenant.uid, uid.trim())
            .await?
            .ok_or(Error::NotFound { kind: "role" })
    }

    fn check_role_permissions(
        caller: &Caller,
        scope: Scope,
        names: &[String],
    ) -> Result<Vec<Permission>> {
        let mut permissions = Vec::new();
        for name in names {
            let p = Permission::parse(name.trim())
                .ok_or_else(|| Error::invalid(format!("unknown permission {name:?}")))?;
            if scope == Scope::Project && p.scope() != Scope::Project {
                return Err(Error::invalid(format!(
                    "{name} is a tenant-scope permission; a project role holds project ones only"
                )));
            }
            if !caller.can(p) {
                return Err(Error::forbidden(format!(
                    "a role you write cannot hold {name}, which you do not hold yourself"
                )));
            }
            if !permissions.contains(&p) {
                permissions.push(p);
            }
        }
        permissions.sort();
        Ok(permissions)
    }

    /// An audit row of a change made in the caller's scope: in a project, it is the project's.
    fn role_audit(&self, caller: &Caller, action: &str, uid: &Uid, detail: &str) -> AuditEntry {
        let mut entry = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            action,
            uid,
            detail,
        );
        if let Some(project) = &caller.project {
            entry.project_uid = Some(project.uid.clone());
        }
        entry
    }

    /// `role.create`: a custom role of tenant or project scope.
    pub async fn create_role(
        &self,
        caller: &Caller,
        name: &str,
        scope: &str,
        permissions: &[String],
    ) -> Result<Uid> {
        caller.require(Permission::RoleCreate)?;
        let name = KeyName::parse(name)?.into_inner();
        if BUILTIN_ROLES
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(&name))
        {
            return Err(Error::conflict(
                "RoleExists",
                "a built-in role has this name",
            ));
        }
        let scope = Scope::parse(scope.trim())
            .ok_or_else(|| Error::invalid("spec.scope must be tenant or project"))?;
        let permissions = Self::check_role_permissions(caller, scope, permissions)?;
        let now = self.now();
        let role = CustomRole {
            uid: self.new_uid(),
            tenant_uid: caller.tenant.uid.clone(),
            name,
            scope,
            permissions,
            is_enabled: true,
            created_at: now,
            updated_at: now,
        };
        let audit = self.role_audit(caller, "role.create", &role.uid, &role.name);
        self.store.insert_role(&role, &audit).await?;
        Ok(role.uid)
    }

    async fn custom_role(&self, caller: &Caller, raw_uid: &str) -> Result<CustomRole> {
        if builtin_role(raw_uid.trim()).is_some() {
            return Err(Error::conflict(
                "BuiltinRole",
                "built-in roles cannot be changed or deleted; clone one instead",
            ));
        }
        let uid = uid_or_404(raw_uid, "role")?;
        self.store
            .role(&caller.tenant.uid, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "role" })
    }

    /// `role.update`: name, permissions and enabled flag of a custom role (scope is fixed).
    pub async fn update_role(
        &self,
        caller: &Caller,
        raw_uid: &str,
        name: &str,
        permissions: &[String],
        is_enabled: Option<bool>,
    ) -> Result<()> {
        caller.require(Permission::RoleUpdate)?;
        let mut role = self.custom_role(caller, raw_uid).await?;
        role.name = KeyName::parse(name)?.into_inner();
        role.permissions = Self::check_role_permissions(caller, role.scope, permissions)?;
        if let Some(enabled) = is_enabled {
            role.is_enabled = enabled;
        }
        role.updated_at = self.now();
        let audit = self.role_audit(caller, "role.update", &role.uid, &role.name);
        self.store.update_role(&role, &audit).await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    /// `role.delete`: a custom role, and every assignment of it.
    pub async fn delete_role(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        caller.require(Permission::RoleDelete)?;
        let role = self.custom_role(caller, raw_uid).await?;
        let audit = self.role_audit(caller, "role.delete", &role.uid, &role.name);
        self.store
            .delete_role(&caller.tenant.uid, &role.uid, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    /// `role.create`: a custom copy of any role, built-in or not, under a new name.
    pub async fn clone_role(&self, caller: &Caller, raw_uid: &str, name: &str) -> Result<Uid> {
        caller.require(Permission::RoleCreate)?;
        let source = self.get_role(caller, raw_uid).await?;
        let permissions: Vec<String> = source
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        self.create_role(caller, name, source.scope.as_str(), &permissions)
            .await
    }

    /// Any authenticated caller: the permission catalogue, grouped by resource.
    pub fn permission_catalogue(scope: Option<Scope>) -> Vec<(String, Scope, Vec<&'static str>)> {
        let mut groups: Vec<(String, Scope, Vec<&'static str>)> = Vec::new();
        for p in Permission::ALL {
            if scope.is_some_and(|s| s != p.scope()) {
                continue;
            }
            let resource = p.as_str().split('.').next().unwrap_or_default().to_owned();
            match groups
                .iter_mut()
                .find(|(r, s, _)| *r == resource && *s == p.scope())
            {
                Some((_, _, list)) => list.push(p.as_str()),
                None => groups.push((resource, p.scope(), vec![p.as_str()])),
            }
        }
        groups
    }

    // ---- teams -----------------------------------------------------------------------------

    async fn check_users(&self, tenant: &Uid, raw: &[String]) -> Result<Vec<Uid>> {
        let mut uids = Vec::new();
        for r in raw {
            let uid = Uid::parse(r.trim())
                .ok_or_else(|| Error::invalid(format!("{r:?} is not a user of this tenant")))?;
            if self.store.user(tenant, &uid).await?.is_none() {
                return Err(Error::invalid(format!(
                    "{r:?} is not a user of this tenant"
                )));
            }
            if !uids.contains(&uid) {
                uids.push(uid);
            }
        }
        Ok(uids)
    }

    /// `team.create`, with members and tenant roles (which the caller must hold themselves).
    pub async fn create_team(
        &self,
        caller: &Caller,
        name: &str,
        users: &[String],
        roles: &[String],
    ) -> Result<Uid> {
        caller.require(Permission::TeamCreate)?;
        let name = KeyName::parse(name)?.into_inner();
        let members = self.check_users(&caller.tenant.uid, users).await?;
        let roles = self
            .resolve_roles(caller, roles, Scope::Tenant, None)
            .await?;
        let now = self.now();
        let team = Team {
            uid: self.new_uid(),
            tenant_uid: caller.tenant.uid.clone(),
            name,
            members,
            created_at: now,
            updated_at: now,
        };
        let audit = self.role_audit(caller, "team.create", &team.uid, &team.name);
        self.store.insert_team(&team, &audit).await?;
        if !roles.is_empty() {
            let bindings: Vec<Binding> = roles
                .into_iter()
                .map(|role_uid| Binding {
                    role_uid,
                    project_uid: None,
                })
                .collect();
            let audit = self.role_audit(caller, "team.roles", &team.uid, "");
            self.store
                .set_bindings(
                    &caller.tenant.uid,
                    SubjectKind::Team,
                    &team.uid,
                    false,
                    &bindings,
                    &audit,
                )
                .await?;
            self.changed(Change::Tenant(caller.tenant.uid.clone()))
                .await;
        }
        Ok(team.uid)
    }

    async fn load_team(&self, caller: &Caller, raw_uid: &str) -> Result<Team> {
        let uid = uid_or_404(raw_uid, "team")?;
        self.store
            .team(&caller.tenant.uid, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "team" })
    }

    /// `team.get`. The team with its tenant role uids.
    pub async fn get_team(&self, caller: &Caller, raw_uid: &str) -> Result<(Team, Vec<String>)> {
        caller.require(Permission::TeamGet)?;
        let team = self.load_team(caller, raw_uid).await?;
        let roles = self
            .tenant_roles_of(caller, SubjectKind::Team, &team.uid)
            .await?;
        Ok((team, roles))
    }

    async fn tenant_roles_of(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        uid: &Uid,
    ) -> Result<Vec<String>> {
        Ok(self
            .store
            .bindings(&caller.tenant.uid, kind, uid)
            .await?
            .into_iter()
            .filter(|b| b.project_uid.is_none())
            .map(|b| b.role_uid)
            .collect())
    }

    /// `team.list`.
    pub async fn list_teams(
        &self,
        caller: &Caller,
        params: &PageParams,
    ) -> Result<Page<(Team, Vec<String>)>> {
        caller.require(Permission::TeamList)?;
        let window = self.pages.window(LIST_TEAMS, params)?;
        let listed = self.store.list_teams(&caller.tenant.uid, &window).await?;
        let page = self.pages.page(LIST_TEAMS, &window, listed, |t| &t.uid)?;
        let mut items = Vec::new();
        for team in page.items {
            let roles = self
                .tenant_roles_of(caller, SubjectKind::Team, &team.uid)
                .await?;
            items.push((team, roles));
        }
        Ok(Page {
            items,
            total: page.total,
            limit: page.limit,
            next_offset: page.next_offset,
            continue_token: page.continue_token,
        })
    }

    /// `team.update`: name and members; `roles`, when given, replaces the team's tenant roles.
    pub async fn update_team(
        &self,
        caller: &Caller,
        raw_uid: &str,
        name: Option<&str>,
        users: Option<&[String]>,
        roles: Option<&[String]>,
    ) -> Result<()> {
        caller.require(Permission::TeamUpdate)?;
        let mut team = self.load_team(caller, raw_uid).await?;
        if let Some(name) = name {
            team.name = KeyName::parse(name)?.into_inner();
        }
        if let Some(users) = users {
            team.members = self.check_users(&caller.tenant.uid, users).await?;
        }
        let roles = match roles {
            Some(r) => Some(self.resolve_roles(caller, r, Scope::Tenant, None).await?),
            None => None,
        };
        team.updated_at = self.now();
        let audit = self.role_audit(caller, "team.update", &team.uid, &team.name);
        self.store.update_team(&team, &audit).await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        if let Some(roles) = roles {
            self.set_tenant_roles(caller, SubjectKind::Team, &team.uid, roles)
                .await?;
        }
        Ok(())
    }

    /// `team.update`: JSON Patch on the members (`add`/`remove` `/spec/users` with a uid or
    /// a list of uids, `replace` `/spec/users`) and `replace` `/metadata/name`.
    pub async fn patch_team(
        &self,
        caller: &Caller,
        raw_uid: &str,
        ops: &[(String, String, serde_json::Value)],
    ) -> Result<()> {
        caller.require(Permission::TeamUpdate)?;
        let team = self.load_team(caller, raw_uid).await?;
        let mut members: Vec<String> = team.members.iter().map(|u| u.to_string()).collect();
        let mut name = team.name.clone();
        for (op, path, value) in ops {
            let uids: Vec<String> = match value {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| Error::invalid(format!("{path} needs user uids")))?,
                _ => Vec::new(),
            };
            match (op.as_str(), path.trim_end_matches("/-")) {
                ("add", "/spec/users") => members.extend(uids),
                ("remove", "/spec/users") => members.retain(|m| !uids.contains(m)),
                ("replace", "/spec/users") => members = uids,
                ("replace", "/metadata/name") => {
                    name = value
                        .as_str()
                        .ok_or_else(|| Error::invalid("/metadata/name needs a string"))?
                        .to_owned()
                }
                (op, path) => {
                    return Err(Error::invalid(format!(
                        "unsupported patch {op} {path}: use add, remove or replace on /spec/users, \
                         or replace on /metadata/name"
                    )))
                }
            }
        }
        self.update_team(caller, raw_uid, Some(&name), Some(&members), None)
            .await
    }

    /// `team.delete`.
    pub async fn delete_team(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        caller.require(Permission::TeamDelete)?;
        let team = self.load_team(caller, raw_uid).await?;
        let audit = self.role_audit(caller, "team.delete", &team.uid, &team.name);
        self.store
            .delete_team(&caller.tenant.uid, &team.uid, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    // ---- role assignments ------------------------------------------------------------------

    async fn subject(&self, caller: &Caller, kind: SubjectKind, raw_uid: &str) -> Result<Uid> {
        match kind {
            SubjectKind::User => {
                let uid = uid_or_404(raw_uid, "user")?;
                self.store
                    .user(&caller.tenant.uid, &uid)
                    .await?
                    .ok_or(Error::NotFound { kind: "user" })?;
                Ok(uid)
            }
            SubjectKind::Team => Ok(self.load_team(caller, raw_uid).await?.uid),
        }
    }

    async fn set_tenant_roles(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        uid: &Uid,
        roles: Vec<String>,
    ) -> Result<()> {
        let bindings: Vec<Binding> = roles
            .into_iter()
            .map(|role_uid| Binding {
                role_uid,
                project_uid: None,
            })
            .collect();
        let detail: Vec<&str> = bindings.iter().map(|b| b.role_uid.as_str()).collect();
        let audit = self.role_audit(
            caller,
            &format!("{}.roles", kind.as_str()),
            uid,
            &detail.join(","),
        );
        self.store
            .set_bindings(&caller.tenant.uid, kind, uid, false, &bindings, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    /// Tenant roles of a user or team: its own, and (for users) those it inherits from teams.
    /// Users: own, or `user.get`; teams: `team.get`.
    pub async fn tenant_roles(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        raw_uid: &str,
    ) -> Result<(Vec<RoleView>, Vec<RoleView>)> {
        let uid = self.subject(caller, kind, raw_uid).await?;
        match kind {
            SubjectKind::User => caller.require_self_or(&uid, Permission::UserGet)?,
            SubjectKind::Team => caller.require(Permission::TeamGet)?,
        }
        let own = self.tenant_roles_of(caller, kind, &uid).await?;
        let mut inherited = Vec::new();
        if kind == SubjectKind::User {
            for team in self.store.teams_of(&caller.tenant.uid, &uid).await? {
                for role in self
                    .tenant_roles_of(caller, SubjectKind::Team, &team.uid)
                    .await?
                {
                    if !inherited.contains(&role) {
                        inherited.push(role);
                    }
                }
            }
        }
        let mut views = (Vec::new(), Vec::new());
        for (from, to) in [(own, &mut views.0), (inherited, &mut views.1)] {
            for role_uid in from {
                if let Some(view) = self.role_view(&caller.tenant.uid, &role_uid).await? {
                    to.push(view);
                }
            }
        }
        Ok(views)
    }

    /// Replaces a user's or team's tenant roles. Users: `user.update`; teams: `team.update`;
    /// and the caller must hold every permission of the roles given.
    pub async fn replace_tenant_roles(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        raw_uid: &str,
        roles: &[String],
    ) -> Result<()> {
        match kind {
            SubjectKind::User => caller.require(Permission::UserUpdate)?,
            SubjectKind::Team => caller.require(Permission::TeamUpdate)?,
        }
        let uid = self.subject(caller, kind, raw_uid).await?;
        let roles = self
            .resolve_roles(caller, roles, Scope::Tenant, None)
            .await?;
        self.set_tenant_roles(caller, kind, &uid, roles).await
    }

    /// A user's or team's roles per project. Users: own, or `user.get`; teams: `team.get`.
    pub async fn project_roles(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        raw_uid: &str,
    ) -> Result<Vec<(Project, Vec<RoleView>)>> {
        let uid = self.subject(caller, kind, raw_uid).await?;
        match kind {
            SubjectKind::User => caller.require_self_or(&uid, Permission::UserGet)?,
            SubjectKind::Team => caller.require(Permission::TeamGet)?,
        }
        let bindings = self.store.bindings(&caller.tenant.uid, kind, &uid).await?;
        let projects = self.store.projects(&caller.tenant.uid).await?;
        let mut out = Vec::new();
        for project in projects {
            let mut roles = Vec::new();
            for b in bindings
                .iter()
                .filter(|b| b.project_uid.as_ref() == Some(&project.uid))
            {
                if let Some(view) = self.role_view(&caller.tenant.uid, &b.role_uid).await? {
                    roles.push(view);
                }
            }
            if !roles.is_empty() {
                out.push((project, roles));
            }
        }
        Ok(out)
    }

    /// Replaces a user's or team's project roles with `projects` (`(project uid, role
    /// references)`). Users: `user.update`; teams: `team.update`; and in each project the
    /// caller must hold every permission of the roles given.
    pub async fn replace_project_roles(
        &self,
        caller: &Caller,
        kind: SubjectKind,
        raw_uid: &str,
        projects: &[(String, Vec<String>)],
    ) -> Result<()> {
        match kind {
            SubjectKind::User => caller.require(Permission::UserUpdate)?,
            SubjectKind::Team => caller.require(Permission::TeamUpdate)?,
        }
        let uid = self.subject(caller, kind, raw_uid).await?;
        let mut bindings = Vec::new();
        for (raw_project, roles) in projects {
            let project = Uid::parse(raw_project.trim()).ok_or_else(|| {
                Error::invalid(format!("{raw_project:?} is not a project of this tenant"))
            })?;
            if self
                .store
                .project(&caller.tenant.uid, &project)
                .await?
                .is_none()
            {
                return Err(Error::invalid(format!(
                    "{raw_project:?} is not a project of this tenant"
                )));
            }
            for role_uid in self
                .resolve_roles(caller, roles, Scope::Project, Some(&project))
                .await?
            {
                bindings.push(Binding {
                    role_uid,
                    project_uid: Some(project.clone()),
                });
            }
        }
        let audit = self.role_audit(caller, &format!("{}.projects", kind.as_str()), &uid, "");
        self.store
            .set_bindings(&caller.tenant.uid, kind, &uid, true, &bindings, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    // ---- users: metadata and summaries -----------------------------------------------------

    /// `user.list`: every user's uid, name and email.
    pub async fn users_metadata(&self, caller: &Caller) -> Result<Vec<User>> {
        caller.require(Permission::UserList)?;
        self.store.all_users(&caller.tenant.uid).await
    }

    /// `user.list`: users filtered by email and name, sorted, with roles, teams and project
    /// counts.
    pub async fn users_summary(
        &self,
        caller: &Caller,
        email: Option<&FilterString>,
        name: Option<&FilterString>,
        sort: Option<(SortField, bool)>,
    ) -> Result<Vec<UserSummaryView>> {
        caller.require(Permission::UserList)?;
        let mut users: Vec<User> = self
            .store
            .all_users(&caller.tenant.uid)
            .await?
            .into_iter()
            .filter(|u| email.is_none_or(|f| f.matches(&u.email)))
            .filter(|u| {
                name.is_none_or(|f| f.matches(&format!("{} {}", u.first_name, u.last_name)))
            })
            .collect();
        match sort {
            Some((SortField::Created, descending)) => {
                users.sort_by_key(|u| u.created_at);
                if descending {
                    users.reverse();
                }
            }
            Some((_, descending)) => {
                users.sort_by_key(|u| format!("{} {}", u.first_name, u.last_name).to_lowercase());
                if descending {
                    users.reverse();
                }
            }
            None => {}
        }
        let mut out = Vec::new();
        for user in users {
            let bindings = self
                .store
                .bindings(&caller.tenant.uid, SubjectKind::User, &user.uid)
                .await?;
            let mut roles = Vec::new();
            for b in bindings.iter().filter(|b| b.project_uid.is_none()) {
                if let Some(v) = self.role_view(&caller.tenant.uid, &b.role_uid).await? {
                    roles.push((v.uid, v.name));
                }
            }
            let projects: BTreeSet<&Uid> = bindings
                .iter()
                .filter_map(|b| b.project_uid.as_ref())
                .collect();
            let teams = self
                .store
                .teams_of(&caller.tenant.uid, &user.uid)
                .await?
                .into_iter()
                .map(|t| (t.uid.to_string(), t.name))
                .collect();
            out.push(UserSummaryView {
                projects_count: projects.len(),
                user,
                roles,
                teams,
            });
        }
        Ok(out)
    }

    // ---- projects --------------------------------------------------------------------------

    async fn project_members_from(
        &self,
        caller: &Caller,
        project: &Uid,
        kind: SubjectKind,
        entries: &[(String, Vec<String>)],
    ) -> Result<Vec<Member>> {
        let mut members = Vec::new();
        for (raw, roles) in entries {
            let subject = match kind {
                SubjectKind::User => {
                    self.check_users(&caller.tenant.uid, std::slice::from_ref(raw))
                        .await?
                }
                SubjectKind::Team => {
                    let uid = Uid::parse(raw.trim()).ok_or_else(|| {
                        Error::invalid(format!("{raw:?} is not a team of this tenant"))
                    })?;
                    if self.store.team(&caller.tenant.uid, &uid).await?.is_none() {
                        return Err(Error::invalid(format!(
                            "{raw:?} is not a team of this tenant"
                        )));
                    }
                    vec![uid]
                }
            };
            let role_uids = self
                .resolve_roles(caller, roles, Scope::Project, Some(project))
                .await?;
            for subject_uid in subject {
                members.push(Member {
                    kind,
                    subject_uid,
                    role_uids: role_uids.clone(),
                });
            }
        }
        Ok(members)
    }

    /// `project.create`, with its first members.
    pub async fn create_project(&self, caller: &Caller, new: NewProject) -> Result<Uid> {
        caller.require(Permission::ProjectCreate)?;
        let name = KeyName::parse(
            new.name
                .as_deref()
                .ok_or_else(|| Error::invalid("metadata.name is required"))?,
        )?
        .into_inner();
        let description =
            Description::parse(new.description.as_deref().unwrap_or(""))?.into_inner();
        let now = self.now();
        let project = Project {
            uid: self.new_uid(),
            tenant_uid: caller.tenant.uid.clone(),
            name,
            description,
            labels: new.labels,
            created_at: now,
            updated_at: now,
        };
        let mut members = self
            .project_members_from(caller, &project.uid, SubjectKind::User, &new.users)
            .await?;
        members.extend(
            self.project_members_from(caller, &project.uid, SubjectKind::Team, &new.teams)
                .await?,
        );
        let audit = self.role_audit(caller, "project.create", &project.uid, &project.name);
        self.store
            .insert_project(&project, &members, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(project.uid)
    }

    /// `project.get` in that project.
    pub async fn get_project(
        &self,
        caller: &Caller,
        raw_uid: &str,
    ) -> Result<(Project, Vec<Member>)> {
        let (project, permissions) = self.project_access(caller, raw_uid).await?;
        if !permissions.contains(&Permission::ProjectGet) {
            return Err(Error::forbidden("this needs the project.get permission"));
        }
        let members = self
            .store
            .project_members(&caller.tenant.uid, &project.uid)
            .await?;
        Ok((project, members))
    }

    /// `project.update` in that project for name, description and labels;
    /// `project.membersUpdate` for its users and teams.
    pub async fn update_project(
        &self,
        caller: &Caller,
        raw_uid: &str,
        changes: ProjectChanges,
    ) -> Result<()> {
        let (mut project, permissions) = self.project_access(caller, raw_uid).await?;
        let need = |p: Permission| {
            if permissions.contains(&p) {
                Ok(())
            } else {
                Err(Error::forbidden(format!(
                    "this needs the {} permission",
                    p.as_str()
                )))
            }
        };
        let meta_changes =
            changes.name.is_some() || changes.description.is_some() || changes.labels.is_some();
        if meta_changes {
            need(Permission::ProjectUpdate)?;
        }
        if changes.users.is_some() || changes.teams.is_some() {
            need(Permission::ProjectMembersUpdate)?;
        }
        if !meta_changes && changes.users.is_none() && changes.teams.is_none() {
            need(Permission::ProjectUpdate)?;
        }
        if let Some(name) = changes.name {
            let name = KeyName::parse(&name)?.into_inner();
            if project.name == DEFAULT_PROJECT && name != DEFAULT_PROJECT {
                return Err(Error::conflict(
                    "DefaultProject",
                    "the Default project keeps its name: Palette clients look it up by it",
                ));
            }
            project.name = name;
        }
        if let Some(description) = changes.description {
            project.description = Description::parse(&description)?.into_inner();
        }
        if let Some(labels) = changes.labels {
            project.labels = labels;
        }
        let users = match &changes.users {
            Some(u) => Some(
                self.project_members_from(caller, &project.uid, SubjectKind::User, u)
                    .await?,
            ),
            None => None,
        };
        let teams = match &changes.teams {
            Some(t) => Some(
                self.project_members_from(caller, &project.uid, SubjectKind::Team, t)
                    .await?,
            ),
            None => None,
        };
        if meta_changes {
            project.updated_at = self.now();
            let audit = self.role_audit(caller, "project.update", &project.uid, &project.name);
            self.store.update_project(&project, &audit).await?;
        }
        for (kind, members) in [(SubjectKind::User, users), (SubjectKind::Team, teams)] {
            if let Some(members) = members {
                let audit = self.role_audit(
                    caller,
                    &format!("project.{}s", kind.as_str()),
                    &project.uid,
                    "",
                );
                self.store
                    .set_project_members(&caller.tenant.uid, &project.uid, kind, &members, &audit)
                    .await?;
            }
        }
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    /// `project.delete` (tenant scope). A project that still has members is deleted only with
    /// `with_members`; the Default project is never deleted.
    pub async fn delete_project(
        &self,
        caller: &Caller,
        raw_uid: &str,
        with_members: bool,
    ) -> Result<()> {
        caller.require(Permission::ProjectDelete)?;
        let uid = uid_or_404(raw_uid, "project")?;
        let project = self
            .store
            .project(&caller.tenant.uid, &uid)
            .await?
            .ok_or(Error::NotFound { kind: "project" })?;
        if project.name == DEFAULT_PROJECT {
            return Err(Error::conflict(
                "DefaultProject",
                "the Default project cannot be deleted: Palette clients look it up by name",
            ));
        }
        let members = self.store.project_members(&caller.tenant.uid, &uid).await?;
        if !members.is_empty() && !with_members {
            return Err(Error::conflict(
                "ProjectHasMembers",
                format!(
                    "the project still has {} member(s); remove them first, or delete with \
                     cleanupProjectResources=true",
                    members.len()
                ),
            ));
        }
        let audit = self.role_audit(caller, "project.delete", &uid, &project.name);
        self.store
            .delete_project(&caller.tenant.uid, &uid, &audit)
            .await?;
        self.changed(Change::Tenant(caller.tenant.uid.clone()))
            .await;
        Ok(())
    }

    /// The projects the caller may see: all of them with `project.list`, otherwise those
    /// they hold a role in.
    pub async fn visible_projects(&self, caller: &Caller) -> Result<Vec<Project>> {
        let projects = self.store.projects(&caller.tenant.uid).await?;
        if caller.can(Permission::ProjectList) {
            return Ok(projects);
        }
        let bound: BTreeSet<Uid> = self
            .store
            .effective_bindings(&caller.tenant.uid, &caller.user.uid)
            .await?
            .into_iter()
            .filter_map(|b| b.project_uid)
            .collect();
        Ok(projects
            .into_iter()
            .filter(|p| bound.contains(&p.uid))
            .collect())
    }

    /// `POST /v1/dashboard/projects`: visible projects, filtered by name, sorted, paged.
    pub async fn project_summaries(
        &self,
        caller: &Caller,
        name: Option<&FilterString>,
        sort: Option<(SortField, bool)>,
        params: &PageParams,
    ) -> Result<Page<(Project, Vec<Member>)>> {
        let mut projects: Vec<Project> = self
            .visible_projects(caller)
            .await?
            .into_iter()
            .filter(|p| name.is_none_or(|f| f.matches(&p.name)))
            .collect();
        if let Some((field, descending)) = sort {
            match field {
                SortField::Name => projects.sort_by(|a, b| a.name.cmp(&b.name)),
                SortField::Created => projects.sort_by_key(|p| p.created_at),
                SortField::Modified => projects.sort_by_key(|p| p.updated_at),
            }
            if descending {
                projects.reverse();
            }
        }
        let list = format!("projects:{name:?}:{sort:?}");
        let window = self.pages.window(&list, params)?;
        // Keyset over the sorted list: start after the last uid seen (or at the offset if
        // that project is gone).
        let start = match &window.after {
            Some(after) => projects
                .iter()
                .position(|p| &p.uid == after)
                .map(|i| i + 1)
                .unwrap_or(window.offset.max(0) as usize),
            None => window.offset.max(0) as usize,
        };
        let total = projects.len() as i64;
        let rows: Vec<Project> = projects
            .into_iter()
            .skip(start)
            .take(window.limit as usize + 1)
            .collect();
        let window = crate::model::Window {
            offset: start as i64,
            ..window
        };
        let page = self
            .pages
            .page(&list, &window, crate::model::Listed { rows, total }, |p| {
                &p.uid
            })?;
        let mut items = Vec::new();
        for project in page.items {
            let members = self
                .store
                .project_members(&caller.tenant.uid, &project.uid)
                .await?;
            items.push((project, members));
        }
        Ok(Page {
            items,
            total: page.total,
            limit: page.limit,
            next_offset: page.next_offset,
            continue_token: page.continue_token,
        })
    }
}

//! Roles, permissions, teams, projects and assignments: `v1Role`, `v1Roles`, `v1RoleClone`,
//! `v1Permissions`, `v1Team`, `v1Teams`, `v1Project`, `v1ProjectEntity`, the project
//! summaries, `v1UserRolesEntity`, `v1UserRoleUIDs`, `v1ProjectRolesEntity`,
//! `v1ProjectRolesPatch`, `v1UsersMetadata`, `v1UsersSummarySpec`, `v1UsersSummaryList`.

use serde::{Deserialize, Serialize};

use crate::common::{nullable, ListMeta, ObjectMeta};
use crate::user::UserStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Role {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: RoleSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: RoleStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub permissions: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub scope: String,
    /// `system` for built-in roles, `user` for a tenant's own.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub role_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleStatus {
    #[serde(default = "yes")]
    pub is_enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for RoleStatus {
    fn default() -> Self {
        RoleStatus { is_enabled: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Roles {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Role>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// `v1RoleClone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleClone {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: NameOnly,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NameOnly {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// One entry of `v1Permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PermissionGroup {
    pub name: String,
    pub permissions: Vec<String>,
    pub scope: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScopeQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Team {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: TeamSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeamSpec {
    /// Tenant role uids. `null` on update leaves them.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub sources: Vec<String>,
    /// Member user uids. `null` on update leaves them.
    #[serde(default)]
    pub users: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Teams {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Team>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// `v1UidSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UidSummary {
    pub name: String,
    pub uid: String,
}

/// `v1UserRolesEntity` (and `v1TeamTenantRolesEntity`, which has `roles` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolesEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<UidSummary>,
    #[serde(default, deserialize_with = "nullable")]
    pub inherited_roles: Vec<UidSummary>,
}

/// `v1UserRoleUIDs` / `v1TeamTenantRolesUpdate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleUids {
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
}

/// `v1ProjectRolesEntity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectRolesEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub projects: Vec<ProjectRoles>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoles {
    pub name: String,
    pub uid: String,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<UidSummary>,
    #[serde(default, deserialize_with = "nullable")]
    pub inherited_roles: Vec<UidSummary>,
}

/// `v1ProjectRolesPatch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectRolesPatch {
    #[serde(default, deserialize_with = "nullable")]
    pub projects: Vec<ProjectRoleUids>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoleUids {
    #[serde(default, deserialize_with = "nullable")]
    pub project_uid: String,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
}

/// `v1UserRoleMap` / `v1TeamRoleMap`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectRoles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
}

/// `v1ProjectEntity` (create and update) and `v1Project` (read, with `status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Project {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ProjectSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProjectStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub logo_uid: String,
    /// `null` on update leaves the project's teams as they are.
    #[serde(default)]
    pub teams: Option<Vec<SubjectRoles>>,
    /// `null` on update leaves the project's users as they are.
    #[serde(default)]
    pub users: Option<Vec<SubjectRoles>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatus {
    pub is_disabled: bool,
}

/// `v1ProjectTeamsEntity` / `v1ProjectUsersEntity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectMembers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<SubjectRoles>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<SubjectRoles>>,
}

/// `v1FilterString`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterString {
    #[serde(default)]
    pub eq: Option<String>,
    #[serde(default)]
    pub ne: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub begins_with: Option<String>,
    #[serde(default = "yes")]
    pub ignore_case: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SortSpec {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub order: Option<String>,
}

/// `v1ProjectsFilterSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectsFilterSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub filter: ProjectFilter,
    #[serde(default, deserialize_with = "nullable")]
    pub sort: Vec<SortSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectFilter {
    #[serde(default)]
    pub name: Option<FilterString>,
}

/// `v1ProjectSummary` (the parts Easel fills).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSummary {
    pub metadata: ObjectMeta,
    pub spec_summary: ProjectSpecSummary,
    pub status: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSpecSummary {
    pub logo_url: String,
    pub teams: Vec<UidSummary>,
    pub users: Vec<UidSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectsSummary {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<ProjectSummary>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// `v1ProjectsMetadata`: no `listmeta`, as Palette's has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectsMetadata {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<ProjectMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectMetadata {
    pub metadata: UidSummary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NameQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDeleteQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_project_resources: Option<bool>,
}

/// `v1UsersMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsersMetadata {
    pub items: Vec<UserMeta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserMeta {
    pub email_id: String,
    pub name: String,
    pub uid: String,
}

/// `v1UsersSummarySpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsersSummarySpec {
    #[serde(default, deserialize_with = "nullable")]
    pub filter: UsersFilter,
    #[serde(default, deserialize_with = "nullable")]
    pub sort: Vec<SortSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsersFilter {
    #[serde(default)]
    pub email_id: Option<FilterString>,
    #[serde(default)]
    pub name: Option<FilterString>,
}

/// `v1UsersSummaryList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsersSummaryList {
    pub items: Vec<UserSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserSummary {
    pub metadata: ObjectMeta,
    pub spec: UserSpecSummary,
    pub status: UserStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSpecSummary {
    pub email_id: String,
    pub first_name: String,
    pub last_name: String,
    pub projects_count: i64,
    pub roles: Vec<UidSummary>,
    pub teams: Vec<UidSummary>,
}

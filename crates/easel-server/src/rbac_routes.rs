//! Roles, permissions, teams, projects and role assignments. Each handler's doc comment names
//! the permission it needs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use easel_core::model::{Member, Project, SubjectKind, Team};
use easel_core::paging::PageParams;
use easel_core::service::{FilterString, NewProject, ProjectChanges, RoleView, SortField};
use easel_core::Scope;
use easel_proto as proto;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, ApiJsonList, ApiQuery, Json};
use crate::table::Routes;
use crate::views;
use crate::AppState;

pub fn router() -> Routes {
    Routes::default()
        .add(
            "/v1/permissions",
            get(permissions),
            &[("GET", "authenticated")],
        )
        .add(
            "/v1/roles",
            get(roles_list).post(roles_create),
            &[("GET", "role.list"), ("POST", "role.create")],
        )
        .add(
            "/v1/roles/{uid}",
            get(roles_get).put(roles_update).delete(roles_delete),
            &[
                ("GET", "role.get"),
                ("PUT", "role.update"),
                ("DELETE", "role.delete"),
            ],
        )
        .add(
            "/v1/roles/{uid}/clone",
            post(roles_clone),
            &[("POST", "role.create")],
        )
        .add(
            "/v1/teams",
            get(teams_list).post(teams_create),
            &[("GET", "team.list"), ("POST", "team.create")],
        )
        .add(
            "/v1/teams/{uid}",
            get(teams_get)
                .put(teams_update)
                .patch(teams_patch)
                .delete(teams_delete),
            &[
                ("GET", "team.get"),
                ("PUT", "team.update"),
                ("PATCH", "team.update"),
                ("DELETE", "team.delete"),
            ],
        )
        .add(
            "/v1/teams/{uid}/roles",
            get(team_roles_get).put(team_roles_put),
            &[("GET", "team.get"), ("PUT", "team.update")],
        )
        .add(
            "/v1/teams/{uid}/projects",
            get(team_projects_get).put(team_projects_put),
            &[("GET", "team.get"), ("PUT", "team.update")],
        )
        .add(
            "/v1/users/{uid}/roles",
            get(user_roles_get).put(user_roles_put),
            &[("GET", "own or user.get"), ("PUT", "user.update")],
        )
        .add(
            "/v1/users/{uid}/projects",
            get(user_projects_get).put(user_projects_put),
            &[("GET", "own or user.get"), ("PUT", "user.update")],
        )
        .add("/v1/users/meta", get(users_meta), &[("GET", "user.list")])
        .add(
            "/v1/users/summary",
            post(users_summary),
            &[("POST", "user.list")],
        )
        .add(
            "/v1/projects",
            post(projects_create),
            &[("POST", "project.create")],
        )
        .add(
            "/v1/projects/{uid}",
            get(projects_get)
                .put(projects_update)
                .delete(projects_delete),
            &[
                ("GET", "project.get in the project"),
                (
                    "PUT",
                    "project.update (and project.membersUpdate) in the project",
                ),
                ("DELETE", "project.delete"),
            ],
        )
        .add(
            "/v1/projects/{uid}/meta",
            put(projects_meta),
            &[("PUT", "project.update in the project")],
        )
        .add(
            "/v1/projects/{uid}/users",
            put(projects_users),
            &[("PUT", "project.membersUpdate in the project")],
        )
        .add(
            "/v1/projects/{uid}/teams",
            put(projects_teams),
            &[("PUT", "project.membersUpdate in the project")],
        )
        .add(
            "/v1/dashboard/projects",
            post(projects_summary),
            &[("POST", "project.list, or the projects one holds a role in")],
        )
        .add(
            "/v1/dashboard/projects/metadata",
            get(projects_metadata),
            &[("GET", "project.list, or the projects one holds a role in")],
        )
}

fn uid_summary(uid: impl ToString, name: impl ToString) -> proto::UidSummary {
    proto::UidSummary {
        uid: uid.to_string(),
        name: name.to_string(),
    }
}

fn role_view(role: &RoleView) -> proto::Role {
    let mut metadata = proto::ObjectMeta {
        uid: role.uid.clone(),
        name: Some(role.name.clone()),
        creation_timestamp: role.created_at,
        last_modified_timestamp: role.updated_at,
        ..Default::default()
    };
    metadata
        .annotations
        .insert("scope".into(), role.scope.as_str().into());
    proto::Role {
        metadata,
        spec: proto::RoleSpec {
            permissions: role
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            scope: role.scope.as_str().into(),
            role_type: if role.builtin { "system" } else { "user" }.into(),
        },
        status: proto::RoleStatus {
            is_enabled: role.is_enabled,
        },
    }
}

fn parse_scope(raw: Option<&str>) -> Result<Option<Scope>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Scope::parse(s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid("scope must be tenant or project")),
    }
}

/// Any authenticated caller: the permission catalogue, optionally of one scope.
async fn permissions(
    Authenticated(_caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ScopeQuery>,
) -> ApiResult<Json<Vec<proto::PermissionGroup>>> {
    let scope = parse_scope(query.scope.as_deref())?;
    Ok(Json(
        easel_core::Easel::permission_catalogue(scope)
            .into_iter()
            .map(|(name, scope, permissions)| proto::PermissionGroup {
                name,
                scope: scope.as_str().into(),
                permissions: permissions.into_iter().map(str::to_owned).collect(),
            })
            .collect(),
    ))
}

/// `role.list`: built-in and custom roles; `filters=spec.scope=project` for one scope.
async fn roles_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ListQuery>,
) -> ApiResult<Json<proto::Roles>> {
    let scope = match query
        .filters
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => None,
        Some(f) => match f.strip_prefix("spec.scope=") {
            Some(s) => parse_scope(Some(s))?,
            None => {
                return Err(ApiError::invalid(
                    "roles can be filtered by spec.scope only",
                ))
            }
        },
    };
    let roles = state.easel.list_roles(&caller, scope).await?;
    let count = roles.len() as i64;
    Ok(Json(proto::Roles {
        items: roles.iter().map(role_view).collect(),
        listmeta: proto::ListMeta {
            continue_token: String::new(),
            count,
            limit: count,
            offset: count,
        },
    }))
}

/// `role.create`.
async fn roles_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(role): ApiJson<proto::Role>,
) -> ApiResult<impl IntoResponse> {
    let scope = if role.spec.scope.is_empty() {
        role.metadata
            .annotations
            .get("scope")
            .cloned()
            .unwrap_or_default()
    } else {
        role.spec.scope.clone()
    };
    let uid = state
        .easel
        .create_role(
            &caller,
            role.metadata.name.as_deref().unwrap_or_default(),
            &scope,
            &role.spec.permissions,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Uid {
            uid: uid.to_string(),
        }),
    ))
}

/// `role.get`.
async fn roles_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::Role>> {
    Ok(Json(role_view(&state.easel.get_role(&caller, &uid).await?)))
}

/// `role.update`: a custom role's name, permissions and `status.isEnabled`.
async fn roles_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(role): ApiJson<proto::Role>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .update_role(
            &caller,
            &uid,
            role.metadata.name.as_deref().unwrap_or_default(),
            &role.spec.permissions,
            Some(role.status.is_enabled),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `role.delete`: a custom role and its assignments.
async fn roles_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.delete_role(&caller, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `role.create`: a custom copy of a role.
async fn roles_clone(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::RoleClone>,
) -> ApiResult<impl IntoResponse> {
    let uid = state
        .easel
        .clone_role(&caller, &uid, &body.metadata.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Uid {
            uid: uid.to_string(),
        }),
    ))
}

fn team_view(team: &Team, roles: &[String]) -> proto::Team {
    proto::Team {
        metadata: proto::ObjectMeta {
            uid: team.uid.to_string(),
            name: Some(team.name.clone()),
            creation_timestamp: Some(team.created_at),
            last_modified_timestamp: Some(team.updated_at),
            ..Default::default()
        },
        spec: proto::TeamSpec {
            roles: Some(roles.to_vec()),
            sources: Vec::new(),
            users: Some(team.members.iter().map(|u| u.to_string()).collect()),
        },
        status: serde_json::json!({}),
    }
}

/// `team.list`.
async fn teams_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ListQuery>,
) -> ApiResult<Json<proto::Teams>> {
    let params = PageParams {
        limit: query.limit,
        offset: query.offset,
        continue_token: query.continue_token,
    };
    let page = state.easel.list_teams(&caller, &params).await?;
    Ok(Json(proto::Teams {
        items: page.items.iter().map(|(t, r)| team_view(t, r)).collect(),
        listmeta: views::list_meta(&page),
    }))
}

/// `team.create`, with `spec.users` and `spec.roles` (tenant roles the caller holds).
async fn teams_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(team): ApiJson<proto::Team>,
) -> ApiResult<impl IntoResponse> {
    let uid = state
        .easel
        .create_team(
            &caller,
            team.metadata.name.as_deref().unwrap_or_default(),
            &team.spec.users.unwrap_or_default(),
            &team.spec.roles.unwrap_or_default(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Uid {
            uid: uid.to_string(),
        }),
    ))
}

/// `team.get`.
async fn teams_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::Team>> {
    let (team, roles) = state.easel.get_team(&caller, &uid).await?;
    Ok(Json(team_view(&team, &roles)))
}

/// `team.update`: name; `spec.users` and `spec.roles` when not null.
async fn teams_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(team): ApiJson<proto::Team>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .update_team(
            &caller,
            &uid,
            team.metadata.name.as_deref(),
            team.spec.users.as_deref(),
            team.spec.roles.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `team.update`: JSON Patch on `/spec/users` and `/metadata/name`.
async fn teams_patch(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJsonList(ops): ApiJsonList<proto::HttpPatch>,
) -> ApiResult<StatusCode> {
    let ops: Vec<(String, String, serde_json::Value)> =
        ops.into_iter().map(|o| (o.op, o.path, o.value)).collect();
    state.easel.patch_team(&caller, &uid, &ops).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `team.delete`.
async fn teams_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.delete_team(&caller, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn roles_entity(own: &[RoleView], inherited: &[RoleView]) -> proto::RolesEntity {
    proto::RolesEntity {
        roles: own.iter().map(|r| uid_summary(&r.uid, &r.name)).collect(),
        inherited_roles: inherited
            .iter()
            .map(|r| uid_summary(&r.uid, &r.name))
            .collect(),
    }
}

async fn tenant_roles_get(
    state: &AppState,
    caller: &easel_core::Caller,
    kind: SubjectKind,
    uid: &str,
) -> ApiResult<Json<proto::RolesEntity>> {
    let (own, inherited) = state.easel.tenant_roles(caller, kind, uid).await?;
    Ok(Json(roles_entity(&own, &inherited)))
}

/// `team.get`: the team's tenant roles.
async fn team_roles_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::RolesEntity>> {
    tenant_roles_get(&state, &caller, SubjectKind::Team, &uid).await
}

/// `team.update`, and the caller holds the roles' permissions.
async fn team_roles_put(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::RoleUids>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .replace_tenant_roles(&caller, SubjectKind::Team, &uid, &body.roles)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own, or `user.get`: the user's tenant roles, own and inherited from teams.
async fn user_roles_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::RolesEntity>> {
    tenant_roles_get(&state, &caller, SubjectKind::User, &uid).await
}

/// `user.update`, and the caller holds the roles' permissions.
async fn user_roles_put(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::RoleUids>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .replace_tenant_roles(&caller, SubjectKind::User, &uid, &body.roles)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn project_roles_get(
    state: &AppState,
    caller: &easel_core::Caller,
    kind: SubjectKind,
    uid: &str,
) -> ApiResult<Json<proto::ProjectRolesEntity>> {
    let projects = state.easel.project_roles(caller, kind, uid).await?;
    Ok(Json(proto::ProjectRolesEntity {
        projects: projects
            .iter()
            .map(|(p, roles)| proto::ProjectRoles {
                name: p.name.clone(),
                uid: p.uid.to_string(),
                roles: roles.iter().map(|r| uid_summary(&r.uid, &r.name)).collect(),
                inherited_roles: Vec::new(),
            })
            .collect(),
    }))
}

fn project_role_pairs(body: proto::ProjectRolesPatch) -> Vec<(String, Vec<String>)> {
    body.projects
        .into_iter()
        .map(|p| (p.project_uid, p.roles))
        .collect()
}

/// Own, or `user.get`: the user's roles per project.
async fn user_projects_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::ProjectRolesEntity>> {
    project_roles_get(&state, &caller, SubjectKind::User, &uid).await
}

/// `user.update`, and in each project the caller holds the roles' permissions.
async fn user_projects_put(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::ProjectRolesPatch>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .replace_project_roles(&caller, SubjectKind::User, &uid, &project_role_pairs(body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `team.get`: the team's roles per project.
async fn team_projects_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::ProjectRolesEntity>> {
    project_roles_get(&state, &caller, SubjectKind::Team, &uid).await
}

/// `team.update`, and in each project the caller holds the roles' permissions.
async fn team_projects_put(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::ProjectRolesPatch>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .replace_project_roles(&caller, SubjectKind::Team, &uid, &project_role_pairs(body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `user.list`.
async fn users_meta(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<proto::UsersMetadata>> {
    let users = state.easel.users_metadata(&caller).await?;
    Ok(Json(proto::UsersMetadata {
        items: users
            .into_iter()
            .map(|u| proto::UserMeta {
                name: format!("{} {}", u.first_name, u.last_name),
                email_id: u.email,
                uid: u.uid.to_string(),
            })
            .collect(),
    }))
}

fn filter(f: Option<proto::FilterString>) -> Option<FilterString> {
    f.map(|f| FilterString {
        eq: f.eq,
        ne: f.ne,
        contains: f.contains,
        begins_with: f.begins_with,
        ignore_case: f.ignore_case,
    })
}

fn sort(
    specs: &[proto::SortSpec],
    allowed: &[&str],
) -> Result<Option<(SortField, bool)>, ApiError> {
    let Some(spec) = specs.first() else {
        return Ok(None);
    };
    let Some(field) = spec.field.as_deref() else {
        return Ok(None);
    };
    if !allowed.contains(&field) {
        return Err(ApiError::invalid(format!(
            "sort.field must be one of {}",
            allowed.join(", ")
        )));
    }
    let field = match field {
        "creationTimestamp" => SortField::Created,
        "lastModifiedTimestamp" => SortField::Modified,
        _ => SortField::Name,
    };
    let descending = match spec.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::invalid("sort.order must be asc or desc")),
    };
    Ok(Some((field, descending)))
}

/// `user.list`: users filtered by `emailId` and `name`, sorted by `name` or
/// `creationTimestamp`.
async fn users_summary(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(spec): ApiJson<proto::UsersSummarySpec>,
) -> ApiResult<Json<proto::UsersSummaryList>> {
    let order = sort(&spec.sort, &["name", "creationTimestamp"])?;
    let email = filter(spec.filter.email_id);
    let name = filter(spec.filter.name);
    let users = state
        .easel
        .users_summary(&caller, email.as_ref(), name.as_ref(), order)
        .await?;
    Ok(Json(proto::UsersSummaryList {
        items: users
            .into_iter()
            .map(|s| {
                let full = views::user(&s.user);
                proto::UserSummary {
                    metadata: full.metadata,
                    spec: proto::UserSpecSummary {
                        email_id: s.user.email.clone(),
                        first_name: s.user.first_name.clone(),
                        last_name: s.user.last_name.clone(),
                        projects_count: s.projects_count as i64,
                        roles: s.roles.iter().map(|(u, n)| uid_summary(u, n)).collect(),
                        teams: s.teams.iter().map(|(u, n)| uid_summary(u, n)).collect(),
                    },
                    status: full.status,
                }
            })
            .collect(),
    }))
}

fn members_of(members: &[Member], kind: SubjectKind) -> Vec<proto::SubjectRoles> {
    members
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| proto::SubjectRoles {
            user_id: (kind == SubjectKind::User).then(|| m.subject_uid.to_string()),
            team_id: (kind == SubjectKind::Team).then(|| m.subject_uid.to_string()),
            roles: m.role_uids.clone(),
        })
        .collect()
}

fn project_meta(project: &Project) -> proto::ObjectMeta {
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("description".to_owned(), project.description.clone());
    proto::ObjectMeta {
        uid: project.uid.to_string(),
        name: Some(project.name.clone()),
        labels: project.labels.clone(),
        annotations,
        creation_timestamp: Some(project.created_at),
        last_modified_timestamp: Some(project.updated_at),
        deletion_timestamp: None,
    }
}

fn subject_pairs(
    entries: Option<Vec<proto::SubjectRoles>>,
    kind: SubjectKind,
) -> Option<Vec<(String, Vec<String>)>> {
    entries.map(|list| {
        list.into_iter()
            .map(|e| {
                let id = match kind {
                    SubjectKind::User => e.user_id,
                    SubjectKind::Team => e.team_id,
                };
                (id.unwrap_or_default(), e.roles)
            })
            .collect()
    })
}

/// `project.create`: a project with its first users and teams.
async fn projects_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(entity): ApiJson<proto::Project>,
) -> ApiResult<impl IntoResponse> {
    let new = NewProject {
        name: entity.metadata.name.clone(),
        description: entity.metadata.annotations.get("description").cloned(),
        labels: entity.metadata.labels.clone(),
        users: subject_pairs(entity.spec.users, SubjectKind::User).unwrap_or_default(),
        teams: subject_pairs(entity.spec.teams, SubjectKind::Team).unwrap_or_default(),
    };
    let uid = state.easel.create_project(&caller, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Uid {
            uid: uid.to_string(),
        }),
    ))
}

/// `project.get` in the project.
async fn projects_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::Project>> {
    let (project, members) = state.easel.get_project(&caller, &uid).await?;
    Ok(Json(proto::Project {
        metadata: project_meta(&project),
        spec: proto::ProjectSpec {
            logo_uid: String::new(),
            teams: Some(members_of(&members, SubjectKind::Team)),
            users: Some(members_of(&members, SubjectKind::User)),
        },
        status: Some(proto::ProjectStatus { is_disabled: false }),
    }))
}

/// `project.update` in the project; `project.membersUpdate` too when `spec.users` or
/// `spec.teams` is not null.
async fn projects_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(entity): ApiJson<proto::Project>,
) -> ApiResult<StatusCode> {
    let changes = ProjectChanges {
        name: entity.metadata.name.clone(),
        description: entity.metadata.annotations.get("description").cloned(),
        labels: Some(entity.metadata.labels.clone()),
        users: subject_pairs(entity.spec.users, SubjectKind::User),
        teams: subject_pairs(entity.spec.teams, SubjectKind::Team),
    };
    state.easel.update_project(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `project.update` in the project: name, description annotation and labels.
async fn projects_meta(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(meta): ApiJson<proto::ObjectMeta>,
) -> ApiResult<StatusCode> {
    let changes = ProjectChanges {
        name: meta.name.clone(),
        description: meta.annotations.get("description").cloned(),
        labels: Some(meta.labels.clone()),
        ..Default::default()
    };
    state.easel.update_project(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `project.membersUpdate` in the project: replaces its users and their roles.
async fn projects_users(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::ProjectMembers>,
) -> ApiResult<StatusCode> {
    let changes = ProjectChanges {
        users: Some(subject_pairs(body.users, SubjectKind::User).unwrap_or_default()),
        ..Default::default()
    };
    state.easel.update_project(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `project.membersUpdate` in the project: replaces its teams and their roles.
async fn projects_teams(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::ProjectMembers>,
) -> ApiResult<StatusCode> {
    let changes = ProjectChanges {
        teams: Some(subject_pairs(body.teams, SubjectKind::Team).unwrap_or_default()),
        ..Default::default()
    };
    state.easel.update_project(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `project.delete`; a project with members needs `cleanupProjectResources=true`.
async fn projects_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiQuery(query): ApiQuery<proto::ProjectDeleteQuery>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .delete_project(
            &caller,
            &uid,
            query.cleanup_project_resources.unwrap_or(false),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `project.list` for all; otherwise the projects the caller holds a role in.
async fn projects_summary(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ListQuery>,
    ApiJson(spec): ApiJson<proto::ProjectsFilterSpec>,
) -> ApiResult<Json<proto::ProjectsSummary>> {
    let order = sort(
        &spec.sort,
        &["name", "creationTimestamp", "lastModifiedTimestamp"],
    )?;
    let name = filter(spec.filter.name);
    let params = PageParams {
        limit: query.limit,
        offset: query.offset,
        continue_token: query.continue_token,
    };
    let page = state
        .easel
        .project_summaries(&caller, name.as_ref(), order, &params)
        .await?;
    Ok(Json(proto::ProjectsSummary {
        items: page
            .items
            .iter()
            .map(|(project, members)| proto::ProjectSummary {
                metadata: project_meta(project),
                spec_summary: proto::ProjectSpecSummary {
                    logo_url: String::new(),
                    teams: members
                        .iter()
                        .filter(|m| m.kind == SubjectKind::Team)
                        .map(|m| uid_summary(&m.subject_uid, &m.subject_uid))
                        .collect(),
                    users: members
                        .iter()
                        .filter(|m| m.kind == SubjectKind::User)
                        .map(|m| uid_summary(&m.subject_uid, &m.subject_uid))
                        .collect(),
                },
                status: serde_json::json!({"status": {"isDisabled": false}}),
            })
            .collect(),
        listmeta: views::list_meta(&page),
    }))
}

/// The uid and name of each project the caller may see; `?name=` for an exact name.
async fn projects_metadata(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::NameQuery>,
) -> ApiResult<Json<proto::ProjectsMetadata>> {
    let projects = state.easel.visible_projects(&caller).await?;
    Ok(Json(proto::ProjectsMetadata {
        items: projects
            .into_iter()
            .filter(|p| {
                query
                    .name
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || p.name == n)
            })
            .map(|p| proto::ProjectMetadata {
                metadata: uid_summary(&p.uid, &p.name),
            })
            .collect(),
    }))
}

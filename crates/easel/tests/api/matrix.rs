//! The authorisation matrix: every route of the route table, called by every kind of caller,
//! against the expected status. The table comes from the server itself
//! (`easel_server::route_table`), so a route added without an entry here fails the test.
//! Every refused call that could change something is checked to have changed nothing.

use std::collections::BTreeMap;

use chrono::Duration;
use easel_client::Client;
use reqwest::Method;

use crate::harness::*;

/// The kinds of caller, in the order the expectations list them.
const CALLERS: [&str; 9] = [
    "anonymous",
    "tenant admin",
    "tenant viewer",
    "plain user",
    "project member",
    "member of another project",
    "admin of another tenant",
    "revoked key",
    "expired token",
];

/// `METHOD path` → the status each caller gets, in `CALLERS` order.
/// Placeholders: `{U}` a user, `{K}` that user's key, `{T}` a team, `{R}` a custom role,
/// `{P}` a project whose member is the "project member", `{A}` the tenant.
fn expectations() -> BTreeMap<&'static str, [u16; 9]> {
    BTreeMap::from([
        (
            "GET /v1/openapi.json",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /v1/health/ping",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /v1/health/ready",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /v1/users/info",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /v1/users",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "POST /v1/users",
            [401, 201, 403, 403, 403, 403, 201, 401, 401],
        ),
        (
            "GET /v1/users/{uid}",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/users/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PATCH /v1/users/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "DELETE /v1/users/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/apiKeys",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "POST /v1/apiKeys",
            [401, 201, 201, 201, 201, 201, 201, 401, 401],
        ),
        (
            "GET /v1/apiKeys/{uid}",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/apiKeys/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PATCH /v1/apiKeys/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "DELETE /v1/apiKeys/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/apiKeys/{uid}/state",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/tenants/{tenant_uid}/apiKeySettings",
            [401, 200, 200, 200, 200, 200, 404, 401, 401],
        ),
        (
            "PUT /v1/tenants/{tenant_uid}/apiKeySettings",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST /v1/auth/authenticate",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /v1/auth/refresh",
            [401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (
            "GET /v1/auth/refresh/{token}",
            [401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (
            "POST /v1/auth/logout",
            [401, 400, 400, 400, 400, 400, 400, 401, 401],
        ),
        (
            "GET /v1/auth/jwks",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /v1/auth/orgs",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /v1/auth/org",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /v1/auth/user/org/forgot",
            [204, 204, 204, 204, 204, 204, 204, 204, 204],
        ),
        (
            "POST /v1/auth/user/password/reset",
            [204, 204, 204, 204, 204, 204, 204, 204, 204],
        ),
        (
            "PATCH /v1/auth/password/{token}/reset",
            [400, 400, 400, 400, 400, 400, 400, 400, 400],
        ),
        (
            "PATCH /v1/auth/password/{token}/activate",
            [400, 400, 400, 400, 400, 400, 400, 400, 400],
        ),
        (
            "POST /v1/users/auth/tokens/revoke",
            [401, 204, 204, 204, 204, 204, 204, 401, 401],
        ),
        (
            "PATCH /v1/users/password/change",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "PATCH /v1/users/{uid}/password/change",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PATCH /v1/users/{uid}/password/reset",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/tenants/{tenant_uid}/authTokenSettings",
            [401, 200, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/tenants/{tenant_uid}/authTokenSettings",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/tenants/{tenant_uid}/password/policy",
            [401, 200, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST /v1/tenants/{tenant_uid}/password/policy",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/tenants",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "POST /v1/tenants",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "POST /v1/tenants/validate",
            [204, 204, 204, 204, 204, 204, 204, 204, 204],
        ),
        (
            "POST /v1/tenants/signup",
            [403, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "POST /v1/tenants/signup/{token}/activate",
            [403, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "GET /v1/tenants/{tenant_uid}",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "DELETE /v1/tenants/{tenant_uid}",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "PATCH /v1/tenants/{tenant_uid}/activate",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "GET /v1/tenants/{tenant_uid}/domains",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST /v1/tenants/{tenant_uid}/domains",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "GET /v1/system/operators",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "PUT /v1/system/operators/{uid}",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "DELETE /v1/system/operators/{uid}",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "GET /v1/system/ratelimit",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "PATCH /v1/system/ratelimit",
            [401, 403, 403, 403, 403, 403, 403, 401, 401],
        ),
        (
            "GET /v1/audits",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "GET /v1/audits/export",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        // The fixture's uid is a user's, not an audit row's.
        (
            "GET /v1/audits/{uid}",
            [401, 404, 404, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/permissions",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /v1/roles",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "POST /v1/roles",
            [401, 201, 403, 403, 403, 403, 201, 401, 401],
        ),
        (
            "GET /v1/roles/{uid}",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/roles/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "DELETE /v1/roles/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST /v1/roles/{uid}/clone",
            [401, 201, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/teams",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "POST /v1/teams",
            [401, 201, 403, 403, 403, 403, 201, 401, 401],
        ),
        (
            "GET /v1/teams/{uid}",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/teams/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PATCH /v1/teams/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "DELETE /v1/teams/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/teams/{uid}/roles",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/teams/{uid}/roles",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/teams/{uid}/projects",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/teams/{uid}/projects",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/users/{uid}/roles",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/users/{uid}/roles",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/users/{uid}/projects",
            [401, 200, 200, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/users/{uid}/projects",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET /v1/users/meta",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "POST /v1/users/summary",
            [401, 200, 200, 403, 403, 403, 200, 401, 401],
        ),
        (
            "POST /v1/projects",
            [401, 201, 403, 403, 403, 403, 201, 401, 401],
        ),
        (
            "GET /v1/projects/{uid}",
            [401, 200, 200, 404, 200, 404, 404, 401, 401],
        ),
        (
            "PUT /v1/projects/{uid}",
            [401, 204, 403, 404, 403, 404, 404, 401, 401],
        ),
        (
            "DELETE /v1/projects/{uid}",
            [401, 204, 403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "PUT /v1/projects/{uid}/meta",
            [401, 204, 403, 404, 403, 404, 404, 401, 401],
        ),
        (
            "PUT /v1/projects/{uid}/users",
            [401, 204, 403, 404, 403, 404, 404, 401, 401],
        ),
        (
            "PUT /v1/projects/{uid}/teams",
            [401, 204, 403, 404, 403, 404, 404, 401, 401],
        ),
        (
            "POST /v1/dashboard/projects",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /v1/dashboard/projects/metadata",
            [401, 200, 200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "GET /console/login",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/password/reset",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/password/activate",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/signup",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/tenants",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/static/auth.js",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/static/easel.css",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/api",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET /console/api/routes.json",
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
    ])
}

/// Fresh objects for one route, so that a call that deletes or changes them does not
/// disturb the next route.
struct Fixture {
    user: String,
    key: String,
    team: String,
    role: String,
    project: String,
}

struct Callers {
    clients: Vec<Client>,
    project_member_uid: String,
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{n}")
}

async fn key_for(server: &TestServer, roles: &[&str]) -> (String, Client) {
    let uid = server
        .create_user(&format!("{}@acme.test", unique("caller")), roles)
        .await;
    let key = server.admin_create_key_for(&uid, "caller").await;
    (uid, server.anonymous.with_api_key(key.api_key))
}

async fn callers(server: &TestServer) -> Callers {
    let (_, admin) = key_for(server, &["Tenant Admin"]).await;
    let (_, viewer) = key_for(server, &["Tenant Viewer"]).await;
    let (_, user) = key_for(server, &[]).await;
    let (project_member_uid, project_member) = key_for(server, &[]).await;
    let (other_member_uid, other_member) = key_for(server, &[]).await;
    // The member of another project holds Project Admin there.
    let other_project = project(server, &[]).await;
    server
        .admin
        .raw(
            Method::PUT,
            &format!("/v1/projects/{other_project}/users"),
            Some(&serde_json::json!({"users": [{"userId": other_member_uid, "roles": ["Project Admin"]}]}).to_string()),
        )
        .await
        .unwrap();
    let other_tenant = server.other_tenant("globex").await;
    let revoked = {
        let (uid, _) = key_for(server, &["Tenant Admin"]).await;
        let key = server.admin_create_key_for(&uid, "revoked").await;
        server
            .admin
            .set_api_key_active(&key.uid, false)
            .await
            .unwrap();
        server.anonymous.with_api_key(key.api_key)
    };
    let expired = {
        let token = admin.authenticate().await.unwrap().authorization;
        server.clock.advance(Duration::minutes(16));
        server.anonymous.with_token(token)
    };
    Callers {
        clients: vec![
            server.anonymous.clone(),
            admin,
            viewer,
            user,
            project_member,
            other_member,
            other_tenant,
            revoked,
            expired,
        ],
        project_member_uid,
    }
}

async fn project(server: &TestServer, viewers: &[&str]) -> String {
    let users: Vec<serde_json::Value> = viewers
        .iter()
        .map(|u| serde_json::json!({"userId": u, "roles": ["Project Viewer"]}))
        .collect();
    let body =
        serde_json::json!({"metadata": {"name": unique("project-")}, "spec": {"users": users}});
    let raw = server
        .admin
        .raw(Method::POST, "/v1/projects", Some(&body.to_string()))
        .await
        .unwrap();
    assert_eq!(raw.status, 201, "{}", raw.body);
    raw.json()["uid"].as_str().unwrap().to_owned()
}

async fn fixture(server: &TestServer, callers: &Callers) -> Fixture {
    let user = server
        .create_user(&format!("{}@acme.test", unique("target")), &[])
        .await;
    let key = server.admin_create_key_for(&user, "target").await.uid;
    let team = server
        .admin
        .raw(
            Method::POST,
            "/v1/teams",
            Some(&serde_json::json!({"metadata": {"name": unique("team-")}, "spec": {"users": [user]}}).to_string()),
        )
        .await
        .unwrap()
        .json()["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = server
        .admin
        .raw(
            Method::POST,
            "/v1/roles",
            Some(
                &serde_json::json!({"metadata": {"name": unique("role-")},
                "spec": {"scope": "tenant", "permissions": ["user.get"]}})
                .to_string(),
            ),
        )
        .await
        .unwrap()
        .json()["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = project(server, &[&callers.project_member_uid]).await;
    Fixture {
        user,
        key,
        team,
        role,
        project,
    }
}

/// The concrete request for a route: path with real uids, and a body that is valid for it.
fn request(server: &TestServer, method: &str, path: &str, f: &Fixture) -> (String, Option<String>) {
    let uid = if path.starts_with("/v1/apiKeys") {
        &f.key
    } else if path.starts_with("/v1/teams") {
        &f.team
    } else if path.starts_with("/v1/roles") {
        &f.role
    } else if path.starts_with("/v1/projects") {
        &f.project
    } else {
        &f.user
    };
    let mut concrete = path
        .replace("{uid}", uid)
        .replace("{tenant_uid}", server.tenant_uid())
        .replace("{token}", "not-a-token");
    let json = |v: serde_json::Value| Some(v.to_string());
    let body = match (method, path) {
        ("GET", "/v1/auth/org") => {
            concrete.push_str("?orgName=acme");
            None
        }
        ("GET", "/v1/auth/user/org/forgot") => {
            concrete.push_str("?emailId=someone@acme.test");
            None
        }
        ("DELETE", "/v1/projects/{uid}") => {
            concrete.push_str("?cleanupProjectResources=true");
            None
        }
        ("GET" | "DELETE", _) => None,
        ("POST", "/v1/users") => json(
            serde_json::json!({"spec": {"emailId": format!("{}@acme.test", unique("new")), "firstName": "N", "lastName": "U"}}),
        ),
        ("PUT", "/v1/users/{uid}") => json(
            serde_json::json!({"spec": {"emailId": format!("{}@acme.test", unique("renamed")), "firstName": "R", "lastName": "U"}}),
        ),
        ("PATCH", "/v1/users/{uid}") => {
            json(serde_json::json!([{"op": "replace", "path": "/spec/firstName", "value": "P"}]))
        }
        ("POST", "/v1/apiKeys") => json(serde_json::json!({"metadata": {"name": "own"}})),
        ("PUT", "/v1/apiKeys/{uid}") => json(serde_json::json!({"metadata": {"name": "renamed"}})),
        ("PATCH", "/v1/apiKeys/{uid}") | ("PUT", "/v1/apiKeys/{uid}/state") => {
            json(serde_json::json!({"isActive": false}))
        }
        ("PUT", "/v1/tenants/{tenant_uid}/apiKeySettings") => {
            json(serde_json::json!({"maxLifetimeDays": 90}))
        }
        ("POST", "/v1/auth/authenticate") => {
            json(serde_json::json!({"emailId": "nobody@acme.test", "password": "not the password"}))
        }
        ("PATCH", "/v1/auth/password/{token}/reset" | "/v1/auth/password/{token}/activate") => {
            json(serde_json::json!({"password": "vivid otter mango glacier"}))
        }
        ("POST", "/v1/auth/user/password/reset") => {
            json(serde_json::json!({"emailId": "someone@acme.test"}))
        }
        ("POST", "/v1/users/auth/tokens/revoke") => json(serde_json::json!({"tokens": []})),
        ("PATCH", "/v1/users/password/change") => json(
            serde_json::json!({"emailId": "someone@else.test", "currentPassword": "x", "newPassword": "vivid otter mango glacier"}),
        ),
        ("PATCH", "/v1/users/{uid}/password/change") => {
            json(serde_json::json!({"newPassword": "vivid otter mango glacier"}))
        }
        ("PUT", "/v1/tenants/{tenant_uid}/authTokenSettings") => {
            json(serde_json::json!({"expiryTimeMinutes": 30}))
        }
        ("POST", "/v1/tenants/{tenant_uid}/password/policy") => {
            json(serde_json::json!({"minLength": 10}))
        }
        ("POST", "/v1/tenants") => json(
            serde_json::json!({"spec": {"orgName": unique("neworg"), "emailId": "a@b.test", "firstName": "A", "lastName": "B"}}),
        ),
        ("POST", "/v1/tenants/validate") => {
            json(serde_json::json!({"orgName": unique("freename")}))
        }
        ("POST", "/v1/tenants/signup") => json(
            serde_json::json!({"orgName": unique("signup"), "emailId": "a@b.test", "firstName": "A", "lastName": "B"}),
        ),
        ("PATCH", "/v1/tenants/{tenant_uid}/activate") => {
            json(serde_json::json!({"isActive": false}))
        }
        ("POST", "/v1/tenants/{tenant_uid}/domains") => {
            json(serde_json::json!({"domains": ["acme.example.test"]}))
        }
        ("POST", "/v1/roles") => json(
            serde_json::json!({"metadata": {"name": unique("newrole")}, "spec": {"scope": "tenant", "permissions": ["user.list"]}}),
        ),
        ("PUT", "/v1/roles/{uid}") => json(
            serde_json::json!({"metadata": {"name": unique("renamedrole")}, "spec": {"permissions": ["user.get"]}}),
        ),
        ("POST", "/v1/roles/{uid}/clone") => {
            json(serde_json::json!({"metadata": {"name": unique("clone")}}))
        }
        ("POST", "/v1/teams") => json(serde_json::json!({"metadata": {"name": unique("newteam")}})),
        ("PUT", "/v1/teams/{uid}") => {
            json(serde_json::json!({"metadata": {"name": unique("renamedteam")}}))
        }
        ("PATCH", "/v1/teams/{uid}") => {
            json(serde_json::json!([{"op": "remove", "path": "/spec/users", "value": [f.user]}]))
        }
        ("PUT", "/v1/teams/{uid}/roles" | "/v1/users/{uid}/roles") => {
            json(serde_json::json!({"roles": ["Tenant Viewer"]}))
        }
        ("PUT", "/v1/teams/{uid}/projects" | "/v1/users/{uid}/projects") => json(
            serde_json::json!({"projects": [{"projectUid": f.project, "roles": ["Project Viewer"]}]}),
        ),
        ("POST", "/v1/users/summary" | "/v1/dashboard/projects") => json(serde_json::json!({})),
        ("POST", "/v1/projects") => {
            json(serde_json::json!({"metadata": {"name": unique("newproject")}}))
        }
        ("PUT", "/v1/projects/{uid}") => {
            json(serde_json::json!({"metadata": {"name": unique("renamedproject")}}))
        }
        ("PUT", "/v1/projects/{uid}/meta") => {
            json(serde_json::json!({"name": unique("metaproject")}))
        }
        ("PUT", "/v1/projects/{uid}/users") => json(serde_json::json!({"users": []})),
        // Limits stay off: the matrix makes far more calls than they allow.
        ("PATCH", "/v1/system/ratelimit") => json(serde_json::json!({"isActive": false})),
        ("PUT", "/v1/projects/{uid}/teams") => json(serde_json::json!({"teams": []})),
        _ => json(serde_json::json!({})),
    };
    (concrete, body)
}

/// What the tenant admin can see of the tenant: if a refused call changed any of it, the
/// comparison fails.
async fn snapshot(server: &TestServer) -> Vec<String> {
    let tenant = server.tenant_uid().to_owned();
    let mut out = Vec::new();
    for path in [
        "/v1/users".to_owned(),
        "/v1/apiKeys".to_owned(),
        "/v1/teams".to_owned(),
        "/v1/roles".to_owned(),
        "/v1/users/meta".to_owned(),
        "/v1/dashboard/projects/metadata".to_owned(),
        format!("/v1/tenants/{tenant}"),
        format!("/v1/tenants/{tenant}/apiKeySettings"),
        format!("/v1/tenants/{tenant}/authTokenSettings"),
        format!("/v1/tenants/{tenant}/password/policy"),
        format!("/v1/tenants/{tenant}/domains"),
    ] {
        let raw = server.admin.raw(Method::GET, &path, None).await.unwrap();
        // Usage counters are written in the background every few seconds: not a change.
        let mut json = raw.json();
        if let Some(items) = json["items"].as_array_mut() {
            for item in items {
                if let Some(status) = item["status"].as_object_mut() {
                    status.remove("lastUsed");
                    status.remove("useCount");
                }
            }
        }
        out.push(format!("{path}: {json}"));
    }
    out
}

on_both_stores! {
    async fn every_route_for_every_caller(server) {
        let expected = expectations();
        let table = easel_server::route_table();
        // Every route has an entry, and every entry is a route.
        let routes: Vec<String> = table.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
        for route in &routes {
            assert!(expected.contains_key(route.as_str()), "the matrix has no entry for {route}");
        }
        for entry in expected.keys() {
            assert!(routes.iter().any(|r| r == entry), "{entry} is not a route any more");
        }

        let callers = callers(&server).await;
        // The tenant admin goes last: it is the caller most likely to be allowed to change
        // (or delete) the route's objects.
        let order = [0usize, 7, 8, 2, 3, 4, 5, 6, 1];
        let mut failures = Vec::new();
        for info in &table {
            let key = format!("{} {}", info.method, info.path);
            let statuses = expected[key.as_str()];
            let f = fixture(&server, &callers).await;
            for &i in &order {
                let (path, body) = request(&server, info.method, info.path, &f);
                let method = Method::from_bytes(info.method.as_bytes()).unwrap();
                let mutating = method != Method::GET;
                let refused = statuses[i] >= 400;
                let before = if mutating && refused { Some(snapshot(&server).await) } else { None };
                let raw = callers.clients[i].raw(method, &path, body.as_deref()).await.unwrap();
                if raw.status.as_u16() != statuses[i] {
                    failures.push(format!(
                        "{key} as {}: expected {}, got {} {}",
                        CALLERS[i], statuses[i], raw.status, raw.body
                    ));
                }
                if raw.status.as_u16() >= 400 && !raw.body.is_empty() {
                    assert!(raw.json()["code"].is_string(), "{key} as {}: no error body", CALLERS[i]);
                }
                if let Some(before) = before {
                    let after = snapshot(&server).await;
                    if before != after {
                        failures.push(format!("{key} as {} was refused but changed something", CALLERS[i]));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }
}

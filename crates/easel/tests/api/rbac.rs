//! Projects, teams, roles and permissions: what each grants, project scope, and the
//! assignments that are refused.

use reqwest::Method;

use crate::harness::*;

async fn call(
    client: &easel_client::Client,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string());
    let raw = client.raw(method, path, body.as_deref()).await.unwrap();
    (raw.status.as_u16(), raw.json())
}

async fn create_project(server: &TestServer, name: &str, users: serde_json::Value) -> String {
    let (status, body) = call(
        &server.admin,
        Method::POST,
        "/v1/projects",
        Some(serde_json::json!({
            "metadata": {"name": name, "annotations": {"description": "d"}, "labels": {"env": "test"}},
            "spec": {"users": users}
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["uid"].as_str().unwrap().to_owned()
}

async fn create_team(server: &TestServer, name: &str, users: &[&str], roles: &[&str]) -> String {
    let (status, body) = call(
        &server.admin,
        Method::POST,
        "/v1/teams",
        Some(serde_json::json!({"metadata": {"name": name}, "spec": {"users": users, "roles": roles}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["uid"].as_str().unwrap().to_owned()
}

on_both_stores! {
    async fn every_tenant_has_a_default_project_clients_can_find(server) {
        let (status, body) = call(&server.admin, Method::GET, "/v1/dashboard/projects/metadata", None).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Default"]);
        assert!(body.get("listmeta").is_none(), "Palette's metadata list has no listmeta");
        let default = body["items"][0]["metadata"]["uid"].as_str().unwrap().to_owned();
        let (status, body) = call(&server.admin, Method::DELETE, &format!("/v1/projects/{default}"), None).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("DefaultProject")));
        let other = server.other_tenant("globex").await;
        let (_, body) = call(&other, Method::GET, "/v1/dashboard/projects/metadata", None).await;
        assert_eq!(body["items"][0]["metadata"]["name"], "Default");
    }

    async fn projects_are_created_read_updated_listed_and_deleted(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        let p = create_project(&server, "web", serde_json::json!([{"userId": alice, "roles": ["Project Editor"]}])).await;
        let (status, body) = call(&server.admin, Method::GET, &format!("/v1/projects/{p}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(body["metadata"]["name"], "web");
        assert_eq!(body["metadata"]["annotations"]["description"], "d");
        assert_eq!(body["metadata"]["labels"]["env"], "test");
        assert_eq!(body["spec"]["users"][0]["userId"], alice.as_str());
        assert_eq!(body["spec"]["users"][0]["roles"][0], "000000000000000000000012");

        // Alice, an editor, renames it but cannot change its members.
        let meta = serde_json::json!({"name": "website"});
        assert_eq!(call(&alice_client, Method::PUT, &format!("/v1/projects/{p}/meta"), Some(meta)).await.0, 204);
        let none = serde_json::json!({"users": []});
        assert_eq!(call(&alice_client, Method::PUT, &format!("/v1/projects/{p}/users"), Some(none)).await.0, 403);
        // She sees only her project; the admin sees all, filtered and sorted.
        let (_, mine) = call(&alice_client, Method::GET, "/v1/dashboard/projects/metadata", None).await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 1);
        create_project(&server, "api", serde_json::json!([])).await;
        let (status, page) = call(&server.admin, Method::POST, "/v1/dashboard/projects?limit=2",
            Some(serde_json::json!({"filter": {}, "sort": [{"field": "name", "order": "asc"}]}))).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Default", "api"]);
        assert_eq!(page["listmeta"]["count"], 3);
        let token = page["listmeta"]["continue"].as_str().unwrap().to_owned();
        let (_, rest) = call(&server.admin, Method::POST, &format!("/v1/dashboard/projects?limit=2&continue={token}"),
            Some(serde_json::json!({"filter": {}, "sort": [{"field": "name", "order": "asc"}]}))).await;
        assert_eq!(rest["items"][0]["metadata"]["name"], "website");
        assert_eq!(rest["listmeta"]["continue"], "");
        let (_, filtered) = call(&server.admin, Method::POST, "/v1/dashboard/projects",
            Some(serde_json::json!({"filter": {"name": {"contains": "WEB"}}, "sort": null}))).await;
        assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

        // A project that still has members is deleted only when the caller says so.
        let (status, body) = call(&server.admin, Method::DELETE, &format!("/v1/projects/{p}"), None).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("ProjectHasMembers")));
        assert_eq!(call(&alice_client, Method::GET, &format!("/v1/projects/{p}"), None).await.0, 200);
        let (status, _) = call(&server.admin, Method::DELETE, &format!("/v1/projects/{p}?cleanupProjectResources=true"), None).await;
        assert_eq!(status, 204);
        assert_eq!(call(&alice_client, Method::GET, &format!("/v1/projects/{p}"), None).await.0, 404);
        assert!(server.audit_actions().await.iter().any(|a| a == "project.delete"));
    }

    async fn project_scope_comes_from_the_header_or_the_query(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        let (_, bob_client) = server.user_with_key("bob@acme.test").await;
        let p = create_project(&server, "ops", serde_json::json!([{"userId": alice, "roles": ["Project Viewer"]}])).await;
        let http = reqwest::Client::new();
        let base = server.anonymous.base_url().to_owned();
        let alice_key = {
            let key = server.admin_create_key_for(&alice, "scoped").await;
            key.api_key
        };
        for header in ["ProjectUid", "projectuid", "Projectuid", "PROJECTUID"] {
            let status = http.get(format!("{base}/v1/users/info")).header("ApiKey", &alice_key).header(header, &p)
                .send().await.unwrap().status();
            assert_eq!(status, 200, "{header}");
        }
        let status = http.get(format!("{base}/v1/users/info?ProjectUid={p}")).header("ApiKey", &alice_key)
            .send().await.unwrap().status();
        assert_eq!(status, 200);
        // An empty header is tenant scope, as clients without a project send it.
        let status = http.get(format!("{base}/v1/users/info")).header("ApiKey", &alice_key).header("ProjectUid", "")
            .send().await.unwrap().status();
        assert_eq!(status, 200);
        // Bob has no role in it: to him it does not exist.
        let bob_key = server.admin_create_key_for(&bob_client.user_info().await.unwrap().user_uid, "b").await.api_key;
        let response = http.get(format!("{base}/v1/users/info")).header("ApiKey", &bob_key).header("ProjectUid", &p)
            .send().await.unwrap();
        assert_eq!(response.status(), 404);
        // Another tenant's project is not found either, even by its admin.
        let other = server.other_tenant("globex").await;
        let (_, metadata) = call(&other, Method::GET, "/v1/dashboard/projects/metadata", None).await;
        let globex_default = metadata["items"][0]["metadata"]["uid"].as_str().unwrap().to_owned();
        let response = http.get(format!("{base}/v1/users/info")).header("ApiKey", &server.admin_key)
            .header("ProjectUid", &globex_default).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(call(&server.admin, Method::GET, &format!("/v1/projects/{globex_default}"), None).await.0, 404);
        // In project scope a project role gives its permissions and no more.
        let in_project = http.get(format!("{base}/v1/users")).header("ApiKey", &alice_key).header("ProjectUid", &p)
            .send().await.unwrap();
        assert_eq!(in_project.status(), 403);
        let _ = alice_client;
    }

    async fn team_roles_give_their_members_permissions_at_once(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        assert_error(alice_client.list_users(&Default::default()).await, 403, "Forbidden");
        let team = create_team(&server, "readers", &[&alice], &["Tenant Viewer"]).await;
        alice_client.list_users(&Default::default()).await.unwrap();
        let (status, roles) = call(&server.admin, Method::GET, &format!("/v1/users/{alice}/roles"), None).await;
        assert_eq!(status, 200);
        assert!(roles["roles"].as_array().unwrap().is_empty());
        assert_eq!(roles["inheritedRoles"][0]["name"], "Tenant Viewer");
        // Taking the role away takes effect on the next request.
        let (status, _) = call(&server.admin, Method::PUT, &format!("/v1/teams/{team}/roles"), Some(serde_json::json!({"roles": []}))).await;
        assert_eq!(status, 204);
        assert_error(alice_client.list_users(&Default::default()).await, 403, "Forbidden");
        // And a direct role, too.
        let (status, _) = call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"), Some(serde_json::json!({"roles": ["Tenant Viewer"]}))).await;
        assert_eq!(status, 204);
        alice_client.list_users(&Default::default()).await.unwrap();
        call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"), Some(serde_json::json!({"roles": []}))).await;
        assert_error(alice_client.list_users(&Default::default()).await, 403, "Forbidden");
        // Removing her from the team (PATCH) after giving it the role back.
        call(&server.admin, Method::PUT, &format!("/v1/teams/{team}/roles"), Some(serde_json::json!({"roles": ["Tenant Viewer"]}))).await;
        alice_client.list_users(&Default::default()).await.unwrap();
        let (status, _) = call(&server.admin, Method::PATCH, &format!("/v1/teams/{team}"),
            Some(serde_json::json!([{"op": "remove", "path": "/spec/users", "value": [alice]}]))).await;
        assert_eq!(status, 204);
        assert_error(alice_client.list_users(&Default::default()).await, 403, "Forbidden");
        let actions = server.audit_actions().await;
        for action in ["team.create", "team.roles", "user.roles", "team.update"] {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }
    }

    async fn custom_roles_are_created_cloned_disabled_and_deleted(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        let (status, body) = call(&server.admin, Method::POST, "/v1/roles", Some(serde_json::json!({
            "metadata": {"name": "Key Auditor"}, "spec": {"scope": "tenant", "permissions": ["apiKey.list", "apiKey.get"], "type": "user"},
            "status": {"isEnabled": true}
        }))).await;
        assert_eq!(status, 201, "{body}");
        let role = body["uid"].as_str().unwrap().to_owned();
        call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"), Some(serde_json::json!({"roles": [role]}))).await;
        let all = alice_client.list_api_keys(&Default::default()).await.unwrap();
        assert!(all.items.len() >= 2, "she now sees every key");
        assert_error(alice_client.list_users(&Default::default()).await, 403, "Forbidden");

        // Disabled, it grants nothing; enabled again, it does.
        let (status, _) = call(&server.admin, Method::PUT, &format!("/v1/roles/{role}"), Some(serde_json::json!({
            "metadata": {"name": "Key Auditor"}, "spec": {"permissions": ["apiKey.list", "apiKey.get"]}, "status": {"isEnabled": false}
        }))).await;
        assert_eq!(status, 204);
        assert_eq!(alice_client.list_api_keys(&Default::default()).await.unwrap().items.len(), 1);

        // Built-in roles are not editable; they can be cloned.
        let (status, body) = call(&server.admin, Method::PUT, "/v1/roles/000000000000000000000002",
            Some(serde_json::json!({"metadata": {"name": "x"}, "spec": {"permissions": []}}))).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("BuiltinRole")));
        let (status, _) = call(&server.admin, Method::DELETE, "/v1/roles/000000000000000000000001", None).await;
        assert_eq!(status, 409);
        let (status, body) = call(&server.admin, Method::POST, "/v1/roles/000000000000000000000013/clone",
            Some(serde_json::json!({"metadata": {"name": "Auditor Copy"}}))).await;
        assert_eq!(status, 201);
        let (_, copy) = call(&server.admin, Method::GET, &format!("/v1/roles/{}", body["uid"].as_str().unwrap()), None).await;
        assert_eq!(copy["spec"]["scope"], "project");
        assert_eq!(copy["spec"]["type"], "user");
        assert_eq!(copy["spec"]["permissions"], serde_json::json!(["project.get"]));

        // Deleted, its assignments go with it, and it cannot be assigned any more.
        let (status, _) = call(&server.admin, Method::DELETE, &format!("/v1/roles/{role}"), None).await;
        assert_eq!(status, 204);
        let (_, roles) = call(&server.admin, Method::GET, &format!("/v1/users/{alice}/roles"), None).await;
        assert!(roles["roles"].as_array().unwrap().is_empty());
        let (status, _) = call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"), Some(serde_json::json!({"roles": [role]}))).await;
        assert_eq!(status, 400);

        // The catalogue, by scope.
        let (_, project_perms) = call(&server.admin, Method::GET, "/v1/permissions?scope=project", None).await;
        assert!(project_perms.as_array().unwrap().iter().all(|g| g["scope"] == "project"));
        let (_, all_perms) = call(&server.admin, Method::GET, "/v1/permissions", None).await;
        assert!(all_perms.as_array().unwrap().iter().any(|g| g["name"] == "apiKey"
            && g["permissions"].as_array().unwrap().iter().any(|p| p == "apiKey.create")));
        assert_eq!(call(&server.admin, Method::GET, "/v1/permissions?scope=galaxy", None).await.0, 400);
        let (_, roles) = call(&server.admin, Method::GET, "/v1/roles", None).await;
        let names: Vec<&str> = roles["items"].as_array().unwrap().iter().map(|r| r["metadata"]["name"].as_str().unwrap()).collect();
        for name in ["Tenant Admin", "Tenant Viewer", "Tenant User Admin Role", "Tenant Team Admin",
            "Tenant Role Admin", "Tenant Project Admin", "Project Admin", "Project Editor", "Project Viewer"] {
            assert!(names.contains(&name), "{name}");
        }
    }

    async fn bad_assignments_are_refused_and_change_nothing(server) {
        let (alice, _) = server.user_with_key("alice@acme.test").await;
        let p = create_project(&server, "ops", serde_json::json!([])).await;
        let before = call(&server.admin, Method::GET, &format!("/v1/users/{alice}/roles"), None).await;
        // A project role at tenant scope, and a tenant role in a project.
        assert_eq!(call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"),
            Some(serde_json::json!({"roles": ["Project Viewer"]}))).await.0, 400);
        assert_eq!(call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/projects"),
            Some(serde_json::json!({"projects": [{"projectUid": p, "roles": ["Tenant Admin"]}]}))).await.0, 400);
        // Another tenant's role, user and project.
        let other = server.other_tenant("globex").await;
        let (_, other_role) = call(&other, Method::POST, "/v1/roles",
            Some(serde_json::json!({"metadata": {"name": "Theirs"}, "spec": {"scope": "tenant", "permissions": ["user.get"]}}))).await;
        let other_role = other_role["uid"].as_str().unwrap().to_owned();
        assert_eq!(call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/roles"),
            Some(serde_json::json!({"roles": [other_role]}))).await.0, 400);
        let other_user = other.user_info().await.unwrap().user_uid;
        assert_eq!(call(&server.admin, Method::POST, "/v1/teams",
            Some(serde_json::json!({"metadata": {"name": "mixed"}, "spec": {"users": [other_user]}}))).await.0, 400);
        let (_, metadata) = call(&other, Method::GET, "/v1/dashboard/projects/metadata", None).await;
        let other_project = metadata["items"][0]["metadata"]["uid"].as_str().unwrap().to_owned();
        assert_eq!(call(&server.admin, Method::PUT, &format!("/v1/users/{alice}/projects"),
            Some(serde_json::json!({"projects": [{"projectUid": other_project, "roles": ["Project Viewer"]}]}))).await.0, 400);
        assert_eq!(call(&server.admin, Method::GET, &format!("/v1/users/{alice}/roles"), None).await, before);

        // Nobody grants more than they hold: a user admin cannot make anyone Tenant Admin.
        let user_admin = server.create_user("ua@acme.test", &["Tenant User Admin Role"]).await;
        let ua = server.anonymous.with_api_key(server.admin_create_key_for(&user_admin, "ua").await.api_key);
        let (status, _) = call(&ua, Method::PUT, &format!("/v1/users/{alice}/roles"),
            Some(serde_json::json!({"roles": ["Tenant Admin"]}))).await;
        assert_eq!(status, 403);
        assert_eq!(call(&server.admin, Method::GET, &format!("/v1/users/{alice}/roles"), None).await, before);

        // The last Tenant Admin stays, whichever way one tries.
        let me = server.admin_info.user_uid.clone();
        let (status, body) = call(&server.admin, Method::PUT, &format!("/v1/users/{me}/roles"), Some(serde_json::json!({"roles": []}))).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("LastTenantAdmin")));
        // Holding it through a team is holding it.
        let team = create_team(&server, "admins", &[&me], &["Tenant Admin"]).await;
        assert_eq!(call(&server.admin, Method::PUT, &format!("/v1/users/{me}/roles"), Some(serde_json::json!({"roles": []}))).await.0, 204);
        let (status, body) = call(&server.admin, Method::DELETE, &format!("/v1/teams/{team}"), None).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("LastTenantAdmin")));
        server.admin.list_users(&Default::default()).await.unwrap();
    }

    async fn users_summary_and_metadata_find_people(server) {
        server.create_user("zed@acme.test", &[]).await;
        server.clock.advance(chrono::Duration::seconds(1));
        let amy = server.create_user("amy@acme.test", &["Tenant Viewer"]).await;
        let (status, body) = call(&server.admin, Method::POST, "/v1/users/summary",
            Some(serde_json::json!({"filter": {"emailId": {"eq": "AMY@acme.test"}}, "sort": null}))).await;
        assert_eq!(status, 200);
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "Terraform expects exactly one");
        assert_eq!(items[0]["metadata"]["uid"], amy.as_str());
        assert_eq!(items[0]["spec"]["roles"][0]["name"], "Tenant Viewer");
        let (_, sorted) = call(&server.admin, Method::POST, "/v1/users/summary",
            Some(serde_json::json!({"filter": {"emailId": {"contains": "acme"}}, "sort": [{"field": "creationTimestamp", "order": "desc"}]}))).await;
        assert_eq!(sorted["items"][0]["spec"]["emailId"], "amy@acme.test");
        assert_eq!(call(&server.admin, Method::POST, "/v1/users/summary",
            Some(serde_json::json!({"sort": [{"field": "shoeSize"}]}))).await.0, 400);
        let (_, meta) = call(&server.admin, Method::GET, "/v1/users/meta", None).await;
        assert_eq!(meta["items"].as_array().unwrap().len(), 3);
    }
}

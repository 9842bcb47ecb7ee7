//! The OpenAPI document of the API, generated from the code: the paths, methods and access
//! come from the route table ([`crate::route_table`]), the bodies' schemas from the wire
//! types themselves (`schemars` derives on `easel-proto`), and [`OPERATIONS`] pairs each
//! route with the wire types its handler takes and gives. A test fails if a route has no
//! operation or an operation no route, and another if `docs/openapi.json` (the committed
//! copy) differs from what the code generates. Served at `GET /v1/openapi.json`.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// The wire types an operation names, with the few that are not plain `easel-proto` types.
mod wire {
    pub use easel_proto::*;

    /// `GET /v1/auth/jwks`: a JSON Web Key Set.
    pub type Jwks = serde_json::Value;
    pub type PermissionGroups = Vec<PermissionGroup>;
    /// `GET /v1/openapi.json`: this document.
    pub type OpenApiDocument = serde_json::Value;

    /// A CSV document (`text/csv`).
    pub struct Csv;

    impl schemars::JsonSchema for Csv {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "Csv".into()
        }

        fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            schemars::json_schema!({"type": "string"})
        }

        fn inline_schema() -> bool {
            true
        }
    }
}

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// What a request body must be.
#[derive(Clone, Copy)]
pub enum RequestBody {
    None,
    Required(SchemaFn),
    /// A JSON array of the type (JSON Patch).
    RequiredList(SchemaFn),
    /// Either form of the operation: with the body, or without (for example an API key in
    /// a header instead of a password in the body).
    Optional(SchemaFn),
}

/// One operation: a route-table row's types.
pub struct Operation {
    /// The handler's name, in camel case as the operation id.
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub query: Option<SchemaFn>,
    pub body: RequestBody,
    /// The success status.
    pub status: u16,
    pub response: Option<SchemaFn>,
    pub response_is_csv: bool,
}

macro_rules! op {
    ($id:ident: $method:ident $path:literal
        $(, query $q:ident)?
        $(, body $b:ident)?
        $(, list_body $lb:ident)?
        $(, optional_body $ob:ident)?
        => $status:literal $($resp:ident)?) => {
        Operation {
            id: stringify!($id),
            method: stringify!($method),
            path: $path,
            query: op!(@schema $($q)?),
            body: op!(@body $(body $b)? $(list_body $lb)? $(optional_body $ob)?),
            status: $status,
            response: op!(@schema $($resp)?),
            response_is_csv: false $(|| stringify!($resp) == "Csv")?,
        }
    };
    (@schema) => { None };
    (@schema $t:ident) => { Some(|g: &mut SchemaGenerator| g.subschema_for::<wire::$t>()) };
    (@body) => { RequestBody::None };
    (@body body $t:ident) => { RequestBody::Required(|g| g.subschema_for::<wire::$t>()) };
    (@body list_body $t:ident) => { RequestBody::RequiredList(|g| g.subschema_for::<wire::$t>()) };
    (@body optional_body $t:ident) => { RequestBody::Optional(|g| g.subschema_for::<wire::$t>()) };
}

/// Every operation of `/v1`, in route-table order.
pub fn operations() -> Vec<Operation> {
    vec![
        op!(openapi: GET "/v1/openapi.json" => 200 OpenApiDocument),
        op!(health_ping: GET "/v1/health/ping" => 200 HealthPing),
        op!(health_ready: GET "/v1/health/ready" => 200 HealthPing),
        op!(users_info: GET "/v1/users/info" => 200 UserInfo),
        op!(users_list: GET "/v1/users", query ListQuery => 200 Users),
        op!(users_create: POST "/v1/users", body UserEntity => 201 Uid),
        op!(users_get: GET "/v1/users/{uid}" => 200 User),
        op!(users_update: PUT "/v1/users/{uid}", body UserUpdateEntity => 204),
        op!(users_patch: PATCH "/v1/users/{uid}", list_body HttpPatch => 204),
        op!(users_delete: DELETE "/v1/users/{uid}" => 204),
        op!(api_keys_list: GET "/v1/apiKeys", query ApiKeyListQuery => 200 ApiKeys),
        op!(api_keys_create: POST "/v1/apiKeys", body ApiKeyEntity => 201 ApiKeyCreateResponse),
        op!(api_keys_get: GET "/v1/apiKeys/{uid}" => 200 ApiKey),
        op!(api_keys_update: PUT "/v1/apiKeys/{uid}", body ApiKeyUpdate => 204),
        op!(api_keys_set_state: PATCH "/v1/apiKeys/{uid}", body ApiKeyActiveState => 204),
        op!(api_keys_delete: DELETE "/v1/apiKeys/{uid}" => 204),
        op!(api_keys_set_state: PUT "/v1/apiKeys/{uid}/state", body ApiKeyActiveState => 204),
        op!(api_key_settings_get: GET "/v1/tenants/{tenant_uid}/apiKeySettings" => 200 ApiKeySettings),
        op!(api_key_settings_update: PUT "/v1/tenants/{tenant_uid}/apiKeySettings", body ApiKeySettings => 204),
        op!(authenticate: POST "/v1/auth/authenticate", query SetCookieQuery, optional_body AuthLogin => 200 UserToken),
        op!(refresh_from_header: GET "/v1/auth/refresh", query SetCookieQuery => 200 UserToken),
        op!(refresh_from_path: GET "/v1/auth/refresh/{token}", query SetCookieQuery => 200 UserToken),
        op!(logout: POST "/v1/auth/logout" => 204),
        op!(jwks: GET "/v1/auth/jwks" => 200 Jwks),
        op!(organizations: GET "/v1/auth/orgs" => 200 Organizations),
        op!(organization: GET "/v1/auth/org", query OrgQuery => 200 LoginResponse),
        op!(forgot_organization: GET "/v1/auth/user/org/forgot", query EmailQuery => 204),
        op!(request_password_reset: POST "/v1/auth/user/password/reset", body EmailBody => 204),
        op!(reset_password: PATCH "/v1/auth/password/{token}/reset", body PasswordBody => 204),
        op!(activate_password: PATCH "/v1/auth/password/{token}/activate", body PasswordBody => 204),
        op!(revoke_tokens: POST "/v1/users/auth/tokens/revoke", body AuthTokenRevoke => 204),
        op!(change_own_password: PATCH "/v1/users/password/change", body PasswordChange => 204),
        op!(change_user_password: PATCH "/v1/users/{uid}/password/change", body PasswordChange => 204),
        op!(send_password_reset: PATCH "/v1/users/{uid}/password/reset" => 204),
        op!(token_settings_get: GET "/v1/tenants/{tenant_uid}/authTokenSettings" => 200 AuthTokenSettings),
        op!(token_settings_update: PUT "/v1/tenants/{tenant_uid}/authTokenSettings", body AuthTokenSettings => 204),
        op!(password_policy_get: GET "/v1/tenants/{tenant_uid}/password/policy" => 200 PasswordPolicy),
        op!(password_policy_update: POST "/v1/tenants/{tenant_uid}/password/policy", body PasswordPolicy => 204),
        op!(tenants_list: GET "/v1/tenants", query ListQuery => 200 Tenants),
        op!(tenants_create: POST "/v1/tenants", body TenantEntity => 201 Uid),
        op!(tenants_validate: POST "/v1/tenants/validate", body TenantBasicEntity => 204),
        op!(signup: POST "/v1/tenants/signup", body TenantSignUp => 204),
        op!(signup_activate: POST "/v1/tenants/signup/{token}/activate" => 204),
        op!(tenants_get: GET "/v1/tenants/{tenant_uid}" => 200 Tenant),
        op!(tenants_delete: DELETE "/v1/tenants/{tenant_uid}" => 204),
        op!(tenants_activate: PATCH "/v1/tenants/{tenant_uid}/activate", body TenantActivate => 204),
        op!(domains_get: GET "/v1/tenants/{tenant_uid}/domains" => 200 TenantDomains),
        op!(domains_set: POST "/v1/tenants/{tenant_uid}/domains", body TenantDomains => 204),
        op!(operators_list: GET "/v1/system/operators" => 200 Operators),
        op!(operators_grant: PUT "/v1/system/operators/{uid}" => 204),
        op!(operators_withdraw: DELETE "/v1/system/operators/{uid}" => 204),
        op!(rate_limit_get: GET "/v1/system/ratelimit" => 200 SystemRateLimit),
        op!(rate_limit_patch: PATCH "/v1/system/ratelimit", optional_body SystemRateLimit => 200 SystemRateLimit),
        op!(permissions: GET "/v1/permissions", query ScopeQuery => 200 PermissionGroups),
        op!(roles_list: GET "/v1/roles", query ListQuery => 200 Roles),
        op!(roles_create: POST "/v1/roles", body Role => 201 Uid),
        op!(roles_get: GET "/v1/roles/{uid}" => 200 Role),
        op!(roles_update: PUT "/v1/roles/{uid}", body Role => 204),
        op!(roles_delete: DELETE "/v1/roles/{uid}" => 204),
        op!(roles_clone: POST "/v1/roles/{uid}/clone", body RoleClone => 201 Uid),
        op!(teams_list: GET "/v1/teams", query ListQuery => 200 Teams),
        op!(teams_create: POST "/v1/teams", body Team => 201 Uid),
        op!(teams_get: GET "/v1/teams/{uid}" => 200 Team),
        op!(teams_update: PUT "/v1/teams/{uid}", body Team => 204),
        op!(teams_patch: PATCH "/v1/teams/{uid}", list_body HttpPatch => 204),
        op!(teams_delete: DELETE "/v1/teams/{uid}" => 204),
        op!(team_roles_get: GET "/v1/teams/{uid}/roles" => 200 RolesEntity),
        op!(team_roles_put: PUT "/v1/teams/{uid}/roles", body RoleUids => 204),
        op!(team_projects_get: GET "/v1/teams/{uid}/projects" => 200 ProjectRolesEntity),
        op!(team_projects_put: PUT "/v1/teams/{uid}/projects", body ProjectRolesPatch => 204),
        op!(user_roles_get: GET "/v1/users/{uid}/roles" => 200 RolesEntity),
        op!(user_roles_put: PUT "/v1/users/{uid}/roles", body RoleUids => 204),
        op!(user_projects_get: GET "/v1/users/{uid}/projects" => 200 ProjectRolesEntity),
        op!(user_projects_put: PUT "/v1/users/{uid}/projects", body ProjectRolesPatch => 204),
        op!(users_meta: GET "/v1/users/meta" => 200 UsersMetadata),
        op!(users_summary: POST "/v1/users/summary", body UsersSummarySpec => 200 UsersSummaryList),
        op!(projects_create: POST "/v1/projects", body Project => 201 Uid),
        op!(projects_get: GET "/v1/projects/{uid}" => 200 Project),
        op!(projects_update: PUT "/v1/projects/{uid}", body Project => 204),
        op!(projects_delete: DELETE "/v1/projects/{uid}", query ProjectDeleteQuery => 204),
        op!(projects_meta: PUT "/v1/projects/{uid}/meta", body ObjectMeta => 204),
        op!(projects_users: PUT "/v1/projects/{uid}/users", body ProjectMembers => 204),
        op!(projects_teams: PUT "/v1/projects/{uid}/teams", body ProjectMembers => 204),
        op!(projects_summary: POST "/v1/dashboard/projects", query ListQuery, body ProjectsFilterSpec => 200 ProjectsSummary),
        op!(projects_metadata: GET "/v1/dashboard/projects/metadata", query NameQuery => 200 ProjectsMetadata),
        op!(audits_list: GET "/v1/audits", query AuditListQuery => 200 Audits),
        op!(audits_export: GET "/v1/audits/export", query AuditListQuery => 200 Csv),
        op!(audits_get: GET "/v1/audits/{uid}" => 200 Audit),
    ]
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every error status the API answers, each with Palette's error body.
const ERRORS: [(&str, &str); 11] = [
    (
        "400",
        "InvalidRequest: the request is malformed or a value is not allowed",
    ),
    ("401", "no valid API key or token"),
    ("403", "Forbidden: the caller lacks the permission"),
    (
        "404",
        "ResourceNotFound: no such object (or another tenant's)",
    ),
    ("409", "a uniqueness or state rule refused the change"),
    ("413", "PayloadTooLarge: the body is over the limit"),
    ("414", "UriTooLong: the path and query are over the limit"),
    ("415", "UnsupportedMediaType: the body is not JSON"),
    (
        "429",
        "TooManyRequests: a rate limit (Retry-After, RateLimit-Policy, RateLimit)",
    ),
    (
        "431",
        "RequestHeaderFieldsTooLarge: the headers are over the limit",
    ),
    (
        "503",
        "ServiceUnavailable: the store is unreachable or the node is busy (Retry-After)",
    ),
];

fn error_components() -> Map<String, Value> {
    ERRORS
        .iter()
        .map(|(status, description)| {
            (
                format!("Error{status}"),
                json!({
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                }),
            )
        })
        .collect()
}

/// The error statuses an operation can answer.
fn error_responses(op: &Operation, public: bool) -> Map<String, Value> {
    let has_body = !matches!(op.body, RequestBody::None);
    ERRORS
        .iter()
        .filter(|(status, _)| match *status {
            "401" => !public,
            "409" => op.method != "GET",
            "413" | "415" => has_body,
            _ => true,
        })
        .map(|(status, _)| {
            (
                (*status).to_owned(),
                json!({"$ref": format!("#/components/responses/Error{status}")}),
            )
        })
        .collect()
}

/// The query parameters of a query type: one per property.
fn query_parameters(generator: &mut SchemaGenerator, query: SchemaFn) -> Vec<Value> {
    let reference = query(generator);
    let Some(name) = reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
    else {
        return Vec::new();
    };
    let definition = generator
        .definitions()
        .get(&name)
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = definition["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = definition["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            // Query values are single values: a nullable type is its non-null type.
            if let Some(types) = schema["type"].as_array() {
                if let Some(one) = types.iter().find(|t| *t != "null").cloned() {
                    schema["type"] = one;
                }
            }
            if let Some(object) = schema.as_object_mut() {
                object.remove("nullable");
            }
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            })
        })
        .collect()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The operations whose path continues a creation's path with `{uid}`: where the uid a
/// creation answers can be used next (OpenAPI links, followed by stateful tests).
fn links_from(op: &Operation, all: &[Operation], ids: &[String]) -> Map<String, Value> {
    let mut links = Map::new();
    if op.method != "POST" || op.status != 201 {
        return links;
    }
    // The created object and its sub-resources (`/v1/users/{uid}/roles`, …).
    let child = format!("{}/{{uid}}", op.path);
    for (_, id) in all
        .iter()
        .zip(ids)
        .filter(|(o, _)| o.path.starts_with(&child))
    {
        links.insert(
            id.clone(),
            json!({"operationId": id, "parameters": {"uid": "$response.body#/uid"}}),
        );
    }
    links
}

/// Operation ids: the handler's name in camel case; a handler that serves two routes gets
/// the method added to the second (`apiKeysSetStatePut`).
fn operation_ids(operations: &[Operation]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    operations
        .iter()
        .map(|op| {
            let id = camel(op.id);
            if seen.insert(id.clone()) {
                id
            } else {
                let method = op.method.to_lowercase();
                let mut chars = method.chars();
                let first = chars
                    .next()
                    .map(|c| c.to_ascii_uppercase())
                    .unwrap_or_default();
                format!("{id}{first}{}", chars.as_str())
            }
        })
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::openapi3();
    settings.contract = schemars::generate::Contract::Serialize;
    let mut generator = SchemaGenerator::new(settings);
    generator.subschema_for::<wire::ErrorBody>();
    let access: BTreeMap<(&str, &str), &str> = crate::route_table()
        .into_iter()
        .map(|r| ((r.method, r.path), r.access))
        .collect();
    let operations = operations();
    let ids = operation_ids(&operations);
    let mut paths = Map::new();
    for (op, id) in operations.iter().zip(&ids) {
        let public = access.get(&(op.method, op.path)) == Some(&"public");
        let mut parameters = path_parameters(op.path);
        if let Some(query) = op.query {
            parameters.extend(query_parameters(&mut generator, query));
        }
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(id));
        let tag = op.path.split('/').nth(2).unwrap_or("v1");
        operation.insert("tags".into(), json!([tag]));
        operation.insert(
            "description".into(),
            json!(format!(
                "Access: {}.",
                access
                    .get(&(op.method, op.path))
                    .copied()
                    .unwrap_or("see docs/api.md")
            )),
        );
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        let body = match op.body {
            RequestBody::None => None,
            RequestBody::Required(schema) => Some((true, Value::from(schema(&mut generator)))),
            RequestBody::RequiredList(schema) => Some((
                true,
                json!({"type": "array", "items": Value::from(schema(&mut generator))}),
            )),
            RequestBody::Optional(schema) => Some((false, Value::from(schema(&mut generator)))),
        };
        if let Some((required, schema)) = body {
            operation.insert(
                "requestBody".into(),
                json!({"required": required, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut responses = error_responses(op, public);
        let mut success = Map::new();
        success.insert(
            "description".into(),
            json!(match op.status {
                201 => "created",
                204 => "done",
                _ => "ok",
            }),
        );
        if let Some(schema) = op.response {
            let media = if op.response_is_csv {
                "text/csv"
            } else {
                "application/json"
            };
            success.insert(
                "content".into(),
                json!({ media: {"schema": Value::from(schema(&mut generator))} }),
            );
        }
        let links = links_from(op, &operations, &ids);
        if !links.is_empty() {
            success.insert("links".into(), Value::Object(links));
        }
        responses.insert(op.status.to_string(), Value::Object(success));
        operation.insert("responses".into(), Value::Object(responses));
        if public {
            operation.insert("security".into(), json!([]));
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.to_lowercase()] = Value::Object(operation);
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Easel",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identity and API keys for multi-tenant platform APIs, wire-compatible \
                with Spectro Cloud Palette's documented REST API. Choices where Palette's \
                contract is silent: docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_components(),
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "ApiKey"},
                "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "ApiKey"},
                "Authorization": {"type": "apiKey", "in": "header", "name": "Authorization"},
            },
        },
        "security": [{"ApiKey": []}, {"ApiKeyQuery": []}, {"Authorization": []}],
    })
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_an_operation_and_every_operation_a_route() {
        let routes: Vec<(&str, &str)> = crate::route_table()
            .into_iter()
            .filter(|r| r.path.starts_with("/v1/"))
            .map(|r| (r.method, r.path))
            .collect();
        let ops: Vec<(&str, &str)> = operations().iter().map(|o| (o.method, o.path)).collect();
        let ids = operation_ids(&operations());
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operation ids are unique");
        for route in &routes {
            assert!(ops.contains(route), "no operation for {route:?}");
        }
        for op in &ops {
            assert!(routes.contains(op), "no route for the operation {op:?}");
        }
    }

    /// The committed copy is what the code generates. To update it after a change:
    /// `EASEL_WRITE_OPENAPI=1 cargo test -p easel-server openapi`.
    #[test]
    fn the_committed_document_is_what_the_code_generates() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let generated = document_text();
        if std::env::var_os("EASEL_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json differs from the code; regenerate it with \
             EASEL_WRITE_OPENAPI=1 cargo test -p easel-server openapi"
        );
    }

    #[test]
    fn every_operation_documents_its_success_and_palettes_errors() {
        let doc = document();
        let keys = &doc["paths"]["/v1/apiKeys"]["post"];
        assert_eq!(keys["operationId"], "apiKeysCreate");
        assert!(
            keys["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .ends_with("ApiKeyCreateResponse")
        );
        assert!(keys["responses"]["201"]["links"]["apiKeysGet"].is_object());
        assert_eq!(
            doc["paths"]["/v1/health/ping"]["get"]["security"],
            json!([])
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in ["400", "403", "404", "429", "503"] {
                    assert_eq!(
                        op["responses"][status]["$ref"],
                        format!("#/components/responses/Error{status}"),
                        "{method} {path}"
                    );
                }
            }
        }
        let list = &doc["paths"]["/v1/audits"]["get"]["parameters"];
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "actionType" && p["in"] == "query"));
    }
}

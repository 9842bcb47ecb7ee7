//! The route table and its handlers. Each handler's doc comment names the permission it
//! needs; "own" means the caller's own objects need none.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use easel_core::paging::PageParams;
use easel_core::service::{ApiKeyChanges, NewApiKey, NewUser, UserChanges};
use easel_proto as proto;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, ApiJsonList, ApiQuery, Json, WrittenJson};
use crate::table::Routes;
use crate::views;
use crate::AppState;

pub fn router() -> Routes {
    Routes::default()
        .add("/v1/openapi.json", get(openapi), &[("GET", "public")])
        .add("/v1/health/ping", get(health_ping), &[("GET", "public")])
        .add("/v1/health/ready", get(health_ready), &[("GET", "public")])
        .add(
            "/v1/users/info",
            get(users_info),
            &[("GET", "authenticated")],
        )
        .add(
            "/v1/users",
            get(users_list).post(users_create),
            &[("GET", "user.list"), ("POST", "user.create")],
        )
        .add(
            "/v1/users/{uid}",
            get(users_get)
                .put(users_update)
                .patch(users_patch)
                .delete(users_delete),
            &[
                ("GET", "own or user.get"),
                ("PUT", "user.update"),
                ("PATCH", "user.update"),
                ("DELETE", "user.delete"),
            ],
        )
        .add(
            "/v1/apiKeys",
            get(api_keys_list).post(api_keys_create),
            &[
                ("GET", "own or apiKey.list"),
                ("POST", "own or apiKey.create"),
            ],
        )
        .add(
            "/v1/apiKeys/{uid}",
            get(api_keys_get)
                .put(api_keys_update)
                .patch(api_keys_set_state)
                .delete(api_keys_delete),
            &[
                ("GET", "own or apiKey.get"),
                ("PUT", "own or apiKey.update"),
                ("PATCH", "own or apiKey.update"),
                ("DELETE", "own or apiKey.delete"),
            ],
        )
        .add(
            "/v1/apiKeys/{uid}/state",
            put(api_keys_set_state),
            &[("PUT", "own or apiKey.update")],
        )
        .add(
            "/v1/tenants/{tenant_uid}/apiKeySettings",
            get(api_key_settings_get).put(api_key_settings_update),
            &[("GET", "member of the tenant"), ("PUT", "tenant.update")],
        )
}

fn page_params(
    limit: Option<i64>,
    offset: Option<i64>,
    continue_token: Option<String>,
) -> PageParams {
    PageParams {
        limit,
        offset,
        continue_token,
    }
}

/// No authentication: this API's OpenAPI document (generated once per process).
async fn openapi() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(crate::openapi::document_text).as_str();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        text,
    )
}

/// No authentication: the process is up.
async fn health_ping() -> Json<proto::HealthPing> {
    Json(proto::HealthPing { msg: "ok".into() })
}

/// No authentication: the store answers. 503 otherwise.
async fn health_ready(State(state): State<AppState>) -> ApiResult<Json<proto::HealthPing>> {
    state.easel.ready().await?;
    Ok(Json(proto::HealthPing {
        msg: "ready".into(),
    }))
}

/// Any authenticated caller: who am I.
async fn users_info(Authenticated(caller): Authenticated) -> axum::response::Response {
    let info = proto::UserInfoRef {
        org_name: &caller.tenant.name,
        tenant_uid: caller.tenant.uid.as_str(),
        user_uid: caller.user.uid.as_str(),
    };
    WrittenJson(|out: &mut Vec<u8>| info.write_json(out)).into_response()
}

/// `user.list`.
async fn users_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ListQuery>,
) -> ApiResult<Json<proto::Users>> {
    if query.filters.as_deref().is_some_and(|f| !f.is_empty())
        || query.order_by.as_deref().is_some_and(|o| !o.is_empty())
    {
        return Err(ApiError::invalid(
            "filters and orderBy are not supported on this list yet; use limit and continue",
        ));
    }
    let page = state
        .easel
        .list_users(
            &caller,
            &page_params(query.limit, query.offset, query.continue_token),
        )
        .await?;
    Ok(Json(proto::Users {
        items: page.items.iter().map(views::user).collect(),
        listmeta: views::list_meta(&page),
    }))
}

/// `user.create`.
async fn users_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(entity): ApiJson<proto::UserEntity>,
) -> ApiResult<impl IntoResponse> {
    let uid = state
        .easel
        .create_user(
            &caller,
            NewUser {
                email: entity.spec.email_id,
                first_name: entity.spec.first_name,
                last_name: entity.spec.last_name,
                roles: entity.spec.roles,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Uid {
            uid: uid.to_string(),
        }),
    ))
}

/// Own, or `user.get`.
async fn users_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::User>> {
    let user = state.easel.get_user(&caller, &uid).await?;
    Ok(Json(views::user(&user)))
}

/// `user.update`. Names and email are replaced; `spec.roles`, when sent, replaces the roles.
async fn users_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(entity): ApiJson<proto::UserUpdateEntity>,
) -> ApiResult<StatusCode> {
    let changes = UserChanges {
        email: Some(entity.spec.email_id),
        first_name: Some(entity.spec.first_name),
        last_name: Some(entity.spec.last_name),
        roles: entity.spec.roles,
        is_active: None,
    };
    state.easel.update_user(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `user.update`. A JSON Patch with `replace` operations on `/spec/firstName`,
/// `/spec/lastName`, `/spec/emailId` and `/status/isActive` (deactivating a user revokes the
/// user's keys).
async fn users_patch(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJsonList(patch): ApiJsonList<proto::HttpPatch>,
) -> ApiResult<StatusCode> {
    let mut changes = UserChanges::default();
    for op in patch {
        if op.op != "replace" && op.op != "add" {
            return Err(ApiError::invalid(format!(
                "unsupported patch operation {:?}; use replace",
                op.op
            )));
        }
        let text = || {
            op.value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::invalid(format!("{} needs a string value", op.path)))
        };
        match op.path.as_str() {
            "/spec/firstName" => changes.first_name = Some(text()?),
            "/spec/lastName" => changes.last_name = Some(text()?),
            "/spec/emailId" => changes.email = Some(text()?),
            "/status/isActive" => {
                changes.is_active =
                    Some(op.value.as_bool().ok_or_else(|| {
                        ApiError::invalid("/status/isActive needs a boolean value")
                    })?)
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unsupported patch path {other:?}"
                )))
            }
        }
    }
    state.easel.update_user(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `user.delete`. The user's keys are deleted with the user.
async fn users_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.delete_user(&caller, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own keys, or with `apiKey.list` all of the tenant's; `?userUid=` filters by owner.
async fn api_keys_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ApiKeyListQuery>,
) -> ApiResult<axum::response::Response> {
    let page = state
        .easel
        .list_api_keys(
            &caller,
            query.user_uid.as_deref(),
            &page_params(query.limit, query.offset, query.continue_token),
        )
        .await?;
    let now = state.easel.now();
    let listmeta = views::list_meta(&page);
    // `v1ApiKeys`, written by hand: the same JSON as serde's (a test in `views` holds it so).
    let items = page.items.iter().map(|k| views::api_key_ref(k, now));
    Ok(
        WrittenJson(|out: &mut Vec<u8>| proto::apikey::write_api_keys_json(out, items, &listmeta))
            .into_response(),
    )
}

/// Own, or `apiKey.create` for another user's key. The only response with the key's value.
async fn api_keys_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(entity): ApiJson<proto::ApiKeyEntity>,
) -> ApiResult<impl IntoResponse> {
    let new = NewApiKey {
        name: entity.metadata.name,
        description: entity
            .metadata
            .annotations
            .get(proto::ANNOTATION_DESCRIPTION)
            .cloned(),
        expiry: entity.spec.expiry,
        owner: Some(entity.spec.user_uid),
    };
    let (uid, value) = state.easel.create_api_key(&caller, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::ApiKeyCreateResponse {
            api_key: value,
            uid: uid.to_string(),
        }),
    ))
}

/// Own, or `apiKey.get`.
async fn api_keys_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::ApiKey>> {
    let view = state.easel.get_api_key(&caller, &uid).await?;
    Ok(Json(views::api_key_ref(&view, state.easel.now()).into()))
}

/// Own, or `apiKey.update`. Name, description and expiry; fields left out stay as they are.
async fn api_keys_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(update): ApiJson<proto::ApiKeyUpdate>,
) -> ApiResult<StatusCode> {
    let changes = ApiKeyChanges {
        name: update.metadata.name,
        description: update
            .metadata
            .annotations
            .get(proto::ANNOTATION_DESCRIPTION)
            .cloned(),
        expiry: update.spec.expiry,
    };
    state.easel.update_api_key(&caller, &uid, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own, or `apiKey.update`. `{"isActive": false}` revokes, `true` re-activates an unexpired key.
async fn api_keys_set_state(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::ApiKeyActiveState>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_api_key_active(&caller, &uid, body.is_active)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own, or `apiKey.delete`.
async fn api_keys_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.delete_api_key(&caller, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Any member of the tenant (Easel extension).
async fn api_key_settings_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<Json<proto::ApiKeySettings>> {
    let days = state.easel.api_key_settings(&caller, &tenant_uid)?;
    Ok(Json(proto::ApiKeySettings {
        max_lifetime_days: days,
    }))
}

/// `tenant.update` (Easel extension).
async fn api_key_settings_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
    ApiJson(settings): ApiJson<proto::ApiKeySettings>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_api_key_settings(&caller, &tenant_uid, settings.max_lifetime_days)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

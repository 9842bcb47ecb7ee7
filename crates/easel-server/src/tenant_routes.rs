//! System scope (operators) and self-service sign-up. Each handler's doc comment names what
//! it needs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post, put};
use easel_core::model::Tenant;
use easel_core::paging::PageParams;
use easel_core::service::NewTenant;
use easel_proto as proto;

use crate::auth::Authenticated;
use crate::context::ClientAddress;
use crate::error::ApiResult;
use crate::json::{parse_json, ApiJson, ApiQuery, Json};
use crate::table::Routes;
use crate::views;
use crate::AppState;

pub fn router() -> Routes {
    Routes::default()
        .add(
            "/v1/tenants",
            get(tenants_list).post(tenants_create),
            &[("GET", "operator"), ("POST", "operator")],
        )
        .add(
            "/v1/tenants/validate",
            post(tenants_validate),
            &[("POST", "public")],
        )
        .add(
            "/v1/tenants/signup",
            post(signup),
            &[("POST", "public, when sign-up is open")],
        )
        .add(
            "/v1/tenants/signup/{token}/activate",
            post(signup_activate),
            &[("POST", "a mailed sign-up token")],
        )
        .add(
            "/v1/tenants/{tenant_uid}",
            get(tenants_get).delete(tenants_delete),
            &[
                ("GET", "operator, or tenant.get in that tenant"),
                ("DELETE", "operator"),
            ],
        )
        .add(
            "/v1/tenants/{tenant_uid}/activate",
            patch(tenants_activate),
            &[("PATCH", "operator")],
        )
        .add(
            "/v1/tenants/{tenant_uid}/domains",
            get(domains_get).post(domains_set),
            &[
                ("GET", "operator, or tenant.get in that tenant"),
                ("POST", "operator"),
            ],
        )
        .add(
            "/v1/system/operators",
            get(operators_list),
            &[("GET", "operator")],
        )
        .add(
            "/v1/system/operators/{uid}",
            put(operators_grant).delete(operators_withdraw),
            &[("PUT", "operator"), ("DELETE", "operator")],
        )
        .add(
            "/v1/system/ratelimit",
            get(rate_limit_get).patch(rate_limit_patch),
            &[("GET", "operator"), ("PATCH", "operator")],
        )
}

pub fn tenant_view(tenant: &Tenant) -> proto::Tenant {
    proto::Tenant {
        metadata: proto::ObjectMeta {
            uid: tenant.uid.to_string(),
            name: Some(tenant.name.clone()),
            creation_timestamp: Some(tenant.created_at),
            last_modified_timestamp: Some(tenant.updated_at),
            ..Default::default()
        },
        spec: proto::TenantSpec {
            org_name: tenant.name.clone(),
            auth_type: "password".into(),
            default_login_mode: "devops".into(),
        },
        status: proto::TenantStatus {
            is_active: tenant.is_active,
            to_be_deleted: false,
        },
    }
}

/// Operators: the tenants, 50 a page; `filters=metadata.name=…ANDstatus.isActive=false`.
async fn tenants_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::ListQuery>,
) -> ApiResult<Json<proto::Tenants>> {
    let params = PageParams {
        limit: query.limit,
        offset: query.offset,
        continue_token: query.continue_token,
    };
    let page = state
        .easel
        .list_tenants(&caller, query.filters.as_deref(), &params)
        .await?;
    Ok(Json(proto::Tenants {
        items: page.items.iter().map(tenant_view).collect(),
        listmeta: views::list_meta(&page),
    }))
}

/// Operators: a tenant and its first admin, who is mailed an activation link.
async fn tenants_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(entity): ApiJson<proto::TenantEntity>,
) -> ApiResult<impl IntoResponse> {
    let org_name = if entity.spec.org_name.trim().is_empty() {
        entity.metadata.name.unwrap_or_default()
    } else {
        entity.spec.org_name
    };
    let uid = state
        .easel
        .create_tenant_as_operator(
            &caller,
            NewTenant {
                org_name,
                email: entity.spec.email_id,
                first_name: entity.spec.first_name,
                last_name: entity.spec.last_name,
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

/// Public: 204 if the organisation name is valid, not reserved and free; 400 or 409 if not.
async fn tenants_validate(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<proto::TenantBasicEntity>,
) -> ApiResult<StatusCode> {
    state.easel.validate_tenant_name(&body.org_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public, when sign-up is allowed (403 otherwise): 204, and a mailed link.
async fn signup(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    ApiJson(body): ApiJson<proto::TenantSignUp>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .sign_up(
            NewTenant {
                org_name: body.org_name,
                email: body.email_id,
                first_name: body.first_name,
                last_name: body.last_name,
            },
            &source.to_string(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public, with the mailed sign-up token: creates the tenant.
async fn signup_activate(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.activate_sign_up(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operators: any tenant; a tenant admin (`tenant.update`): their own.
async fn tenants_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<Json<proto::Tenant>> {
    let tenant = state.easel.get_tenant(&caller, &tenant_uid).await?;
    Ok(Json(tenant_view(&tenant)))
}

/// Operators: deletes the tenant and everything in it.
async fn tenants_delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.delete_tenant(&caller, &tenant_uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operators: disables (`{"isActive": false}`) or re-enables a tenant.
async fn tenants_activate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
    ApiJson(body): ApiJson<proto::TenantActivate>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_tenant_active(&caller, &tenant_uid, body.is_active)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operators, or the tenant's admins (`tenant.update`).
async fn domains_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<Json<proto::TenantDomains>> {
    Ok(Json(proto::TenantDomains {
        domains: state.easel.tenant_domains(&caller, &tenant_uid).await?,
    }))
}

/// Operators: replaces the tenant's domains.
async fn domains_set(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
    ApiJson(body): ApiJson<proto::TenantDomains>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_tenant_domains(&caller, &tenant_uid, &body.domains)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operators (Easel extension).
async fn operators_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<proto::Operators>> {
    let operators = state.easel.operators(&caller).await?;
    Ok(Json(proto::Operators {
        items: operators
            .into_iter()
            .map(|(user, tenant)| proto::Operator {
                user_uid: user.uid.to_string(),
                email_id: user.email,
                org_name: tenant.name,
                is_active: user.is_active,
            })
            .collect(),
    }))
}

/// Operators: make a user of any tenant an operator (Easel extension).
async fn operators_grant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.set_operator(&caller, &uid, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operators: whether this node limits request rates.
async fn rate_limit_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<proto::SystemRateLimit>> {
    state.easel.require_operator(&caller)?;
    Ok(Json(proto::SystemRateLimit {
        is_active: Some(state.limiter.is_active()),
    }))
}

/// Operators: `{"isActive": bool}` sets the switch; no body (as Palette's operation has
/// none) toggles it. Answers the new state. The switch is this node's: see
/// docs/api.md ("Rate limits").
async fn rate_limit_patch(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> ApiResult<Json<proto::SystemRateLimit>> {
    let requested = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<proto::SystemRateLimit>(&body, b'{')?.is_active
    };
    let active = requested.unwrap_or(!state.limiter.is_active());
    state
        .easel
        .record_rate_limit_switch(&caller, active)
        .await?;
    state.limiter.set_active(active);
    Ok(Json(proto::SystemRateLimit {
        is_active: Some(active),
    }))
}

/// Operators: withdraw a user's operator rights; the last operator stays (Easel extension).
async fn operators_withdraw(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.set_operator(&caller, &uid, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

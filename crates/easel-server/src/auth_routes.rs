//! Sign-in, tokens, organisations and the password flows. Each handler's doc comment names
//! what it needs; "public" endpoints answer without credentials (and say nothing about
//! whether an address has accounts).

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use easel_core::model::PasswordPurpose;
use easel_core::service::{IssuedToken, PasswordPolicySettings};
use easel_core::{AuthFailure, Error};
use easel_proto as proto;

use crate::auth::{presented_key, presented_token, Authenticated};
use crate::context::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::json::{parse_json, ApiJson, ApiQuery, Json};
use crate::table::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::default()
        .add(
            "/v1/auth/authenticate",
            post(authenticate),
            &[("POST", "public (an API key or credentials)")],
        )
        .add(
            "/v1/auth/refresh",
            get(refresh_from_header),
            &[("GET", "a valid token")],
        )
        .add(
            "/v1/auth/refresh/{token}",
            get(refresh_from_path),
            &[("GET", "a valid token")],
        )
        .add("/v1/auth/logout", post(logout), &[("POST", "a token")])
        .add("/v1/auth/jwks", get(jwks), &[("GET", "public")])
        .add(
            "/v1/auth/orgs",
            get(organizations),
            &[("GET", "authenticated")],
        )
        .add("/v1/auth/org", get(organization), &[("GET", "public")])
        .add(
            "/v1/auth/user/org/forgot",
            get(forgot_organization),
            &[("GET", "public")],
        )
        .add(
            "/v1/auth/user/password/reset",
            post(request_password_reset),
            &[("POST", "public")],
        )
        .add(
            "/v1/auth/password/{token}/reset",
            patch(reset_password),
            &[("PATCH", "a mailed reset token")],
        )
        .add(
            "/v1/auth/password/{token}/activate",
            patch(activate_password),
            &[("PATCH", "a mailed activation token")],
        )
        .add(
            "/v1/users/auth/tokens/revoke",
            post(revoke_tokens),
            &[("POST", "own or user.update")],
        )
        .add(
            "/v1/users/password/change",
            patch(change_own_password),
            &[("PATCH", "own, with the current password")],
        )
        .add(
            "/v1/users/{uid}/password/change",
            patch(change_user_password),
            &[("PATCH", "own with the current password, or user.update")],
        )
        .add(
            "/v1/users/{uid}/password/reset",
            patch(send_password_reset),
            &[("PATCH", "user.update")],
        )
        .add(
            "/v1/tenants/{tenant_uid}/authTokenSettings",
            get(token_settings_get).put(token_settings_update),
            &[("GET", "tenant.update"), ("PUT", "tenant.update")],
        )
        .add(
            "/v1/tenants/{tenant_uid}/password/policy",
            get(password_policy_get).post(password_policy_update),
            &[("GET", "tenant.update"), ("POST", "tenant.update")],
        )
}

/// The token as `v1UserToken`, and as an HttpOnly cookie for the console unless
/// `setCookie=false`.
fn token_response(state: &AppState, issued: IssuedToken, set_cookie: Option<bool>) -> Response {
    let max_age = (issued.expires_at - state.easel.now()).num_seconds().max(0);
    let cookie = format!(
        "Authorization={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        issued.token,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let mut response = Json(proto::UserToken {
        authorization: issued.token,
        is_mfa: false,
    })
    .into_response();
    if set_cookie != Some(false) {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }
    response
}

fn set_cookie_param(query: Option<&str>) -> Result<Option<bool>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    match form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "setCookie") {
        None => Ok(None),
        Some((_, v)) => match v.as_ref() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ApiError::invalid("setCookie must be true or false")),
        },
    }
}

/// Public. Trades an API key (`ApiKey` header or query parameter) for a token, or signs a
/// person in with the `v1AuthLogin` body `{emailId, org, password}`.
async fn authenticate(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let set_cookie = set_cookie_param(parts.uri.query())?;
    if let Some(key) = presented_key(&parts).filter(|k| !k.is_empty()) {
        let issued = state.easel.token_for_api_key(&key).await?;
        return Ok(token_response(&state, issued, set_cookie));
    }
    let bytes = to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::invalid("the request body could not be read"))?;
    let login: proto::AuthLogin = parse_json(&bytes, b'{')?;
    if login.email_id.trim().is_empty() || login.password.is_empty() {
        return Err(ApiError::invalid(
            "send an API key, or emailId and password (and org when you belong to several)",
        ));
    }
    let source = client.to_string();
    let org = Some(login.org.as_str()).filter(|o| !o.trim().is_empty());
    let issued = state
        .easel
        .sign_in(&login.email_id, org, &login.password, &source)
        .await?;
    Ok(token_response(&state, issued, set_cookie))
}

/// A valid, unexpired token: a new token of the same session, until the session's absolute
/// lifetime. The preferred form sends the token in the `Authorization` header.
async fn refresh_from_header(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<proto::SetCookieQuery>,
    request: Request,
) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    let token = presented_token(&parts)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError(Error::Unauthenticated(AuthFailure::Missing)))?;
    let issued = state.easel.refresh(&token).await?;
    Ok(token_response(&state, issued, query.set_cookie))
}

/// As Palette documents it: the token in the path. Prefer `GET /v1/auth/refresh` with the
/// `Authorization` header, which keeps the token out of URLs.
async fn refresh_from_path(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiQuery(query): ApiQuery<proto::SetCookieQuery>,
) -> ApiResult<Response> {
    let issued = state.easel.refresh(token.trim()).await?;
    Ok(token_response(&state, issued, query.set_cookie))
}

/// A token: ends its session and clears the cookie (Easel extension).
async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Response> {
    state.easel.sign_out(&caller).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("Authorization=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// Public: the keys tokens are signed with, as a JWKS document (Easel extension).
async fn jwks(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let keys: Vec<serde_json::Value> = state
        .easel
        .token_public_keys()
        .await?
        .iter()
        .map(|(kid, key)| easel_core::token::jwk(kid, key))
        .collect();
    Ok(Json(serde_json::json!({ "keys": keys })))
}

fn organization_view(state: &AppState, tenant: &easel_core::model::Tenant) -> proto::Organization {
    proto::Organization {
        auth_type: "password".into(),
        name: tenant.name.clone(),
        redirect_url: state.easel.sign_in_url(tenant),
        sso_logins: Vec::new(),
    }
}

/// Any authenticated caller: the organisations the caller's email belongs to.
async fn organizations(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<proto::Organizations>> {
    let tenants = state.easel.organizations_of(&caller).await?;
    Ok(Json(proto::Organizations {
        organizations: tenants
            .iter()
            .map(|t| organization_view(&state, t))
            .collect(),
    }))
}

/// Public: how to sign in to an organisation. Without `orgName`, the organisation whose domain
/// the request came to (its custom sign-in URL).
async fn organization(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<proto::OrgQuery>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<proto::LoginResponse>> {
    let tenant = if query.org_name.trim().is_empty() {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        state
            .easel
            .tenant_for_host(host)
            .await?
            .ok_or_else(|| ApiError::invalid("orgName is required"))?
    } else {
        state.easel.organization(&query.org_name).await?
    };
    Ok(Json(proto::LoginResponse {
        app_env: "self-hosted".into(),
        auth_type: "password".into(),
        org_name: tenant.name.clone(),
        redirect_url: state.easel.sign_in_url(&tenant),
        root_domain: String::new(),
        security_mode: String::new(),
        sso_logins: Vec::new(),
        total_tenants: 1,
    }))
}

/// Public; always 204. Mails the address its organisations, if it has any.
async fn forgot_organization(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<proto::EmailQuery>,
) -> ApiResult<StatusCode> {
    state.easel.forgot_organization(&query.email_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public; always 204. Mails reset links to the address, if it has accounts.
async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<proto::EmailBody>,
) -> ApiResult<StatusCode> {
    state.easel.request_password_reset(&body.email_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public, with a mailed reset token: sets the password; the token works once.
async fn reset_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<proto::PasswordBody>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_password_with_token(&token, PasswordPurpose::Reset, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public, with a mailed activation token: sets a new user's first password.
async fn activate_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<proto::PasswordBody>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_password_with_token(&token, PasswordPurpose::Activate, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own tokens need nothing; another user's need `user.update`. Ends those sessions.
async fn revoke_tokens(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<proto::AuthTokenRevoke>,
) -> ApiResult<StatusCode> {
    state.easel.revoke_tokens(&caller, &body.tokens).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own password, with the current one. Ends all of the user's sessions.
async fn change_own_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<proto::PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .change_own_password(
            &caller,
            &body.email_id,
            &body.current_password,
            &body.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Own (with the current password), or `user.update` for another user's. Ends all of the
/// user's sessions.
async fn change_user_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
    ApiJson(body): ApiJson<proto::PasswordChange>,
) -> ApiResult<StatusCode> {
    let current = Some(body.current_password.as_str()).filter(|c| !c.is_empty());
    state
        .easel
        .change_user_password(&caller, &uid, current, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `user.update`: mails the user a reset link.
async fn send_password_reset(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    state.easel.send_password_reset(&caller, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `tenant.update`.
async fn token_settings_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<Json<proto::AuthTokenSettings>> {
    Ok(Json(proto::AuthTokenSettings {
        expiry_time_minutes: state.easel.token_lifetime(&caller, &tenant_uid)?,
    }))
}

/// `tenant.update`: 15 to 1440 minutes.
async fn token_settings_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
    ApiJson(body): ApiJson<proto::AuthTokenSettings>,
) -> ApiResult<StatusCode> {
    state
        .easel
        .set_token_lifetime(&caller, &tenant_uid, body.expiry_time_minutes)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `tenant.update`.
async fn password_policy_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
) -> ApiResult<Json<proto::PasswordPolicy>> {
    let min_length = state.easel.password_policy(&caller, &tenant_uid)?;
    Ok(Json(proto::PasswordPolicy {
        min_length,
        max_length: easel_core::policy::MAX_LENGTH as i64,
        creation_timestamp: Some(caller.tenant.created_at),
        update_timestamp: Some(caller.tenant.updated_at),
        ..Default::default()
    }))
}

/// `tenant.update`: `minLength` 8 to 64; composition rules, `regex` and expiry must be unset.
async fn password_policy_update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tenant_uid): Path<String>,
    ApiJson(body): ApiJson<proto::PasswordPolicy>,
) -> ApiResult<StatusCode> {
    let settings = PasswordPolicySettings {
        min_length: body.min_length,
        composition_rules: i64::from(
            [
                body.min_num_of_block_letters,
                body.min_num_of_digits,
                body.min_num_of_small_letters,
                body.min_num_of_special_characters,
            ]
            .iter()
            .any(|n| *n != 0)
                || body.is_regex,
        ),
        expiry_days: i64::from(
            body.expiry_duration_in_days != 0 || body.first_reminder_in_days != 0,
        ),
        regex: Some(body.regex),
    };
    state
        .easel
        .set_password_policy(&caller, &tenant_uid, settings)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

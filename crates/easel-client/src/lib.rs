//! A typed client for Easel's `/v1` API (and so, for the operations they share, Palette's).
//! The CLI and the integration tests both go through it.

use easel_proto as proto;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {} ({})", .body.code, .body.message)]
    Api {
        status: StatusCode,
        body: proto::ErrorBody,
    },
    /// The request did not get an answer.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was not what the API documents.
    #[error("unexpected response ({status}): {message}")]
    Unexpected { status: StatusCode, message: String },
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => {
                Some(*status)
            }
            ClientError::Transport(_) => None,
        }
    }

    /// The Palette error code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// A response as it came, for callers that need to look at what the typed calls hide.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: impl Into<String>) -> Client {
        Client {
            http: reqwest::Client::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            token: None,
        }
    }

    /// The same client, sending `token` in the `Authorization` header (raw, as Palette's
    /// clients do) instead of any API key.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            api_key: None,
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client, sending `key` in the `ApiKey` header.
    pub fn with_api_key(&self, key: impl Into<String>) -> Client {
        Client {
            api_key: Some(key.into()),
            token: None,
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("Accept", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("ApiKey", key);
        }
        if let Some(token) = &self.token {
            request = request.header("Authorization", token);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<proto::ErrorBody>(&text) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(ClientError::Unexpected {
                status,
                message: text,
            }),
        }
    }

    async fn call<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = self.send(request).await?;
        let status = response.status();
        let text = response.text().await?;
        serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
            status,
            message: format!("{e}: {text}"),
        })
    }

    async fn call_empty(&self, request: reqwest::RequestBuilder) -> Result<()> {
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(()),
            status => Err(ClientError::Unexpected {
                status,
                message: "expected 204 No Content".into(),
            }),
        }
    }

    fn with_json<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> reqwest::RequestBuilder {
        self.request(method, path).json(body)
    }

    /// Sends anything, for requests the typed calls cannot express (malformed bodies, odd
    /// headers). `body` is sent as `application/json` when given.
    pub async fn raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&str>,
    ) -> Result<RawResponse> {
        let mut request = self.request(method, path_and_query);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await?;
        Ok(RawResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await?,
        })
    }

    // ---- health ----

    pub async fn health_ping(&self) -> Result<proto::HealthPing> {
        self.call(self.request(Method::GET, "/v1/health/ping"))
            .await
    }

    pub async fn health_ready(&self) -> Result<proto::HealthPing> {
        self.call(self.request(Method::GET, "/v1/health/ready"))
            .await
    }

    // ---- users ----

    pub async fn user_info(&self) -> Result<proto::UserInfo> {
        self.call(self.request(Method::GET, "/v1/users/info")).await
    }

    pub async fn list_users(&self, query: &proto::ListQuery) -> Result<proto::Users> {
        self.call(self.request(Method::GET, "/v1/users").query(query))
            .await
    }

    pub async fn create_user(&self, user: &proto::UserEntity) -> Result<proto::Uid> {
        self.call(self.with_json(Method::POST, "/v1/users", user))
            .await
    }

    pub async fn get_user(&self, uid: &str) -> Result<proto::User> {
        self.call(self.request(Method::GET, &format!("/v1/users/{uid}")))
            .await
    }

    pub async fn update_user(&self, uid: &str, user: &proto::UserUpdateEntity) -> Result<()> {
        self.call_empty(self.with_json(Method::PUT, &format!("/v1/users/{uid}"), user))
            .await
    }

    pub async fn patch_user(&self, uid: &str, patch: &[proto::HttpPatch]) -> Result<()> {
        self.call_empty(self.with_json(Method::PATCH, &format!("/v1/users/{uid}"), patch))
            .await
    }

    /// Deactivates (`false`) or re-activates a user through the documented JSON Patch.
    pub async fn set_user_active(&self, uid: &str, active: bool) -> Result<()> {
        self.patch_user(
            uid,
            &[proto::HttpPatch {
                op: "replace".into(),
                path: "/status/isActive".into(),
                value: serde_json::Value::Bool(active),
                from: None,
            }],
        )
        .await
    }

    pub async fn delete_user(&self, uid: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/v1/users/{uid}")))
            .await
    }

    // ---- API keys ----

    pub async fn list_api_keys(&self, query: &proto::ApiKeyListQuery) -> Result<proto::ApiKeys> {
        self.call(self.request(Method::GET, "/v1/apiKeys").query(query))
            .await
    }

    pub async fn create_api_key(
        &self,
        key: &proto::ApiKeyEntity,
    ) -> Result<proto::ApiKeyCreateResponse> {
        self.call(self.with_json(Method::POST, "/v1/apiKeys", key))
            .await
    }

    pub async fn get_api_key(&self, uid: &str) -> Result<proto::ApiKey> {
        self.call(self.request(Method::GET, &format!("/v1/apiKeys/{uid}")))
            .await
    }

    pub async fn update_api_key(&self, uid: &str, update: &proto::ApiKeyUpdate) -> Result<()> {
        self.call_empty(self.with_json(Method::PUT, &format!("/v1/apiKeys/{uid}"), update))
            .await
    }

    /// `PUT /v1/apiKeys/{uid}/state`.
    pub async fn set_api_key_active(&self, uid: &str, active: bool) -> Result<()> {
        let body = proto::ApiKeyActiveState { is_active: active };
        self.call_empty(self.with_json(Method::PUT, &format!("/v1/apiKeys/{uid}/state"), &body))
            .await
    }

    /// `PATCH /v1/apiKeys/{uid}`, the other spelling of the same action.
    pub async fn patch_api_key_active(&self, uid: &str, active: bool) -> Result<()> {
        let body = proto::ApiKeyActiveState { is_active: active };
        self.call_empty(self.with_json(Method::PATCH, &format!("/v1/apiKeys/{uid}"), &body))
            .await
    }

    pub async fn delete_api_key(&self, uid: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/v1/apiKeys/{uid}")))
            .await
    }

    // ---- tenant settings ----

    pub async fn api_key_settings(&self, tenant_uid: &str) -> Result<proto::ApiKeySettings> {
        self.call(self.request(
            Method::GET,
            &format!("/v1/tenants/{tenant_uid}/apiKeySettings"),
        ))
        .await
    }

    pub async fn set_api_key_settings(
        &self,
        tenant_uid: &str,
        settings: &proto::ApiKeySettings,
    ) -> Result<()> {
        self.call_empty(self.with_json(
            Method::PUT,
            &format!("/v1/tenants/{tenant_uid}/apiKeySettings"),
            settings,
        ))
        .await
    }

    // ---- sign-in and tokens ----

    /// `POST /v1/auth/authenticate` with this client's API key: a token for it.
    pub async fn authenticate(&self) -> Result<proto::UserToken> {
        self.call(
            self.request(Method::POST, "/v1/auth/authenticate?setCookie=false")
                .header("Content-Type", "application/json"),
        )
        .await
    }

    /// `POST /v1/auth/authenticate` with email, organisation (may be empty) and password.
    pub async fn sign_in(
        &self,
        email: &str,
        org: &str,
        password: &str,
    ) -> Result<proto::UserToken> {
        let body = proto::AuthLogin {
            email_id: email.into(),
            org: org.into(),
            password: password.into(),
        };
        self.call(self.with_json(Method::POST, "/v1/auth/authenticate?setCookie=false", &body))
            .await
    }

    /// `GET /v1/auth/refresh` with this client's token in the `Authorization` header.
    pub async fn refresh(&self) -> Result<proto::UserToken> {
        self.call(self.request(Method::GET, "/v1/auth/refresh?setCookie=false"))
            .await
    }

    /// `GET /v1/auth/refresh/{token}`, as Palette documents it.
    pub async fn refresh_in_path(&self, token: &str) -> Result<proto::UserToken> {
        self.call(self.request(
            Method::GET,
            &format!("/v1/auth/refresh/{token}?setCookie=false"),
        ))
        .await
    }

    pub async fn revoke_tokens(&self, tokens: &[String]) -> Result<()> {
        let body = proto::AuthTokenRevoke {
            tokens: tokens.to_vec(),
        };
        self.call_empty(self.with_json(Method::POST, "/v1/users/auth/tokens/revoke", &body))
            .await
    }

    pub async fn logout(&self) -> Result<()> {
        self.call_empty(self.request(Method::POST, "/v1/auth/logout"))
            .await
    }

    pub async fn jwks(&self) -> Result<serde_json::Value> {
        self.call(self.request(Method::GET, "/v1/auth/jwks")).await
    }

    pub async fn organizations(&self) -> Result<proto::Organizations> {
        self.call(self.request(Method::GET, "/v1/auth/orgs")).await
    }

    pub async fn organization(&self, name: &str) -> Result<proto::LoginResponse> {
        self.call(
            self.request(Method::GET, "/v1/auth/org")
                .query(&[("orgName", name)]),
        )
        .await
    }

    pub async fn forgot_organization(&self, email: &str) -> Result<()> {
        self.call_empty(
            self.request(Method::GET, "/v1/auth/user/org/forgot")
                .query(&[("emailId", email)]),
        )
        .await
    }

    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let body = proto::EmailBody {
            email_id: email.into(),
        };
        self.call_empty(self.with_json(Method::POST, "/v1/auth/user/password/reset", &body))
            .await
    }

    /// `PATCH /v1/auth/password/{token}/{purpose}`, purpose `reset` or `activate`.
    pub async fn set_password_with_token(
        &self,
        token: &str,
        purpose: &str,
        password: &str,
    ) -> Result<()> {
        let body = proto::PasswordBody {
            password: password.into(),
        };
        self.call_empty(self.with_json(
            Method::PATCH,
            &format!("/v1/auth/password/{token}/{purpose}"),
            &body,
        ))
        .await
    }

    pub async fn change_own_password(&self, email: &str, current: &str, new: &str) -> Result<()> {
        let body = proto::PasswordChange {
            current_password: current.into(),
            email_id: email.into(),
            new_password: new.into(),
        };
        self.call_empty(self.with_json(Method::PATCH, "/v1/users/password/change", &body))
            .await
    }

    pub async fn change_user_password(&self, uid: &str, current: &str, new: &str) -> Result<()> {
        let body = proto::PasswordChange {
            current_password: current.into(),
            email_id: String::new(),
            new_password: new.into(),
        };
        self.call_empty(self.with_json(
            Method::PATCH,
            &format!("/v1/users/{uid}/password/change"),
            &body,
        ))
        .await
    }

    pub async fn send_password_reset(&self, uid: &str) -> Result<()> {
        self.call_empty(
            self.request(Method::PATCH, &format!("/v1/users/{uid}/password/reset"))
                .header("Content-Type", "application/json"),
        )
        .await
    }

    pub async fn token_settings(&self, tenant_uid: &str) -> Result<proto::AuthTokenSettings> {
        self.call(self.request(
            Method::GET,
            &format!("/v1/tenants/{tenant_uid}/authTokenSettings"),
        ))
        .await
    }

    pub async fn set_token_settings(&self, tenant_uid: &str, minutes: i64) -> Result<()> {
        let body = proto::AuthTokenSettings {
            expiry_time_minutes: minutes,
        };
        self.call_empty(self.with_json(
            Method::PUT,
            &format!("/v1/tenants/{tenant_uid}/authTokenSettings"),
            &body,
        ))
        .await
    }

    pub async fn password_policy(&self, tenant_uid: &str) -> Result<proto::PasswordPolicy> {
        self.call(self.request(
            Method::GET,
            &format!("/v1/tenants/{tenant_uid}/password/policy"),
        ))
        .await
    }

    pub async fn set_password_policy(
        &self,
        tenant_uid: &str,
        policy: &proto::PasswordPolicy,
    ) -> Result<()> {
        self.call_empty(self.with_json(
            Method::POST,
            &format!("/v1/tenants/{tenant_uid}/password/policy"),
            policy,
        ))
        .await
    }

    // ---- tenants (system scope) and sign-up ----

    pub async fn list_tenants(&self, query: &proto::ListQuery) -> Result<proto::Tenants> {
        self.call(self.request(Method::GET, "/v1/tenants").query(query))
            .await
    }

    pub async fn create_tenant(&self, entity: &proto::TenantEntity) -> Result<proto::Uid> {
        self.call(self.with_json(Method::POST, "/v1/tenants", entity))
            .await
    }

    pub async fn get_tenant(&self, uid: &str) -> Result<proto::Tenant> {
        self.call(self.request(Method::GET, &format!("/v1/tenants/{uid}")))
            .await
    }

    pub async fn delete_tenant(&self, uid: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/v1/tenants/{uid}")))
            .await
    }

    pub async fn set_tenant_active(&self, uid: &str, active: bool) -> Result<()> {
        let body = proto::TenantActivate { is_active: active };
        self.call_empty(self.with_json(
            Method::PATCH,
            &format!("/v1/tenants/{uid}/activate"),
            &body,
        ))
        .await
    }

    pub async fn validate_tenant(&self, org_name: &str) -> Result<()> {
        let body = proto::TenantBasicEntity {
            email_id: String::new(),
            org_name: org_name.into(),
        };
        self.call_empty(self.with_json(Method::POST, "/v1/tenants/validate", &body))
            .await
    }

    pub async fn tenant_domains(&self, uid: &str) -> Result<proto::TenantDomains> {
        self.call(self.request(Method::GET, &format!("/v1/tenants/{uid}/domains")))
            .await
    }

    pub async fn set_tenant_domains(&self, uid: &str, domains: &[&str]) -> Result<()> {
        let body = proto::TenantDomains {
            domains: domains.iter().map(|d| d.to_string()).collect(),
        };
        self.call_empty(self.with_json(Method::POST, &format!("/v1/tenants/{uid}/domains"), &body))
            .await
    }

    pub async fn sign_up(&self, signup: &proto::TenantSignUp) -> Result<()> {
        self.call_empty(self.with_json(Method::POST, "/v1/tenants/signup", signup))
            .await
    }

    pub async fn activate_sign_up(&self, token: &str) -> Result<()> {
        self.call_empty(
            self.request(
                Method::POST,
                &format!("/v1/tenants/signup/{token}/activate"),
            )
            .header("Content-Type", "application/json"),
        )
        .await
    }

    pub async fn operators(&self) -> Result<proto::Operators> {
        self.call(self.request(Method::GET, "/v1/system/operators"))
            .await
    }

    pub async fn set_operator(&self, user_uid: &str, grant: bool) -> Result<()> {
        let method = if grant { Method::PUT } else { Method::DELETE };
        self.call_empty(
            self.request(method, &format!("/v1/system/operators/{user_uid}"))
                .header("Content-Type", "application/json"),
        )
        .await
    }
}

//! Sign-in and token shapes: `v1AuthLogin`, `v1UserToken`, `v1Organizations`,
//! `v1LoginResponse`, `v1AuthTokenRevoke`, `v1AuthTokenSettings`,
//! `v1TenantPasswordPolicyEntity`, and the inline bodies of the password endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::nullable;

/// `v1AuthLogin`. Its `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthLogin {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub org: String,
    #[serde(default, deserialize_with = "nullable")]
    pub password: String,
}

impl std::fmt::Debug for AuthLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLogin")
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// `v1UserToken`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserToken {
    #[serde(rename = "Authorization")]
    pub authorization: String,
    #[serde(rename = "isMfa", default)]
    pub is_mfa: bool,
}

impl std::fmt::Debug for UserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserToken")
            .field("is_mfa", &self.is_mfa)
            .finish_non_exhaustive()
    }
}

/// `v1SsoLogin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoLogin {
    pub display_name: String,
    pub logo: String,
    pub name: String,
    pub redirect_uri: String,
}

/// `v1Organization`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub auth_type: String,
    pub name: String,
    pub redirect_url: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sso_logins: Vec<SsoLogin>,
}

/// `v1Organizations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Organizations {
    #[serde(default, deserialize_with = "nullable")]
    pub organizations: Vec<Organization>,
}

/// `v1LoginResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub app_env: String,
    pub auth_type: String,
    pub org_name: String,
    pub redirect_url: String,
    pub root_domain: String,
    pub security_mode: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sso_logins: Vec<SsoLogin>,
    pub total_tenants: i64,
}

/// `v1AuthTokenRevoke`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthTokenRevoke {
    #[serde(default, deserialize_with = "nullable")]
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for AuthTokenRevoke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthTokenRevoke({} tokens)", self.tokens.len())
    }
}

/// `v1AuthTokenSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokenSettings {
    pub expiry_time_minutes: i64,
}

/// `v1TenantPasswordPolicyEntity`. Easel applies `minLength`; composition rules, `regex`
/// and `expiryDurationInDays` must be zero or empty (NIST SP 800-63B).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordPolicy {
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub creation_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expiry_duration_in_days: i64,
    #[serde(default)]
    pub first_reminder_in_days: i64,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default)]
    pub max_length: i64,
    #[serde(default)]
    pub min_length: i64,
    #[serde(default)]
    pub min_num_of_block_letters: i64,
    #[serde(default)]
    pub min_num_of_digits: i64,
    #[serde(default)]
    pub min_num_of_small_letters: i64,
    #[serde(default)]
    pub min_num_of_special_characters: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub regex: String,
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub update_timestamp: Option<DateTime<Utc>>,
}

/// `{password}`: the body of the reset and activation endpoints.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasswordBody {
    #[serde(default, deserialize_with = "nullable")]
    pub password: String,
}

impl std::fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordBody(..)")
    }
}

/// `{emailId}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailBody {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
}

/// `{currentPassword, emailId, newPassword}` and `{currentPassword, newPassword}`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    #[serde(default, deserialize_with = "nullable")]
    pub current_password: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange(..)")
    }
}

/// Query of `POST /v1/auth/authenticate` and the refresh calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetCookieQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_cookie: Option<bool>,
}

/// Query of `GET /v1/auth/org`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgQuery {
    #[serde(default)]
    pub org_name: String,
}

/// Query of `GET /v1/auth/user/org/forgot`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailQuery {
    #[serde(default)]
    pub email_id: String,
}

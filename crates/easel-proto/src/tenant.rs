//! Tenant shapes: `v1Tenant`, `v1Tenants`, `v1TenantEntity`, `v1TenantBasicEntity`,
//! `v1TenantSelfSignUpSpec`, `v1TenantActivate`, `v1TenantDomains`.

use serde::{Deserialize, Serialize};

use crate::common::{nullable, ListMeta, ObjectMeta};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tenant {
    pub metadata: ObjectMeta,
    pub spec: TenantSpec,
    pub status: TenantStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    pub org_name: String,
    pub auth_type: String,
    pub default_login_mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    pub is_active: bool,
    #[serde(default)]
    pub to_be_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tenants {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Tenant>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// `v1TenantEntity`: the operator's create request. `spec.orgName` (or `metadata.name`) names
/// the organisation; `emailId`, `firstName` and `lastName` its first admin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TenantEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: TenantSpecEntity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpecEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub org_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: String,
}

/// `v1TenantBasicEntity`: what `POST /v1/tenants/validate` checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBasicEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub org_name: String,
}

/// `v1TenantSelfSignUpSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSignUp {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub org_name: String,
}

fn default_true() -> bool {
    true
}

/// `v1TenantActivate`: `isActive` defaults to true, as the contract says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantActivate {
    #[serde(default = "default_true")]
    pub is_active: bool,
}

/// `v1TenantDomains`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TenantDomains {
    #[serde(default, deserialize_with = "nullable")]
    pub domains: Vec<String>,
}

/// Easel extension: `GET /v1/system/operators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    pub user_uid: String,
    pub email_id: String,
    pub org_name: String,
    pub is_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Operators {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Operator>,
}

/// `GET`/`PATCH /v1/system/ratelimit`: whether this node limits request rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemRateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

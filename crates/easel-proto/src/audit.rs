//! The audit log: `v1Audits`, `v1Audit` and the query of `GET /v1/audits`.

use serde::{Deserialize, Serialize};

use crate::common::{nullable, ListMeta, ObjectMeta};

/// `v1Audits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Audits {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Audit>,
    pub listmeta: ListMeta,
}

/// `v1Audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Audit {
    pub metadata: ObjectMeta,
    pub spec: AuditSpec,
}

/// `v1AuditSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditSpec {
    /// The action, `resource.operation` (for example `apiKey.revoke`).
    pub action_msg: String,
    pub action_type: String,
    pub actor: AuditActor,
    /// A short, secret-free note on what changed.
    #[serde(default, deserialize_with = "nullable")]
    pub content_msg: String,
    pub resource: AuditResourceReference,
    #[serde(default, deserialize_with = "nullable")]
    pub user_msg: String,
}

/// `v1AuditActor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// `user`, or `system` for the deployment itself (bootstrap, the admin CLI).
    pub actor_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<AuditUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<AuditProject>,
}

/// `v1UserMeta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditUser {
    pub uid: String,
    /// Empty when the user has since been deleted.
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
}

/// `v1ProjectMeta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditProject {
    pub uid: String,
}

/// `v1AuditResourceReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditResourceReference {
    pub kind: String,
    pub uid: String,
}

/// Query of `GET /v1/audits` (and of the CSV export).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

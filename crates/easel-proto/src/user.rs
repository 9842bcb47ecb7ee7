//! User shapes: `v1User`, `v1Users`, `v1UserEntity`, `v1UserUpdateEntity`, `v1UserInfo`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::{nullable, ListMeta, ObjectMeta};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub metadata: ObjectMeta,
    pub spec: UserSpec,
    pub status: UserStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSpec {
    pub email_id: String,
    pub first_name: String,
    pub last_name: String,
    /// Uids of the user's tenant roles.
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
}

/// `v1UserStatus`: its first three fields are always emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    #[serde(default)]
    pub activation_link: String,
    pub is_active: bool,
    #[serde(default)]
    pub is_password_resetting: bool,
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub last_sign_in: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Users {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<User>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// `v1UserEntity`: the create request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: UserSpecEntity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSpecEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub login_mode: String,
    /// Role uids (or built-in role names) to grant at tenant scope.
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub teams: Vec<String>,
}

/// `v1UserUpdateEntity`: PUT replaces names and email; `roles`, when sent, replaces the roles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserUpdateEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: UserUpdateSpecEntity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdateSpecEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub email_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: String,
    /// Deprecated in Palette; `None` (absent or `null`) leaves the roles unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// `v1UserInfo`: who the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub org_name: String,
    pub tenant_uid: String,
    pub user_uid: String,
}

/// [`UserInfo`] borrowed from where its fields already are, so that answering "who am I"
/// (the most frequent authenticated call) copies nothing before serialising.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoRef<'a> {
    pub org_name: &'a str,
    pub tenant_uid: &'a str,
    pub user_uid: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_user_info_is_the_same_json() {
        let owned = UserInfo {
            org_name: "a \"quoted\" org".into(),
            tenant_uid: "6b04916e034e85497287f6e8".into(),
            user_uid: "6b049170202debe4aa0c11f2".into(),
        };
        let borrowed = UserInfoRef {
            org_name: &owned.org_name,
            tenant_uid: &owned.tenant_uid,
            user_uid: &owned.user_uid,
        };
        let json = serde_json::to_string(&borrowed).unwrap();
        assert_eq!(json, serde_json::to_string(&owned).unwrap());
        assert_eq!(serde_json::from_str::<UserInfo>(&json).unwrap(), owned);
    }
}

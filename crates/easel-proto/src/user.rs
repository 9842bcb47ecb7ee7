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

impl UserInfoRef<'_> {
    /// Writes the same JSON as serde does, with the field names as literals and each value
    /// copied as it is unless it needs escaping. This is the answer of the most frequent
    /// authenticated call: serde escaped all six strings byte by byte, about a twentieth of
    /// the instructions of a request served from the cache (docs/performance.md, round 15).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"orgName\":");
        crate::written::string(out, self.org_name);
        out.extend_from_slice(b",\"tenantUid\":");
        crate::written::string(out, self.tenant_uid);
        out.extend_from_slice(b",\"userUid\":");
        crate::written::string(out, self.user_uid);
        out.push(b'}');
    }
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

    /// The hand-written JSON is serde's, byte for byte, whatever the strings hold: every
    /// character that must be escaped, at every place in a string, beside plain ASCII,
    /// multi-byte UTF-8 and DEL (which JSON leaves as it is).
    #[test]
    fn user_info_written_by_hand_is_serdes_json() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "bench".into(),
            "6b04916e034e85497287f6e8".into(),
            "a \"quoted\" org".into(),
            "back\\slash".into(),
            "Zürich 東京 🎨".into(),
            "\u{7f}del".into(),
            "line\nbreak\ttab\r\u{8}\u{c}".into(),
        ];
        for special in (0u8..0x20).chain([b'"', b'\\', 0x7f]) {
            let c = char::from(special);
            for at in 0..40 {
                let mut text: String = "x".repeat(39);
                text.insert(at, c);
                samples.push(text);
            }
            samples.push(c.to_string());
        }
        for org_name in &samples {
            for uid in [org_name.as_str(), "6b049170202debe4aa0c11f2"] {
                let info = UserInfoRef {
                    org_name,
                    tenant_uid: uid,
                    user_uid: org_name,
                };
                let mut written = Vec::new();
                info.write_json(&mut written);
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    serde_json::to_string(&info).unwrap(),
                    "{org_name:?}"
                );
            }
        }
    }
}

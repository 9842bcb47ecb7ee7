//! API-key shapes: `v1ApiKey`, `v1ApiKeyEntity`, `v1ApiKeyUpdate`, `v1ApiKeyCreateResponse`,
//! `v1ApiKeyActiveState`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::{nullable, ListMeta, ObjectMeta};

/// Annotation that holds a key's description, as Palette keeps it.
pub const ANNOTATION_DESCRIPTION: &str = "description";

/// `v1ApiKey`, as read and listed. It never holds the key's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKey {
    pub metadata: ObjectMeta,
    pub spec: ApiKeySpec,
    pub status: ApiKeyStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySpec {
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub expiry: Option<DateTime<Utc>>,
    pub user: ApiKeyUser,
    /// Easel extension: the key's prefix and last four characters, to recognise it by.
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyUser {
    pub first_name: String,
    pub last_name: String,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyStatus {
    /// False once revoked. An expired key that was never revoked keeps `true`; `state` says
    /// `expired`.
    pub is_active: bool,
    /// Easel extension: `active`, `inactive` (revoked) or `expired`.
    #[serde(default)]
    pub state: String,
    /// Easel extension: when the key was last used, up to about a minute late (uses are
    /// written every few seconds and added to the key once a minute); Go's
    /// zero time if never.
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub last_used: Option<DateTime<Utc>>,
    /// Easel extension: how many requests the key has authenticated.
    #[serde(default)]
    pub use_count: i64,
}

/// `v1ApiKeys`, with `listmeta` as on every Easel list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeys {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<ApiKey>,
    #[serde(default)]
    pub listmeta: ListMeta,
}

/// A `v1ApiKey` as listed, borrowed from the key it describes, for [`write_api_keys_json`].
/// The same JSON as the [`ApiKey`] made of the same values: its metadata's name, its four
/// annotations (`description`, `ownerUid`, `scope` = `tenant`, `tenantUid`), no labels, no
/// deletion time.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyRef<'a> {
    pub uid: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub owner_uid: &'a str,
    pub tenant_uid: &'a str,
    pub created_at: &'a DateTime<Utc>,
    pub updated_at: &'a DateTime<Utc>,
    pub expiry: &'a DateTime<Utc>,
    pub owner_first_name: &'a str,
    pub owner_last_name: &'a str,
    pub hint: &'a str,
    pub is_active: bool,
    pub state: &'a str,
    pub last_used: Option<&'a DateTime<Utc>>,
    pub use_count: i64,
}

impl ApiKeyRef<'_> {
    /// Writes the key as serde writes the [`ApiKey`] made of the same values.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::written::{integer, string, time};
        out.extend_from_slice(b"{\"metadata\":{\"uid\":");
        string(out, self.uid);
        out.extend_from_slice(b",\"name\":");
        string(out, self.name);
        out.extend_from_slice(b",\"labels\":{},\"annotations\":{\"description\":");
        string(out, self.description);
        out.extend_from_slice(b",\"ownerUid\":");
        string(out, self.owner_uid);
        out.extend_from_slice(b",\"scope\":\"tenant\",\"tenantUid\":");
        string(out, self.tenant_uid);
        out.extend_from_slice(b"},\"creationTimestamp\":");
        time(out, Some(self.created_at));
        out.extend_from_slice(b",\"lastModifiedTimestamp\":");
        time(out, Some(self.updated_at));
        out.extend_from_slice(b",\"deletionTimestamp\":");
        time(out, None);
        out.extend_from_slice(b"},\"spec\":{\"expiry\":");
        time(out, Some(self.expiry));
        out.extend_from_slice(b",\"user\":{\"firstName\":");
        string(out, self.owner_first_name);
        out.extend_from_slice(b",\"lastName\":");
        string(out, self.owner_last_name);
        out.extend_from_slice(b",\"uid\":");
        string(out, self.owner_uid);
        out.extend_from_slice(b"},\"hint\":");
        string(out, self.hint);
        out.extend_from_slice(b"},\"status\":{\"isActive\":");
        out.extend_from_slice(if self.is_active { b"true" } else { b"false" });
        out.extend_from_slice(b",\"state\":");
        string(out, self.state);
        out.extend_from_slice(b",\"lastUsed\":");
        time(out, self.last_used);
        out.extend_from_slice(b",\"useCount\":");
        integer(out, self.use_count);
        out.extend_from_slice(b"}}");
    }
}

impl From<ApiKeyRef<'_>> for ApiKey {
    /// The owned key whose JSON [`ApiKeyRef::write_json`] writes.
    fn from(key: ApiKeyRef<'_>) -> ApiKey {
        use std::collections::BTreeMap;
        ApiKey {
            metadata: ObjectMeta {
                uid: key.uid.to_owned(),
                name: Some(key.name.to_owned()),
                labels: BTreeMap::new(),
                annotations: BTreeMap::from([
                    (
                        ANNOTATION_DESCRIPTION.to_owned(),
                        key.description.to_owned(),
                    ),
                    ("ownerUid".to_owned(), key.owner_uid.to_owned()),
                    ("tenantUid".to_owned(), key.tenant_uid.to_owned()),
                    ("scope".to_owned(), "tenant".to_owned()),
                ]),
                creation_timestamp: Some(*key.created_at),
                last_modified_timestamp: Some(*key.updated_at),
                deletion_timestamp: None,
            },
            spec: ApiKeySpec {
                expiry: Some(*key.expiry),
                user: ApiKeyUser {
                    first_name: key.owner_first_name.to_owned(),
                    last_name: key.owner_last_name.to_owned(),
                    uid: key.owner_uid.to_owned(),
                },
                hint: key.hint.to_owned(),
            },
            status: ApiKeyStatus {
                is_active: key.is_active,
                state: key.state.to_owned(),
                last_used: key.last_used.copied(),
                use_count: key.use_count,
            },
        }
    }
}

/// Writes a page of keys as serde writes the [`ApiKeys`] made of the same values. A page is
/// the answer the benchmark's list rows time: serde's generic path (each key made into an
/// [`ApiKey`] of owned strings and maps, then escaped byte by byte) was about a fifth of a
/// page's CPU in Easel (docs/performance.md, round 22).
pub fn write_api_keys_json<'a>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = ApiKeyRef<'a>>,
    listmeta: &ListMeta,
) {
    use crate::written::{integer, string};
    out.extend_from_slice(b"{\"items\":[");
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        item.write_json(out);
    }
    out.extend_from_slice(b"],\"listmeta\":{\"continue\":");
    string(out, &listmeta.continue_token);
    out.extend_from_slice(b",\"count\":");
    integer(out, listmeta.count);
    out.extend_from_slice(b",\"limit\":");
    integer(out, listmeta.limit);
    out.extend_from_slice(b",\"offset\":");
    integer(out, listmeta.offset);
    out.extend_from_slice(b"}}");
}

/// `v1ApiKeyEntity`: the create request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeyEntity {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ApiKeySpecEntity,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySpecEntity {
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub expiry: Option<DateTime<Utc>>,
    /// The owner; empty means the caller.
    #[serde(default, deserialize_with = "nullable")]
    pub user_uid: String,
}

/// `v1ApiKeyUpdate`: name, description and expiry; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeyUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ApiKeySpecUpdate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeySpecUpdate {
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub expiry: Option<DateTime<Utc>>,
}

/// `v1ApiKeyCreateResponse`: the only response that ever carries a key's value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreateResponse {
    pub api_key: String,
    pub uid: String,
}

impl std::fmt::Debug for ApiKeyCreateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyCreateResponse")
            .field("api_key", &"<redacted>")
            .field("uid", &self.uid)
            .finish()
    }
}

/// `v1ApiKeyActiveState`. A missing `isActive` reads as false, as Go's zero value would.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyActiveState {
    #[serde(default, deserialize_with = "nullable")]
    pub is_active: bool,
}

/// Easel extension: `GET/PUT /v1/tenants/{tenantUid}/apiKeySettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySettings {
    /// The longest lifetime a new or edited key may have, in days.
    pub max_lifetime_days: i64,
}

/// Query parameters of `GET /v1/apiKeys`: the common paging ones and an owner filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
    /// Only the keys of this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_uid: Option<String>,
}

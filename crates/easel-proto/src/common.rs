//! Shapes shared by every resource: object metadata, list metadata, uids and errors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Reads `null` as the type's default: Go clients send `null` for empty arrays and maps.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `v1ObjectMeta`. On input, `uid` and the timestamps are read but ignored by the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, deserialize_with = "nullable")]
    pub uid: String,
    /// `None` when the client did not send the field, which update calls read as "unchanged".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub creation_timestamp: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub last_modified_timestamp: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::time::optional")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub deletion_timestamp: Option<DateTime<Utc>>,
}

/// `v1ListMetaData`: always present on lists, all four fields always emitted.
/// `continue` is empty on the last page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListMeta {
    #[serde(rename = "continue", default, deserialize_with = "nullable")]
    pub continue_token: String,
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub limit: i64,
    #[serde(default)]
    pub offset: i64,
}

/// `v1Uid`, the body of every 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Uid {
    pub uid: String,
}

/// `v1Error`: `{code, message, ref, details}`. `ref` is the request id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(rename = "ref", default)]
    pub reference: String,
    #[serde(default)]
    pub details: serde_json::Value,
}

/// `v1HealthPing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthPing {
    pub msg: String,
}

/// One operation of a JSON Patch (`v1HttpPatch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpPatch {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// Query parameters shared by every list call. `filters` and `orderBy` are read so that a
/// request using them is refused clearly rather than answered as if they were not there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_tolerates_what_go_clients_send() {
        let m: ObjectMeta = serde_json::from_str(
            r#"{"uid":"","name":"x","labels":null,"annotations":null,
                "creationTimestamp":"0001-01-01T00:00:00.000Z","deletionTimestamp":null}"#,
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("x"));
        assert!(m.labels.is_empty());
        assert_eq!(m.creation_timestamp, None);
    }

    #[test]
    fn unset_times_are_written_as_go_zero_time() {
        let v = serde_json::to_value(ObjectMeta::default()).unwrap();
        assert_eq!(v["deletionTimestamp"], crate::time::GO_ZERO_TIME);
    }

    #[test]
    fn list_meta_always_has_four_fields() {
        let v = serde_json::to_value(ListMeta::default()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"continue":"","count":0,"limit":0,"offset":0})
        );
    }
}

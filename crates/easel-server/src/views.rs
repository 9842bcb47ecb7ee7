//! Domain objects as the wire shows them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use easel_core::model::{ApiKeyView, User};
use easel_core::paging::Page;
use easel_proto as proto;

pub fn list_meta<T>(page: &Page<T>) -> proto::ListMeta {
    proto::ListMeta {
        continue_token: page.continue_token.clone(),
        count: page.total,
        limit: page.limit,
        offset: page.next_offset,
    }
}

/// A key as the wire shows it, borrowed: written by hand for a page of keys
/// ([`proto::apikey::write_api_keys_json`]), with nothing copied, or made into a
/// [`proto::ApiKey`] for one key.
pub fn api_key_ref(view: &ApiKeyView, now: DateTime<Utc>) -> proto::apikey::ApiKeyRef<'_> {
    let key = &view.key;
    proto::apikey::ApiKeyRef {
        uid: key.uid.as_str(),
        name: &key.name,
        description: &key.description,
        owner_uid: key.owner_uid.as_str(),
        tenant_uid: key.tenant_uid.as_str(),
        created_at: &key.created_at,
        updated_at: &key.updated_at,
        expiry: &key.expires_at,
        owner_first_name: &view.owner_first_name,
        owner_last_name: &view.owner_last_name,
        hint: &key.hint,
        is_active: key.is_active,
        state: key.state(now).as_str(),
        last_used: key.last_used_at.as_ref(),
        use_count: key.use_count,
    }
}

pub fn user(user: &User) -> proto::User {
    proto::User {
        metadata: proto::ObjectMeta {
            uid: user.uid.to_string(),
            name: Some(format!("{} {}", user.first_name, user.last_name)),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            creation_timestamp: Some(user.created_at),
            last_modified_timestamp: Some(user.updated_at),
            deletion_timestamp: None,
        },
        spec: proto::UserSpec {
            email_id: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            roles: user.roles.clone(),
        },
        status: proto::UserStatus {
            activation_link: String::new(),
            is_active: user.is_active,
            is_password_resetting: false,
            last_sign_in: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use easel_core::model::ApiKey;
    use easel_core::Uid;

    fn view(n: usize, text: &str, now: DateTime<Utc>) -> ApiKeyView {
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).unwrap();
        let uid = |prefix: &str| Uid::from_stored(format!("{prefix}{n:020}"));
        ApiKeyView {
            key: ApiKey {
                uid: uid("0a0b"),
                tenant_uid: uid("0c0d"),
                owner_uid: uid("0e0f"),
                name: format!("{text} {n}"),
                description: text.to_owned(),
                hint: format!("easel_…{n:04}"),
                // Past, future and far future (chrono spells years past 9999 itself); with
                // and without a fraction of a millisecond, which neither spelling shows.
                expires_at: [
                    now - chrono::Duration::days(1),
                    now + chrono::Duration::days(30),
                    Utc.with_ymd_and_hms(12345, 1, 2, 3, 4, 5).unwrap(),
                ][n % 3],
                is_active: n % 4 != 1,
                created_at: at(1_700_000_000_123) + chrono::Duration::nanoseconds(456_789),
                updated_at: at(1_733_000_000_000),
                last_used_at: n.is_multiple_of(2).then(|| at(1_764_000_000_999)),
                use_count: [0, 1, i64::MAX, -5][n % 4],
            },
            owner_first_name: format!("{text}\u{e9}"),
            owner_last_name: text.chars().rev().collect(),
        }
    }

    /// A page of keys written by hand is serde's JSON of the same page, byte for byte:
    /// strings with every character JSON escapes, multi-byte UTF-8, each key state, times
    /// chrono formats itself, unset times, extreme counts, the list's metadata.
    #[test]
    fn a_page_of_keys_written_by_hand_is_serdes_json() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let texts = [
            "",
            "plain",
            "quote \" and \\ backslash",
            "tab\tnew\nline\r\u{1}\u{1f}",
            "\u{7f} del é ✓ 😀",
            "</script>",
        ];
        let views: Vec<ApiKeyView> = texts
            .iter()
            .enumerate()
            .flat_map(|(i, text)| (0..4).map(move |k| (i * 4 + k, *text)))
            .map(|(n, text)| view(n, text, now))
            .collect();
        for listmeta in [
            proto::ListMeta::default(),
            proto::ListMeta {
                continue_token: "eyJ\"tok\"".into(),
                count: 1_000_000,
                limit: 50,
                offset: -1,
            },
        ] {
            for items in [&views[..0], &views[..1], &views[..]] {
                let mut written = Vec::new();
                proto::apikey::write_api_keys_json(
                    &mut written,
                    items.iter().map(|v| api_key_ref(v, now)),
                    &listmeta,
                );
                let owned = proto::ApiKeys {
                    items: items.iter().map(|v| api_key_ref(v, now).into()).collect(),
                    listmeta: listmeta.clone(),
                };
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    serde_json::to_string(&owned).unwrap()
                );
            }
        }
    }
}

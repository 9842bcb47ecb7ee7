//! Domain objects as the wire shows them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use easel_core::model::{at_millis, ApiKeyView, User};
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

/// Takes the view by value: a page of keys moves its strings into the response rather than
/// copying each one.
pub fn api_key(view: ApiKeyView, now: DateTime<Utc>) -> proto::ApiKey {
    let state = view.key.state(now).as_str().to_owned();
    let key = view.key;
    let owner_uid = key.owner_uid.into_string();
    let annotations = BTreeMap::from([
        (proto::ANNOTATION_DESCRIPTION.to_owned(), key.description),
        ("ownerUid".to_owned(), owner_uid.clone()),
        ("tenantUid".to_owned(), key.tenant_uid.into_string()),
        ("scope".to_owned(), "tenant".to_owned()),
    ]);
    proto::ApiKey {
        metadata: proto::ObjectMeta {
            uid: key.uid.into_string(),
            name: Some(key.name),
            labels: BTreeMap::new(),
            annotations,
            creation_timestamp: Some(at_millis(key.created_at)),
            last_modified_timestamp: Some(at_millis(key.updated_at)),
            deletion_timestamp: None,
        },
        spec: proto::ApiKeySpec {
            expiry: Some(key.expires_at),
            user: proto::ApiKeyUser {
                first_name: view.owner_first_name,
                last_name: view.owner_last_name,
                uid: owner_uid,
            },
            hint: key.hint,
        },
        status: proto::ApiKeyStatus {
            is_active: key.is_active,
            state,
            last_used: key.last_used_at,
            use_count: key.use_count,
        },
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

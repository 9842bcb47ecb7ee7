//! The audit log: Palette's list and single row, and a CSV export (an Easel extension).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use easel_core::model::AuditView;
use easel_core::paging::PageParams;
use easel_core::service::AuditQuery;
use easel_proto as proto;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::json::{ApiQuery, Json};
use crate::table::Routes;
use crate::views;
use crate::AppState;

pub fn router() -> Routes {
    Routes::default()
        .add("/v1/audits", get(audits_list), &[("GET", "audit.list")])
        .add(
            "/v1/audits/export",
            get(audits_export),
            &[("GET", "audit.list")],
        )
        .add("/v1/audits/{uid}", get(audits_get), &[("GET", "audit.get")])
}

fn query_of(q: &proto::AuditListQuery) -> AuditQuery {
    AuditQuery {
        start_time: q.start_time.clone(),
        end_time: q.end_time.clone(),
        user_uid: q.user_uid.clone(),
        project_uid: q.project_uid.clone(),
        tenant_uid: q.tenant_uid.clone(),
        resource_kind: q.resource_kind.clone(),
        resource_uid: q.resource_uid.clone(),
        action_type: q.action_type.clone(),
    }
}

pub fn audit_view(view: AuditView) -> proto::Audit {
    let entry = view.entry;
    let action_type = easel_core::model::AuditEntry::action_type(&entry.action).to_owned();
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("tenantUid".to_owned(), entry.tenant_uid.to_string());
    proto::Audit {
        metadata: proto::ObjectMeta {
            uid: entry.uid.to_string(),
            name: Some(entry.action.clone()),
            annotations,
            creation_timestamp: Some(entry.at),
            last_modified_timestamp: Some(entry.at),
            ..Default::default()
        },
        spec: proto::AuditSpec {
            action_msg: entry.action,
            action_type,
            actor: proto::AuditActor {
                actor_type: if entry.actor_uid.is_some() {
                    "user"
                } else {
                    "system"
                }
                .to_owned(),
                user: entry.actor_uid.map(|uid| proto::AuditUser {
                    uid: uid.to_string(),
                    email_id: view.actor_email.unwrap_or_default(),
                }),
                project: entry.project_uid.map(|uid| proto::AuditProject {
                    uid: uid.to_string(),
                }),
            },
            content_msg: entry.detail,
            resource: proto::AuditResourceReference {
                kind: entry.resource_kind,
                uid: entry.resource_uid.to_string(),
            },
            user_msg: String::new(),
        },
    }
}

/// `audit.list`: newest first, filtered by time range, actor, project, resource and action
/// type; operators may name another tenant.
async fn audits_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::AuditListQuery>,
) -> ApiResult<Json<proto::Audits>> {
    let params = PageParams {
        limit: query.limit,
        offset: query.offset,
        continue_token: query.continue_token.clone(),
    };
    let page = state
        .easel
        .list_audits(&caller, &query_of(&query), &params)
        .await?;
    let listmeta = views::list_meta(&page);
    Ok(Json(proto::Audits {
        items: page.items.into_iter().map(audit_view).collect(),
        listmeta,
    }))
}

/// `audit.get`.
async fn audits_get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Json<proto::Audit>> {
    Ok(Json(audit_view(
        state.easel.audit_row(&caller, &uid).await?,
    )))
}

/// `audit.list`: every row the filters select, newest first, as CSV (at most
/// `MAX_EXPORT_ROWS`; `Easel-Export-Truncated: true` says more were left out).
async fn audits_export(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<proto::AuditListQuery>,
) -> ApiResult<Response> {
    let (rows, truncated) = state
        .easel
        .export_audits(&caller, &query_of(&query))
        .await?;
    let mut csv = String::from(
        "uid,time,tenantUid,actorUid,actorEmail,action,actionType,resourceKind,resourceUid,\
         projectUid,detail\r\n",
    );
    for view in rows {
        let e = &view.entry;
        let fields = [
            e.uid.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.tenant_uid.to_string(),
            e.actor_uid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            view.actor_email.clone().unwrap_or_default(),
            e.action.clone(),
            easel_core::model::AuditEntry::action_type(&e.action).to_owned(),
            e.resource_kind.clone(),
            e.resource_uid.to_string(),
            e.project_uid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            e.detail.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audits.csv\""),
    );
    if truncated {
        headers.insert("easel-export-truncated", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One CSV field (RFC 4180), made inert for spreadsheets: a field that would start a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading apostrophe.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}

//! The audit log as callers see it: lists with Palette's filters, single rows, a CSV-ready
//! export, retention, and the rows that record refused requests and failed sign-ins.
//!
//! Changes write their audit row in the same transaction as the change (see the store);
//! rows about things that did not happen (a refused request, a wrong password) are queued to
//! the batch writer instead, so that a flood of them costs no transaction each.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Easel;
use crate::access::{Caller, Permission};
use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::model::{AuditEntry, AuditFilter, AuditView, Window};
use crate::paging::{Page, PageParams};

/// The most rows one export returns; narrow the time range for more.
pub const MAX_EXPORT_ROWS: usize = 100_000;

/// `GET /v1/audits` filters as they arrive, before validation.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub user_uid: Option<String>,
    pub project_uid: Option<String>,
    pub tenant_uid: Option<String>,
    pub resource_kind: Option<String>,
    pub resource_uid: Option<String>,
    pub action_type: Option<String>,
}

const ACTION_TYPES: [&str; 7] = [
    "create", "update", "delete", "publish", "deploy", "activity", "action",
];

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn time(name: &str, value: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    present(value)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| Error::invalid(format!("{name} must be an RFC 3339 date-time")))
        })
        .transpose()
}

fn uid(name: &str, value: &Option<String>) -> Result<Option<Uid>> {
    present(value)
        .map(|v| Uid::parse(v).ok_or_else(|| Error::invalid(format!("{name} is not a uid"))))
        .transpose()
}

impl Easel {
    /// Validates a query against what the caller may see: their tenant (operators may name
    /// another), and in project scope only that project's rows.
    fn audit_filter(&self, caller: &Caller, query: &AuditQuery) -> Result<AuditFilter> {
        caller.require(Permission::AuditList)?;
        let tenant = match uid("tenantUid", &query.tenant_uid)? {
            Some(tenant) if tenant != caller.tenant.uid => {
                self.require_operator(caller)?;
                tenant
            }
            _ => caller.tenant.uid.clone(),
        };
        let mut project = uid("projectUid", &query.project_uid)?;
        if let Some(scope) = &caller.project {
            if project.as_ref().is_some_and(|p| *p != scope.uid) {
                return Err(Error::forbidden(
                    "in project scope, only the project's own audit rows can be listed",
                ));
            }
            project = Some(scope.uid.clone());
        }
        let action_type = present(&query.action_type)
            .map(|t| {
                ACTION_TYPES
                    .contains(&t)
                    .then(|| t.to_owned())
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "actionType must be one of {}",
                            ACTION_TYPES.join(", ")
                        ))
                    })
            })
            .transpose()?;
        let filter = AuditFilter {
            tenant: Some(tenant),
            since: time("startTime", &query.start_time)?,
            until: time("endTime", &query.end_time)?,
            actor: uid("userUid", &query.user_uid)?,
            project,
            resource_kind: present(&query.resource_kind).map(str::to_owned),
            resource: uid("resourceUid", &query.resource_uid)?,
            action_type,
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            if since > until {
                return Err(Error::invalid("startTime must not be after endTime"));
            }
        }
        Ok(filter)
    }

    /// `audit.list`: a page of the tenant's audit rows, newest first. A `continue` token is
    /// good only for the filter it was issued with.
    pub async fn list_audits(
        &self,
        caller: &Caller,
        query: &AuditQuery,
        params: &PageParams,
    ) -> Result<Page<AuditView>> {
        let filter = self.audit_filter(caller, query)?;
        let list = format!(
            "audits:{}",
            hex(&Sha256::digest(format!("{filter:?}").as_bytes())[..8])
        );
        let window = self.pages.window(&list, params)?;
        let listed = self.store.list_audits(&filter, &window, true).await?;
        self.pages.page(&list, &window, listed, |v| &v.entry.uid)
    }

    /// `audit.get`: one row of the caller's tenant (any tenant's for operators).
    pub async fn audit_row(&self, caller: &Caller, raw_uid: &str) -> Result<AuditView> {
        caller.require(Permission::AuditGet)?;
        let not_found = || Error::NotFound { kind: "audit" };
        let uid = Uid::parse(raw_uid).ok_or_else(not_found)?;
        let tenant = (!caller.user.is_operator).then_some(&caller.tenant.uid);
        let row = self
            .store
            .audit_entry(tenant, &uid)
            .await?
            .ok_or_else(not_found)?;
        match &caller.project {
            Some(project) if row.entry.project_uid.as_ref() != Some(&project.uid) => {
                Err(not_found())
            }
            _ => Ok(row),
        }
    }

    /// Every row the query selects, newest first, at most [`MAX_EXPORT_ROWS`]; the flag
    /// says whether more were left out.
    pub async fn export_audits(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditView>, bool)> {
        const CHUNK: i64 = 1000;
        let filter = self.audit_filter(caller, query)?;
        let mut rows: Vec<AuditView> = Vec::new();
        loop {
            let window = Window {
                limit: CHUNK,
                after: rows.last().map(|r| r.entry.uid.clone()),
                offset: 0,
            };
            let chunk = self.store.list_audits(&filter, &window, false).await?.rows;
            let done = (chunk.len() as i64) <= CHUNK;
            rows.extend(chunk.into_iter().take(CHUNK as usize));
            if rows.len() > MAX_EXPORT_ROWS {
                rows.truncate(MAX_EXPORT_ROWS);
                return Ok((rows, true));
            }
            if done {
                return Ok((rows, false));
            }
        }
    }

    /// Retention: deletes the rows older than the configured retention; returns how many.
    pub async fn sweep_audits(&self) -> Result<u64> {
        match self.config.audit_retention {
            Some(keep) => self.store.delete_audits_before(self.now() - keep).await,
            None => Ok(0),
        }
    }

    /// Records a request refused for want of a permission (`access.refused`), queued.
    pub async fn record_refusal(&self, caller: &Caller, request: &str, reason: &str) {
        let mut entry = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "access.refused",
            &caller.user.uid,
            format!("{request}: {reason}"),
        );
        entry.project_uid = caller.project.as_ref().map(|p| p.uid.clone());
        self.queue_audit(entry).await;
    }

    /// Queues an audit row about something that did not happen; a failure to queue (the
    /// writer stopped) is logged, never the caller's problem.
    pub(super) async fn queue_audit(&self, entry: AuditEntry) {
        if let Err(e) = self.sign_ins.record(entry).await {
            tracing::warn!(error = %e, "could not queue an audit row");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

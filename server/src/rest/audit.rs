//! `GET /api/v2.0/audit-logs` (system administrators) and
//! `GET /api/v2.0/projects/{project}/logs` (`read_logs` in the project) in
//! Harbor's shapes, newest first, paged, filtered with Harbor's `q`:
//! `username=`, `operation=`, `resource_type=`, `resource=~<prefix>` and
//! `op_time=[<from>~<to>]`.

use axum::{extract::State, http::HeaderMap, response::Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Condition, Page, PageQuery, parse_q, parse_sort},
    projects::named_project,
};
use app::core::{
    AppState,
    events::{AuditQuery, StoredEvent},
};

/// Harbor's `AuditLog`, plus what Berth records besides.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditLogView {
    id: i64,
    username: String,
    resource: String,
    resource_type: String,
    operation: String,
    op_time: DateTime<Utc>,
    outcome: String,
    client_addr: Option<String>,
    detail: Option<String>,
}

impl From<StoredEvent> for AuditLogView {
    fn from(event: StoredEvent) -> Self {
        Self {
            id: event.id,
            username: event.actor.unwrap_or_else(|| "anonymous".to_owned()),
            resource: event.resource,
            resource_type: event.resource_type,
            operation: event.operation,
            op_time: event.occurred_at,
            outcome: event.outcome,
            client_addr: event.client_addr,
            detail: event.detail,
        }
    }
}

#[derive(Deserialize)]
pub struct LogQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    q: Option<String>,
    sort: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/audit-logs", tag = "auditlog", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: key=value or key=~fuzzy, comma-separated"), ("sort" = Option<String>, Query, pattern = r"^-op_time$", description = "Sort key, - for descending")), responses((status = 200, body = [AuditLogView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn audit_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    logs(&state, caller, None, query, "/api/v2.0/audit-logs".to_owned()).await
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/logs", tag = "project", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: key=value or key=~fuzzy, comma-separated"), ("sort" = Option<String>, Query, pattern = r"^-op_time$", description = "Sort key, - for descending")), responses((status = 200, body = [AuditLogView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn project_logs(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    let project = named_project(&state, &headers, &project).await?;
    let path = format!("/api/v2.0/projects/{project}/logs");
    logs(&state, caller, Some(project), query, path).await
}

async fn logs(
    state: &AppState,
    caller: Caller,
    project: Option<String>,
    query: LogQuery,
    path: String,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    // Entries come newest first, the order Harbor's own portal asks for.
    if let Some(("op_time", false)) = parse_sort(query.sort.as_deref(), &["op_time"])? {
        return Err(ApiError::bad_request("sort: audit logs come newest first (-op_time)"));
    }
    let mut filters = Filters::default();
    for (key, condition) in
        parse_q(query.q.as_deref(), &["username", "operation", "resource_type", "resource", "op_time"])?
    {
        filters.apply(&key, condition)?;
    }
    let audit_query = AuditQuery {
        actor: filters.username.as_deref(),
        project: project.as_deref(),
        operation: filters.operation.as_deref(),
        resource_type: filters.resource_type.as_deref(),
        resource_prefix: filters.resource.as_deref(),
        since: filters.since,
        until: filters.until,
    };
    // Entries recorded a moment ago may still be on their way to the database.
    state.events.flush().await;
    let events = state.audit.list(&actor, &audit_query, page.window()).await?;
    Ok(page.respond(events, &path, &[("q", query.q.as_deref())], AuditLogView::from))
}

#[derive(Default)]
struct Filters {
    username: Option<String>,
    operation: Option<String>,
    resource_type: Option<String>,
    resource: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl Filters {
    fn apply(&mut self, key: &str, condition: Condition) -> ApiResult<()> {
        match (key, condition) {
            ("resource", Condition::Fuzzy(prefix) | Condition::Exact(prefix)) => self.resource = Some(prefix),
            ("op_time", Condition::Exact(range)) => {
                let inner = range
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .ok_or_else(|| ApiError::bad_request("q: op_time must be [<from>~<to>]"))?;
                let (from, to) =
                    inner.split_once('~').ok_or_else(|| ApiError::bad_request("q: op_time must be [<from>~<to>]"))?;
                self.since = time(from)?;
                self.until = time(to)?;
            }
            (_, Condition::Fuzzy(_)) => {
                return Err(ApiError::bad_request(format!("q: {key} matches exactly; only resource takes =~")));
            }
            ("username", Condition::Exact(value)) => self.username = Some(value),
            ("operation", Condition::Exact(value)) => self.operation = Some(value),
            ("resource_type", Condition::Exact(value)) => self.resource_type = Some(value),
            _ => unreachable!("parse_q keeps to the allowlist"),
        }
        Ok(())
    }
}

/// `2024-01-31 23:59:59` (UTC, as Harbor writes it) or RFC 3339; empty is open.
fn time(text: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .map(|at| Some(at.and_utc()))
        .map_err(|_| ApiError::bad_request(format!("q: op_time {text:?} is not YYYY-MM-DD HH:MM:SS")))
}

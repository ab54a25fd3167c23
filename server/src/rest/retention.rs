//! `/api/v2.0/retentions` in Harbor's shapes: a project's tag retention
//! policy (rules with a template, its parameter and repository and tag
//! selectors; a schedule), its executions (run now or dry, stop) with one
//! task per repository and each task's log, and the metadata the UI
//! builds its form from. Decided by the retention service.

use std::collections::HashMap;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, Page, PageQuery},
    selectors::{self, DOUBLESTAR, REPOSITORY_DECORATIONS, ScopeSelectors, SelectorBody, TAG_DECORATIONS},
};
use app::core::{
    AppState, Error,
    jobs::{Execution, Status, Trigger},
    projects::ProjectId,
    retention::{PolicyDraft, PolicyId, RetentionPolicy, RetentionRule, RetentionTask, TaskStatus, Template},
    selectors::{Decoration, Selector},
};

/// Harbor's `RetentionRule`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleBody {
    #[serde(default, skip_deserializing)]
    id: i64,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    disabled: bool,
    #[serde(default = "retain")]
    action: String,
    template: String,
    /// `{"<template>": N}` for the templates that take a number.
    #[serde(default)]
    #[schema(value_type = Object)]
    params: Map<String, Value>,
    tag_selectors: Vec<SelectorBody>,
    scope_selectors: ScopeSelectors,
}

fn retain() -> String {
    "retain".to_owned()
}

/// Harbor's `RetentionRuleTrigger`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerBody {
    #[serde(default = "schedule_kind")]
    kind: String,
    /// `{"cron": "<six fields>"}`; an empty cron runs only by hand.
    #[serde(default)]
    #[schema(value_type = Object)]
    settings: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    references: Map<String, Value>,
}

fn schedule_kind() -> String {
    "Schedule".to_owned()
}

/// Harbor's `RetentionPolicyScope`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeBody {
    level: String,
    #[serde(rename = "ref")]
    reference: i64,
}

/// Harbor's `RetentionPolicy`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyBody {
    #[serde(default, skip_deserializing)]
    id: i64,
    #[serde(default = "or")]
    algorithm: String,
    rules: Vec<RuleBody>,
    #[serde(default)]
    trigger: Option<TriggerBody>,
    scope: ScopeBody,
}

/// Harbor's `extras.untagged` for a tag selector, from whether untagged
/// artifacts are candidates (or back: the mapping is its own inverse). With
/// `matches` the flag says they are; with `excludes` Harbor reads it as
/// "untagged artifacts are excluded too", so it says they are not.
fn harbor_untagged(tags: &Selector, flag: bool) -> bool {
    match tags.decoration {
        Decoration::Matches => flag,
        Decoration::Excludes => !flag,
    }
}

fn or() -> String {
    "or".to_owned()
}

fn policy_body(policy: RetentionPolicy) -> PolicyBody {
    let rules = policy
        .rules
        .iter()
        .enumerate()
        .map(|(n, rule)| {
            let mut params = Map::new();
            if let Some(number) = rule.template.number() {
                params.insert(rule.template.harbor_name().to_owned(), Value::from(number));
            }
            let extras = serde_json::json!({ "untagged": harbor_untagged(&rule.tags, rule.untagged) }).to_string();
            RuleBody {
                id: n as i64 + 1,
                priority: n as i64 + 1,
                disabled: rule.disabled,
                action: retain(),
                template: rule.template.harbor_name().to_owned(),
                params,
                tag_selectors: vec![selectors::body(&rule.tags, TAG_DECORATIONS, Some(extras))],
                scope_selectors: ScopeSelectors::of(&rule.repositories),
            }
        })
        .collect();
    let mut settings = Map::new();
    settings.insert("cron".to_owned(), Value::from(policy.cron.unwrap_or_default()));
    PolicyBody {
        id: policy.id.0,
        algorithm: or(),
        rules,
        trigger: Some(TriggerBody { kind: schedule_kind(), settings, references: Map::new() }),
        scope: ScopeBody { level: "project".to_owned(), reference: policy.project_id.0 },
    }
}

impl PolicyBody {
    /// The project (`scope.ref`) and the policy this asks for.
    fn draft(self) -> ApiResult<(i64, PolicyDraft)> {
        if self.scope.level != "project" {
            return Err(ApiError::bad_request(format!("scope.level: {:?}; only project", self.scope.level)));
        }
        if self.algorithm != "or" {
            return Err(ApiError::bad_request(format!("algorithm: {:?}; only or", self.algorithm)));
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        let mut ordered = self.rules;
        ordered.sort_by_key(|rule| rule.priority);
        for (n, rule) in ordered.into_iter().enumerate() {
            let at = |field: &str| format!("rules[{n}].{field}");
            if rule.action != "retain" {
                return Err(ApiError::bad_request(format!("{}: {:?}; only retain", at("action"), rule.action)));
            }
            let number = match rule.params.get(&rule.template) {
                None | Some(Value::Null) => None,
                Some(value) => Some(value.as_i64().ok_or_else(|| {
                    ApiError::bad_request(format!("{}: {} must be a whole number", at("params"), rule.template))
                })?),
            };
            let template = Template::from_harbor(&rule.template, number)
                .map_err(|e| ApiError::bad_request(format!("{}: {}", at(e.field), e.message)))?;
            let (tags, extras) = selectors::one(&at("tag_selectors"), Some(rule.tag_selectors), TAG_DECORATIONS)?;
            // Without extras, untagged artifacts are candidates, as in Harbor
            // (the safe reading: candidates can be kept, never only deleted).
            let untagged = match extras.as_deref().filter(|extras| !extras.is_empty()) {
                None => true,
                Some(extras) => serde_json::from_str::<Value>(extras)
                    .ok()
                    .and_then(|extras| extras.get("untagged").and_then(Value::as_bool))
                    .map(|flag| harbor_untagged(&tags, flag))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "{}: extras must be {{\"untagged\": true|false}}",
                            at("tag_selectors")
                        ))
                    })?,
            };
            let repositories = Some(rule.scope_selectors.repository);
            let (repositories, _) =
                selectors::one(&at("scope_selectors.repository"), repositories, REPOSITORY_DECORATIONS)?;
            rules.push(RetentionRule { disabled: rule.disabled, template, repositories, tags, untagged });
        }
        let cron = match self.trigger.and_then(|trigger| trigger.settings.get("cron").cloned()) {
            None | Some(Value::Null) => None,
            Some(Value::String(cron)) if cron.trim().is_empty() => None,
            Some(Value::String(cron)) => Some(cron),
            Some(_) => return Err(ApiError::bad_request("trigger.settings.cron: must be a string")),
        };
        Ok((self.scope.reference, PolicyDraft { rules, cron }))
    }
}

/// The name of the project with id `id`.
async fn project_named(state: &AppState, id: i64) -> ApiResult<String> {
    let project =
        state.projects.find_by_id(ProjectId(id)).await?.ok_or_else(|| Error::NotFound(format!("project {id}")))?;
    Ok(project.name.to_string())
}

/// Harbor's `RetentionMetadata`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MetadataBody {
    #[schema(value_type = Vec<Object>)]
    templates: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    scope_selectors: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    tag_selectors: Vec<Value>,
}

#[utoipa::path(get, path = "/api/v2.0/retentions/metadatas", tag = "retention", responses((status = 200, body = MetadataBody), (status = 401, description = "Not signed in", body = Errors)), security((), ("basic" = [])))]
pub async fn metadata(caller: Caller) -> ApiResult<Json<MetadataBody>> {
    caller.signed_in()?;
    let display = HashMap::from([
        ("latestPushedK", "retain the most recently pushed # artifacts"),
        ("latestPulledN", "retain the most recently pulled # artifacts"),
        ("nDaysSinceLastPush", "retain the artifacts pushed within the last # days"),
        ("nDaysSinceLastPull", "retain the artifacts pulled within the last # days"),
        ("always", "retain always"),
    ]);
    let templates = Template::HARBOR
        .iter()
        .map(|(name, unit)| {
            let params: Vec<Value> = unit
                .iter()
                .map(|unit| serde_json::json!({ "type": "int", "unit": unit, "required": true }))
                .collect();
            serde_json::json!({ "rule_template": name, "display_text": display[name], "action": "retain", "params": params })
        })
        .collect();
    Ok(Json(MetadataBody {
        templates,
        scope_selectors: vec![serde_json::json!({
            "display_text": "Repositories", "kind": DOUBLESTAR, "decorations": ["repoMatches", "repoExcludes"],
        })],
        tag_selectors: vec![serde_json::json!({
            "display_text": "Tags", "kind": DOUBLESTAR, "decorations": ["matches", "excludes"],
        })],
    }))
}

#[utoipa::path(post, path = "/api/v2.0/retentions", tag = "retention", request_body = PolicyBody, responses((status = 201, description = "Created", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "The project has a policy", body = Errors)), security((), ("basic" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let (project, draft) = body.draft()?;
    let project = project_named(&state, project).await?;
    let id = state.retention.create(&actor, &project, &draft).await?;
    let location = HeaderValue::from_str(&format!("/api/v2.0/retentions/{}", id.0)).expect("a number");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(get, path = "/api/v2.0/retentions/{id}", tag = "retention", params(("id" = i64, Path, description = "Policy id")), responses((status = 200, body = PolicyBody), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PolicyBody>> {
    let actor = caller.signed_in()?;
    Ok(Json(policy_body(state.retention.policy(&actor, PolicyId(id)).await?)))
}

#[utoipa::path(put, path = "/api/v2.0/retentions/{id}", tag = "retention", params(("id" = i64, Path, description = "Policy id")), request_body = PolicyBody, responses((status = 200, description = "Updated"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let (_, draft) = body.draft()?;
    state.retention.update(&actor, PolicyId(id), &draft).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/retentions/{id}", tag = "retention", params(("id" = i64, Path, description = "Policy id")), responses((status = 200, description = "Deleted"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.retention.delete(&actor, PolicyId(id)).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `RetentionExecution`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExecutionBody {
    id: i64,
    policy_id: i64,
    start_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<DateTime<Utc>>,
    status: &'static str,
    trigger: &'static str,
    dry_run: bool,
}

fn execution_body(policy: PolicyId, execution: Execution) -> ExecutionBody {
    ExecutionBody {
        id: execution.id,
        policy_id: policy.0,
        start_time: execution.started_at.unwrap_or(execution.created_at),
        end_time: execution.ended_at,
        status: match execution.status {
            Status::Pending => "Pending",
            Status::Running => "Running",
            Status::Success => "Success",
            Status::Error => "Error",
            Status::Stopped => "Stopped",
            Status::Skipped => "Skipped",
        },
        trigger: match execution.trigger {
            Trigger::Manual | Trigger::Event => "MANUAL",
            Trigger::Schedule => "SCHEDULE",
        },
        dry_run: execution.parameters["dry_run"].as_bool().unwrap_or(false),
    }
}

/// What starting an execution carries.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/api/v2.0/retentions/{id}/executions", tag = "retention", params(("id" = i64, Path, description = "Policy id")), request_body = StartBody, responses((status = 201, description = "Queued", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn start_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StartBody>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let execution = state.retention.run(&actor, PolicyId(id), body.dry_run).await?;
    let location =
        HeaderValue::from_str(&format!("/api/v2.0/retentions/{id}/executions/{execution}")).expect("numbers");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(get, path = "/api/v2.0/retentions/{id}/executions", tag = "retention", params(("id" = i64, Path, description = "Policy id"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [ExecutionBody], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&query)?;
    let actor = caller.signed_in()?;
    let listed = state.retention.executions(&actor, PolicyId(id), page.window()).await?;
    let path = format!("/api/v2.0/retentions/{id}/executions");
    Ok(page.respond(listed, &path, &[], |execution| execution_body(PolicyId(id), execution)))
}

/// What changing an execution carries: Harbor knows only `stop`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    action: String,
}

#[utoipa::path(patch, path = "/api/v2.0/retentions/{id}/executions/{eid}", tag = "retention", params(("id" = i64, Path, description = "Policy id"), ("eid" = i64, Path, description = "Execution id")), request_body = ActionBody, responses((status = 200, description = "Stopping"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "It has ended", body = Errors)), security((), ("basic" = [])))]
pub async fn act_on_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, execution)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<ActionBody>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    if body.action != "stop" {
        return Err(ApiError::bad_request(format!("action: {:?}; only stop", body.action)));
    }
    state.retention.stop(&actor, PolicyId(id), execution).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `RetentionExecutionTask`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskBody {
    id: i64,
    execution_id: i64,
    repository: String,
    job_id: String,
    status: &'static str,
    status_code: i64,
    status_revision: i64,
    start_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<DateTime<Utc>>,
    total: i64,
    retained: i64,
}

fn task_body(task: RetentionTask) -> TaskBody {
    TaskBody {
        id: task.id,
        execution_id: task.execution_id,
        repository: task.repository,
        job_id: task.id.to_string(),
        status: match task.status {
            TaskStatus::Running => "Running",
            TaskStatus::Success => "Success",
            TaskStatus::Error => "Error",
            TaskStatus::Stopped => "Stopped",
        },
        status_code: 0,
        status_revision: 0,
        start_time: task.started_at,
        end_time: task.ended_at,
        total: task.artifacts,
        retained: task.retained,
    }
}

#[utoipa::path(get, path = "/api/v2.0/retentions/{id}/executions/{eid}/tasks", tag = "retention", params(("id" = i64, Path, description = "Policy id"), ("eid" = i64, Path, description = "Execution id"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [TaskBody], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, execution)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&query)?;
    let actor = caller.signed_in()?;
    let listed = state.retention.tasks(&actor, PolicyId(id), execution, page.window()).await?;
    let path = format!("/api/v2.0/retentions/{id}/executions/{execution}/tasks");
    Ok(page.respond(listed, &path, &[], task_body))
}

#[utoipa::path(get, path = "/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}", tag = "retention", params(("id" = i64, Path, description = "Policy id"), ("eid" = i64, Path, description = "Execution id"), ("tid" = i64, Path, description = "Task id")), responses((status = 200, description = "The task's log", content_type = "text/plain", body = String), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn task_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, execution, task)): ApiPath<(i64, i64, i64)>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let text = state.retention.task_log(&actor, PolicyId(id), execution, task).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

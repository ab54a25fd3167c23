//! `/api/v2.0/replication/policies` in Harbor's shapes: what is copied
//! between this registry (id 0, "Local") and a remote one, which way, to
//! which namespace and when. System administrators only (the core checks).

use std::collections::HashMap;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, NamedListQuery, optional_whole_number},
    registries::{self, RegistryView},
};
use app::core::{
    AppState, Error,
    identity::Actor,
    replication::{
        Direction, EndpointId, Policy, PolicyDraft, PolicyId, Trigger,
        filters::{Decoration, Filters, ResourceKind},
    },
};

const PATH: &str = "/api/v2.0/replication/policies";

/// Harbor's `ReplicationPolicy`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    id: i64,
    name: String,
    description: String,
    src_registry: RegistryView,
    dest_registry: RegistryView,
    dest_namespace: String,
    dest_namespace_replace_count: i8,
    trigger: TriggerView,
    filters: Vec<FilterView>,
    replicate_deletion: bool,
    /// Harbor's older name for `replicate_deletion`.
    deletion: bool,
    #[serde(rename = "override")]
    override_existing: bool,
    enabled: bool,
    speed: i64,
    copy_by_chunk: bool,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerView {
    #[serde(rename = "type")]
    kind: Option<String>,
    trigger_settings: Option<TriggerSettings>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerSettings {
    #[serde(default)]
    cron: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct FilterView {
    #[serde(rename = "type")]
    kind: String,
    #[schema(value_type = Object)]
    value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoration: Option<String>,
}

fn filter_views(filters: &Filters) -> Vec<FilterView> {
    let mut views = Vec::new();
    if let Some(name) = &filters.name {
        views.push(FilterView { kind: "name".into(), value: Value::from(name.clone()), decoration: None });
    }
    if let Some(tag) = &filters.tag {
        let decoration = Some(filters.tag_decoration.as_str().to_owned());
        views.push(FilterView { kind: "tag".into(), value: Value::from(tag.clone()), decoration });
    }
    if let Some(resource) = filters.resource {
        views.push(FilterView { kind: "resource".into(), value: Value::from(resource.as_str()), decoration: None });
    }
    views
}

/// The policy as Harbor shows it: both ends as registries, this one as "Local".
fn view(policy: Policy, remotes: &HashMap<i64, RegistryView>, local: &dyn Fn() -> RegistryView) -> PolicyView {
    let remote = |id: EndpointId| match remotes.get(&id.0) {
        Some(found) => found.clone(),
        None => local(),
    };
    let (src_registry, dest_registry) = match policy.direction {
        Direction::Push { destination } => (local(), remote(destination)),
        Direction::Pull { source } => (remote(source), local()),
    };
    PolicyView {
        id: policy.id.0,
        name: policy.name,
        description: policy.description,
        src_registry,
        dest_registry,
        dest_namespace: policy.dest_namespace,
        dest_namespace_replace_count: policy.replace_count,
        trigger: TriggerView {
            kind: Some(policy.trigger.as_str().to_owned()),
            trigger_settings: Some(TriggerSettings {
                cron: Some(policy.trigger.cron().unwrap_or_default().to_owned()),
            }),
        },
        filters: filter_views(&policy.filters),
        replicate_deletion: policy.replicate_deletion,
        deletion: policy.replicate_deletion,
        override_existing: policy.override_existing,
        enabled: policy.enabled,
        speed: policy.speed_kb,
        copy_by_chunk: policy.copy_by_chunk,
        creation_time: policy.created_at,
        update_time: policy.updated_at,
    }
}

/// The remote registries of `policies`, each read once.
async fn remotes_of(state: &AppState, actor: &Actor, policies: &[Policy]) -> ApiResult<HashMap<i64, RegistryView>> {
    let mut remotes = HashMap::new();
    for policy in policies {
        let id = policy.direction.remote();
        if let std::collections::hash_map::Entry::Vacant(slot) = remotes.entry(id.0) {
            slot.insert(registries::view(state.replication.registry(actor, id).await?));
        }
    }
    Ok(remotes)
}

#[utoipa::path(get, path = "/api/v2.0/replication/policies", tag = "replication", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, description = "name=<exact> or name=~<contains>"), ("name" = Option<String>, Query, description = "Name contains")), responses((status = 200, body = [PolicyView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_policies(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NamedListQuery>,
) -> ApiResult<Response> {
    let (page, filter) = (query.page()?, query.filter()?);
    let actor = caller.signed_in()?;
    let mut listed = state.replication.policies(&actor, filter.contains(), page.window()).await?;
    filter.narrow(&mut listed, |policy| &policy.name);
    let remotes = remotes_of(&state, &actor, &listed.items).await?;
    let origin = state.http.external_origin.clone();
    let local = move || registries::local(&origin);
    Ok(page.respond(listed, PATH, &query.carried(), |policy| view(policy, &remotes, &local)))
}

#[utoipa::path(get, path = "/api/v2.0/replication/policies/{id}", tag = "replication", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, body = PolicyView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PolicyView>> {
    let actor = caller.signed_in()?;
    let policy = state.replication.policy(&actor, PolicyId(id)).await?;
    let remotes = remotes_of(&state, &actor, std::slice::from_ref(&policy)).await?;
    let origin = state.http.external_origin.clone();
    Ok(Json(view(policy, &remotes, &move || registries::local(&origin))))
}

/// A registry named in a policy: only its id is read (0 or none is this registry).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegistryRef {
    id: Option<i64>,
}

/// Harbor's `ReplicationPolicy` as a request; a field left out takes its
/// zero value, as in Harbor (a PUT replaces the policy whole).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PolicyRequest {
    name: Option<String>,
    description: Option<String>,
    src_registry: Option<RegistryRef>,
    dest_registry: Option<RegistryRef>,
    dest_namespace: Option<String>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(value_type = Option<i64>)]
    dest_namespace_replace_count: Option<i64>,
    trigger: Option<TriggerView>,
    filters: Option<Vec<FilterView>>,
    replicate_deletion: Option<bool>,
    /// Harbor's older name for `replicate_deletion`; either is read.
    deletion: Option<bool>,
    #[serde(rename = "override")]
    override_existing: Option<bool>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(value_type = Option<i64>)]
    speed: Option<i64>,
    copy_by_chunk: Option<bool>,
}

fn draft_of(request: PolicyRequest) -> ApiResult<PolicyDraft> {
    let remote = |end: &Option<RegistryRef>| end.as_ref().and_then(|r| r.id).filter(|id| *id != 0);
    let direction = match (remote(&request.src_registry), remote(&request.dest_registry)) {
        (None, Some(destination)) => Direction::Push { destination: EndpointId(destination) },
        (Some(source), None) => Direction::Pull { source: EndpointId(source) },
        _ => {
            return Err(ApiError::bad_request(
                "either src_registry or dest_registry should be empty and the other one shouldn't be empty",
            ));
        }
    };
    let trigger = request.trigger.unwrap_or(TriggerView { kind: None, trigger_settings: None });
    let cron = trigger.trigger_settings.and_then(|settings| settings.cron);
    let trigger = Trigger::parse(trigger.kind.as_deref().unwrap_or("manual"), cron.as_deref())?;
    let replace_count = match request.dest_namespace_replace_count {
        None => -1,
        Some(count) => i8::try_from(count)
            .map_err(|_| ApiError::bad_request(format!("dest_namespace_replace_count: {count} is out of range")))?,
    };
    Ok(PolicyDraft {
        name: request.name.unwrap_or_default(),
        description: request.description.unwrap_or_default(),
        direction,
        dest_namespace: request.dest_namespace.unwrap_or_default(),
        replace_count,
        trigger,
        filters: filters_of(request.filters.unwrap_or_default())?,
        replicate_deletion: request.replicate_deletion.or(request.deletion).unwrap_or(false),
        override_existing: request.override_existing.unwrap_or(false),
        enabled: request.enabled.unwrap_or(false),
        speed_kb: request.speed.unwrap_or(0),
        copy_by_chunk: request.copy_by_chunk.unwrap_or(false),
    })
}

fn filters_of(views: Vec<FilterView>) -> ApiResult<Filters> {
    let mut filters = Filters::default();
    for filter in views {
        let text = || match &filter.value {
            Value::String(text) => Ok(text.clone()),
            other => Err(ApiError::bad_request(format!(
                "filters: the {} filter's value {other} is not a string",
                filter.kind
            ))),
        };
        if filter.decoration.is_some() && filter.kind != "tag" {
            return Err(ApiError::bad_request(format!("filters: a {} filter takes no decoration", filter.kind)));
        }
        match filter.kind.as_str() {
            "name" => filters.name = Some(text()?),
            "tag" => {
                filters.tag = Some(text()?);
                filters.tag_decoration = match filter.decoration.as_deref() {
                    None | Some("") => Decoration::Matches,
                    Some(decoration) => Decoration::parse(decoration).ok_or_else(|| {
                        ApiError::bad_request(format!("filters: decoration {decoration:?} is not matches or excludes"))
                    })?,
                };
            }
            "resource" => {
                let kind = text()?;
                filters.resource = Some(ResourceKind::parse(&kind).ok_or_else(|| {
                    ApiError::bad_request(format!("filters: resource {kind:?} is not image or artifact"))
                })?);
            }
            "label" => return Err(ApiError::bad_request("filters: labels do not exist here yet")),
            other => return Err(ApiError::bad_request(format!("filters: invalid filter type {other:?}"))),
        }
    }
    Ok(filters)
}

#[utoipa::path(post, path = "/api/v2.0/replication/policies", tag = "replication", request_body = PolicyRequest, responses((status = 201, description = "Created", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 409, description = "Name taken", body = Errors)), security((), ("basic" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PolicyRequest>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let created = state.replication.create_policy(&actor, draft_of(request)?).await?;
    let location = HeaderValue::from_str(&format!("{PATH}/{}", created.id.0)).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(put, path = "/api/v2.0/replication/policies/{id}", tag = "replication", params(("id" = i64, Path)), request_body = PolicyRequest, responses((status = 200, description = "Replaced"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Name taken", body = Errors)), security((), ("basic" = [])))]
pub async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PolicyRequest>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.replication.update_policy(&actor, PolicyId(id), draft_of(request)?).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/replication/policies/{id}", tag = "replication", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, description = "Deleted, with its executions"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "An execution is pending or running", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    match state.replication.delete_policy(&actor, PolicyId(id)).await {
        Ok(()) => Ok(StatusCode::OK),
        Err(Error::Conflict(message)) => Err(ApiError::new(StatusCode::PRECONDITION_FAILED, message)),
        Err(other) => Err(other.into()),
    }
}

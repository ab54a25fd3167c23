//! `/api/v2.0/registries` and `/api/v2.0/replication/adapters` in Harbor's
//! shapes: the remote registries replication copies to and from. A saved
//! secret is never returned (`*****` stands for it). System
//! administrators only (the core checks).

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, NamedListQuery},
};
use app::core::{
    AppState, Error,
    replication::{Credential, Endpoint, EndpointChanges, EndpointId, NewEndpoint, PingTarget, RegistryKind},
};

const PATH: &str = "/api/v2.0/registries";
/// What stands for a saved secret in answers.
const HIDDEN: &str = "*****";

/// Harbor's `RegistryCredential`.
#[derive(Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_secret: Option<String>,
}

/// Harbor's `Registry`.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct RegistryView {
    id: i64,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    credential: CredentialView,
    insecure: bool,
    description: String,
    status: &'static str,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

/// This registry, as Harbor shows the local end of a policy (id 0).
pub(super) fn local(url: &str) -> RegistryView {
    let zero = DateTime::<Utc>::UNIX_EPOCH;
    RegistryView {
        id: 0,
        name: "Local".into(),
        kind: RegistryKind::Harbor.as_str(),
        url: url.to_owned(),
        credential: CredentialView::default(),
        insecure: false,
        description: String::new(),
        status: "healthy",
        creation_time: zero,
        update_time: zero,
    }
}

pub(super) fn view(endpoint: Endpoint) -> RegistryView {
    let credential = match &endpoint.access_key {
        Some(key) => CredentialView {
            kind: Some("basic".into()),
            access_key: Some(key.clone()),
            access_secret: endpoint.has_secret.then(|| HIDDEN.to_owned()),
        },
        None => CredentialView::default(),
    };
    RegistryView {
        id: endpoint.id.0,
        name: endpoint.name,
        kind: endpoint.kind.as_str(),
        url: endpoint.url,
        credential,
        insecure: endpoint.insecure,
        description: endpoint.description,
        status: endpoint.status.as_str(),
        creation_time: endpoint.created_at,
        update_time: endpoint.updated_at,
    }
}

#[utoipa::path(get, path = "/api/v2.0/registries", tag = "registry", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, description = "name=<exact> or name=~<contains>"), ("name" = Option<String>, Query, description = "Name contains")), responses((status = 200, body = [RegistryView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_registries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NamedListQuery>,
) -> ApiResult<Response> {
    let (page, filter) = (query.page()?, query.filter()?);
    let actor = caller.signed_in()?;
    let mut listed = state.replication.registries(&actor, filter.contains(), page.window()).await?;
    filter.narrow(&mut listed, |endpoint| &endpoint.name);
    Ok(page.respond(listed, PATH, &query.carried(), view))
}

#[utoipa::path(get, path = "/api/v2.0/registries/{id}", tag = "registry", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, body = RegistryView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RegistryView>> {
    let actor = caller.signed_in()?;
    Ok(Json(view(state.replication.registry(&actor, EndpointId(id)).await?)))
}

/// Harbor's `Registry` as a request.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegistryRequest {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    credential: Option<CredentialView>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/api/v2.0/registries", tag = "registry", request_body = RegistryRequest, responses((status = 201, description = "Added (it answered with the credential)", headers(("Location" = String))), (status = 400, description = "Bad request, or the registry is unhealthy", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 409, description = "Name taken", body = Errors)), security((), ("basic" = [])))]
pub async fn create_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RegistryRequest>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let credential = request.credential.unwrap_or_default();
    let new = NewEndpoint {
        name: request.name.unwrap_or_default(),
        kind: RegistryKind::parse(request.kind.as_deref().unwrap_or_default())?,
        url: request.url.unwrap_or_default(),
        credential: credential_of(&credential)?,
        insecure: request.insecure,
        description: request.description,
    };
    let created = state.replication.create_registry(&actor, new).await?;
    let location = HeaderValue::from_str(&format!("{PATH}/{}", created.id.0)).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// Harbor's `RegistryUpdate`: what is given changes.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegistryUpdate {
    name: Option<String>,
    description: Option<String>,
    url: Option<String>,
    credential_type: Option<String>,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<bool>,
}

#[utoipa::path(put, path = "/api/v2.0/registries/{id}", tag = "registry", params(("id" = i64, Path)), request_body = RegistryUpdate, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request, or the registry is unhealthy", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Name taken", body = Errors)), security((), ("basic" = [])))]
pub async fn update_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<RegistryUpdate>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    check_credential_type(request.credential_type.as_deref())?;
    // A secret masked as it was shown is not a new secret.
    let secret = request.access_secret.filter(|secret| secret != HIDDEN);
    let changes = EndpointChanges {
        name: request.name,
        description: request.description,
        url: request.url,
        access_key: request.access_key,
        access_secret: secret,
        insecure: request.insecure,
    };
    state.replication.update_registry(&actor, EndpointId(id), changes).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/registries/{id}", tag = "registry", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, description = "Deleted"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "A replication policy uses it", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    match state.replication.delete_registry(&actor, EndpointId(id)).await {
        Ok(()) => Ok(StatusCode::OK),
        // Harbor answers a registry still in use with 412.
        Err(Error::Conflict(message)) => Err(ApiError::new(StatusCode::PRECONDITION_FAILED, message)),
        Err(other) => Err(other.into()),
    }
}

/// Harbor's `RegistryPing`: a saved registry by `id` (its URL cannot be
/// overridden), or `type` and `url` of one not saved yet.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegistryPing {
    id: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    credential_type: Option<String>,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<bool>,
}

#[utoipa::path(post, path = "/api/v2.0/registries/ping", tag = "registry", request_body = RegistryPing, responses((status = 200, description = "It answers"), (status = 400, description = "Bad request, or the registry is unhealthy (the message says why)", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "No such saved registry", body = Errors)), security((), ("basic" = [])))]
pub async fn ping_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RegistryPing>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    check_credential_type(request.credential_type.as_deref())?;
    let secret = request.access_secret.as_deref().filter(|secret| *secret != HIDDEN);
    let credential = Credential::given(request.access_key.as_deref(), secret)?;
    let target = match (request.id, request.url) {
        (Some(id), _) => {
            PingTarget::Saved { id: EndpointId(id), credential: credential.filter(|c| !c.access_secret.is_empty()) }
        }
        (None, Some(url)) => PingTarget::Unsaved {
            kind: RegistryKind::parse(request.kind.as_deref().unwrap_or_default())?,
            url,
            credential,
            insecure: request.insecure.unwrap_or(false),
        },
        (None, None) => return Err(ApiError::bad_request("type or url cannot be empty")),
    };
    state.replication.ping(&actor, target).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `RegistryInfo`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RegistryInfoView {
    #[serde(rename = "type")]
    kind: &'static str,
    description: &'static str,
    supported_resource_filters: Vec<FilterStyle>,
    supported_triggers: Vec<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FilterStyle {
    #[serde(rename = "type")]
    kind: &'static str,
    style: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<&'static str>,
}

#[utoipa::path(get, path = "/api/v2.0/registries/{id}/info", tag = "registry", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, body = RegistryInfoView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn registry_info(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RegistryInfoView>> {
    let actor = caller.signed_in()?;
    let info = state.replication.info(&actor, EndpointId(id)).await?;
    let filters = info
        .filters
        .iter()
        .map(|kind| match *kind {
            "resource" => FilterStyle { kind, style: "radio", values: vec!["image", "artifact"] },
            _ => FilterStyle { kind, style: "input", values: Vec::new() },
        })
        .collect();
    Ok(Json(RegistryInfoView {
        kind: info.kind.as_str(),
        description: info.description,
        supported_resource_filters: filters,
        supported_triggers: info.triggers.to_vec(),
    }))
}

#[utoipa::path(get, path = "/api/v2.0/replication/adapters", tag = "registry", responses((status = 200, body = [String]), (status = 401, description = "Not signed in", body = Errors)), security((), ("basic" = [])))]
pub async fn list_adapters(caller: Caller) -> ApiResult<Json<Vec<&'static str>>> {
    caller.signed_in()?;
    Ok(Json(RegistryKind::ALL.iter().map(|kind| kind.as_str()).collect()))
}

fn credential_of(view: &CredentialView) -> ApiResult<Option<Credential>> {
    check_credential_type(view.kind.as_deref())?;
    Ok(Credential::given(view.access_key.as_deref(), view.access_secret.as_deref())?)
}

/// Berth sends a username and password (or robot secret), Harbor's `basic`.
fn check_credential_type(kind: Option<&str>) -> ApiResult<()> {
    match kind {
        None | Some("" | "basic") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!("credential type {other:?}: only basic is supported"))),
    }
}

//! Harbor's repository, artifact and tag endpoints under
//! `/api/v2.0/projects/{project}/repositories`: repositories of a project,
//! a repository's artifacts (newest first, with tags and total sizes), one
//! artifact by digest or tag, deleting artifacts, and adding and removing
//! tags. Repository names inside the project come URL-encoded twice, as
//! Harbor wants (`team%252Fapp` for `team/app`). The artifact service asks
//! the access service before anything is read or changed.

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
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Condition, Page, PageQuery, parse_q},
    projects::refusal,
};
use app::core::{
    AppState,
    artifacts::{ArtifactSummary, RepositorySummary},
};

/// `team%2Fapp` (what is left of `team%252Fapp` after routing) → `team/app`.
fn repository_name(project: &str, inner: &str) -> String {
    format!("{project}/{}", inner.replace("%2F", "/").replace("%2f", "/"))
}

/// Harbor's `Repository`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RepositoryView {
    id: i64,
    project_id: i64,
    name: String,
    description: String,
    artifact_count: i64,
    pull_count: i64,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

fn repository_view(repository: RepositorySummary) -> RepositoryView {
    RepositoryView {
        id: repository.id,
        project_id: repository.project_id,
        name: repository.name,
        description: repository.description,
        artifact_count: repository.artifact_count,
        pull_count: 0,
        creation_time: repository.created_at,
        update_time: repository.updated_at,
    }
}

/// Harbor's `Tag`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TagView {
    repository_id: i64,
    artifact_id: i64,
    name: String,
    push_time: DateTime<Utc>,
    immutable: bool,
}

/// Harbor's `Artifact`, as far as Berth has its fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ArtifactView {
    id: i64,
    /// `IMAGE`, `CHART`, or the artifact type.
    #[serde(rename = "type")]
    kind: String,
    media_type: String,
    manifest_media_type: String,
    artifact_type: Option<String>,
    project_id: i64,
    repository_id: i64,
    repository_name: String,
    digest: String,
    size: i64,
    push_time: DateTime<Utc>,
    /// When it was last pulled (to within a minute); absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_time: Option<DateTime<Utc>>,
    tags: Vec<TagView>,
}

fn artifact_view(artifact: ArtifactSummary, repository: &RepositorySummary) -> ArtifactView {
    let tags = artifact
        .tags
        .iter()
        .map(|tag| TagView {
            repository_id: repository.id,
            artifact_id: artifact.id,
            name: tag.name.clone(),
            push_time: tag.pushed_at,
            immutable: tag.immutable,
        })
        .collect();
    ArtifactView {
        id: artifact.id,
        kind: artifact.kind(),
        media_type: artifact.media_type.clone(),
        manifest_media_type: artifact.media_type,
        artifact_type: artifact.artifact_type,
        project_id: repository.project_id,
        repository_id: repository.id,
        repository_name: repository.name.clone(),
        digest: artifact.digest,
        size: artifact.size,
        push_time: artifact.pushed_at,
        pull_time: artifact.pulled_at,
        tags,
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/repositories", tag = "repository", params(("project_name_or_id" = String, Path, description = "Project name"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: key=value or key=~fuzzy, comma-separated")), responses((status = 200, body = [RepositoryView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_repositories(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let mut contains = None;
    for (_, condition) in parse_q(query.q.as_deref(), &["name"])? {
        let (Condition::Exact(value) | Condition::Fuzzy(value)) = condition;
        contains = Some(value);
    }
    let repositories = state
        .artifacts
        .repositories(&caller.0, &project, contains.as_deref(), page.window())
        .await
        .map_err(|e| refusal(&caller, e))?;
    let path = format!("/api/v2.0/projects/{project}/repositories");
    Ok(page.respond(repositories, &path, &[("q", query.q.as_deref())], repository_view))
}

#[utoipa::path(get, path = "/api/v2.0/repositories", tag = "repository", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: name=~part")), responses((status = 200, body = [RepositoryView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors)), security((), ("basic" = [])))]
/// Repositories in every project the caller may see (public ones for anonymous callers).
pub async fn list_all_repositories(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let mut contains = None;
    for (_, condition) in parse_q(query.q.as_deref(), &["name"])? {
        let (Condition::Exact(value) | Condition::Fuzzy(value)) = condition;
        contains = Some(value);
    }
    let repositories = state.artifacts.all_repositories(&caller.0, contains.as_deref(), page.window()).await?;
    Ok(page.respond(repositories, "/api/v2.0/repositories", &[("q", query.q.as_deref())], repository_view))
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}", tag = "repository", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F")), responses((status = 200, body = RepositoryView), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_repository(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository)): ApiPath<(String, String)>,
) -> ApiResult<Json<RepositoryView>> {
    let found = state
        .artifacts
        .repository(&caller.0, &repository_name(&project, &repository))
        .await
        .map_err(|e| refusal(&caller, e))?;
    Ok(Json(repository_view(found.into_summary())))
}

/// What `PUT` on a repository may change: Harbor's `Repository` with only its description.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryUpdate {
    /// Markdown, at most 64 KiB.
    description: String,
}

#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}", tag = "repository", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F")), request_body = RepositoryUpdate, responses((status = 200, description = "Description changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_repository(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<RepositoryUpdate>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.artifacts.set_description(&actor, &repository_name(&project, &repository), &request.description).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}", tag = "repository", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F")), responses((status = 200, description = "Deleted with all its artifacts and tags"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "An immutable tag protects it", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_repository(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.artifacts.delete_repository(&actor, &repository_name(&project, &repository)).await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ArtifactQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    /// Harbor's switches for what to include; Berth always includes tags.
    #[allow(dead_code)]
    with_tag: Option<bool>,
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("with_tag" = Option<bool>, Query, description = "Tags are always included")), responses((status = 200, body = [ArtifactView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_artifacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ArtifactQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let name = repository_name(&project, &repository);
    let found = state.artifacts.repository(&caller.0, &name).await.map_err(|e| refusal(&caller, e))?;
    let artifacts = state.artifacts.artifacts(&found, page.window()).await?;
    let path = format!("/api/v2.0/projects/{project}/repositories/{}/artifacts", repository.replace('/', "%252F"));
    Ok(page.respond(artifacts, &path, &[], |a| artifact_view(a, found.summary())))
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("reference" = String, Path, pattern = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", description = "Tag or digest")), responses((status = 200, body = ArtifactView), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_artifact(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository, reference)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<ArtifactView>> {
    let name = repository_name(&project, &repository);
    let found = state.artifacts.repository(&caller.0, &name).await.map_err(|e| refusal(&caller, e))?;
    let artifact = state.artifacts.artifact(&found, &reference).await?;
    Ok(Json(artifact_view(artifact, found.summary())))
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("reference" = String, Path, pattern = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", description = "Tag or digest")), responses((status = 200, description = "Deleted"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "An immutable tag protects it", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_artifact(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository, reference)): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.artifacts.delete_artifact(&actor, &repository_name(&project, &repository), &reference).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("reference" = String, Path, pattern = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", description = "Tag or digest")), responses((status = 200, body = [TagView], headers(("X-Total-Count" = i64))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_tags(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository, reference)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    let name = repository_name(&project, &repository);
    let found = state.artifacts.repository(&caller.0, &name).await.map_err(|e| refusal(&caller, e))?;
    let artifact = state.artifacts.artifact(&found, &reference).await?;
    let view = artifact_view(artifact, found.summary());
    let total = HeaderValue::from(view.tags.len());
    Ok(([(header::HeaderName::from_static("x-total-count"), total)], Json(view.tags)).into_response())
}

/// Harbor's `Tag` as a request: only its name counts.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTag {
    name: String,
}

#[utoipa::path(post, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("reference" = String, Path, pattern = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", description = "Tag or digest")), request_body = NewTag, responses((status = 201, description = "Tagged", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn create_tag(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository, reference)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<NewTag>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let name = repository_name(&project, &repository);
    state.artifacts.add_tag(&actor, &name, &reference, &request.name).await?;
    let location = HeaderValue::from_str(&format!(
        "/api/v2.0/projects/{project}/repositories/{}/artifacts/{reference}/tags/{}",
        repository.replace('/', "%252F"),
        request.name
    ))
    .map_err(|_| ApiError::bad_request("name: not usable in a URL"))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}", tag = "artifact", params(("project_name_or_id" = String, Path, description = "Project name"), ("repository_name" = String, Path, pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:%2F[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", description = "Repository name within the project; / written as %252F"), ("reference" = String, Path, pattern = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", description = "Tag or digest"), ("tag_name" = String, Path)), responses((status = 200, description = "Removed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "An immutable tag protects it", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((project, repository, reference, tag)): ApiPath<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.artifacts.delete_tag(&actor, &repository_name(&project, &repository), &reference, &tag).await?;
    Ok(StatusCode::OK)
}

//! `/api/v2.0/projects/{project}/immutabletagrules` in Harbor's shapes:
//! a project's tag immutability rules, each with one repository selector
//! (`repoMatches` / `repoExcludes`) and one tag selector (`matches` /
//! `excludes`), doublestar globs. Reading needs `read_tag_policies`,
//! changes `manage_tag_policies`, both decided by the immutability
//! service. A PUT that carries only `disabled` toggles the rule (what
//! harborapi's enable/disable sends).

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, Page, PageQuery},
    projects::named_project,
    selectors::{self, REPOSITORY_DECORATIONS, ScopeSelectors, SelectorBody, TAG_DECORATIONS},
};
use app::core::{
    AppState, db,
    immutability::{ImmutableRule, RuleDraft},
};

/// Harbor's `ImmutableRule`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleView {
    id: i64,
    priority: i32,
    disabled: bool,
    action: &'static str,
    template: &'static str,
    params: serde_json::Map<String, serde_json::Value>,
    tag_selectors: Vec<SelectorBody>,
    scope_selectors: ScopeSelectors,
}

fn view(rule: ImmutableRule) -> RuleView {
    RuleView {
        id: rule.id,
        priority: rule.priority,
        disabled: rule.disabled,
        action: "immutable",
        template: "immutable_template",
        params: serde_json::Map::new(),
        tag_selectors: vec![selectors::body(&rule.tags, TAG_DECORATIONS, None)],
        scope_selectors: ScopeSelectors::of(&rule.repositories),
    }
}

/// What a POST or PUT carries (Harbor's `ImmutableRule`; `id`, `action`,
/// `template` and `params` are accepted and ignored, as Harbor does).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    #[serde(default)]
    #[schema(ignore)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    #[schema(ignore)]
    action: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(ignore)]
    template: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(ignore)]
    params: Option<serde_json::Value>,
    #[serde(default)]
    tag_selectors: Option<Vec<SelectorBody>>,
    #[serde(default)]
    scope_selectors: Option<ScopeSelectors>,
}

impl RuleRequest {
    /// The rule this asks for; both selectors are needed.
    fn draft(self) -> ApiResult<RuleDraft> {
        let _ = (self.id, self.action, self.template, self.params);
        let (tags, _) = selectors::one("tag_selectors", self.tag_selectors, TAG_DECORATIONS)?;
        let repositories = self.scope_selectors.map(|scope| scope.repository);
        let (repositories, _) = selectors::one("scope_selectors.repository", repositories, REPOSITORY_DECORATIONS)?;
        Ok(RuleDraft {
            priority: self.priority.unwrap_or(0),
            disabled: self.disabled.unwrap_or(false),
            repositories,
            tags,
        })
    }

    /// Whether only `disabled` (besides what Harbor ignores) was sent.
    fn only_toggles(&self) -> Option<bool> {
        (self.tag_selectors.is_none() && self.scope_selectors.is_none() && self.priority.is_none())
            .then_some(self.disabled)
            .flatten()
    }
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules", tag = "immutable", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [RuleView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&query)?;
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    // At most MAX_RULES: read whole, shown a page at a time.
    let rules = state.immutability.rules(&actor, &project).await?;
    let total = rules.len() as i64;
    let items: Vec<ImmutableRule> = rules.into_iter().skip(page.offset() as usize).take(page.size as usize).collect();
    let listed = db::Page {
        items,
        total,
        has_previous: page.number > 1,
        has_next: i64::from(page.offset()) + i64::from(page.size) < total,
    };
    Ok(page.respond(listed, &format!("/api/v2.0/projects/{project}/immutabletagrules"), &[], view))
}

#[utoipa::path(post, path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules", tag = "immutable", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), request_body = RuleRequest, responses((status = 201, description = "Created", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Too many rules", body = Errors)), security((), ("basic" = [])))]
pub async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(project): ApiPath<String>,
    ApiJson(request): ApiJson<RuleRequest>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let draft = request.draft()?;
    let id = state.immutability.create(&actor, &project, &draft).await?;
    let location = HeaderValue::from_str(&format!("/api/v2.0/projects/{project}/immutabletagrules/{id}"))
        .map_err(|_| ApiError::bad_request("project: not usable in a URL"))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", tag = "immutable", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("immutable_rule_id" = i64, Path, description = "Rule id")), request_body = RuleRequest, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((project, id)): ApiPath<(String, i64)>,
    ApiJson(request): ApiJson<RuleRequest>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    match request.only_toggles() {
        Some(disabled) => state.immutability.set_disabled(&actor, &project, id, disabled).await?,
        None => state.immutability.update(&actor, &project, id, &request.draft()?).await?,
    }
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", tag = "immutable", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("immutable_rule_id" = i64, Path, description = "Rule id")), responses((status = 200, description = "Deleted"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((project, id)): ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    state.immutability.delete(&actor, &project, id).await?;
    Ok(StatusCode::OK)
}

//! The OpenAPI 3 document of the REST API, generated from the handlers'
//! annotations and served at `/api/v2.0/openapi.json`.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, PathItem, Ref, ResponseBuilder,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{
    artifacts, audit, configurations, executions, gc, health, immutability, jobservice, members, projects, purge,
    quotas, registries, replication, retention, robots, system, usergroups, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth REST API",
        description = "Berth's automation API, at the paths and in the shapes of Harbor's v2.0 API where they \
                       overlap. Authenticate with HTTP Basic (a password, an OIDC user's CLI secret or a robot's \
                       secret) or the portal's session cookie.",
    ),
    paths(
        health::get_health,
        system::system_info,
        system::ldap_ping,
        configurations::get_configurations,
        configurations::put_configurations,
        projects::list_projects,
        projects::project_exists,
        projects::create_project,
        projects::get_project,
        projects::update_project,
        projects::delete_project,
        projects::project_summary,
        members::list_members,
        members::get_member,
        members::add_member,
        members::update_member,
        members::remove_member,
        retention::metadata,
        retention::create_policy,
        retention::get_policy,
        retention::update_policy,
        retention::delete_policy,
        retention::start_execution,
        retention::list_executions,
        retention::act_on_execution,
        retention::list_tasks,
        retention::task_log,
        immutability::list_rules,
        immutability::create_rule,
        immutability::update_rule,
        immutability::delete_rule,
        audit::audit_logs,
        audit::project_logs,
        purge::get_schedule,
        purge::create_schedule,
        purge::update_schedule,
        purge::list_history,
        purge::get_run,
        purge::get_log,
        purge::stop_run,
        gc::get_schedule,
        gc::create_schedule,
        gc::update_schedule,
        gc::list_history,
        gc::get_run,
        gc::get_log,
        gc::stop_run,
        jobservice::list_schedules,
        jobservice::schedule_paused,
        jobservice::list_pools,
        jobservice::list_workers,
        jobservice::list_queues,
        jobservice::act_on_queue,
        jobservice::act_on_job,
        jobservice::job_log,
        users::current_user,
        users::list_users,
        users::search_users,
        users::create_user,
        users::get_user,
        users::update_user,
        users::delete_user,
        users::change_password,
        users::set_sysadmin,
        users::set_cli_secret,
        registries::list_registries,
        registries::create_registry,
        registries::get_registry,
        registries::update_registry,
        registries::delete_registry,
        registries::ping_registry,
        registries::registry_info,
        registries::list_adapters,
        replication::list_policies,
        replication::create_policy,
        replication::get_policy,
        replication::update_policy,
        replication::delete_policy,
        executions::list_executions,
        executions::start_execution,
        executions::get_execution,
        executions::stop_execution,
        executions::list_tasks,
        executions::task_log,
        usergroups::list_groups,
        usergroups::create_group,
        usergroups::get_group,
        usergroups::delete_group,
        quotas::list_quotas,
        quotas::get_quota,
        quotas::update_quota,
        robots::create_robot,
        robots::list_robots,
        robots::get_robot,
        robots::update_robot,
        robots::delete_robot,
        robots::refresh_secret,
        artifacts::list_all_repositories,
        artifacts::list_repositories,
        artifacts::get_repository,
        artifacts::update_repository,
        artifacts::delete_repository,
        artifacts::list_artifacts,
        artifacts::get_artifact,
        artifacts::delete_artifact,
        artifacts::list_tags,
        artifacts::create_tag,
        artifacts::delete_tag,
    ),
    modifiers(&BasicAuth),
)]
pub struct ApiDoc;

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        // Any request with credentials may be refused as unauthenticated, or
        // throttled after repeated failures, whatever the operation.
        let errors = || {
            ResponseBuilder::new().content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Errors"))).build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| errors().description("Not signed in, or wrong credentials").build().into());
                responses
                    .entry("429".into())
                    .or_insert_with(|| errors().description("Too many failed sign-ins; try later").build().into());
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

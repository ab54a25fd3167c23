//! The REST API under `/api/v2.0/`, shaped like Harbor's where they overlap.

mod artifacts;
mod audit;
mod body;
pub(crate) mod caller;
mod configurations;
pub(crate) mod error;
mod executions;
mod gc;
mod health;
mod immutability;
mod jobs;
mod jobservice;
mod members;
mod openapi;
mod paging;
mod projects;
mod purge;
mod quotas;
mod registries;
mod replication;
mod retention;
mod robots;
mod selectors;
mod system;
mod usergroups;
mod users;

use axum::{
    Router,
    routing::{get, put},
};

use app::core::AppState;

/// The REST API's reference for the portal's page, read from the same
/// document `/api/v2.0/openapi.json` serves.
pub fn api_reference() -> app::api::reference::ApiReference {
    let document =
        serde_json::to_value(<openapi::ApiDoc as utoipa::OpenApi>::openapi()).expect("the OpenAPI document serialises");
    app::api::reference::ApiReference::from_openapi(&document)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2.0/health", get(health::get_health))
        .route("/api/v2.0/openapi.json", get(openapi::openapi_json))
        .route("/api/v2.0/systeminfo", get(system::system_info))
        .route("/api/v2.0/ldap/ping", axum::routing::post(system::ldap_ping))
        .route(
            "/api/v2.0/configurations",
            get(configurations::get_configurations).put(configurations::put_configurations),
        )
        .route(
            "/api/v2.0/projects",
            get(projects::list_projects).post(projects::create_project).head(projects::project_exists),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}",
            get(projects::get_project).put(projects::update_project).delete(projects::delete_project),
        )
        .route("/api/v2.0/projects/{project_name_or_id}/summary", get(projects::project_summary))
        .route("/api/v2.0/projects/{project_name_or_id}/members", get(members::list_members).post(members::add_member))
        .route(
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            get(members::get_member).put(members::update_member).delete(members::remove_member),
        )
        .route("/api/v2.0/projects/{project_name_or_id}/logs", get(audit::project_logs))
        .route(
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
            get(immutability::list_rules).post(immutability::create_rule),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
            put(immutability::update_rule).delete(immutability::delete_rule),
        )
        .route("/api/v2.0/repositories", get(artifacts::list_all_repositories))
        .route("/api/v2.0/projects/{project_name_or_id}/repositories", get(artifacts::list_repositories))
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}",
            get(artifacts::get_repository).put(artifacts::update_repository).delete(artifacts::delete_repository),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts",
            get(artifacts::list_artifacts),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}",
            get(artifacts::get_artifact).delete(artifacts::delete_artifact),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags",
            get(artifacts::list_tags).post(artifacts::create_tag),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
            axum::routing::delete(artifacts::delete_tag),
        )
        .route("/api/v2.0/audit-logs", get(audit::audit_logs))
        .route("/api/v2.0/system/purgeaudit", get(purge::list_history))
        .route(
            "/api/v2.0/system/purgeaudit/schedule",
            get(purge::get_schedule).post(purge::create_schedule).put(purge::update_schedule),
        )
        .route("/api/v2.0/system/purgeaudit/{purge_id}", get(purge::get_run).put(purge::stop_run))
        .route("/api/v2.0/system/purgeaudit/{purge_id}/log", get(purge::get_log))
        .route("/api/v2.0/system/gc", get(gc::list_history))
        .route("/api/v2.0/system/gc/schedule", get(gc::get_schedule).post(gc::create_schedule).put(gc::update_schedule))
        .route("/api/v2.0/system/gc/{gc_id}", get(gc::get_run).put(gc::stop_run))
        .route("/api/v2.0/system/gc/{gc_id}/log", get(gc::get_log))
        .route("/api/v2.0/schedules", get(jobservice::list_schedules))
        .route("/api/v2.0/schedules/{job_type}/paused", get(jobservice::schedule_paused))
        .route("/api/v2.0/jobservice/pools", get(jobservice::list_pools))
        .route("/api/v2.0/jobservice/pools/{pool_id}/workers", get(jobservice::list_workers))
        .route("/api/v2.0/jobservice/queues", get(jobservice::list_queues))
        .route("/api/v2.0/jobservice/queues/{job_type}", put(jobservice::act_on_queue))
        .route("/api/v2.0/jobservice/jobs/{job_id}", put(jobservice::act_on_job))
        .route("/api/v2.0/jobservice/jobs/{job_id}/log", get(jobservice::job_log))
        .route("/api/v2.0/robots", get(robots::list_robots).post(robots::create_robot))
        .route(
            "/api/v2.0/robots/{robot_id}",
            get(robots::get_robot).put(robots::update_robot).delete(robots::delete_robot).patch(robots::refresh_secret),
        )
        .route("/api/v2.0/registries", get(registries::list_registries).post(registries::create_registry))
        .route("/api/v2.0/registries/ping", axum::routing::post(registries::ping_registry))
        .route(
            "/api/v2.0/registries/{id}",
            get(registries::get_registry).put(registries::update_registry).delete(registries::delete_registry),
        )
        .route("/api/v2.0/registries/{id}/info", get(registries::registry_info))
        .route("/api/v2.0/replication/adapters", get(registries::list_adapters))
        .route("/api/v2.0/replication/policies", get(replication::list_policies).post(replication::create_policy))
        .route("/api/v2.0/replication/executions", get(executions::list_executions).post(executions::start_execution))
        .route("/api/v2.0/replication/executions/{id}", get(executions::get_execution).put(executions::stop_execution))
        .route("/api/v2.0/replication/executions/{id}/tasks", get(executions::list_tasks))
        .route("/api/v2.0/replication/executions/{id}/tasks/{task_id}/log", get(executions::task_log))
        .route(
            "/api/v2.0/replication/policies/{id}",
            get(replication::get_policy).put(replication::update_policy).delete(replication::delete_policy),
        )
        .route("/api/v2.0/retentions", axum::routing::post(retention::create_policy))
        .route("/api/v2.0/retentions/metadatas", get(retention::metadata))
        .route(
            "/api/v2.0/retentions/{id}",
            get(retention::get_policy).put(retention::update_policy).delete(retention::delete_policy),
        )
        .route(
            "/api/v2.0/retentions/{id}/executions",
            get(retention::list_executions).post(retention::start_execution),
        )
        .route("/api/v2.0/retentions/{id}/executions/{eid}", axum::routing::patch(retention::act_on_execution))
        .route("/api/v2.0/retentions/{id}/executions/{eid}/tasks", get(retention::list_tasks))
        .route("/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}", get(retention::task_log))
        .route("/api/v2.0/usergroups", get(usergroups::list_groups).post(usergroups::create_group))
        .route("/api/v2.0/usergroups/{group_id}", get(usergroups::get_group).delete(usergroups::delete_group))
        .route("/api/v2.0/quotas", get(quotas::list_quotas))
        .route("/api/v2.0/quotas/{id}", get(quotas::get_quota).put(quotas::update_quota))
        .route("/api/v2.0/users", get(users::list_users).post(users::create_user))
        .route("/api/v2.0/users/current", get(users::current_user))
        .route("/api/v2.0/users/search", get(users::search_users))
        .route("/api/v2.0/users/{user_id}", get(users::get_user).put(users::update_user).delete(users::delete_user))
        .route("/api/v2.0/users/{user_id}/password", put(users::change_password))
        .route("/api/v2.0/users/{user_id}/sysadmin", put(users::set_sysadmin))
        .route("/api/v2.0/users/{user_id}/cli_secret", put(users::set_cli_secret))
}

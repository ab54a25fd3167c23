//! A project's tag retention in the portal: the policy's rules and
//! schedule (`read_tag_policies` to see, `manage_tag_policies` to change,
//! one edit at a time against the version read), dry runs and runs, and
//! each execution's per-repository tasks and logs.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRuleItem {
    pub disabled: bool,
    /// Harbor's template name (`latestPushedK`, …).
    pub template: String,
    pub number: Option<i64>,
    pub repository_decoration: String,
    pub repository_pattern: String,
    pub tag_decoration: String,
    pub tag_pattern: String,
    pub untagged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRunItem {
    pub id: i64,
    pub status: String,
    pub dry_run: bool,
    pub scheduled: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// What the run came to: kept and deleted (or would delete) counts, or its error.
    pub outcome: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionView {
    pub rules: Vec<RetentionRuleItem>,
    pub cron: String,
    /// The policy's version as read (RFC 3339), sent back with each edit.
    pub version: Option<String>,
    pub may_manage: bool,
    pub runs: Vec<RetentionRunItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionTaskItem {
    pub id: i64,
    pub repository: String,
    pub status: String,
    pub artifacts: i64,
    pub retained: i64,
    pub deleted: i64,
}

/// Harbor's templates as the form offers them: the name and its words.
pub const TEMPLATES: [(&str, &str); 5] = [
    ("latestPushedK", "retain the most recently pushed # artifacts"),
    ("latestPulledN", "retain the most recently pulled # artifacts"),
    ("nDaysSinceLastPush", "retain the artifacts pushed within the last # days"),
    ("nDaysSinceLastPull", "retain the artifacts pulled within the last # days"),
    ("always", "retain always"),
];

/// A rule in words: "retain the most recently pushed 10 artifacts".
pub fn template_text(template: &str, number: Option<i64>) -> String {
    let words = TEMPLATES.iter().find(|(name, _)| *name == template).map_or(template, |(_, words)| words);
    words.replace('#', &number.map(|n| n.to_string()).unwrap_or_default())
}

#[server(prefix = "/portal/fn", endpoint = "retention")]
pub async fn retention(project: String) -> Result<RetentionView, AppError> {
    use crate::core::{AppState, db::Window, jobs::Status, rbac::Action};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let policy = state.retention.policy_for(&actor, &project).await?;
    let may_manage = state.access.require(&actor, &project, Action::ManageTagPolicies).await.is_ok();
    let Some(policy) = policy else {
        return Ok(RetentionView {
            rules: Vec::new(),
            cron: String::new(),
            version: None,
            may_manage,
            runs: Vec::new(),
        });
    };
    let runs = state.retention.executions(&actor, policy.id, Window::new(0, 10)).await?;
    let runs = runs
        .items
        .into_iter()
        .map(|execution| {
            let summary = execution.summary.clone().unwrap_or_default();
            let dry_run = execution.parameters["dry_run"].as_bool().unwrap_or(false);
            let outcome = match (&execution.error, execution.status) {
                (Some(error), _) => error.clone(),
                (None, Status::Success) => format!(
                    "{} artifacts: {} retained, {} {}",
                    summary["artifacts"],
                    summary["retained"],
                    if dry_run { "would delete" } else { "deleted" },
                    summary["deleted"]
                ),
                _ => "—".to_owned(),
            };
            RetentionRunItem {
                id: execution.id,
                status: execution.status.as_str().to_owned(),
                dry_run,
                scheduled: execution.trigger == crate::core::jobs::Trigger::Schedule,
                started_at: execution.started_at,
                ended_at: execution.ended_at,
                outcome,
            }
        })
        .collect();
    let rules = policy
        .rules
        .iter()
        .map(|rule| RetentionRuleItem {
            disabled: rule.disabled,
            template: rule.template.harbor_name().to_owned(),
            number: rule.template.number(),
            repository_decoration: rule.repositories.decoration.as_str().to_owned(),
            repository_pattern: rule.repositories.pattern.clone(),
            tag_decoration: rule.tags.decoration.as_str().to_owned(),
            tag_pattern: rule.tags.pattern.clone(),
            untagged: rule.untagged,
        })
        .collect();
    Ok(RetentionView {
        rules,
        cron: policy.cron.unwrap_or_default(),
        version: Some(policy.version.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        may_manage,
        runs,
    })
}

#[cfg(feature = "ssr")]
fn version_of(version: Option<String>) -> Result<Option<DateTime<Utc>>, AppError> {
    version
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| AppError::Invalid { field: "version".into(), message: "not a version".into() }.respond())
        })
        .transpose()
}

/// Adds a rule (`index` absent) or replaces rule `index`.
#[server(prefix = "/portal/fn", endpoint = "save_retention_rule")]
#[allow(clippy::too_many_arguments)]
pub async fn save_retention_rule(
    project: String,
    version: Option<String>,
    index: Option<usize>,
    template: String,
    number: Option<String>,
    repository_decoration: String,
    repository_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    untagged: Option<String>,
    disabled: Option<String>,
) -> Result<(), AppError> {
    use crate::core::{
        AppState,
        retention::{PolicyEdit, RetentionRule, Template},
        selectors::{Decoration, Selector},
    };

    let actor = crate::api::session::require_actor().await?;
    let invalid = |field: &str, message: String| AppError::Invalid { field: field.to_owned(), message }.respond();
    let number = match number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        None => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| invalid("number", "a whole number".into()))?),
    };
    let template = Template::from_harbor(&template, if template == "always" { None } else { number })
        .map_err(|e| invalid(e.field, e.message))?;
    let decoration = |field: &str, raw: &str| {
        Decoration::parse(raw).ok_or_else(|| invalid(field, "must be matches or excludes".into()))
    };
    let rule = RetentionRule {
        disabled: disabled.is_some(),
        template,
        repositories: Selector {
            decoration: decoration("repository_decoration", &repository_decoration)?,
            pattern: repository_pattern.trim().to_owned(),
        },
        tags: Selector {
            decoration: decoration("tag_decoration", &tag_decoration)?,
            pattern: tag_pattern.trim().to_owned(),
        },
        untagged: untagged.is_some(),
    };
    let state = expect_context::<AppState>();
    state.retention.edit(&actor, &project, version_of(version)?, PolicyEdit::PutRule(index, rule)).await?;
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "delete_retention_rule")]
pub async fn delete_retention_rule(project: String, version: Option<String>, index: usize) -> Result<(), AppError> {
    use crate::core::retention::PolicyEdit;
    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    state.retention.edit(&actor, &project, version_of(version)?, PolicyEdit::RemoveRule(index)).await?;
    Ok(())
}

/// Sets the schedule: six cron fields with seconds (UTC); empty runs only by hand.
#[server(prefix = "/portal/fn", endpoint = "set_retention_schedule")]
pub async fn set_retention_schedule(project: String, version: Option<String>, cron: String) -> Result<(), AppError> {
    use crate::core::retention::PolicyEdit;
    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    let cron = Some(cron.trim().to_owned()).filter(|cron| !cron.is_empty());
    state.retention.edit(&actor, &project, version_of(version)?, PolicyEdit::Schedule(cron)).await?;
    Ok(())
}

/// Runs the project's policy now; a dry run deletes nothing.
#[server(prefix = "/portal/fn", endpoint = "run_retention")]
pub async fn run_retention(project: String, dry_run: bool) -> Result<i64, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    let policy =
        state.retention.policy_for(&actor, &project).await?.ok_or_else(|| {
            AppError::NotFound(format!("a retention policy in {project}; add a rule first")).respond()
        })?;
    Ok(state.retention.run(&actor, policy.id, dry_run).await?)
}

#[cfg(feature = "ssr")]
async fn policy_id(
    actor: &crate::core::identity::Actor,
    project: &str,
) -> Result<crate::core::retention::PolicyId, AppError> {
    let state = expect_context::<crate::core::AppState>();
    let policy = state.retention.policy_for(actor, project).await?;
    Ok(policy.ok_or_else(|| AppError::NotFound(format!("a retention policy in {project}")).respond())?.id)
}

#[server(prefix = "/portal/fn", endpoint = "retention_tasks")]
pub async fn retention_tasks(project: String, execution: i64) -> Result<Vec<RetentionTaskItem>, AppError> {
    use crate::core::db::Window;
    let actor = crate::api::session::require_actor().await?;
    let id = policy_id(&actor, &project).await?;
    let state = expect_context::<crate::core::AppState>();
    // Every repository of the project at most: a page as large as the bound on listings.
    let tasks = state.retention.tasks(&actor, id, execution, Window::new(0, 1000)).await?;
    Ok(tasks
        .items
        .into_iter()
        .map(|task| RetentionTaskItem {
            id: task.id,
            repository: task.repository,
            status: task.status.as_str().to_owned(),
            artifacts: task.artifacts,
            retained: task.retained,
            deleted: task.deleted,
        })
        .collect())
}

#[server(prefix = "/portal/fn", endpoint = "retention_task_log")]
pub async fn retention_task_log(project: String, execution: i64, task: i64) -> Result<String, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let id = policy_id(&actor, &project).await?;
    Ok(expect_context::<crate::core::AppState>().retention.task_log(&actor, id, execution, task).await?)
}

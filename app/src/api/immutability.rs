//! A project's tag immutability rules in the portal: listing them
//! (`read_tag_policies`), adding, editing, enabling or disabling and
//! deleting one (`manage_tag_policies`). The immutability service decides.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmutableRuleItem {
    pub id: i64,
    pub disabled: bool,
    /// `matches` or `excludes`.
    pub repository_decoration: String,
    pub repository_pattern: String,
    pub tag_decoration: String,
    pub tag_pattern: String,
}

/// The rules with what the caller may do with them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmutableRules {
    pub rules: Vec<ImmutableRuleItem>,
    pub may_manage: bool,
    /// How many a project may have.
    pub limit: usize,
}

#[server(prefix = "/portal/fn", endpoint = "immutable_rules")]
pub async fn list_immutable_rules(project: String) -> Result<ImmutableRules, AppError> {
    use crate::core::{AppState, immutability::MAX_RULES, rbac::Action};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let rules = state.immutability.rules(&actor, &project).await?;
    let may_manage = state.access.require(&actor, &project, Action::ManageTagPolicies).await.is_ok();
    let rules = rules
        .into_iter()
        .map(|rule| ImmutableRuleItem {
            id: rule.id,
            disabled: rule.disabled,
            repository_decoration: rule.repositories.decoration.as_str().to_owned(),
            repository_pattern: rule.repositories.pattern,
            tag_decoration: rule.tags.decoration.as_str().to_owned(),
            tag_pattern: rule.tags.pattern,
        })
        .collect();
    Ok(ImmutableRules { rules, may_manage, limit: MAX_RULES })
}

/// Adds a rule (`id` absent) or changes rule `id`; a rule is saved enabled
/// unless `disabled` is sent.
#[server(prefix = "/portal/fn", endpoint = "save_immutable_rule")]
pub async fn save_immutable_rule(
    project: String,
    id: Option<i64>,
    repository_decoration: String,
    repository_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    disabled: Option<String>,
) -> Result<(), AppError> {
    use crate::core::{
        AppState,
        immutability::RuleDraft,
        selectors::{Decoration, Selector},
    };

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let decoration = |field: &str, raw: &str| {
        Decoration::parse(raw).ok_or_else(|| {
            AppError::Invalid { field: field.to_owned(), message: "must be matches or excludes".into() }.respond()
        })
    };
    // An edit keeps the rule's priority (REST may have set one).
    let priority = match id {
        Some(id) => {
            state.immutability.rules(&actor, &project).await?.iter().find(|r| r.id == id).map_or(0, |r| r.priority)
        }
        None => 0,
    };
    let draft = RuleDraft {
        priority,
        disabled: disabled.is_some(),
        repositories: Selector {
            decoration: decoration("repository_decoration", &repository_decoration)?,
            pattern: repository_pattern.trim().to_owned(),
        },
        tags: Selector {
            decoration: decoration("tag_decoration", &tag_decoration)?,
            pattern: tag_pattern.trim().to_owned(),
        },
    };
    match id {
        Some(id) => state.immutability.update(&actor, &project, id, &draft).await?,
        None => {
            state.immutability.create(&actor, &project, &draft).await?;
        }
    }
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "toggle_immutable_rule")]
pub async fn toggle_immutable_rule(project: String, id: i64, disabled: bool) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<crate::core::AppState>().immutability.set_disabled(&actor, &project, id, disabled).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_immutable_rule")]
pub async fn delete_immutable_rule(project: String, id: i64) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<crate::core::AppState>().immutability.delete(&actor, &project, id).await?)
}

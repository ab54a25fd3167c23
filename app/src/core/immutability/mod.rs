//! Tag immutability (Harbor's model, per project): rules that each select
//! repositories (by name within the project) and tags, matched or
//! excluded. A tag an enabled rule selects can be pushed once; after that
//! it cannot be moved to another manifest or deleted, and its artifact
//! cannot be deleted — on `/v2`, REST, the portal, replication and
//! retention alike, because the check runs inside the registry's own
//! transactions (see [`crate::core::registry`]), where every such change
//! is written.

mod repository;

pub(crate) use repository::{ENABLED_RULES_SQL, RuleRow, enabled_rules};

use chrono::{DateTime, Utc};

use crate::core::{
    Error, Result,
    access::AccessService,
    db::Db,
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    rbac::Action,
    selectors::{InvalidFilter, Selector},
};
use repository::ImmutabilityRepository;

/// Most rules a project may have (Harbor's limit).
pub const MAX_RULES: usize = 15;

/// One rule, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImmutableRule {
    pub id: i64,
    pub priority: i32,
    pub disabled: bool,
    /// Repository names within the project (`app`, `tools/**`).
    pub repositories: Selector,
    pub tags: Selector,
    pub created_at: DateTime<Utc>,
}

/// What a rule is to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDraft {
    pub priority: i32,
    pub disabled: bool,
    pub repositories: Selector,
    pub tags: Selector,
}

impl RuleDraft {
    fn check(&self) -> Result<()> {
        let named = |InvalidFilter { field, message }| Error::invalid(field, message);
        self.repositories.compile("repositories").map_err(named)?;
        self.tags.compile("tags").map_err(named)?;
        Ok(())
    }
}

/// Why a change was refused: the tag and the rule that protects it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tag {tag} of {repository} is immutable: rule {rule} of project {project} \
     (repositories {repositories}, tags {tags}) protects it"
)]
pub struct Protected {
    pub project: String,
    pub repository: String,
    pub tag: String,
    pub rule: i64,
    pub repositories: Selector,
    pub tags: Selector,
}

/// The first of `rules` (enabled ones, in priority order) that protects one
/// of `tags` of `repository` (the full name, with its project). A rule
/// whose stored pattern no longer compiles protects everything: refusing
/// a change by mistake loses nothing, allowing one might.
pub fn protection(rules: &[ImmutableRule], repository: &str, tags: &[&str]) -> Option<Protected> {
    let (project, within) = repository.split_once('/')?;
    rules.iter().filter(|rule| !rule.disabled).find_map(|rule| {
        let selected = match (rule.repositories.compile("repositories"), rule.tags.compile("tags")) {
            (Ok(repositories), Ok(tags_selected)) => {
                if !repositories.selects(within) {
                    return None;
                }
                tags.iter().find(|tag| tags_selected.selects(tag))
            }
            _ => tags.first(),
        }?;
        Some(Protected {
            project: project.to_owned(),
            repository: repository.to_owned(),
            tag: (*selected).to_owned(),
            rule: rule.id,
            repositories: rule.repositories.clone(),
            tags: rule.tags.clone(),
        })
    })
}

#[derive(Clone, Debug)]
pub struct ImmutabilityService {
    repository: ImmutabilityRepository,
    access: AccessService,
}

impl ImmutabilityService {
    pub fn new(db: Db, access: AccessService) -> Self {
        Self { repository: ImmutabilityRepository::new(db), access }
    }

    /// The project's rules in priority order (`read_tag_policies`).
    pub async fn rules(&self, actor: &Actor, project: &str) -> Result<Vec<ImmutableRule>> {
        let grant = self.access.require(actor, project, Action::ReadTagPolicies).await?;
        self.repository.rules(grant.project_id()).await
    }

    /// The enabled rules of `project`, for callers that already hold a
    /// grant to read there (listings mark the tags these protect).
    pub(crate) async fn in_force(&self, project: &str) -> Result<Vec<ImmutableRule>> {
        self.repository.enabled(project).await
    }

    /// Adds a rule (`manage_tag_policies`), at most [`MAX_RULES`] per
    /// project; its id.
    pub async fn create(&self, actor: &Actor, project: &str, draft: &RuleDraft) -> Result<i64> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        draft.check()?;
        let event = rule_event(actor, Operation::Create, project, draft);
        self.repository.create(grant.project_id(), draft, Utc::now(), &event).await?.ok_or_else(|| {
            Error::Conflict(format!("project {project} has {MAX_RULES} immutability rules, as many as a project may"))
        })
    }

    /// Replaces rule `id` of the project (`manage_tag_policies`).
    pub async fn update(&self, actor: &Actor, project: &str, id: i64, draft: &RuleDraft) -> Result<()> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        draft.check()?;
        let event = rule_event(actor, Operation::Update, project, draft);
        if !self.repository.update(grant.project_id(), id, draft, Utc::now(), &event).await? {
            return Err(no_such_rule(project, id));
        }
        Ok(())
    }

    /// Enables or disables rule `id` (`manage_tag_policies`), leaving the
    /// rest of it as it is.
    pub async fn set_disabled(&self, actor: &Actor, project: &str, id: i64, disabled: bool) -> Result<()> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        let what = if disabled { "disabled" } else { "enabled" };
        let mut event = AuditEvent::new(Operation::Update, ResourceType::ImmutableRule, format!("rule {id}"), actor)
            .in_project(Some(project));
        event.detail = Some(what.to_owned());
        if !self.repository.set_disabled(grant.project_id(), id, disabled, Utc::now(), &event).await? {
            return Err(no_such_rule(project, id));
        }
        Ok(())
    }

    /// Deletes rule `id` (`manage_tag_policies`).
    pub async fn delete(&self, actor: &Actor, project: &str, id: i64) -> Result<()> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        let event = AuditEvent::new(Operation::Delete, ResourceType::ImmutableRule, format!("rule {id}"), actor)
            .in_project(Some(project));
        if !self.repository.delete(grant.project_id(), id, &event).await? {
            return Err(no_such_rule(project, id));
        }
        Ok(())
    }
}

fn no_such_rule(project: &str, id: i64) -> Error {
    Error::NotFound(format!("immutability rule {id} of project {project}"))
}

fn rule_event(actor: &Actor, operation: Operation, project: &str, draft: &RuleDraft) -> AuditEvent {
    let resource = format!("repositories {}, tags {}", draft.repositories, draft.tags);
    let mut event = AuditEvent::new(operation, ResourceType::ImmutableRule, resource, actor).in_project(Some(project));
    event.detail = draft.disabled.then(|| "disabled".to_owned());
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::selectors::Decoration;

    fn rule(id: i64, repositories: &str, tags: (Decoration, &str), disabled: bool) -> ImmutableRule {
        ImmutableRule {
            id,
            priority: 0,
            disabled,
            repositories: Selector { decoration: Decoration::Matches, pattern: repositories.into() },
            tags: Selector { decoration: tags.0, pattern: tags.1.into() },
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_first_enabled_rule_selecting_a_tag_protects_it() {
        let rules = [
            rule(1, "**", (Decoration::Matches, "v*"), true),
            rule(2, "app", (Decoration::Matches, "v*"), false),
            rule(3, "tools/**", (Decoration::Excludes, "latest"), false),
        ];
        assert_eq!(protection(&rules, "team/app", &["latest", "v1"]).map(|p| (p.rule, p.tag)), Some((2, "v1".into())));
        assert!(protection(&rules, "team/app", &["latest"]).is_none(), "rule 1 is disabled");
        assert!(protection(&rules, "team/web", &["v1"]).is_none(), "the repository is not selected");
        assert_eq!(protection(&rules, "team/tools/jq", &["1.7"]).map(|p| p.rule), Some(3));
        assert!(protection(&rules, "team/tools/jq", &["latest"]).is_none(), "excluded tag");
        assert!(protection(&rules, "team/app", &[]).is_none(), "untagged artifacts are never protected");
    }

    #[test]
    fn the_refusal_names_the_rule() {
        let rules = [rule(7, "**", (Decoration::Matches, "v*"), false)];
        let refusal = protection(&rules, "team/app", &["v1"]).unwrap();
        assert_eq!(
            refusal.to_string(),
            "the tag v1 of team/app is immutable: rule 7 of project team (repositories matching **, tags matching v*) \
             protects it"
        );
    }

    #[test]
    fn a_broken_stored_rule_protects_everything() {
        let rules = [rule(4, "{a", (Decoration::Matches, "v*"), false)];
        assert_eq!(protection(&rules, "team/app", &["latest"]).map(|p| p.rule), Some(4));
    }
}

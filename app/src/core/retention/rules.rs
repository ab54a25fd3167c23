//! Tag retention rules (Harbor's model) and the decision they make, pure:
//! which artifacts of a repository are kept and which go. Each enabled
//! rule selects repositories (by name within the project) and, in them,
//! candidate artifacts (by tag, untagged ones included or not); its
//! template keeps some of its candidates. An artifact is kept when any
//! rule keeps it; the rest of a repository some rule selects goes.
//! Repositories no rule selects are left alone, and so are artifacts an
//! immutability rule protects.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::core::selectors::{InvalidFilter, Selecting, Selector};

/// Most rules a policy may have (Harbor's limit).
pub const MAX_RULES: usize = 15;
/// Largest count a "most recently pushed / pulled" template accepts.
pub const MAX_COUNT: i64 = 100_000;
/// Largest number of days a "within N days" template accepts (about 100 years).
pub const MAX_DAYS: i64 = 36_500;

/// What a rule keeps of its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", content = "n", rename_all = "snake_case")]
pub enum Template {
    /// The `n` most recently pushed.
    LatestPushed(i64),
    /// The `n` most recently pulled (never-pulled ones last).
    LatestPulled(i64),
    /// Those pushed within the last `n` days.
    PushedWithinDays(i64),
    /// Those pulled within the last `n` days.
    PulledWithinDays(i64),
    /// All of them.
    Always,
}

impl Template {
    /// Harbor's template names, and the parameter each takes.
    pub const HARBOR: [(&'static str, Option<&'static str>); 5] = [
        ("latestPushedK", Some("COUNT")),
        ("latestPulledN", Some("COUNT")),
        ("nDaysSinceLastPush", Some("DAYS")),
        ("nDaysSinceLastPull", Some("DAYS")),
        ("always", None),
    ];

    pub fn harbor_name(self) -> &'static str {
        match self {
            Self::LatestPushed(_) => "latestPushedK",
            Self::LatestPulled(_) => "latestPulledN",
            Self::PushedWithinDays(_) => "nDaysSinceLastPush",
            Self::PulledWithinDays(_) => "nDaysSinceLastPull",
            Self::Always => "always",
        }
    }

    /// The template Harbor's name and parameter make.
    pub fn from_harbor(name: &str, n: Option<i64>) -> Result<Self, InvalidFilter> {
        let needs = |make: fn(i64) -> Template| {
            n.map(make).ok_or_else(|| InvalidFilter { field: "params", message: format!("{name} needs its number") })
        };
        let template = match name {
            "latestPushedK" => needs(Self::LatestPushed)?,
            "latestPulledN" => needs(Self::LatestPulled)?,
            "nDaysSinceLastPush" => needs(Self::PushedWithinDays)?,
            "nDaysSinceLastPull" => needs(Self::PulledWithinDays)?,
            "always" => Self::Always,
            other => {
                let known: Vec<&str> = Self::HARBOR.iter().map(|(name, _)| *name).collect();
                return Err(InvalidFilter {
                    field: "template",
                    message: format!("{other:?} is not one of {}", known.join(", ")),
                });
            }
        };
        template.check()?;
        Ok(template)
    }

    /// The number it keeps by (a count or days), if it takes one.
    pub fn number(self) -> Option<i64> {
        match self {
            Self::LatestPushed(n) | Self::LatestPulled(n) | Self::PushedWithinDays(n) | Self::PulledWithinDays(n) => {
                Some(n)
            }
            Self::Always => None,
        }
    }

    fn check(self) -> Result<(), InvalidFilter> {
        let (n, most) = match self {
            Self::LatestPushed(n) | Self::LatestPulled(n) => (n, MAX_COUNT),
            Self::PushedWithinDays(n) | Self::PulledWithinDays(n) => (n, MAX_DAYS),
            Self::Always => return Ok(()),
        };
        if !(1..=most).contains(&n) {
            return Err(InvalidFilter {
                field: "params",
                message: format!("{} must be from 1 to {most}", self.harbor_name()),
            });
        }
        Ok(())
    }
}

/// One retention rule, as stored (JSON in the policy's row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRule {
    pub disabled: bool,
    pub template: Template,
    /// Repository names within the project.
    pub repositories: Selector,
    pub tags: Selector,
    /// Whether untagged artifacts are candidates too.
    pub untagged: bool,
}

impl RetentionRule {
    /// The only place a rule is checked.
    pub fn check(&self) -> Result<(), InvalidFilter> {
        self.template.check()?;
        self.repositories.compile("repositories")?;
        self.tags.compile("tags")?;
        Ok(())
    }
}

/// An artifact as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: DateTime<Utc>,
    pub pulled_at: Option<DateTime<Utc>>,
    /// An immutability rule protects one of its tags.
    pub immutable: bool,
}

/// What the rules decided for one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Indexes into the candidates, in their order.
    pub kept: Vec<usize>,
    pub deleted: Vec<usize>,
}

/// `rules` compiled: the selectors of each enabled rule.
pub struct Compiled<'a> {
    rules: Vec<(&'a RetentionRule, Selecting, Selecting)>,
}

impl<'a> Compiled<'a> {
    /// Compiles the enabled rules; a stored rule that no longer compiles is
    /// an error, never a rule that selects nothing (or everything).
    pub fn new(rules: &'a [RetentionRule]) -> Result<Self, InvalidFilter> {
        let rules = rules
            .iter()
            .filter(|rule| !rule.disabled)
            .map(|rule| Ok((rule, rule.repositories.compile("repositories")?, rule.tags.compile("tags")?)))
            .collect::<Result<_, InvalidFilter>>()?;
        Ok(Self { rules })
    }

    /// Whether some rule selects the repository (its name within the project).
    pub fn selects(&self, repository: &str) -> bool {
        self.rules.iter().any(|(_, repositories, _)| repositories.selects(repository))
    }

    /// Decides for the artifacts of `repository` (its name within the
    /// project) as of `now`.
    pub fn decide(&self, repository: &str, artifacts: &[Candidate], now: DateTime<Utc>) -> Decision {
        let mut kept = HashSet::new();
        let mut selected = false;
        for (rule, repositories, tags) in &self.rules {
            if !repositories.selects(repository) {
                continue;
            }
            selected = true;
            let candidates: Vec<usize> = (0..artifacts.len())
                .filter(|&i| {
                    let artifact = &artifacts[i];
                    if artifact.tags.is_empty() {
                        rule.untagged
                    } else {
                        artifact.tags.iter().any(|tag| tags.selects(tag))
                    }
                })
                .collect();
            kept.extend(keep(rule.template, &candidates, artifacts, now));
        }
        if !selected {
            return Decision { kept: (0..artifacts.len()).collect(), deleted: Vec::new() };
        }
        let (kept, deleted) = (0..artifacts.len()).partition(|i| kept.contains(i) || artifacts[*i].immutable);
        Decision { kept, deleted }
    }
}

/// The candidates `template` keeps.
fn keep(template: Template, candidates: &[usize], artifacts: &[Candidate], now: DateTime<Utc>) -> Vec<usize> {
    let mut ordered = candidates.to_vec();
    match template {
        Template::Always => ordered,
        Template::LatestPushed(n) => {
            // Newest first; the digest breaks ties so the decision is the same every run.
            ordered.sort_by(|&a, &b| {
                (artifacts[b].pushed_at, &artifacts[b].digest).cmp(&(artifacts[a].pushed_at, &artifacts[a].digest))
            });
            ordered.truncate(n.max(0) as usize);
            ordered
        }
        Template::LatestPulled(n) => {
            // Never pulled sorts last (None < Some); ties by push time, then digest.
            ordered.sort_by(|&a, &b| {
                let key = |i: usize| (artifacts[i].pulled_at, artifacts[i].pushed_at, &artifacts[i].digest);
                key(b).cmp(&key(a))
            });
            ordered.truncate(n.max(0) as usize);
            ordered
        }
        Template::PushedWithinDays(days) => {
            let since = now - Duration::days(days);
            ordered.retain(|&i| artifacts[i].pushed_at >= since);
            ordered
        }
        Template::PulledWithinDays(days) => {
            let since = now - Duration::days(days);
            ordered.retain(|&i| artifacts[i].pulled_at.is_some_and(|pulled| pulled >= since));
            ordered
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::selectors::Decoration;

    fn at(days_ago: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&Utc) - Duration::days(days_ago)
    }

    fn artifact(digest: &str, tags: &[&str], pushed: i64, pulled: Option<i64>) -> Candidate {
        Candidate {
            digest: digest.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            pushed_at: at(pushed),
            pulled_at: pulled.map(at),
            immutable: false,
        }
    }

    fn rule(template: Template, repositories: &str, tags: (Decoration, &str), untagged: bool) -> RetentionRule {
        RetentionRule {
            disabled: false,
            template,
            repositories: Selector { decoration: Decoration::Matches, pattern: repositories.into() },
            tags: Selector { decoration: tags.0, pattern: tags.1.into() },
            untagged,
        }
    }

    fn decide(rules: &[RetentionRule], repository: &str, artifacts: &[Candidate]) -> (Vec<String>, Vec<String>) {
        let decision = Compiled::new(rules).unwrap().decide(repository, artifacts, at(0));
        let names = |list: Vec<usize>| list.into_iter().map(|i| artifacts[i].digest.clone()).collect();
        (names(decision.kept), names(decision.deleted))
    }

    #[test]
    fn the_latest_pushed_are_kept_and_the_rest_goes() {
        let artifacts = [
            artifact("a", &["v1"], 30, None),
            artifact("b", &["v2"], 20, None),
            artifact("c", &["v3"], 10, None),
            artifact("u", &[], 5, None),
        ];
        let rules = [rule(Template::LatestPushed(2), "**", (Decoration::Matches, "**"), false)];
        assert_eq!(decide(&rules, "app", &artifacts), (vec!["b".into(), "c".into()], vec!["a".into(), "u".into()]));
        // With untagged artifacts as candidates, the untagged one is the newest.
        let rules = [rule(Template::LatestPushed(2), "**", (Decoration::Matches, "**"), true)];
        assert_eq!(decide(&rules, "app", &artifacts).0, ["c", "u"]);
    }

    #[test]
    fn any_rule_keeps_and_unselected_repositories_are_left_alone() {
        let artifacts = [
            artifact("old-release", &["v1"], 300, Some(1)),
            artifact("old-dev", &["dev-1"], 200, None),
            artifact("new-dev", &["dev-2"], 1, None),
        ];
        let rules = [
            rule(Template::PulledWithinDays(7), "**", (Decoration::Matches, "v*"), false),
            rule(Template::PushedWithinDays(30), "app", (Decoration::Excludes, "v*"), false),
        ];
        assert_eq!(
            decide(&rules, "app", &artifacts),
            (vec!["old-release".into(), "new-dev".into()], vec!["old-dev".into()])
        );
        let only_app = [rule(Template::LatestPushed(1), "app", (Decoration::Matches, "**"), true)];
        assert_eq!(decide(&only_app, "web", &artifacts).1, Vec::<String>::new(), "no rule selects web");
    }

    #[test]
    fn the_latest_pulled_puts_never_pulled_last() {
        let artifacts = [
            artifact("never", &["a"], 1, None),
            artifact("long-ago", &["b"], 50, Some(40)),
            artifact("recent", &["c"], 60, Some(2)),
        ];
        let rules = [rule(Template::LatestPulled(2), "**", (Decoration::Matches, "**"), false)];
        assert_eq!(decide(&rules, "app", &artifacts), (vec!["long-ago".into(), "recent".into()], vec!["never".into()]));
    }

    #[test]
    fn immutable_artifacts_are_never_deleted_and_disabled_rules_do_nothing() {
        let mut pinned = artifact("pinned", &["v1"], 100, None);
        pinned.immutable = true;
        let artifacts = [pinned, artifact("other", &["v2"], 100, None)];
        let rules = [rule(Template::PushedWithinDays(1), "**", (Decoration::Matches, "**"), false)];
        assert_eq!(decide(&rules, "app", &artifacts), (vec!["pinned".into()], vec!["other".into()]));
        let mut disabled = rules.clone();
        disabled[0].disabled = true;
        assert_eq!(decide(&disabled, "app", &artifacts).1, Vec::<String>::new());
    }

    #[test]
    fn templates_are_bounded_and_named_as_in_harbor() {
        assert_eq!(Template::from_harbor("latestPushedK", Some(10)), Ok(Template::LatestPushed(10)));
        assert_eq!(Template::from_harbor("always", None), Ok(Template::Always));
        assert!(Template::from_harbor("latestPushedK", None).is_err());
        assert!(Template::from_harbor("latestPushedK", Some(0)).is_err());
        assert!(Template::from_harbor("latestPushedK", Some(MAX_COUNT)).is_ok());
        assert!(Template::from_harbor("latestPushedK", Some(MAX_COUNT + 1)).is_err());
        assert!(Template::from_harbor("nDaysSinceLastPull", Some(MAX_DAYS + 1)).is_err());
        assert_eq!(Template::from_harbor("nothing", None).unwrap_err().field, "template");
    }
}

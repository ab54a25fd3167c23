//! Harbor's selector shape, shared by immutability rules and retention
//! rules: one doublestar glob with a decoration (`matches` / `excludes`
//! for tags, `repoMatches` / `repoExcludes` for repositories) and, for
//! retention's tags, `extras`.

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use app::core::selectors::{Decoration, Selector};

/// Harbor's only selector kind.
pub const DOUBLESTAR: &str = "doublestar";

/// How tag selectors and repository selectors name their decorations.
pub type Decorations = [(&'static str, Decoration); 2];
pub const TAG_DECORATIONS: Decorations = [("matches", Decoration::Matches), ("excludes", Decoration::Excludes)];
pub const REPOSITORY_DECORATIONS: Decorations =
    [("repoMatches", Decoration::Matches), ("repoExcludes", Decoration::Excludes)];

/// Harbor's `ImmutableSelector` and `RetentionSelector`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SelectorBody {
    #[serde(default)]
    pub kind: Option<String>,
    /// `matches` or `excludes` (tags); `repoMatches` or `repoExcludes` (repositories).
    pub decoration: String,
    pub pattern: String,
    /// JSON text; for retention's tags, `{"untagged": true}` makes untagged artifacts candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<String>,
}

/// Harbor's `scope_selectors`: only `repository`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeSelectors {
    pub repository: Vec<SelectorBody>,
}

impl ScopeSelectors {
    pub fn of(repositories: &Selector) -> Self {
        Self { repository: vec![body(repositories, REPOSITORY_DECORATIONS, None)] }
    }
}

/// A stored selector in Harbor's words.
pub fn body(selector: &Selector, decorations: Decorations, extras: Option<String>) -> SelectorBody {
    let name = decorations.iter().find(|(_, d)| *d == selector.decoration).map_or("matches", |(name, _)| *name);
    SelectorBody {
        kind: Some(DOUBLESTAR.to_owned()),
        decoration: name.to_owned(),
        pattern: selector.pattern.clone(),
        extras,
    }
}

/// The one selector a list must hold, and its extras; `field` names it in refusals.
pub fn one(
    field: &str,
    selectors: Option<Vec<SelectorBody>>,
    decorations: Decorations,
) -> ApiResult<(Selector, Option<String>)> {
    let mut selectors = selectors.ok_or_else(|| ApiError::bad_request(format!("{field}: one selector is needed")))?;
    if selectors.len() != 1 {
        return Err(ApiError::bad_request(format!("{field}: exactly one selector, not {}", selectors.len())));
    }
    let selector = selectors.remove(0);
    if let Some(kind) = selector.kind.as_deref().filter(|kind| *kind != DOUBLESTAR) {
        return Err(ApiError::bad_request(format!("{field}: kind {kind:?} is unknown; only doublestar")));
    }
    let decoration =
        decorations.iter().find(|(name, _)| *name == selector.decoration).map(|(_, d)| *d).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{field}: decoration {:?} is not {} or {}",
                selector.decoration, decorations[0].0, decorations[1].0
            ))
        })?;
    Ok((Selector { decoration, pattern: selector.pattern }, selector.extras))
}

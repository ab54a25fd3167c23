//! Harbor's selectors: a glob that picks repository names or tags, and
//! whether it keeps what matches or what does not. Replication filters,
//! tag immutability rules and tag retention rules all select with them,
//! so a pattern means the same thing everywhere.

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

/// Longest pattern a selector accepts.
pub const MAX_PATTERN: usize = 256;

/// Whether a selector keeps what matches or what does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoration {
    #[default]
    Matches,
    Excludes,
}

impl Decoration {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matches => "matches",
            Self::Excludes => "excludes",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "matches" => Some(Self::Matches),
            "excludes" => Some(Self::Excludes),
            _ => None,
        }
    }
}

/// A pattern that is not a glob a selector accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidFilter {
    pub field: &'static str,
    pub message: String,
}

/// Compiles `pattern`, the only place patterns are checked. `*` stays
/// within one path component and `**` crosses them, as in Harbor;
/// `{a,b}` picks either.
pub fn glob(field: &'static str, pattern: &str) -> Result<GlobMatcher, InvalidFilter> {
    if pattern.len() > MAX_PATTERN {
        return Err(InvalidFilter { field, message: format!("at most {MAX_PATTERN} characters") });
    }
    if pattern.chars().any(char::is_control) {
        return Err(InvalidFilter { field, message: "no control characters".into() });
    }
    let glob = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| InvalidFilter { field, message: format!("{pattern:?} is not a glob: {}", e.kind()) })?;
    Ok(glob.compile_matcher())
}

/// A glob and its decoration, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    pub decoration: Decoration,
    pub pattern: String,
}

impl Selector {
    /// Selects everything (`**` matched).
    pub fn everything() -> Self {
        Self { decoration: Decoration::Matches, pattern: "**".into() }
    }

    pub fn compile(&self, field: &'static str) -> Result<Selecting, InvalidFilter> {
        if self.pattern.is_empty() {
            return Err(InvalidFilter { field, message: "a pattern is needed (** selects everything)".into() });
        }
        Ok(Selecting { glob: glob(field, &self.pattern)?, decoration: self.decoration })
    }
}

/// The selector's words: `matching v*`, `excluding *-rc*`.
impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.decoration {
            Decoration::Matches => "matching",
            Decoration::Excludes => "excluding",
        };
        write!(f, "{verb} {}", self.pattern)
    }
}

/// A compiled [`Selector`].
#[derive(Clone, Debug)]
pub struct Selecting {
    glob: GlobMatcher,
    decoration: Decoration,
}

impl Selecting {
    pub fn selects(&self, name: &str) -> bool {
        self.glob.is_match(name) == (self.decoration == Decoration::Matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(decoration: Decoration, pattern: &str) -> Selecting {
        Selector { decoration, pattern: pattern.into() }.compile("test").unwrap()
    }

    #[test]
    fn globs_match_as_in_harbor() {
        let everything = selector(Decoration::Matches, "**");
        assert!(everything.selects("app") && everything.selects("tools/jq"));
        let top = selector(Decoration::Matches, "*");
        assert!(top.selects("app") && !top.selects("tools/jq"), "* stays within one component");
        let either = selector(Decoration::Matches, "{app,web}");
        assert!(either.selects("app") && either.selects("web") && !either.selects("db"));
        let releases = selector(Decoration::Excludes, "*-rc*");
        assert!(releases.selects("v1.0") && !releases.selects("v1.0-rc1"));
    }

    #[test]
    fn bad_patterns_are_named() {
        let empty = Selector { decoration: Decoration::Matches, pattern: String::new() }.compile("tag");
        assert_eq!(empty.unwrap_err().field, "tag");
        assert_eq!(glob("repository", "{a,b").unwrap_err().field, "repository");
        assert!(glob("tag", &"x".repeat(MAX_PATTERN)).is_ok());
        assert!(glob("tag", &"x".repeat(MAX_PATTERN + 1)).is_err());
        assert!(glob("tag", "v1\n").is_err());
    }
}

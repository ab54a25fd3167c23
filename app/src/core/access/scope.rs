//! What registry clients ask for and are given: a scope of the docker
//! token flow (`repository:team/app:pull,push`) and the access entry a
//! token carries for it. [`super::AccessService::grant`] turns the one
//! into the other; tokens carry the entries signed.

use serde::{Deserialize, Serialize};

/// What a token lets its holder do with one resource, as the docker token
/// spec writes it (`{"type":"repository","name":"team/app","actions":["pull"]}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// A requested scope, `repository:team/app:pull,push` (the resource type
/// may carry a class, `repository(plugin)`, which is ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses one scope; `None` when it is not `type:name:actions`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (kind, rest) = raw.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let kind = kind.split_once('(').map_or(kind, |(base, _)| base);
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        let actions = actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        Some(Self { kind: kind.to_owned(), name: name.to_owned(), actions })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn scopes_parse_like_docker_writes_them() {
        let scope = Scope::parse("repository:team/app:pull,push").unwrap();
        assert_eq!((scope.kind.as_str(), scope.name.as_str()), ("repository", "team/app"));
        assert_eq!(scope.actions, ["pull", "push"]);
        assert_eq!(scope.to_string(), "repository:team/app:pull,push");
        let plugin = Scope::parse("repository(plugin):x/y:pull").unwrap();
        assert_eq!(plugin.kind, "repository");
        assert_eq!(Scope::parse("registry:catalog:*").unwrap().actions, ["*"]);
        assert_eq!(Scope::parse("repository:a/b:").unwrap().actions, Vec::<String>::new());
        for bad in ["", "repository", "repository:a", ":a:pull", "repository::pull"] {
            assert_eq!(Scope::parse(bad), None, "{bad:?}");
        }
    }
}

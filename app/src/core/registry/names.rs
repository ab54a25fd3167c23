//! Repository names, tags and manifest references, validated once at the
//! boundary with the distribution spec's grammar.

use std::fmt;

use super::digest::{Digest, DigestError};

/// Longest `<host>/<name>` the spec lets clients rely on.
pub const MAX_QUALIFIED_NAME_LEN: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "repository name {0:?} does not match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*"
    )]
    Grammar(String),
    #[error(
        "repository name {name:?} is too long: with the registry host it must stay within {MAX_QUALIFIED_NAME_LEN} characters"
    )]
    TooLong { name: String },
    #[error("tag {0:?} does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")]
    Tag(String),
}

/// A repository name such as `library/alpine`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    /// Validates the grammar and that `<host>/<name>` fits in 255 characters.
    pub fn parse(name: &str, host: &str) -> Result<Self, NameError> {
        if !name.split('/').all(is_path_component) {
            return Err(NameError::Grammar(name.to_owned()));
        }
        if host.len() + 1 + name.len() > MAX_QUALIFIED_NAME_LEN {
            return Err(NameError::TooLong { name: name.to_owned() });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first path component, which names the project that owns the
    /// repository; `None` for a one-component name, which no project owns.
    pub fn project(&self) -> Option<&str> {
        self.0.split_once('/').map(|(project, _)| project)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A tag such as `latest` or `v1.2.3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(tag: &str) -> Result<Self, NameError> {
        let bytes = tag.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 128
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes[1..].iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid { Ok(Self(tag.to_owned())) } else { Err(NameError::Tag(tag.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a manifest URL names: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Tag(#[from] NameError),
}

impl Reference {
    /// A reference with a `:` is a digest, anything else must be a tag.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        if reference.contains(':') {
            Ok(Self::Digest(reference.parse()?))
        } else {
            Ok(Self::Tag(Tag::parse(reference)?))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(tag) => tag.fmt(f),
            Self::Digest(digest) => digest.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_name_grammar() {
        let good =
            ["a", "library/alpine", "a/b/c/d/e", "my-app", "my--app", "my.app", "my_app", "my__app", "0x/1.2_3-4"];
        for name in good {
            assert!(RepoName::parse(name, "localhost:5000").is_ok(), "{name} should be valid");
        }
        let bad = [
            "",
            "A",
            "Library/alpine",
            "/a",
            "a/",
            "a//b",
            "-a",
            "a-",
            ".a",
            "a.",
            "a..b",
            "a___b",
            "a_.b",
            "a.-b",
            "a b",
            "a:b",
            "a@b",
            "ä",
        ];
        for name in bad {
            assert_eq!(
                RepoName::parse(name, "h"),
                Err(NameError::Grammar(name.to_owned())),
                "{name} should be invalid"
            );
        }
    }

    #[test]
    fn repository_name_length_counts_the_host() {
        let host = "registry.example.com:5000";
        let fits = "a".repeat(MAX_QUALIFIED_NAME_LEN - host.len() - 1);
        assert!(RepoName::parse(&fits, host).is_ok());
        let too_long = format!("{fits}b");
        assert!(matches!(RepoName::parse(&too_long, host), Err(NameError::TooLong { .. })));
    }

    #[test]
    fn project_is_the_first_component() {
        assert_eq!(RepoName::parse("team/app/api", "h").unwrap().project(), Some("team"));
        assert_eq!(RepoName::parse("solo", "h").unwrap().project(), None);
    }

    #[test]
    fn tag_grammar() {
        let max = "a".repeat(128);
        for tag in ["latest", "v1.2.3", "_private", "A-b_C.d", "1", max.as_str()] {
            assert!(Tag::parse(tag).is_ok(), "{tag}");
        }
        let too_long = "a".repeat(129);
        for tag in ["", ".hidden", "-x", "a/b", "a:b", "a+b", too_long.as_str()] {
            assert!(Tag::parse(tag).is_err(), "{tag}");
        }
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert!(matches!(Reference::parse(&digest), Ok(Reference::Digest(_))));
        assert!(matches!(Reference::parse("sha256:short"), Err(ReferenceError::Digest(_))));
        assert!(matches!(Reference::parse("bad/tag"), Err(ReferenceError::Tag(_))));
    }
}

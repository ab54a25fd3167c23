//! Which artifacts a replication policy copies: repository names and tags
//! by glob (`library/**`, `{app,web}`, `v1.*`), tags matched or excluded,
//! and the kind of resource (images only, or any artifact). Harbor's
//! filter rules over the shared [selectors](crate::core::selectors); pure,
//! so the copy engine and the policy form share them.

use globset::GlobMatcher;
use serde::{Deserialize, Serialize};

use crate::core::selectors::glob;
pub use crate::core::selectors::{Decoration, InvalidFilter, MAX_PATTERN};

/// What kind of artifact a policy copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// Container images and indexes of them.
    Image,
    /// Any artifact (Helm charts, signatures, SBOMs, ...).
    #[default]
    Artifact,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Artifact => "artifact",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "image" => Some(Self::Image),
            "artifact" => Some(Self::Artifact),
            _ => None,
        }
    }
}

/// A policy's filters as stored: patterns, not yet compiled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Repository names (with their project), e.g. `library/**`.
    pub name: Option<String>,
    pub tag: Option<String>,
    #[serde(default)]
    pub tag_decoration: Decoration,
    pub resource: Option<ResourceKind>,
}

/// [`Filters`] compiled for matching.
#[derive(Clone, Debug)]
pub struct Selection {
    name: Option<GlobMatcher>,
    tag: Option<(GlobMatcher, Decoration)>,
    resource: ResourceKind,
}

impl Filters {
    /// Compiles the patterns; the only place they are checked.
    pub fn compile(&self) -> Result<Selection, InvalidFilter> {
        let name = self.name.as_deref().filter(|p| !p.is_empty()).map(|p| glob("name", p)).transpose()?;
        let tag = self.tag.as_deref().filter(|p| !p.is_empty()).map(|p| glob("tag", p)).transpose()?;
        Ok(Selection {
            name,
            tag: tag.map(|tag| (tag, self.tag_decoration)),
            resource: self.resource.unwrap_or_default(),
        })
    }
}

impl Selection {
    /// Whether the repository `name` (with its project) is to be copied.
    pub fn repository(&self, name: &str) -> bool {
        self.name.as_ref().is_none_or(|glob| glob.is_match(name))
    }

    /// The tags of an artifact that the policy copies. With no tag filter,
    /// all of them; with one, an untagged artifact is not copied (as in Harbor).
    pub fn tags<'a>(&self, tags: &'a [String]) -> Vec<&'a str> {
        match &self.tag {
            None => tags.iter().map(String::as_str).collect(),
            Some((glob, decoration)) => tags
                .iter()
                .map(String::as_str)
                .filter(|tag| glob.is_match(tag) == (*decoration == Decoration::Matches))
                .collect(),
        }
    }

    /// Whether an artifact with these tags is copied at all.
    pub fn artifact(&self, tags: &[String]) -> bool {
        self.tag.is_none() || !self.tags(tags).is_empty()
    }

    /// Whether [`Self::kind`] needs the artifact type to decide about an
    /// artifact of this media type (an OCI manifest may be any artifact).
    pub fn needs_artifact_type(&self, media_type: &str) -> bool {
        self.resource == ResourceKind::Image && media_type == "application/vnd.oci.image.manifest.v1+json"
    }

    /// Whether an artifact of this media type is copied.
    pub fn kind(&self, media_type: &str, artifact_type: Option<&str>) -> bool {
        match self.resource {
            ResourceKind::Artifact => true,
            ResourceKind::Image => is_image(media_type, artifact_type),
        }
    }
}

/// Container images and indexes (an index may list other artifacts too,
/// but Harbor treats an index as an image).
pub fn is_image(media_type: &str, artifact_type: Option<&str>) -> bool {
    const IMAGE_CONFIGS: [&str; 2] =
        ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];
    match media_type {
        "application/vnd.oci.image.index.v1+json" | "application/vnd.docker.distribution.manifest.list.v2+json" => true,
        _ => artifact_type.is_none_or(|kind| IMAGE_CONFIGS.contains(&kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn names_match_as_in_harbor() {
        let select = |pattern: &str| Filters { name: Some(pattern.into()), ..Filters::default() }.compile().unwrap();
        let library = select("library/**");
        assert!(library.repository("library/alpine"));
        assert!(library.repository("library/tools/jq"));
        assert!(!library.repository("team/alpine"));
        let one_level = select("library/*");
        assert!(one_level.repository("library/alpine"));
        assert!(!one_level.repository("library/tools/jq"), "* stays within one component");
        let either = select("{library,team}/app");
        assert!(either.repository("library/app") && either.repository("team/app"));
        assert!(!either.repository("other/app"));
        assert!(Filters::default().compile().unwrap().repository("any/thing"));
    }

    #[test]
    fn tags_are_matched_or_excluded() {
        let matching = Filters { tag: Some("v1.*".into()), ..Filters::default() }.compile().unwrap();
        assert_eq!(matching.tags(&tags(&["v1.0", "v1.1", "v2.0", "latest"])), ["v1.0", "v1.1"]);
        assert!(!matching.artifact(&tags(&["latest"])));
        assert!(!matching.artifact(&[]), "untagged artifacts are not copied under a tag filter");
        let excluding =
            Filters { tag: Some("*-rc*".into()), tag_decoration: Decoration::Excludes, ..Filters::default() }
                .compile()
                .unwrap();
        assert_eq!(excluding.tags(&tags(&["v1", "v2-rc1"])), ["v1"]);
        assert!(!excluding.artifact(&tags(&["v2-rc1"])));
        let all = Filters::default().compile().unwrap();
        assert!(all.artifact(&[]));
        assert_eq!(all.tags(&tags(&["a", "b"])), ["a", "b"]);
    }

    #[test]
    fn resource_kinds() {
        let images = Filters { resource: Some(ResourceKind::Image), ..Filters::default() }.compile().unwrap();
        assert!(images.kind("application/vnd.oci.image.manifest.v1+json", None));
        assert!(
            images.kind("application/vnd.oci.image.manifest.v1+json", Some("application/vnd.oci.image.config.v1+json"))
        );
        assert!(images.kind("application/vnd.oci.image.index.v1+json", None));
        assert!(
            !images
                .kind("application/vnd.oci.image.manifest.v1+json", Some("application/vnd.cncf.helm.config.v1+json"))
        );
        let any = Filters::default().compile().unwrap();
        assert!(
            any.kind("application/vnd.oci.image.manifest.v1+json", Some("application/vnd.cncf.helm.config.v1+json"))
        );
    }

    #[test]
    fn bad_patterns_are_named() {
        let unclosed = Filters { name: Some("library/{a,b".into()), ..Filters::default() }.compile();
        assert_eq!(unclosed.unwrap_err().field, "name");
        let long = Filters { tag: Some("x".repeat(MAX_PATTERN + 1)), ..Filters::default() }.compile();
        assert_eq!(long.unwrap_err().field, "tag");
        assert!(Filters { tag: Some("x".repeat(MAX_PATTERN)), ..Filters::default() }.compile().is_ok());
    }
}

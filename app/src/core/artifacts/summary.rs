//! What browsing shows of repositories and artifacts: the summaries
//! listings and pages are made of, and what kind of artifact each is.

use chrono::{DateTime, Utc};

use crate::core::registry::manifest::{DOCKER_MANIFEST_LIST, OCI_INDEX};

/// A repository as listings show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositorySummary {
    pub id: i64,
    pub project_id: i64,
    /// The full name, `<project>/<rest>`.
    pub name: String,
    pub artifact_count: i64,
    pub created_at: DateTime<Utc>,
    /// When its newest manifest was pushed.
    pub updated_at: DateTime<Utc>,
    /// Markdown, as its maintainers wrote it (see [`render_description`]).
    pub description: String,
}

/// An artifact (a manifest that is not part of another) as listings show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactSummary {
    pub id: i64,
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    /// The manifest and the blobs it references.
    pub size: i64,
    pub pushed_at: DateTime<Utc>,
    /// When it was last pulled, to within about a minute; `None` if never.
    pub pulled_at: Option<DateTime<Utc>>,
    pub tags: Vec<TagSummary>,
    /// `os/arch[/variant]` of each image of an index; empty otherwise.
    pub platforms: Vec<String>,
}

/// What the registry holds of what a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryOverview {
    pub projects: i64,
    pub repositories: i64,
    pub artifacts: i64,
    /// Bytes: each project's distinct blobs and its manifests.
    pub storage_used: i64,
    pub recent_pushes: Vec<RecentPush>,
}

/// A push from the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentPush {
    pub repository: String,
    pub digest: Option<String>,
    pub tag: Option<String>,
    pub pushed_by: Option<String>,
    pub pushed_at: DateTime<Utc>,
}

/// Everything the artifact page shows: the listing's summary, the stored
/// manifest, the image config when there is one (small enough to show),
/// and the artifacts attached to it by `subject`.
#[derive(Clone, Debug)]
pub struct ArtifactDetail {
    pub summary: ArtifactSummary,
    pub manifest: Vec<u8>,
    pub config: Option<Vec<u8>>,
    pub referrers: Vec<Referrer>,
}

/// An artifact whose `subject` is another (a signature, an SBOM, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: i64,
}

impl Referrer {
    pub fn display_kind(&self) -> String {
        display_kind(&self.media_type, self.artifact_type.as_deref())
    }
}

/// Image, Image index, Helm chart, Signature, SBOM, or the artifact type.
fn display_kind(media_type: &str, artifact_type: Option<&str>) -> String {
    if is_index(media_type) {
        return "Image index".to_owned();
    }
    match artifact_type {
        None => "Image",
        Some(config) if IMAGE_CONFIGS.contains(&config) => "Image",
        Some("application/vnd.cncf.helm.config.v1+json") => "Helm chart",
        Some(
            "application/vnd.dev.cosign.artifact.sig.v1+json"
            | "application/vnd.dev.cosign.simplesigning.v1+json"
            | "application/vnd.cncf.notary.signature",
        ) => "Signature",
        Some(
            "application/spdx+json"
            | "application/vnd.cyclonedx+json"
            | "application/vnd.syft+json"
            | "application/vnd.dev.sigstore.bundle.v0.3+json",
        ) => "SBOM",
        Some(other) => return other.to_owned(),
    }
    .to_owned()
}

fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Config media types that make an artifact a container image.
const IMAGE_CONFIGS: [&str; 2] =
    ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

/// Which artifacts a listing shows, in which order.
#[derive(Clone, Copy, Debug)]
pub struct ArtifactFilter<'a> {
    /// Only artifacts with a tag containing this.
    pub tag_contains: Option<&'a str>,
    pub newest_first: bool,
}

impl ArtifactSummary {
    /// What the portal calls it: Image, Image index, Helm chart, Signature,
    /// SBOM, or its artifact type.
    pub fn display_kind(&self) -> String {
        display_kind(&self.media_type, self.artifact_type.as_deref())
    }

    /// Whether the artifact is an image index (a multi-platform image).
    pub fn is_index(&self) -> bool {
        is_index(&self.media_type)
    }

    /// What kind of artifact this is, in Harbor's words: `IMAGE` for
    /// container images and image indexes, `CHART` for Helm charts,
    /// otherwise its artifact type (a signature, an SBOM, …).
    pub fn kind(&self) -> String {
        match self.artifact_type.as_deref() {
            None => "IMAGE".to_owned(),
            Some(config) if IMAGE_CONFIGS.contains(&config) => "IMAGE".to_owned(),
            Some("application/vnd.cncf.helm.config.v1+json") => "CHART".to_owned(),
            Some(other) => other.to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagSummary {
    pub name: String,
    pub pushed_at: DateTime<Utc>,
    /// An enabled immutability rule of the project protects it.
    pub immutable: bool,
}

#[cfg(test)]
mod tests {
    use super::ArtifactSummary;

    fn artifact(media_type: &str, artifact_type: Option<&str>) -> ArtifactSummary {
        ArtifactSummary {
            id: 1,
            digest: String::new(),
            media_type: media_type.to_owned(),
            artifact_type: artifact_type.map(str::to_owned),
            size: 0,
            pushed_at: chrono::Utc::now(),
            pulled_at: None,
            tags: Vec::new(),
            platforms: Vec::new(),
        }
    }

    #[test]
    fn artifacts_are_named_by_what_they_are() {
        const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
        assert_eq!(artifact(MANIFEST, None).display_kind(), "Image");
        assert_eq!(artifact("application/vnd.oci.image.index.v1+json", None).display_kind(), "Image index");
        let helm = artifact(MANIFEST, Some("application/vnd.cncf.helm.config.v1+json"));
        assert_eq!((helm.display_kind().as_str(), helm.kind().as_str()), ("Helm chart", "CHART"));
        assert_eq!(artifact(MANIFEST, Some("application/spdx+json")).display_kind(), "SBOM");
        let other = artifact(MANIFEST, Some("application/vnd.example.thing"));
        assert_eq!(other.display_kind(), "application/vnd.example.thing");
    }
}

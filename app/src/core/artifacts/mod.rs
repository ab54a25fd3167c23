//! Browsing what a registry holds, for the REST API and the portal: a
//! project's repositories, a repository's artifacts (their total size, push
//! time and tags) and one artifact; deleting artifacts and managing tags
//! outside a push. Every call asks the access service first (pull to look,
//! delete or manage tags to change); the changes themselves go through the
//! registry service, so they are audited like `/v2` changes.

mod description;
mod repository;

pub use description::{MAX_DESCRIPTION_BYTES, render_description};

use chrono::{DateTime, Utc};

use crate::core::{
    Error, Result,
    access::{AccessService, ProjectGrant},
    db::{Db, Keyset, KeysetPage, TimeCursor},
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    projects::ProjectService,
    rbac::Action,
    registry::{
        self, RegistryService,
        names::{Reference, RepoName},
    },
};
use repository::BrowseRepository;

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
    matches!(
        media_type,
        "application/vnd.oci.image.index.v1+json" | "application/vnd.docker.distribution.manifest.list.v2+json"
    )
}

/// Largest image config the artifact page reads.
const CONFIG_LIMIT: u64 = 1 << 20;

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
}

#[derive(Clone, Debug)]
pub struct ArtifactService {
    browse: BrowseRepository,
    access: AccessService,
    projects: ProjectService,
    registry: RegistryService,
    /// `host[:port]`, which repository names are validated against.
    registry_host: String,
}

impl ArtifactService {
    pub fn new(
        db: Db,
        access: AccessService,
        projects: ProjectService,
        registry: RegistryService,
        registry_host: String,
    ) -> Self {
        Self { browse: BrowseRepository::new(db), access, projects, registry, registry_host }
    }

    /// A page of the project's repositories (for those who may pull there).
    pub async fn repositories(
        &self,
        actor: &Actor,
        project: &str,
        name_contains: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<RepositorySummary>, i64)> {
        let project = self.projects.get(actor, project).await?;
        self.browse.repositories(project.id, name_contains, offset, limit).await
    }

    /// A page of the project's repositories by name, read by keyset (for
    /// those who may pull there).
    pub async fn browse_repositories(
        &self,
        actor: &Actor,
        project: &str,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<KeysetPage<RepositorySummary>> {
        let project = self.projects.get(actor, project).await?;
        self.browse.repositories_by_keyset(project.id, name_contains, keyset, limit).await
    }

    /// Counts, storage and the latest `recent` pushes over the projects the
    /// caller may see (the dashboard), in two queries.
    pub async fn overview(&self, actor: &Actor, recent: u32) -> Result<RegistryOverview> {
        self.browse.overview(actor.principal.visibility(), recent).await
    }

    /// A page of the repositories in every project the caller may see.
    pub async fn all_repositories(
        &self,
        actor: &Actor,
        name_contains: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<RepositorySummary>, i64)> {
        self.browse.visible_repositories(actor.principal.visibility(), name_contains, offset, limit).await
    }

    /// A page of the repositories in every project the caller may see, by
    /// name, read by keyset (the portal's search).
    pub async fn search_repositories(
        &self,
        actor: &Actor,
        name_contains: &str,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<KeysetPage<RepositorySummary>> {
        let visibility = actor.principal.visibility();
        self.browse.visible_repositories_by_keyset(visibility, Some(name_contains), keyset, limit).await
    }

    /// One repository, `<project>/<rest>`.
    pub async fn repository(&self, actor: &Actor, name: &str) -> Result<RepositorySummary> {
        let (name, _) = self.allowed(actor, name, Action::Pull).await?;
        self.summary_of(&name).await
    }

    /// The repository, once a caller was allowed something in it.
    async fn summary_of(&self, name: &RepoName) -> Result<RepositorySummary> {
        self.browse.repository(name.as_str()).await?.ok_or_else(|| Error::NotFound(format!("repository {name}")))
    }

    /// A page of the artifacts of a repository [`Self::repository`] gave
    /// (the caller may pull there), newest first.
    pub async fn artifacts(
        &self,
        repository: &RepositorySummary,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<ArtifactSummary>, i64)> {
        self.browse.artifacts(repository.id, offset, limit).await
    }

    /// A page of the artifacts of a repository [`Self::repository`] gave
    /// (the caller may pull there), read by keyset, filtered by tag and in
    /// the order asked for.
    pub async fn browse_artifacts(
        &self,
        repository: &RepositorySummary,
        filter: &ArtifactFilter<'_>,
        keyset: &Keyset<TimeCursor>,
        limit: u32,
    ) -> Result<KeysetPage<ArtifactSummary>> {
        self.browse.artifacts_by_keyset(repository.id, filter, keyset, limit).await
    }

    /// One artifact, by digest or tag, of a repository [`Self::repository`] gave.
    pub async fn artifact(&self, repository: &RepositorySummary, reference: &str) -> Result<ArtifactSummary> {
        let name = &repository.name;
        let digest = self.digest_of(repository.id, name, reference).await?;
        self.browse
            .artifact(repository.id, &digest)
            .await?
            .ok_or_else(|| Error::NotFound(format!("artifact {name}@{digest}")))
    }

    /// One artifact with its manifest, image config and referrers, for a
    /// caller who may pull there: one storage read (the config), the rest
    /// from the database.
    pub async fn artifact_detail(&self, actor: &Actor, repository: &str, reference: &str) -> Result<ArtifactDetail> {
        let (name, _) = self.allowed(actor, repository, Action::Pull).await?;
        let found = self.summary_of(&name).await?;
        let summary = self.artifact(&found, reference).await?;
        let digest: registry::digest::Digest = summary.digest.parse().map_err(|e| Error::corrupt(format!("{e}")))?;
        let stored =
            self.registry.stat_manifest(&name, &Reference::Digest(digest.clone()), &[]).await.map_err(from_registry)?;
        let config_digest = serde_json::from_slice::<serde_json::Value>(&stored.content)
            .ok()
            .and_then(|manifest| manifest["config"]["digest"].as_str().map(str::to_owned))
            .and_then(|digest| digest.parse::<registry::digest::Digest>().ok());
        let config = match config_digest {
            Some(config) => match self.registry.read_small_blob(&name, &config, CONFIG_LIMIT).await {
                Ok(content) => content,
                // A config the repository lacks leaves that part of the page empty.
                Err(registry::Error::BlobUnknown) => None,
                Err(other) => return Err(from_registry(other)),
            },
            None => None,
        };
        let referrers = self
            .registry
            .referrers(&name, &digest, None)
            .await
            .map_err(from_registry)?
            .into_iter()
            .map(|row| Referrer {
                digest: row.digest,
                media_type: row.media_type,
                artifact_type: row.artifact_type,
                size: row.size,
            })
            .collect();
        Ok(ArtifactDetail { summary, manifest: stored.content, config, referrers })
    }

    /// Deletes an artifact (by digest or tag: the whole manifest and all its
    /// tags) with `delete` permission, as `DELETE /v2/…/manifests/<digest>` does.
    pub async fn delete_artifact(&self, actor: &Actor, repository: &str, reference: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::DeleteArtifact).await?;
        let found = self.summary_of(&name).await?;
        let digest = self.digest_of(found.id, repository, reference).await?;
        let digest = Reference::parse(&digest).map_err(|e| Error::invalid("reference", e.to_string()))?;
        self.registry.delete_manifest(&name, &digest, &grant).await.map_err(from_registry)
    }

    /// Replaces a repository's description (markdown) with
    /// `edit_repository` permission.
    pub async fn set_description(&self, actor: &Actor, repository: &str, description: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::EditRepository).await?;
        if description.len() > MAX_DESCRIPTION_BYTES {
            let message = format!("may be at most {} KiB", MAX_DESCRIPTION_BYTES / 1024);
            return Err(Error::invalid("description", message));
        }
        let mut event = AuditEvent::new(Operation::Update, ResourceType::Repository, name.as_str(), grant.actor())
            .in_project(name.project());
        event.detail = Some("description changed".into());
        if !self.browse.set_description(name.as_str(), description, &event).await? {
            return Err(Error::NotFound(format!("repository {name}")));
        }
        Ok(())
    }

    /// Deletes a repository with all its artifacts and tags; it needs the
    /// `delete` permission, as deleting each artifact would.
    pub async fn delete_repository(&self, actor: &Actor, repository: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::DeleteArtifact).await?;
        self.registry.delete_repository(&name, &grant).await.map_err(|error| match error {
            registry::Error::NameUnknown => Error::NotFound(format!("repository {name}")),
            other => from_registry(other),
        })
    }

    /// Removes one of the tags of the artifact `reference` names, leaving
    /// the artifact (`manage_tags`).
    pub async fn delete_tag(&self, actor: &Actor, repository: &str, reference: &str, tag: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::ManageTags).await?;
        let found = self.summary_of(&name).await?;
        let artifact = self.artifact(&found, reference).await?;
        if !artifact.tags.iter().any(|t| t.name == tag) {
            return Err(Error::NotFound(format!("tag {tag} on {name}@{}", artifact.digest)));
        }
        let tag = Reference::parse(tag).map_err(|e| Error::invalid("tag", e.to_string()))?;
        if !matches!(tag, Reference::Tag(_)) {
            return Err(Error::invalid("tag", "a tag, not a digest"));
        }
        self.registry.delete_manifest(&name, &tag, &grant).await.map_err(from_registry)
    }

    /// Points a new tag at the artifact `reference` names (`manage_tags`),
    /// as pushing its manifest under that tag would; a tag in use is refused.
    pub async fn add_tag(&self, actor: &Actor, repository: &str, reference: &str, tag: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::ManageTags).await?;
        let found = self.summary_of(&name).await?;
        let digest = self.digest_of(found.id, repository, reference).await?;
        let tag_reference = Reference::parse(tag).map_err(|e| Error::invalid("name", e.to_string()))?;
        if !matches!(tag_reference, Reference::Tag(_)) {
            return Err(Error::invalid("name", "a tag, not a digest"));
        }
        if self.browse.tagged_digest(found.id, tag).await?.is_some() {
            return Err(Error::Conflict(format!("the tag {tag} already exists in {name}")));
        }
        let digest = Reference::parse(&digest).map_err(|e| Error::corrupt(e.to_string()))?;
        let stored = self.registry.stat_manifest(&name, &digest, &[]).await.map_err(from_registry)?;
        self.registry
            .put_manifest(&name, &tag_reference, &stored.content, Some(&stored.media_type), &grant)
            .await
            .map_err(from_registry)?;
        Ok(())
    }

    /// The digest `reference` (a digest or a tag) names in the repository.
    async fn digest_of(&self, repository: i64, name: &str, reference: &str) -> Result<String> {
        if reference.contains(':') {
            return Ok(reference.to_owned());
        }
        self.browse
            .tagged_digest(repository, reference)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tag {reference} in {name}")))
    }

    /// The repository's checked name and the grant for `action` in its project.
    async fn allowed(&self, actor: &Actor, repository: &str, action: Action) -> Result<(RepoName, ProjectGrant)> {
        let name = RepoName::parse(repository, &self.registry_host)
            .map_err(|e| Error::invalid("repository_name", e.to_string()))?;
        let project = repository.split_once('/').map_or(repository, |(project, _)| project);
        let grant = self.access.require(actor, project, action).await?;
        Ok((name, grant))
    }
}

/// The registry's own errors, as the core's.
fn from_registry(error: registry::Error) -> Error {
    match error {
        registry::Error::ManifestUnknown | registry::Error::NameUnknown => Error::NotFound("artifact".into()),
        registry::Error::Internal(inner) => inner,
        quota @ registry::Error::QuotaExceeded { .. } => Error::Forbidden(quota.to_string()),
        other => Error::Conflict(other.to_string()),
    }
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

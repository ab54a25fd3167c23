//! Browsing what a registry holds, for the REST API and the portal: a
//! project's repositories, a repository's artifacts (their total size, push
//! time and tags) and one artifact; deleting artifacts and managing tags
//! outside a push. Every call asks the access service first (pull to look,
//! delete or manage tags to change); the changes themselves go through the
//! registry service, so they are audited like `/v2` changes.

mod description;
mod repository;
mod summary;

pub use description::{MAX_DESCRIPTION_BYTES, render_description};
pub use summary::{
    ArtifactDetail, ArtifactFilter, ArtifactSummary, RecentPush, Referrer, RegistryOverview, RepositorySummary,
    TagSummary,
};

use crate::core::{
    Error, Result,
    access::{AccessService, ProjectGrant},
    db::{Db, Keyset, Page, TimeCursor, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    immutability::{ImmutabilityService, protection},
    projects::ProjectService,
    rbac::Action,
    registry::{
        self, RegistryService,
        manifest::Manifest,
        names::{Reference, RepoName},
    },
};
use repository::BrowseRepository;

/// Largest image config the artifact page reads.
const CONFIG_LIMIT: u64 = 1 << 20;

/// A repository its caller was found allowed to pull from: what
/// [`ArtifactService::repository`] hands out and what reading its artifacts
/// asks for. Only that check makes one.
#[derive(Clone, Debug)]
pub struct ReadableRepository {
    summary: RepositorySummary,
    grant: ProjectGrant,
}

impl ReadableRepository {
    pub fn summary(&self) -> &RepositorySummary {
        &self.summary
    }

    pub fn into_summary(self) -> RepositorySummary {
        self.summary
    }

    pub fn grant(&self) -> &ProjectGrant {
        &self.grant
    }
}

#[derive(Clone, Debug)]
pub struct ArtifactService {
    browse: BrowseRepository,
    access: AccessService,
    projects: ProjectService,
    registry: RegistryService,
    immutability: ImmutabilityService,
    /// `host[:port]`, which repository names are validated against.
    registry_host: String,
}

impl ArtifactService {
    pub fn new(
        db: Db,
        access: AccessService,
        projects: ProjectService,
        registry: RegistryService,
        immutability: ImmutabilityService,
        registry_host: String,
    ) -> Self {
        Self { browse: BrowseRepository::new(db), access, projects, registry, immutability, registry_host }
    }

    /// A page of the project's repositories (for those who may pull there).
    pub async fn repositories(
        &self,
        actor: &Actor,
        project: &str,
        name_contains: Option<&str>,
        window: Window,
    ) -> Result<Page<RepositorySummary>> {
        let project = self.projects.get(actor, project).await?;
        self.browse.repositories(project.id, name_contains, window).await
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
    ) -> Result<Page<RepositorySummary>> {
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
        window: Window,
    ) -> Result<Page<RepositorySummary>> {
        self.browse.visible_repositories(actor.principal.visibility(), name_contains, window).await
    }

    /// A page of the repositories in every project the caller may see, by
    /// name, read by keyset (the portal's search).
    pub async fn search_repositories(
        &self,
        actor: &Actor,
        name_contains: &str,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<Page<RepositorySummary>> {
        let visibility = actor.principal.visibility();
        self.browse.visible_repositories_by_keyset(visibility, Some(name_contains), keyset, limit).await
    }

    /// One repository, `<project>/<rest>`, for a caller who may pull there.
    pub async fn repository(&self, actor: &Actor, name: &str) -> Result<ReadableRepository> {
        let (name, grant) = self.allowed(actor, name, Action::Pull).await?;
        Ok(ReadableRepository { summary: self.summary_of(&name).await?, grant })
    }

    /// The repository, once a caller was allowed something in it.
    async fn summary_of(&self, name: &RepoName) -> Result<RepositorySummary> {
        self.browse.repository(name.as_str()).await?.ok_or_else(|| Error::NotFound(format!("repository {name}")))
    }

    /// A page of the artifacts of a repository [`Self::repository`] gave, newest first.
    pub async fn artifacts(&self, repository: &ReadableRepository, window: Window) -> Result<Page<ArtifactSummary>> {
        let mut page = self.browse.artifacts(repository.summary.id, window).await?;
        self.mark_immutable(&repository.summary, &mut page.items).await?;
        Ok(page)
    }

    /// A page of the artifacts of a repository [`Self::repository`] gave,
    /// read by keyset, filtered by tag and in the order asked for.
    pub async fn browse_artifacts(
        &self,
        repository: &ReadableRepository,
        filter: &ArtifactFilter<'_>,
        keyset: &Keyset<TimeCursor>,
        limit: u32,
    ) -> Result<Page<ArtifactSummary>> {
        let mut page = self.browse.artifacts_by_keyset(repository.summary.id, filter, keyset, limit).await?;
        self.mark_immutable(&repository.summary, &mut page.items).await?;
        Ok(page)
    }

    /// Marks the tags an enabled immutability rule protects: one query
    /// for the page, none when nothing on it is tagged.
    async fn mark_immutable(&self, repository: &RepositorySummary, artifacts: &mut [ArtifactSummary]) -> Result<()> {
        if artifacts.iter().all(|artifact| artifact.tags.is_empty()) {
            return Ok(());
        }
        let project = repository.name.split_once('/').map_or(repository.name.as_str(), |(project, _)| project);
        let rules = self.immutability.in_force(project).await?;
        for tag in artifacts.iter_mut().flat_map(|artifact| artifact.tags.iter_mut()) {
            tag.immutable = protection(&rules, &repository.name, &[&tag.name]).is_some();
        }
        Ok(())
    }

    /// One artifact, by digest or tag, of a repository [`Self::repository`] gave.
    pub async fn artifact(&self, repository: &ReadableRepository, reference: &str) -> Result<ArtifactSummary> {
        self.artifact_in(&repository.summary, reference).await
    }

    /// One artifact of a repository the caller was allowed something in.
    async fn artifact_in(&self, repository: &RepositorySummary, reference: &str) -> Result<ArtifactSummary> {
        let RepositorySummary { id, name, .. } = repository;
        let digest = self.digest_of(*id, name, reference).await?;
        let found = self.browse.artifact(*id, &digest).await?;
        let mut artifact = [found.ok_or_else(|| Error::NotFound(format!("artifact {name}@{digest}")))?];
        self.mark_immutable(repository, &mut artifact).await?;
        let [artifact] = artifact;
        Ok(artifact)
    }

    /// One artifact with its manifest, image config and referrers, for a
    /// caller who may pull there: one storage read (the config), the rest
    /// from the database.
    pub async fn artifact_detail(&self, actor: &Actor, repository: &str, reference: &str) -> Result<ArtifactDetail> {
        let (name, grant) = self.allowed(actor, repository, Action::Pull).await?;
        let found = ReadableRepository { summary: self.summary_of(&name).await?, grant };
        let summary = self.artifact(&found, reference).await?;
        let digest: registry::digest::Digest = summary.digest.parse().map_err(|e| Error::corrupt(format!("{e}")))?;
        let stored = self
            .registry
            .stat_manifest(&name, &Reference::Digest(digest.clone()), &[], &found.grant)
            .await
            .map_err(Error::from)?;
        let config_digest = Manifest::read(&stored.content).and_then(|manifest| manifest.config_digest());
        let config = match config_digest {
            Some(config) => match self.registry.read_small_blob(&name, &config, &found.grant, CONFIG_LIMIT).await {
                Ok(content) => content,
                // A config the repository lacks leaves that part of the page empty.
                Err(registry::Error::BlobUnknown) => None,
                Err(other) => return Err(other.into()),
            },
            None => None,
        };
        let referrers = self
            .registry
            .referrers(&name, &digest, None, &found.grant)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|row| Referrer {
                digest: row.digest,
                media_type: row.media_type,
                artifact_type: row.artifact_type,
                size: row.size,
            })
            .collect();
        Ok(ArtifactDetail { summary, manifest: stored.content.to_vec(), config, referrers })
    }

    /// Deletes an artifact (by digest or tag: the whole manifest and all its
    /// tags) with `delete` permission, as `DELETE /v2/…/manifests/<digest>` does.
    pub async fn delete_artifact(&self, actor: &Actor, repository: &str, reference: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::DeleteArtifact).await?;
        let found = self.summary_of(&name).await?;
        let digest = self.digest_of(found.id, repository, reference).await?;
        let digest = Reference::parse(&digest).map_err(|e| Error::invalid("reference", e.to_string()))?;
        self.registry.delete_manifest(&name, &digest, &grant).await.map_err(Error::from)
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
            other => other.into(),
        })
    }

    /// Removes one of the tags of the artifact `reference` names, leaving
    /// the artifact (`manage_tags`).
    pub async fn delete_tag(&self, actor: &Actor, repository: &str, reference: &str, tag: &str) -> Result<()> {
        let (name, grant) = self.allowed(actor, repository, Action::ManageTags).await?;
        let found = self.summary_of(&name).await?;
        let artifact = self.artifact_in(&found, reference).await?;
        if !artifact.tags.iter().any(|t| t.name == tag) {
            return Err(Error::NotFound(format!("tag {tag} on {name}@{}", artifact.digest)));
        }
        let Reference::Tag(tag) = Reference::parse(tag).map_err(|e| Error::invalid("tag", e.to_string()))? else {
            return Err(Error::invalid("tag", "a tag, not a digest"));
        };
        let digest = artifact.digest.parse().map_err(|_| Error::corrupt(format!("digest {}", artifact.digest)))?;
        // Only while the tag still names this artifact: one moved meanwhile stays.
        self.registry.untag(&name, &tag, &digest, &grant).await.map_err(|error| match error {
            registry::Error::ManifestUnknown => Error::NotFound(format!("tag {tag} on {name}@{digest}")),
            other => other.into(),
        })
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
        let digest = digest.parse().map_err(|_| Error::corrupt(format!("digest {digest}")))?;
        // The tag is written only if absent, in the push's transaction.
        self.registry.add_tag(&name, &tag_reference, &digest, &grant).await.map_err(|error| match error {
            registry::Error::TagExists { .. } => Error::Conflict(format!("the tag {tag} already exists in {name}")),
            other => other.into(),
        })?;
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

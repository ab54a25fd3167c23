//! Manifest operations: validated pushes, pulls (recorded as events), deletes,
//! tag and repository listings, and referrers.

use std::sync::Arc;

use chrono::Utc;

use super::{EventDetails, RegistryService, artifact_event, granted, tag_of};
use crate::core::{
    access::ProjectGrant,
    cache::CachedManifest,
    events::{AuditEvent, Operation, ResourceType},
    identity::Visibility,
    rbac::Action,
    registry::{
        digest::Digest,
        error::{Error, Result},
        manifest::{self, Needed},
        names::{Reference, RepoName, Tag},
        repository::{ExistingTag, Linked, ListPage, NewManifest, ReferrerRow, Removed, StoredManifest},
    },
};

/// A page of a name listing, and whether more follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub names: Vec<String>,
    pub more: bool,
}

impl Page {
    fn from_rows(mut names: Vec<String>, limit: Option<u32>) -> Self {
        let more = limit.is_some_and(|n| names.len() > n as usize);
        if let Some(n) = limit {
            names.truncate(n as usize);
        }
        Self { names, more }
    }
}

/// What a manifest push stored.
#[derive(Clone, Debug)]
pub struct PushedManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

impl RegistryService {
    /// The manifest a tag or digest names, if the client accepts its type;
    /// records a pull.
    pub async fn pull_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        accept: &[&str],
        grant: &ProjectGrant,
    ) -> Result<StoredManifest> {
        let stored = self.stat_manifest(repository, reference, accept, grant).await?;
        let details = EventDetails {
            digest: Some(stored.digest.clone()),
            tag: tag_of(reference),
            media_type: Some(stored.media_type.clone()),
            size: Some(stored.content.len() as i64),
        };
        self.record(Operation::Pull, repository, grant.actor(), details).await;
        Ok(stored)
    }

    /// The manifest a tag or digest names, if the client accepts its type
    /// (a `HEAD`: not a pull, though it needs `pull`).
    pub async fn stat_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        accept: &[&str],
        grant: &ProjectGrant,
    ) -> Result<StoredManifest> {
        granted(grant, repository, &[Action::Pull])?;
        let found = self.find_manifest(repository, reference).await?.ok_or(Error::ManifestUnknown)?;
        if !manifest::accepts(accept, &found.media_type) {
            return Err(Error::NotAcceptable { stored: found.media_type.clone() });
        }
        Ok(StoredManifest {
            digest: found.digest.clone(),
            media_type: found.media_type.clone(),
            content: found.content.clone(),
        })
    }

    /// The manifest a tag or digest names: from memory when read before
    /// and unchanged since, else from the database (and then kept).
    async fn find_manifest(&self, repository: &RepoName, reference: &Reference) -> Result<Option<Arc<CachedManifest>>> {
        let key = match reference {
            Reference::Tag(tag) => std::borrow::Cow::Borrowed(tag.as_str()),
            Reference::Digest(digest) => std::borrow::Cow::Owned(digest.to_string()),
        };
        if let Some(found) = self.cache.manifest(repository.as_str(), &key) {
            return Ok(Some(found));
        }
        let ticket = self.cache.ticket();
        let found = match reference {
            Reference::Tag(tag) => self.repository.find_manifest_by_tag(repository, tag).await?,
            Reference::Digest(digest) => self.repository.find_manifest_by_digest(repository, digest).await?,
        };
        let Some(found) = found else { return Ok(None) };
        let found = Arc::new(CachedManifest {
            repository_id: found.repository_id,
            project_id: found.project_id,
            digest: found.digest,
            media_type: found.media_type,
            content: found.content.into(),
        });
        if let Some(ticket) = ticket {
            self.cache.keep_manifest(ticket, repository.as_str(), &key, found.clone());
        }
        Ok(Some(found))
    }

    /// Validates and stores a manifest under a tag or its digest. Every blob
    /// and child manifest it names must already be in the repository.
    pub async fn put_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        content: &[u8],
        content_type: Option<&str>,
        grant: &ProjectGrant,
    ) -> Result<PushedManifest> {
        self.store_manifest(repository, reference, content, content_type, ExistingTag::Move, grant).await
    }

    /// Tags the manifest `digest` with a new tag: refused (changing nothing)
    /// when the tag exists, also when another push made it a moment ago.
    pub async fn add_tag(
        &self,
        repository: &RepoName,
        tag: &Reference,
        digest: &Digest,
        grant: &ProjectGrant,
    ) -> Result<PushedManifest> {
        let stored = self.stat_manifest(repository, &Reference::Digest(digest.clone()), &[], grant).await?;
        self.store_manifest(repository, tag, &stored.content, Some(&stored.media_type), ExistingTag::Refuse, grant)
            .await
    }

    async fn store_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        content: &[u8],
        content_type: Option<&str>,
        existing_tag: ExistingTag,
        grant: &ProjectGrant,
    ) -> Result<PushedManifest> {
        granted(grant, repository, &[Action::Push, Action::ManageTags])?;
        if content.len() > self.max_manifest_bytes {
            return Err(Error::ManifestTooLarge { size: content.len(), limit: self.max_manifest_bytes });
        }
        let parsed = manifest::parse(content, content_type)?;
        let (digest, tag) = match reference {
            Reference::Digest(expected) => {
                let actual = Digest::of(expected.algorithm(), content);
                if actual != *expected {
                    return Err(Error::DigestMismatch { expected: expected.clone(), actual });
                }
                (actual, None)
            }
            Reference::Tag(tag) => (Digest::sha256_of(content), Some(tag)),
        };
        let now = Utc::now();
        // A manifest can only name content already pushed here, so a repository
        // that does not exist yet lacks whatever the manifest needs.
        let repository_id = match self.repository.find_repository(repository).await? {
            Some(id) => id,
            None => match parsed.needs.first() {
                Some(Needed::Blob(first) | Needed::Manifest(first)) => {
                    return Err(Error::ManifestBlobUnknown(first.clone()));
                }
                None => self.repository_for_push(repository, now).await?,
            },
        };
        let new = NewManifest {
            repository: repository_id,
            name: repository,
            digest: &digest,
            parsed: &parsed,
            content,
            tag,
            existing_tag,
        };
        // The tag may move. (A manifest pushed by digest changes no answer
        // given before: only manifests found are kept.)
        let _forget = tag.map(|_| self.cache.forgetting_repository(repository.as_str()));
        let stored = self.link_manifest(repository, new, grant).await;
        if stored.is_err() {
            // A refusal leaves no repository behind that only this push created.
            self.repository.delete_if_empty(repository_id).await?;
        }
        stored?;
        let tag = tag.map(|t| t.to_string());
        self.announce(super::ArtifactChange::Pushed { repository: repository.clone(), digest: digest.clone(), tag })
            .await;
        Ok(PushedManifest { digest, subject: parsed.subject })
    }

    /// Checks that what the manifest names is here, then stores it.
    async fn link_manifest(&self, repository: &RepoName, new: NewManifest<'_>, grant: &ProjectGrant) -> Result<()> {
        let (repository_id, parsed, content, tag) = (new.repository, new.parsed, new.content, new.tag);
        let now = Utc::now();
        let (blobs, manifests): (Vec<&Needed>, Vec<&Needed>) =
            parsed.needs.iter().partition(|n| matches!(n, Needed::Blob(_)));
        let digests = |needs: &[&Needed]| -> Vec<Digest> {
            needs
                .iter()
                .map(|n| match n {
                    Needed::Blob(d) | Needed::Manifest(d) => d.clone(),
                })
                .collect()
        };
        let (blob_digests, manifest_digests) = (digests(&blobs), digests(&manifests));
        let missing_blobs =
            self.repository.missing(repository_id, &blob_digests.iter().collect::<Vec<_>>(), false).await?;
        if let Some(missing) = missing_blobs.into_iter().next() {
            return Err(Error::ManifestBlobUnknown(missing));
        }
        let missing_children =
            self.repository.missing(repository_id, &manifest_digests.iter().collect::<Vec<_>>(), true).await?;
        if let Some(missing) = missing_children.into_iter().next() {
            return Err(Error::ManifestBlobUnknown(missing));
        }
        let details = EventDetails {
            digest: Some(new.digest.to_string()),
            tag: tag.map(|t| t.to_string()),
            media_type: Some(parsed.media_type.to_owned()),
            size: Some(content.len() as i64),
        };
        let event = artifact_event(Operation::Push, repository, grant.actor(), details);
        match self.repository.put_manifest(new, now, &event).await? {
            Linked::Done => Ok(()),
            Linked::OverQuota { project, quota, used } => {
                Err(Error::QuotaExceeded { project, quota, used, needed: content.len() as u64 })
            }
            Linked::Missing(gone) => Err(Error::ManifestBlobUnknown(gone.parse().map_err(|_| Error::BlobUnknown)?)),
            Linked::TagTaken => Err(Error::TagExists {
                tag: tag.map(|t| t.to_string()).unwrap_or_default(),
                repository: repository.to_string(),
            }),
            Linked::Protected(protected) => Err(Error::Immutable(Box::new(protected))),
            Linked::RepositoryGone => Err(Error::NameUnknown),
        }
    }

    /// Deletes a manifest (by digest, with its tags) or just a tag.
    pub async fn delete_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        grant: &ProjectGrant,
    ) -> Result<()> {
        granted(grant, repository, &[Action::DeleteArtifact, Action::ManageTags])?;
        let actor = grant.actor();
        let _forget = self.cache.forgetting_repository(repository.as_str());
        let removed = match reference {
            Reference::Digest(digest) => {
                let details = EventDetails { digest: Some(digest.to_string()), ..EventDetails::default() };
                let event = artifact_event(Operation::Delete, repository, actor, details);
                self.repository.delete_manifest(repository, digest, None, &event).await?
            }
            Reference::Tag(tag) => {
                let details = EventDetails { tag: Some(tag.to_string()), ..EventDetails::default() };
                let event = artifact_event(Operation::Delete, repository, actor, details);
                self.repository.delete_tag(repository, tag, &event).await?
            }
        };
        removed_or_refused(removed, Error::ManifestUnknown)?;
        let change = match reference {
            Reference::Digest(digest) => {
                super::ArtifactChange::Deleted { repository: repository.clone(), digest: digest.clone() }
            }
            Reference::Tag(tag) => {
                super::ArtifactChange::Untagged { repository: repository.clone(), tag: tag.to_string() }
            }
        };
        self.announce(change).await;
        Ok(())
    }

    /// Deletes the manifests `digests` (at most [`super::super::MAX_DELETE_BATCH`]) with their
    /// tags in one transaction, each unless it was pushed again (tagged, or
    /// a tag moved onto it) after `decided_at` — a job that decided from an
    /// earlier read never deletes what changed since
    /// ([`Error::ChangedMeanwhile`]) — or an immutability rule protects it.
    /// One outcome per digest, in order.
    pub async fn delete_manifests_unchanged(
        &self,
        repository: &RepoName,
        digests: &[Digest],
        decided_at: chrono::DateTime<Utc>,
        grant: &ProjectGrant,
    ) -> Result<Vec<Result<()>>> {
        granted(grant, repository, &[Action::DeleteArtifact])?;
        let names: Vec<String> = digests.iter().map(Digest::to_string).collect();
        let event = |digest: &str| {
            let details = EventDetails { digest: Some(digest.to_owned()), ..EventDetails::default() };
            artifact_event(Operation::Delete, repository, grant.actor(), details)
        };
        let _forget = self.cache.forgetting_repository(repository.as_str());
        let removed = self.repository.delete_manifests(repository, &names, Some(decided_at), event).await?;
        let mut outcomes = Vec::with_capacity(removed.len());
        for (digest, removed) in digests.iter().zip(removed) {
            let outcome = removed_or_refused(removed, Error::ManifestUnknown);
            if outcome.is_ok() {
                let change = super::ArtifactChange::Deleted { repository: repository.clone(), digest: digest.clone() };
                self.announce(change).await;
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Removes `tag` from the manifest `digest`, leaving the manifest; a tag
    /// that names another manifest (moved meanwhile) is left alone and the
    /// answer is ManifestUnknown.
    pub async fn untag(&self, repository: &RepoName, tag: &Tag, digest: &Digest, grant: &ProjectGrant) -> Result<()> {
        granted(grant, repository, &[Action::ManageTags])?;
        let details =
            EventDetails { digest: Some(digest.to_string()), tag: Some(tag.to_string()), ..EventDetails::default() };
        let event = artifact_event(Operation::Delete, repository, grant.actor(), details);
        let _forget = self.cache.forgetting_repository(repository.as_str());
        let removed = self.repository.delete_tag_of(repository, tag, digest, &event).await?;
        removed_or_refused(removed, Error::ManifestUnknown)?;
        self.announce(super::ArtifactChange::Untagged { repository: repository.clone(), tag: tag.to_string() }).await;
        Ok(())
    }

    /// Deletes a whole repository: every artifact and tag in it.
    pub async fn delete_repository(&self, repository: &RepoName, grant: &ProjectGrant) -> Result<()> {
        granted(grant, repository, &[Action::DeleteArtifact])?;
        let event = AuditEvent::new(Operation::Delete, ResourceType::Repository, repository.to_string(), grant.actor())
            .in_project(repository.project());
        let _forget = self.cache.forgetting_repository(repository.as_str());
        let removed = self.repository.delete_repository(repository, &event).await?;
        removed_or_refused(removed, Error::NameUnknown)?;
        Ok(())
    }

    /// The repository's tags, paged (`pull`).
    pub async fn list_tags(
        &self,
        repository: &RepoName,
        grant: &ProjectGrant,
        limit: Option<u32>,
        last: Option<&str>,
    ) -> Result<Page> {
        granted(grant, repository, &[Action::Pull])?;
        let id = self.repository.find_repository(repository).await?.ok_or(Error::NameUnknown)?;
        let rows = self.repository.list_tags(id, &ListPage { limit, last }).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// Repository names the viewer may see (`visibility`), paged.
    pub async fn catalog(&self, limit: Option<u32>, last: Option<&str>, visibility: Visibility) -> Result<Page> {
        let rows = self.repository.list_repositories(&ListPage { limit, last }, visibility).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// Manifests in the repository that name `subject`, optionally of one
    /// artifact type (`pull`).
    pub async fn referrers(
        &self,
        repository: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
        grant: &ProjectGrant,
    ) -> Result<Vec<ReferrerRow>> {
        granted(grant, repository, &[Action::Pull])?;
        Ok(self.repository.list_referrers(repository, subject, artifact_type).await?)
    }
}

/// A delete that happened, or why not: `missing` when there was nothing
/// of that name.
fn removed_or_refused(removed: Removed, missing: Error) -> Result<()> {
    match removed {
        Removed::Done => Ok(()),
        Removed::Missing => Err(missing),
        Removed::Changed => Err(Error::ChangedMeanwhile),
        Removed::Protected(protected) => Err(Error::Immutable(Box::new(protected))),
    }
}

//! A repository in the portal: its artifacts a page at a time (filtered by
//! tag, newest or oldest first), deleting one, and adding or removing
//! tags. The artifact service asks the access service for each call.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, projects::Listing};

pub const ARTIFACT_PAGE_SIZE: u32 = 25;

/// What the signed-in user may change in the repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryPermissions {
    pub delete_artifacts: bool,
    pub manage_tags: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactItem {
    pub digest: String,
    /// Image, Image index, Helm chart, Signature, SBOM or the artifact type.
    pub kind: String,
    pub media_type: String,
    pub size: i64,
    pub pushed_at: DateTime<Utc>,
    pub tags: Vec<String>,
    /// `os/arch[/variant]` of each image of an index.
    pub platforms: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryView {
    /// The full name, `<project>/<rest>`.
    pub name: String,
    pub project: String,
    /// `host[:port]` for pull commands.
    pub registry_host: String,
    pub permissions: RepositoryPermissions,
    pub artifacts: Listing<ArtifactItem>,
}

#[server(prefix = "/portal/fn", endpoint = "repository")]
pub async fn get_repository(
    name: String,
    tag: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    before: Option<String>,
) -> Result<RepositoryView, AppError> {
    use crate::core::{
        AppState,
        artifacts::{ArtifactCursor, ArtifactFilter},
        db::Keyset,
        rbac::Action,
    };

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let repository = state.artifacts.repository(&actor, &name).await?;
    let project = name.split_once('/').map_or(name.as_str(), |(project, _)| project).to_owned();
    let allowed =
        state.access.permitted(&actor.principal, &project, &[Action::DeleteArtifact, Action::ManageTags]).await?;
    let keyset = match (after, before) {
        (Some(after), _) => Keyset::After(ArtifactCursor::decode(&after)?),
        (None, Some(before)) => Keyset::Before(ArtifactCursor::decode(&before)?),
        (None, None) => Keyset::First,
    };
    let tag = tag.filter(|t| !t.trim().is_empty());
    let filter =
        ArtifactFilter { tag_contains: tag.as_deref().map(str::trim), newest_first: sort.as_deref() != Some("oldest") };
    let page = state.artifacts.browse_artifacts(&repository, &filter, &keyset, ARTIFACT_PAGE_SIZE).await?;
    let cursors: Vec<String> =
        page.items.iter().map(|a| ArtifactCursor { pushed_at: a.pushed_at, id: a.id }.encode()).collect();
    let artifacts = Listing {
        previous: page.has_previous.then(|| cursors.first().cloned()).flatten(),
        next: page.has_next.then(|| cursors.last().cloned()).flatten(),
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|artifact| ArtifactItem {
                kind: artifact.display_kind(),
                digest: artifact.digest,
                media_type: artifact.media_type,
                size: artifact.size,
                pushed_at: artifact.pushed_at,
                tags: artifact.tags.into_iter().map(|t| t.name).collect(),
                platforms: artifact.platforms,
            })
            .collect(),
    };
    Ok(RepositoryView {
        name: repository.name,
        project,
        registry_host: state.http.registry_host().to_owned(),
        permissions: RepositoryPermissions {
            delete_artifacts: allowed.contains(&Action::DeleteArtifact),
            manage_tags: allowed.contains(&Action::ManageTags),
        },
        artifacts,
    })
}

/// Deletes the artifact and all its tags, from the portal and `/v2` alike.
#[server(prefix = "/portal/fn", endpoint = "delete_artifact")]
pub async fn delete_artifact(repository: String, digest: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().artifacts.delete_artifact(&actor, &repository, &digest).await?)
}

#[server(prefix = "/portal/fn", endpoint = "add_tag")]
pub async fn add_tag(repository: String, digest: String, tag: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().artifacts.add_tag(&actor, &repository, &digest, tag.trim()).await?)
}

#[server(prefix = "/portal/fn", endpoint = "remove_tag")]
pub async fn remove_tag(repository: String, digest: String, tag: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().artifacts.delete_tag(&actor, &repository, &digest, &tag).await?)
}

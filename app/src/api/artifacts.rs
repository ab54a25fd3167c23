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
    pub edit_description: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactItem {
    pub digest: String,
    /// Image, Image index, Helm chart, Signature, SBOM or the artifact type.
    pub kind: String,
    pub media_type: String,
    pub size: i64,
    pub pushed_at: DateTime<Utc>,
    /// To within about a minute; `None` if never pulled.
    pub pulled_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    /// Those of `tags` an immutability rule protects.
    pub immutable_tags: Vec<String>,
    /// `os/arch[/variant]` of each image of an index.
    pub platforms: Vec<String>,
}

#[cfg(feature = "ssr")]
impl From<crate::core::artifacts::ArtifactSummary> for ArtifactItem {
    fn from(artifact: crate::core::artifacts::ArtifactSummary) -> Self {
        Self {
            kind: artifact.display_kind(),
            digest: artifact.digest,
            media_type: artifact.media_type,
            size: artifact.size,
            pushed_at: artifact.pushed_at,
            pulled_at: artifact.pulled_at,
            immutable_tags: artifact.tags.iter().filter(|t| t.immutable).map(|t| t.name.clone()).collect(),
            tags: artifact.tags.into_iter().map(|t| t.name).collect(),
            platforms: artifact.platforms,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryView {
    /// The full name, `<project>/<rest>`.
    pub name: String,
    pub project: String,
    /// `host[:port]` for pull commands.
    pub registry_host: String,
    pub permissions: RepositoryPermissions,
    /// The description as written (markdown) and as safe HTML.
    pub description: String,
    pub description_html: String,
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
        artifacts::{ArtifactFilter, render_description},
        db::TimeCursor,
        rbac::Action,
    };

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let project = name.split_once('/').map_or(name.as_str(), |(project, _)| project).to_owned();
    let keyset = TimeCursor::keyset(after.as_deref(), before.as_deref())?;
    let tag = tag.filter(|t| !t.trim().is_empty());
    let filter =
        ArtifactFilter { tag_contains: tag.as_deref().map(str::trim), newest_first: sort.as_deref() != Some("oldest") };
    let repository = state.artifacts.repository(&actor, &name).await?;
    let page = state.artifacts.browse_artifacts(&repository, &filter, &keyset, ARTIFACT_PAGE_SIZE).await?;
    let artifacts = crate::api::projects::listing(
        page,
        |artifact| TimeCursor { at: artifact.pushed_at, id: artifact.id }.encode(),
        ArtifactItem::from,
    );
    Ok(RepositoryView {
        name,
        project,
        registry_host: state.http.registry_host().to_owned(),
        permissions: RepositoryPermissions {
            delete_artifacts: repository.grant().allows(Action::DeleteArtifact),
            manage_tags: repository.grant().allows(Action::ManageTags),
            edit_description: repository.grant().allows(Action::EditRepository),
        },
        description_html: render_description(&repository.summary().description),
        description: repository.into_summary().description,
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

#[server(prefix = "/portal/fn", endpoint = "set_repository_description")]
pub async fn set_repository_description(repository: String, description: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    Ok(state.artifacts.set_description(&actor, &repository, description.trim()).await?)
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

/// One layer or other blob a manifest names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobItem {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

/// An image of an index, with its platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildItem {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub platform: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub created: Option<String>,
    pub created_by: String,
    pub empty_layer: bool,
}

/// What an image's config says about running it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfigView {
    pub os: String,
    pub architecture: String,
    pub created: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub labels: Vec<(String, String)>,
    pub exposed_ports: Vec<String>,
    pub history: Vec<HistoryItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferrerItem {
    pub digest: String,
    pub kind: String,
    pub artifact_type: Option<String>,
    pub size: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactView {
    pub repository: String,
    pub registry_host: String,
    pub item: ArtifactItem,
    pub artifact_type: Option<String>,
    /// The stored manifest, indented.
    pub manifest: String,
    pub config: Option<ImageConfigView>,
    pub layers: Vec<BlobItem>,
    pub children: Vec<ChildItem>,
    pub referrers: Vec<ReferrerItem>,
}

#[server(prefix = "/portal/fn", endpoint = "artifact")]
pub async fn get_artifact(repository: String, digest: String) -> Result<ArtifactView, AppError> {
    use crate::core::{
        AppState,
        registry::manifest::{Descriptor, Manifest, indented},
    };

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let detail = state.artifacts.artifact_detail(&actor, &repository, &digest).await?;
    let manifest = Manifest::read(&detail.manifest).unwrap_or_default();
    let descriptor = |entry: &Descriptor| BlobItem {
        digest: entry.digest.clone().unwrap_or_default(),
        media_type: entry.media_type.clone().unwrap_or_default(),
        size: entry.size.unwrap_or(0),
    };
    let layers = manifest.layers().iter().map(descriptor).collect();
    let children = manifest
        .children()
        .iter()
        .map(|entry| {
            let blob = descriptor(entry);
            let platform = entry.platform.as_ref().and_then(|platform| platform.label());
            ChildItem { digest: blob.digest, media_type: blob.media_type, size: blob.size, platform }
        })
        .collect();
    let config = detail.config.as_deref().and_then(|bytes| serde_json::from_slice(bytes).ok()).map(image_config);
    let referrers = detail
        .referrers
        .into_iter()
        .map(|referrer| ReferrerItem {
            kind: referrer.display_kind(),
            digest: referrer.digest,
            artifact_type: referrer.artifact_type,
            size: referrer.size,
        })
        .collect();
    let summary = detail.summary;
    Ok(ArtifactView {
        repository,
        registry_host: state.http.registry_host().to_owned(),
        artifact_type: summary.artifact_type.clone(),
        item: ArtifactItem::from(summary),
        manifest: indented(&detail.manifest),
        config,
        layers,
        children,
        referrers,
    })
}

/// The parts of an OCI/Docker image config people look at.
#[cfg(feature = "ssr")]
fn image_config(config: serde_json::Value) -> ImageConfigView {
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    let list = |value: &serde_json::Value| -> Vec<String> {
        value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let run = &config["config"];
    let mut labels: Vec<(String, String)> = run["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect();
    labels.sort();
    let mut exposed_ports: Vec<String> =
        run["ExposedPorts"].as_object().into_iter().flatten().map(|(p, _)| p.clone()).collect();
    exposed_ports.sort();
    ImageConfigView {
        os: text(&config["os"]).unwrap_or_default(),
        architecture: match (text(&config["architecture"]), text(&config["variant"])) {
            (Some(arch), Some(variant)) => format!("{arch}/{variant}"),
            (arch, _) => arch.unwrap_or_default(),
        },
        created: text(&config["created"]),
        entrypoint: list(&run["Entrypoint"]),
        cmd: list(&run["Cmd"]),
        env: list(&run["Env"]),
        working_dir: text(&run["WorkingDir"]).filter(|dir| !dir.is_empty()),
        user: text(&run["User"]).filter(|user| !user.is_empty()),
        labels,
        exposed_ports,
        history: config["history"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| HistoryItem {
                created: text(&entry["created"]),
                created_by: text(&entry["created_by"]).unwrap_or_default(),
                empty_layer: entry["empty_layer"].as_bool().unwrap_or(false),
            })
            .collect(),
    }
}

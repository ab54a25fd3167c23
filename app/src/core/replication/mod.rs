//! Replication: copying artifacts between this registry and remote ones.
//! This module owns the remote registries (endpoints) and how to talk to
//! them ([`remote`]), which artifacts a policy selects ([`filters`]) and
//! where they land ([`namespace`]). Calls go service → repository, and
//! out through [`remote::Remote`]; only system administrators manage
//! replication (`SystemAction::ManageReplication`).

pub mod endpoints;
pub mod filters;
pub mod namespace;
pub mod remote;
mod repository;

use chrono::Utc;

pub use endpoints::{Credential, Endpoint, EndpointChanges, EndpointId, Health, NewEndpoint, RegistryKind};
pub use remote::{Remote, RemoteError};
use repository::{EndpointRecord, Refused, ReplicationRepository};

use crate::core::{
    Error, Result,
    access::{SystemGrant, require_system},
    auth::SealingKey,
    db::{Db, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    rbac::SystemAction,
};

/// What "test connection" checks: a saved registry (with its stored
/// credential unless another is given), or one not saved yet.
#[derive(Clone, Debug)]
pub enum PingTarget {
    Saved { id: EndpointId, credential: Option<Credential> },
    Unsaved { kind: RegistryKind, url: String, credential: Option<Credential>, insecure: bool },
}

/// What a registry supports, for the policy form (Harbor's `RegistryInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryInfo {
    pub kind: RegistryKind,
    pub description: &'static str,
    /// Filter types the policy form offers for it.
    pub filters: &'static [&'static str],
    pub triggers: &'static [&'static str],
}

#[derive(Clone, Debug)]
pub struct ReplicationService {
    repository: ReplicationRepository,
    sealing: SealingKey,
}

impl ReplicationService {
    pub fn new(db: Db, sealing: SealingKey) -> Self {
        Self { repository: ReplicationRepository::new(db), sealing }
    }

    /// Registries in name order, paged; `contains` filters names.
    pub async fn registries(&self, actor: &Actor, contains: Option<&str>, window: Window) -> Result<Page<Endpoint>> {
        require_system(actor, SystemAction::ManageReplication)?;
        self.repository.list_endpoints(contains, window).await
    }

    pub async fn registry(&self, actor: &Actor, id: EndpointId) -> Result<Endpoint> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        self.endpoint(&grant, id).await
    }

    /// Adds a registry, after checking it answers with the credential given
    /// (as Harbor does: an unreachable registry is refused, saying why).
    pub async fn create_registry(&self, actor: &Actor, new: NewEndpoint) -> Result<Endpoint> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let name = endpoints::check_name(&new.name)?;
        let description = endpoints::check_description(&new.description)?;
        let url = endpoints::normalise_url(&new.url)?;
        let remote = Remote::new(&url, new.credential.clone(), new.insecure).map_err(unhealthy)?;
        remote.ping().await.map_err(unhealthy)?;
        let sealed = self.seal(&url, new.credential.as_ref()).await?;
        let record = EndpointRecord {
            name: &name,
            kind: new.kind,
            url: &url,
            access_key: new.credential.as_ref().map(|c| c.access_key.as_str()),
            sealed_secret: sealed.as_deref(),
            insecure: new.insecure,
            description: &description,
            status: Health::Healthy,
        };
        let event = registry_event(actor, Operation::Create, &name, None);
        let id = self
            .repository
            .create_endpoint(&record, Utc::now(), &event)
            .await?
            .map_err(|refused| refusal(refused, &name))?;
        self.endpoint(&grant, id).await
    }

    /// Changes a registry. A new URL needs the secret again (it was sealed
    /// for the old one); without one the stored secret is dropped. The
    /// changed registry must answer, as a new one must.
    pub async fn update_registry(&self, actor: &Actor, id: EndpointId, changes: EndpointChanges) -> Result<Endpoint> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let current = self.endpoint(&grant, id).await?;
        let name = match &changes.name {
            Some(name) => endpoints::check_name(name)?,
            None => current.name.clone(),
        };
        let description = match &changes.description {
            Some(description) => endpoints::check_description(description)?,
            None => current.description.clone(),
        };
        let url = match &changes.url {
            Some(url) => endpoints::normalise_url(url)?,
            None => current.url.clone(),
        };
        let insecure = changes.insecure.unwrap_or(current.insecure);
        let access_key = changes.access_key.clone().or_else(|| current.access_key.clone());
        let secret = match &changes.access_secret {
            Some(secret) => Some(secret.clone()),
            None if url == current.url => self.stored_secret(id, &current.url).await?,
            None => None,
        };
        let credential = Credential::given(access_key.as_deref(), secret.as_deref())?;
        let remote = Remote::new(&url, credential.clone(), insecure).map_err(unhealthy)?;
        remote.ping().await.map_err(unhealthy)?;
        let sealed = self.seal(&url, credential.as_ref().filter(|c| !c.access_secret.is_empty())).await?;
        let record = EndpointRecord {
            name: &name,
            kind: current.kind,
            url: &url,
            access_key: credential.as_ref().map(|c| c.access_key.as_str()),
            sealed_secret: sealed.as_deref(),
            insecure,
            description: &description,
            status: Health::Healthy,
        };
        let event = registry_event(actor, Operation::Update, &name, Some("settings changed"));
        self.repository
            .update_endpoint(id, &record, Utc::now(), &event)
            .await?
            .map_err(|refused| refusal(refused, &name))?;
        self.endpoint(&grant, id).await
    }

    /// Deletes a registry that no policy uses.
    pub async fn delete_registry(&self, actor: &Actor, id: EndpointId) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let current = self.endpoint(&grant, id).await?;
        let event = registry_event(actor, Operation::Delete, &current.name, None);
        self.repository.delete_endpoint(id, &event).await?.map_err(|refused| refusal(refused, &current.name))
    }

    /// "Test connection": whether the registry answers with the credential.
    /// A saved registry is asked at its saved URL only (never one the
    /// request names), and its status is updated.
    pub async fn ping(&self, actor: &Actor, target: PingTarget) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        match target {
            PingTarget::Unsaved { url, credential, insecure, .. } => {
                let url = endpoints::normalise_url(&url)?;
                Remote::new(&url, credential, insecure).map_err(unhealthy)?.ping().await.map_err(unhealthy)
            }
            PingTarget::Saved { id, credential } => {
                let endpoint = self.endpoint(&grant, id).await?;
                let remote = match credential {
                    Some(credential) => Remote::new(&endpoint.url, Some(credential), endpoint.insecure),
                    None => self.remote_for(&endpoint).await?,
                }
                .map_err(unhealthy)?;
                let answered = remote.ping().await;
                let health = if answered.is_ok() { Health::Healthy } else { Health::Unhealthy };
                self.repository.set_health(id, health).await?;
                answered.map_err(unhealthy)
            }
        }
    }

    /// What the registry supports, for the policy form.
    pub async fn info(&self, actor: &Actor, id: EndpointId) -> Result<RegistryInfo> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let endpoint = self.endpoint(&grant, id).await?;
        Ok(RegistryInfo {
            kind: endpoint.kind,
            description: endpoint.kind.description(),
            filters: &["name", "tag", "resource"],
            triggers: &["manual", "scheduled"],
        })
    }

    /// A client for the registry, with its saved credential.
    pub(crate) async fn remote_for(&self, endpoint: &Endpoint) -> Result<std::result::Result<Remote, RemoteError>> {
        let secret = self.stored_secret(endpoint.id, &endpoint.url).await?;
        let credential = Credential::given(endpoint.access_key.as_deref(), secret.as_deref())?;
        Ok(Remote::new(&endpoint.url, credential, endpoint.insecure))
    }

    async fn endpoint(&self, _grant: &SystemGrant, id: EndpointId) -> Result<Endpoint> {
        self.repository.find_endpoint(id).await?.ok_or_else(|| Error::NotFound(format!("registry {}", id.0)))
    }

    /// The secret saved for the registry at `url`; `None` when none was, or
    /// it was sealed for another URL.
    async fn stored_secret(&self, id: EndpointId, url: &str) -> Result<Option<String>> {
        let Some(sealed) = self.repository.sealed_secret(id).await? else {
            return Ok(None);
        };
        let opened = self.sealing.open(&endpoints::sealing_context(url), &sealed).await?;
        Ok(opened.and_then(|bytes| String::from_utf8(bytes).ok()))
    }

    async fn seal(&self, url: &str, credential: Option<&Credential>) -> Result<Option<Vec<u8>>> {
        match credential {
            Some(credential) => Ok(Some(
                self.sealing.seal(&endpoints::sealing_context(url), credential.access_secret.as_bytes()).await?,
            )),
            None => Ok(None),
        }
    }
}

fn registry_event(actor: &Actor, operation: Operation, name: &str, detail: Option<&str>) -> AuditEvent {
    let mut event = AuditEvent::new(operation, ResourceType::Registry, name, actor);
    event.detail = detail.map(str::to_owned);
    event
}

/// A registry that did not answer as it should: the request's fault (400), naming why.
fn unhealthy(error: RemoteError) -> Error {
    Error::invalid("url", format!("the registry is unhealthy: {error}"))
}

fn refusal(refused: Refused, name: &str) -> Error {
    match refused {
        Refused::NameTaken => Error::Conflict(format!("a registry named {name} already exists")),
        Refused::Gone => Error::NotFound(format!("registry {name}")),
        Refused::InUse => Error::Conflict(format!(
            "registry {name} is used by a replication policy; delete or change the policy first"
        )),
    }
}

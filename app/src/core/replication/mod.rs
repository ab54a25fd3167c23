//! Replication: copying artifacts between this registry and remote ones.
//! This module owns the remote registries (endpoints) and how to talk to
//! them ([`remote`]), the policies ([`policies`]) with which artifacts they
//! select ([`filters`]) and where those land ([`namespace`]), and running
//! them: executions are jobs of kind `replication:<policy>` whose tasks
//! ([`tasks`]) copy one artifact each (`copy`), queued by hand, on a
//! schedule or by a change here (`events`). Calls go service →
//! repository, the registry service and the job service, and out through
//! [`remote::Remote`]; only system administrators manage replication
//! (`SystemAction::ManageReplication`).

mod copy;
pub mod endpoints;
mod events;
mod execution;
pub mod filters;
pub mod namespace;
mod plan;
pub mod policies;
pub mod remote;
mod repository;
pub mod tasks;

use chrono::Utc;

pub use endpoints::{Credential, Endpoint, EndpointChanges, EndpointId, Health, NewEndpoint, RegistryKind};
pub use execution::{ExecutionView, Replication};
pub use policies::{Direction, Policy, PolicyDraft, PolicyId, Trigger};
pub use remote::{Remote, RemoteError};
use repository::{EndpointRecord, FirstTick, Refused, ReplicationRepository};

use crate::core::{
    Error, Result,
    access::{AccessService, SystemGrant, require_system},
    auth::SealingKey,
    db::{Db, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    jobs::{CronSchedule, JobService},
    rbac::SystemAction,
    registry::RegistryService,
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
    tasks: tasks::TaskRepository,
    sealing: SealingKey,
    registry: RegistryService,
    access: AccessService,
    jobs: JobService,
}

impl ReplicationService {
    pub fn new(
        db: Db,
        sealing: SealingKey,
        registry: RegistryService,
        access: AccessService,
        jobs: JobService,
    ) -> Self {
        Self {
            repository: ReplicationRepository::new(db.clone()),
            tasks: tasks::TaskRepository::new(db),
            sealing,
            registry,
            access,
            jobs,
        }
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
            .map_err(|refused| refusal(refused, "registry", &name))?;
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
            .map_err(|refused| refusal(refused, "registry", &name))?;
        self.endpoint(&grant, id).await
    }

    /// Deletes a registry that no policy uses.
    pub async fn delete_registry(&self, actor: &Actor, id: EndpointId) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let current = self.endpoint(&grant, id).await?;
        let event = registry_event(actor, Operation::Delete, &current.name, None);
        self.repository
            .delete_endpoint(id, &event)
            .await?
            .map_err(|refused| refusal(refused, "registry", &current.name))
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

    /// Policies in name order, paged; `contains` filters names.
    pub async fn policies(&self, actor: &Actor, contains: Option<&str>, window: Window) -> Result<Page<Policy>> {
        require_system(actor, SystemAction::ManageReplication)?;
        self.repository.list_policies(contains, window).await
    }

    pub async fn policy(&self, actor: &Actor, id: PolicyId) -> Result<Policy> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        self.find_policy(&grant, id).await
    }

    /// Adds a policy (and, for a scheduled one that is enabled, its schedule).
    pub async fn create_policy(&self, actor: &Actor, draft: PolicyDraft) -> Result<Policy> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let draft = self.checked(&grant, draft).await?;
        let now = Utc::now();
        let tick = first_tick(&draft, now)?;
        let event = policy_event(actor, Operation::Create, &draft.name, None);
        let id = self
            .repository
            .create_policy(&draft, tick.as_ref(), now, &event)
            .await?
            .map_err(|refused| refusal(refused, "policy", &draft.name))?;
        self.find_policy(&grant, id).await
    }

    /// Replaces a policy whole (Harbor's PUT), its schedule with it.
    pub async fn update_policy(&self, actor: &Actor, id: PolicyId, draft: PolicyDraft) -> Result<Policy> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        self.find_policy(&grant, id).await?;
        let draft = self.checked(&grant, draft).await?;
        let now = Utc::now();
        let tick = first_tick(&draft, now)?;
        let event = policy_event(actor, Operation::Update, &draft.name, Some("settings changed"));
        self.repository
            .update_policy(id, &draft, tick.as_ref(), now, &event)
            .await?
            .map_err(|refused| refusal(refused, "policy", &draft.name))?;
        self.find_policy(&grant, id).await
    }

    /// Enables or disables a policy, leaving the rest of it as it is (one
    /// write: no read-then-write that could undo an edit made meanwhile).
    pub async fn set_policy_enabled(&self, actor: &Actor, id: PolicyId, enabled: bool) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let policy = self.find_policy(&grant, id).await?;
        let what = if enabled { "enabled" } else { "disabled" };
        let event = policy_event(actor, Operation::Update, &policy.name, Some(what));
        if !self.repository.set_enabled(id, enabled, Utc::now(), &event).await? {
            return Err(Error::NotFound(format!("replication policy {}", id.0)));
        }
        Ok(())
    }

    /// Deletes a policy with nothing running, with its schedule and past executions.
    pub async fn delete_policy(&self, actor: &Actor, id: PolicyId) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let policy = self.find_policy(&grant, id).await?;
        let event = policy_event(actor, Operation::Delete, &policy.name, None);
        self.repository.delete_policy(id, &event).await?.map_err(|refused| refusal(refused, "policy", &policy.name))
    }

    async fn find_policy(&self, _grant: &SystemGrant, id: PolicyId) -> Result<Policy> {
        self.repository.find_policy(id).await?.ok_or_else(|| Error::NotFound(format!("replication policy {}", id.0)))
    }

    /// The draft checked, its remote registry among them.
    async fn checked(&self, grant: &SystemGrant, draft: PolicyDraft) -> Result<PolicyDraft> {
        let draft = draft.checked()?;
        let (field, remote) = match draft.direction {
            Direction::Push { destination } => ("dest_registry", destination),
            Direction::Pull { source } => ("src_registry", source),
        };
        match self.endpoint(grant, remote).await {
            Ok(_) => Ok(draft),
            Err(Error::NotFound(_)) => Err(Error::invalid(field, format!("there is no registry {}", remote.0))),
            Err(other) => Err(other),
        }
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

/// The schedule of an enabled, scheduled policy, from its next tick after `now`.
fn first_tick(draft: &PolicyDraft, now: chrono::DateTime<Utc>) -> Result<Option<FirstTick>> {
    let Some(cron) = draft.trigger.cron().filter(|_| draft.enabled) else {
        return Ok(None);
    };
    let schedule = CronSchedule::parse(cron).map_err(|e| Error::invalid("trigger", e.to_string()))?;
    let at = schedule.next_after(now).ok_or_else(|| Error::invalid("trigger", "the schedule never comes round"))?;
    Ok(Some(FirstTick { cron: schedule.expression().to_owned(), at }))
}

fn policy_event(actor: &Actor, operation: Operation, name: &str, detail: Option<&str>) -> AuditEvent {
    let mut event = AuditEvent::new(operation, ResourceType::ReplicationPolicy, name, actor);
    event.detail = detail.map(str::to_owned);
    event
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

/// A refusal in words; `what` is "registry" or "policy".
fn refusal(refused: Refused, what: &str, name: &str) -> Error {
    match refused {
        Refused::NameTaken => Error::Conflict(format!("a {what} named {name} already exists")),
        Refused::Gone => Error::NotFound(format!("{what} {name}")),
        Refused::InUse => Error::Conflict(format!(
            "registry {name} is used by a replication policy; delete or change the policy first"
        )),
        Refused::RegistryGone => Error::NotFound(format!("the registry of policy {name}")),
        Refused::Running => {
            Error::Conflict(format!("policy {name} has an execution pending or running; stop it first"))
        }
    }
}

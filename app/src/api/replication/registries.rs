//! Remote registries: list, read, save (checked against the registry), "test connection", delete.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::MAX_CHOICES;
use super::{Listing, RegistryItem};
#[cfg(feature = "ssr")]
use super::{convert, service, ticked, window};
use crate::api::AppError;

#[server(prefix = "/portal/fn", endpoint = "replication_registries")]
pub async fn list_registries(page: u32) -> Result<Listing<RegistryItem>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().registries(&actor, None, window(page)).await?;
    Ok(Listing { total: found.total, items: found.items.into_iter().map(convert::registry).collect() })
}

/// Registries a policy may name, by name.
#[server(prefix = "/portal/fn", endpoint = "replication_registry_choices")]
pub async fn registry_choices() -> Result<Vec<(i64, String)>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().registries(&actor, None, crate::core::db::Window::new(0, MAX_CHOICES)).await?;
    Ok(found.items.into_iter().map(|r| (r.id.0, r.name)).collect())
}

#[server(prefix = "/portal/fn", endpoint = "replication_registry")]
pub async fn get_registry(id: i64) -> Result<RegistryItem, AppError> {
    use crate::core::replication::EndpointId;
    let actor = crate::api::session::require_actor().await?;
    Ok(convert::registry(service().registry(&actor, EndpointId(id)).await?))
}

/// Saves a new registry (`id` empty) or changes one; an empty secret keeps
/// the stored one. The registry must answer with the credential.
// One argument per form field: the form posts them as they are.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/portal/fn", endpoint = "save_replication_registry")]
pub async fn save_registry(
    id: Option<i64>,
    name: String,
    kind: String,
    url: String,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<String>,
    description: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::replication::{Credential, EndpointChanges, EndpointId, NewEndpoint, RegistryKind};

    let actor = crate::api::session::require_actor().await?;
    let access_key = access_key.filter(|k| !k.trim().is_empty());
    let access_secret = access_secret.filter(|s| !s.is_empty());
    let saved = match id {
        None => {
            let new = NewEndpoint {
                name,
                kind: RegistryKind::parse(&kind)?,
                url,
                credential: Credential::given(access_key.as_deref(), access_secret.as_deref())?,
                insecure: ticked(&insecure),
                description: description.unwrap_or_default(),
            };
            service().create_registry(&actor, new).await?
        }
        Some(id) => {
            let changes = EndpointChanges {
                name: Some(name),
                description: Some(description.unwrap_or_default()),
                url: Some(url),
                access_key,
                access_secret,
                insecure: Some(ticked(&insecure)),
            };
            service().update_registry(&actor, EndpointId(id), changes).await?
        }
    };
    Ok(saved.id.0)
}

/// "Test connection" with what the form holds; for a saved registry an
/// empty secret means the stored one.
#[server(prefix = "/portal/fn", endpoint = "test_replication_registry")]
pub async fn test_registry(
    id: Option<i64>,
    kind: String,
    url: String,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<String>,
) -> Result<(), AppError> {
    use crate::core::replication::{Credential, EndpointId, PingTarget, RegistryKind};

    let actor = crate::api::session::require_actor().await?;
    let access_key = access_key.filter(|k| !k.trim().is_empty());
    let access_secret = access_secret.filter(|s| !s.is_empty());
    let service = service();
    let saved_url = match id {
        Some(id) => Some(service.registry(&actor, EndpointId(id)).await?.url),
        None => None,
    };
    let target = match (id, saved_url) {
        // The saved registry at its saved URL: with the stored secret unless another is given.
        (Some(id), Some(saved)) if saved.trim_end_matches('/') == url.trim().trim_end_matches('/') => {
            let credential = match access_secret {
                Some(secret) => Credential::given(access_key.as_deref(), Some(&secret))?,
                None => None,
            };
            PingTarget::Saved { id: EndpointId(id), credential }
        }
        // Another URL is asked with what the form holds only: the stored secret never goes there.
        _ => PingTarget::Unsaved {
            kind: RegistryKind::parse(&kind)?,
            credential: Credential::given(access_key.as_deref(), access_secret.as_deref())?,
            url,
            insecure: ticked(&insecure),
        },
    };
    Ok(service.ping(&actor, target).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_replication_registry")]
pub async fn delete_registry(id: i64) -> Result<(), AppError> {
    use crate::core::replication::EndpointId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().delete_registry(&actor, EndpointId(id)).await?)
}

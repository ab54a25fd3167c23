//! Replication policies: list, read, save, enable or disable, delete.

use leptos::prelude::*;

use super::{Listing, PolicyItem};
#[cfg(feature = "ssr")]
use super::{convert, service, ticked, window};
use crate::api::AppError;

#[server(prefix = "/portal/fn", endpoint = "replication_policies")]
pub async fn list_policies(page: u32) -> Result<Listing<PolicyItem>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().policies(&actor, None, window(page)).await?;
    Ok(Listing { total: found.total, items: found.items.into_iter().map(convert::policy).collect() })
}

#[server(prefix = "/portal/fn", endpoint = "replication_policy")]
pub async fn get_policy(id: i64) -> Result<PolicyItem, AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(convert::policy(service().policy(&actor, PolicyId(id)).await?))
}

/// Saves a new policy (`id` empty) or replaces one.
// One argument per form field: the form posts them as they are.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/portal/fn", endpoint = "save_replication_policy")]
pub async fn save_policy(
    id: Option<i64>,
    name: String,
    description: Option<String>,
    direction: String,
    registry_id: i64,
    name_filter: Option<String>,
    tag_filter: Option<String>,
    tag_decoration: Option<String>,
    resource: Option<String>,
    dest_namespace: Option<String>,
    replace_count: Option<String>,
    trigger: String,
    cron: Option<String>,
    replicate_deletion: Option<String>,
    override_existing: Option<String>,
    enabled: Option<String>,
    speed_kb: Option<String>,
    copy_by_chunk: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::{
        Error,
        replication::{
            Direction, EndpointId, PolicyDraft, PolicyId, Trigger,
            filters::{Decoration, Filters, ResourceKind},
        },
    };

    let actor = crate::api::session::require_actor().await?;
    let registry = EndpointId(registry_id);
    let direction = match direction.as_str() {
        "push" => Direction::Push { destination: registry },
        "pull" => Direction::Pull { source: registry },
        _ => return Err(Error::invalid("direction", "must be push or pull").into()),
    };
    let number = |field: &'static str, text: Option<String>, default: i64| -> Result<i64, Error> {
        match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| Error::invalid(field, "must be a whole number")),
        }
    };
    let replace_count = i8::try_from(number("dest_namespace_replace_count", replace_count, -1)?)
        .map_err(|_| Error::invalid("dest_namespace_replace_count", "must be from -1 to 127"))?;
    let filled = |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let filters = Filters {
        name: filled(name_filter),
        tag: filled(tag_filter),
        tag_decoration: Decoration::parse(tag_decoration.as_deref().unwrap_or("matches"))
            .ok_or_else(|| Error::invalid("tag_decoration", "must be matches or excludes"))?,
        resource: Some(
            ResourceKind::parse(resource.as_deref().unwrap_or("artifact"))
                .ok_or_else(|| Error::invalid("resource", "must be image or artifact"))?,
        ),
    };
    let draft = PolicyDraft {
        name,
        description: description.unwrap_or_default(),
        direction,
        dest_namespace: dest_namespace.unwrap_or_default(),
        replace_count,
        trigger: Trigger::parse(&trigger, cron.as_deref())?,
        filters,
        replicate_deletion: ticked(&replicate_deletion),
        override_existing: ticked(&override_existing),
        enabled: ticked(&enabled),
        speed_kb: number("speed_kb", speed_kb, 0)?,
        copy_by_chunk: ticked(&copy_by_chunk),
    };
    let saved = match id {
        None => service().create_policy(&actor, draft).await?,
        Some(id) => service().update_policy(&actor, PolicyId(id), draft).await?,
    };
    Ok(saved.id.0)
}

/// Enables or disables a policy, leaving the rest as it is.
#[server(prefix = "/portal/fn", endpoint = "enable_replication_policy")]
pub async fn set_policy_enabled(id: i64, enabled: bool) -> Result<(), AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().set_policy_enabled(&actor, PolicyId(id), enabled).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_replication_policy")]
pub async fn delete_policy(id: i64) -> Result<(), AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().delete_policy(&actor, PolicyId(id)).await?)
}

//! The Administration area's Audit log: every entry, newest first, a page
//! at a time, filtered by user, operation, resource type, resource (its
//! leading part) and a time range in UTC. The same filters name a CSV
//! export (served by the server at [`EXPORT_PATH`]). System administrators only.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, logs::LogItem, projects::Listing};

/// Where the CSV export of the filtered log is downloaded.
pub const EXPORT_PATH: &str = "/portal/audit-log.csv";
/// Entries per page of the Audit log page.
pub const AUDIT_PAGE_SIZE: u32 = 25;
/// Longest text a filter takes.
pub const MAX_FILTER: usize = 255;
/// The form of the time filters: a `datetime-local` input's value, in UTC.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// The operations and resource types the filters offer: the core's, which
/// the browser cannot see (a test keeps them equal).
pub const OPERATIONS: &[&str] = &["pull", "push", "delete", "create", "update", "login"];
pub const RESOURCE_TYPES: &[&str] = &[
    "artifact",
    "repository",
    "project",
    "member",
    "robot",
    "user",
    "session",
    "settings",
    "registry",
    "replication_policy",
    "immutable_rule",
    "retention_policy",
];

/// The page's filters, as its form and the export's address carry them
/// (empty means "any").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilters {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub resource: String,
    /// From this minute on (`YYYY-MM-DDTHH:MM`, UTC).
    #[serde(default)]
    pub from: String,
    /// Before this minute.
    #[serde(default)]
    pub to: String,
}

impl AuditFilters {
    /// `key=value&…` of the filters given, for links that keep them.
    pub fn query_string(&self) -> String {
        use leptos_router::location::Url;
        self.pairs()
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| format!("{key}={}", Url::escape(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn pairs(&self) -> [(&'static str, &str); 6] {
        [
            ("username", &self.username),
            ("operation", &self.operation),
            ("resource_type", &self.resource_type),
            ("resource", &self.resource),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }
}

/// The filters checked and read: what the core's query is made of.
#[cfg(feature = "ssr")]
pub struct CheckedFilters<'a> {
    filters: &'a AuditFilters,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(feature = "ssr")]
impl AuditFilters {
    /// Refuses a filter that is too long, an unknown operation or resource
    /// type, or a time that is not `YYYY-MM-DDTHH:MM`.
    pub fn check(&self) -> crate::core::Result<CheckedFilters<'_>> {
        use crate::core::{
            Error,
            events::{Operation, ResourceType},
        };
        for (key, value) in self.pairs() {
            if value.chars().count() > MAX_FILTER {
                return Err(Error::invalid(key, format!("must be at most {MAX_FILTER} characters")));
            }
        }
        if !self.operation.is_empty() && Operation::parse(&self.operation).is_none() {
            return Err(Error::invalid("operation", format!("{:?} is not an operation Berth records", self.operation)));
        }
        if !self.resource_type.is_empty() && !ResourceType::ALL.iter().any(|t| t.as_str() == self.resource_type) {
            return Err(Error::invalid("resource_type", format!("{:?} is not a resource type", self.resource_type)));
        }
        let time = |key: &'static str, value: &str| {
            if value.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDateTime::parse_from_str(value, TIME_FORMAT)
                .map(|at| Some(at.and_utc()))
                .map_err(|_| Error::invalid(key, "must be a time as YYYY-MM-DDTHH:MM (UTC)"))
        };
        let (since, until) = (time("from", &self.from)?, time("to", &self.to)?);
        Ok(CheckedFilters { filters: self, since, until })
    }
}

#[cfg(feature = "ssr")]
impl CheckedFilters<'_> {
    pub fn query(&self) -> crate::core::events::AuditQuery<'_> {
        fn given(value: &str) -> Option<&str> {
            Some(value).filter(|v| !v.is_empty())
        }
        crate::core::events::AuditQuery {
            actor: given(&self.filters.username),
            project: None,
            operation: given(&self.filters.operation),
            resource_type: given(&self.filters.resource_type),
            resource_prefix: given(&self.filters.resource),
            since: self.since,
            until: self.until,
        }
    }
}

/// A page of the whole log matching the filters.
#[server(prefix = "/portal/fn", endpoint = "audit_log")]
pub async fn audit_log(
    filters: Option<AuditFilters>,
    after: Option<String>,
    before: Option<String>,
) -> Result<Listing<LogItem>, AppError> {
    use crate::core::{AppState, db::TimeCursor};

    let actor = crate::api::session::require_actor().await?;
    let keyset = TimeCursor::keyset(after.as_deref(), before.as_deref())?;
    let filters = filters.unwrap_or_default();
    let checked = filters.check()?;
    let state = expect_context::<AppState>();
    // Only those who may read it wait for the log to be written.
    crate::core::access::require_system(&actor, crate::core::rbac::SystemAction::ReadAuditLog)?;
    // Entries recorded a moment ago may still be on their way to the database.
    state.events.flush().await;
    let page = state.audit.browse(&actor, &checked.query(), &keyset, AUDIT_PAGE_SIZE).await?;
    Ok(crate::api::projects::listing(
        page,
        |event| TimeCursor { at: event.occurred_at, id: event.id }.encode(),
        crate::api::logs::log_item,
    ))
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::core::events::{Operation, ResourceType};

    #[test]
    fn the_filters_offer_what_the_core_records() {
        assert_eq!(OPERATIONS, Operation::ALL.map(Operation::as_str));
        assert_eq!(RESOURCE_TYPES, ResourceType::ALL.map(ResourceType::as_str));
    }

    #[test]
    fn filters_are_checked() {
        let at = |from: &str| AuditFilters { from: from.to_owned(), ..AuditFilters::default() };
        assert!(at("2026-12-06T10:30").check().is_ok());
        assert!(at("yesterday").check().is_err());
        let long = AuditFilters { resource: "r".repeat(MAX_FILTER), ..AuditFilters::default() };
        assert!(long.check().is_ok());
        let too_long = AuditFilters { resource: "r".repeat(MAX_FILTER + 1), ..AuditFilters::default() };
        assert!(too_long.check().is_err());
        let unknown = AuditFilters { operation: "scan".to_owned(), ..AuditFilters::default() };
        assert!(unknown.check().is_err());
    }
}

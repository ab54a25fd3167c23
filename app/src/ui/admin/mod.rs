//! The Administration area: system administrators only (the navigation
//! shows it to nobody else and its server functions refuse them).

mod audit;
mod cleanup;
mod configuration;
mod execution;
mod groups;
mod policy_form;
mod quotas;
mod registries;
mod replications;
mod robots;
mod runs;
mod users;

pub use audit::AuditLogPage;
pub use cleanup::CleanupPage;
pub use configuration::ConfigurationPage;
pub use execution::ReplicationExecutionPage;
pub use groups::GroupsPage;
pub use quotas::QuotasPage;
pub use registries::RegistriesPage;
pub use replications::ReplicationsPage;
pub use robots::SystemRobotsPage;
pub use users::UsersPage;

use leptos::prelude::*;
use leptos_router::{hooks::use_query_map, location::Url};

use crate::{api::numbered::PAGE_SIZE, ui::listing::Pager};

/// The page number in `?page=`, from 1.
pub fn page_param() -> Memo<u32> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1))
}

/// The search text in `?search=`, empty when none.
pub fn search_param() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("search").unwrap_or_default())
}

/// Previous and next links of a numbered list at `base`, keeping its search.
#[component]
pub fn PageLinks(
    base: &'static str,
    page: u32,
    shown: usize,
    total: i64,
    #[prop(optional)] search: Option<String>,
) -> impl IntoView {
    let previous = (page > 1).then(|| (page - 1).to_string());
    let next = (i64::from(page) * i64::from(PAGE_SIZE) < total).then(|| (page + 1).to_string());
    let search = search.filter(|s| !s.is_empty()).map(|s| format!("search={}&", Url::escape(&s))).unwrap_or_default();
    view! { <Pager total shown previous next href=move |_, page: &str| format!("{base}?{search}page={page}") /> }
}

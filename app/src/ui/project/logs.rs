//! A project's Logs tab: its audit entries newest first, a page at a
//! time, filtered by operation.

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use super::project_name;
use crate::{
    api::{
        logs::{LogItem, project_logs},
        projects::Listing,
    },
    ui::{
        components::{INPUT, SECONDARY_BUTTON, timestamp},
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable, Pager, page_links},
    },
};
#[component]
pub fn ProjectLogsTab() -> impl IntoView {
    let name = project_name();
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let logs = Resource::new(
        move || (name.get(), param("operation"), param("after"), param("before")),
        |(project, operation, after, before)| project_logs(project, operation, after, before),
    );
    view! {
        <Form method="GET" action="" attr:class="mt-6 flex items-end gap-2">
            <div>
                <label for="log-operation" class="block text-sm font-medium">"Operation"</label>
                <select id="log-operation" name="operation" class=INPUT>
                    {["", "push", "pull", "delete", "create", "update"]
                        .into_iter()
                        .map(|operation| {
                            let label = if operation.is_empty() { "All" } else { operation };
                            view! { <option value=operation selected=move || param("operation").unwrap_or_default() == operation>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Show"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match logs.await {
                    Ok(listing) => {
                        let base = format!("/projects/{}/logs", name.get_untracked());
                        let filters = vec![("operation", param("operation"))];
                        let hint = "Pushes, pulls and changes to this project appear here.";
                        view! { <LogTable listing base filters hint /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const LOG_COLUMNS: &[Column] = &[
    Column::Always("When"),
    Column::Always("Who"),
    Column::Always("Operation"),
    Column::Always("Resource"),
    Column::FromMedium("From"),
];

/// A page of audit entries with pager links to `base`, keeping `filters`;
/// `hint` says what appears there when nothing does yet.
#[component]
pub fn LogTable(
    listing: Listing<LogItem>,
    base: String,
    filters: Vec<(&'static str, Option<String>)>,
    hint: &'static str,
) -> AnyView {
    if listing.items.is_empty() {
        return view! { <div class="mt-6"><EmptyState title="No entries".to_owned() hint=hint.to_owned() /></div> }
            .into_any();
    }
    let shown = listing.items.len();
    let href = page_links(base, filters);
    view! {
        <ListTable caption="Audit log" columns=LOG_COLUMNS>
                    {listing
                        .items
                        .into_iter()
                        .map(|entry| view! {
                            <tr data-testid="log-row">
                                <td class="whitespace-nowrap px-4 py-2 text-slate-500 dark:text-slate-400">{timestamp(entry.occurred_at)}</td>
                                <td class="px-4 py-2">{entry.actor.unwrap_or_else(|| "anonymous".to_owned())}</td>
                                <td class="px-4 py-2">
                                    {entry.operation}
                                    {(!entry.succeeded).then(|| view! { <span class="ml-1 rounded bg-red-100 px-1 text-xs text-red-800 dark:bg-red-900 dark:text-red-200">"failed"</span> })}
                                </td>
                                <td class="break-all px-4 py-2">
                                    <span class="text-xs text-slate-500 dark:text-slate-400">{entry.resource_type}" "</span>
                                    <span class="font-mono text-xs">{entry.resource}</span>
                                    {entry.detail.map(|detail| view! { <span class="block text-xs text-slate-500 dark:text-slate-400">{detail}</span> })}
                                </td>
                                <td class="hidden px-4 py-2 font-mono text-xs md:table-cell">{entry.client_addr.unwrap_or_default()}</td>
                            </tr>
                        })
                        .collect_view()}
        </ListTable>
        <Pager total=listing.total shown previous=listing.previous next=listing.next href />
    }
    .into_any()
}

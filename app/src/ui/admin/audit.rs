//! Audit log: the whole registry's entries newest first, filtered by user,
//! operation, resource type, resource and time (UTC), a page at a time,
//! and the filtered entries as a CSV download.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    api::audit::{AuditFilters, EXPORT_PATH, MAX_FILTER, OPERATIONS, RESOURCE_TYPES, audit_log},
    ui::{
        components::{Breadcrumbs, INPUT, SECONDARY_BUTTON},
        layout::ErrorBanner,
        project::LogTable,
    },
};

const BASE: &str = "/admin/audit-log";

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let query = query.read();
        let get = |key: &str| query.get(key).unwrap_or_default();
        AuditFilters {
            username: get("username"),
            operation: get("operation"),
            resource_type: get("resource_type"),
            resource: get("resource"),
            from: get("from"),
            to: get("to"),
        }
    });
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let entries = Resource::new(
        move || (filters.get(), param("after"), param("before")),
        |(filters, after, before)| audit_log(Some(filters), after, before),
    );
    let export = move || {
        let query = filters.get().query_string();
        if query.is_empty() { EXPORT_PATH.to_owned() } else { format!("{EXPORT_PATH}?{query}") }
    };
    let text_field = move |id: &'static str, key: &'static str, label: &'static str, placeholder: &'static str| {
        view! {
            <div>
                <label for=id class="block text-sm font-medium">{label}</label>
                <input id=id name=key maxlength=MAX_FILTER.to_string() placeholder=placeholder class=INPUT prop:value=move || param(key).unwrap_or_default() />
            </div>
        }
    };
    let choice = move |id: &'static str, key: &'static str, label: &'static str, options: &'static [&'static str]| {
        view! {
            <div>
                <label for=id class="block text-sm font-medium">{label}</label>
                <select id=id name=key class=INPUT>
                    {std::iter::once("")
                        .chain(options.iter().copied())
                        .map(|value| {
                            let shown = if value.is_empty() { "Any" } else { value };
                            view! { <option value=value selected=move || param(key).unwrap_or_default() == value>{shown}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
        }
    };
    let time_field = move |id: &'static str, key: &'static str, label: &'static str| {
        view! {
            <div>
                <label for=id class="block text-sm font-medium">{label}</label>
                <input id=id name=key type="datetime-local" class=INPUT prop:value=move || param(key).unwrap_or_default() />
            </div>
        }
    };
    view! {
        <Title text="Audit log" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Audit log".to_owned(), None)] />
        <div class="mt-2 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Audit log"</h1>
            // A plain link: the browser downloads what the server streams.
            <a href=export class=SECONDARY_BUTTON download="audit-log.csv" rel="external">"Export CSV"</a>
        </div>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">"Everything done in the registry, newest first. Times are UTC."</p>
        <Form method="GET" action="" attr:class="mt-4 grid items-end gap-3 sm:grid-cols-3 lg:grid-cols-7" attr:aria-label="Filter the audit log">
            {text_field("audit-username", "username", "User", "Username")}
            {choice("audit-operation", "operation", "Operation", OPERATIONS)}
            {choice("audit-resource-type", "resource_type", "Resource type", RESOURCE_TYPES)}
            {text_field("audit-resource", "resource", "Resource", "Starts with…")}
            {time_field("audit-from", "from", "From")}
            {time_field("audit-to", "to", "Before")}
            <button type="submit" class=SECONDARY_BUTTON>"Filter"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(listing) => {
                        let filters = filters.get_untracked();
                        let kept = filters
                            .pairs()
                            .into_iter()
                            .map(|(key, value)| (key, Some(value.to_owned())))
                            .collect();
                        let hint = "Sign-ins, pushes, pulls and every change appear here.";
                        view! { <LogTable listing base=BASE.to_owned() filters=kept hint /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

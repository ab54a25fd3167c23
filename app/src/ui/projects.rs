//! The projects the signed-in user may see, a page at a time with search,
//! and the form that creates one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form},
    hooks::{use_navigate, use_query_map},
};

use super::{
    components::{Breadcrumbs, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, StorageBar, timestamp, use_toasts},
    layout::ErrorBanner,
    listing::{Column, EmptyState, ListTable, Pager, page_links},
};
use crate::api::projects::{CreateProject, ProjectList, QUOTA_UNITS, list_projects};

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let projects = Resource::new(
        move || (param("search"), param("after"), param("before")),
        |(search, after, before)| list_projects(search, after, before),
    );
    view! {
        <Title text="Projects" />
        <Breadcrumbs crumbs=vec![("Projects".to_owned(), None)] />
        <div class="flex flex-wrap items-center justify-between gap-3">
            <h1 class="text-2xl font-semibold tracking-tight">"Projects"</h1>
        </div>
        <Form method="GET" action="" attr:class="mt-4 flex max-w-md items-end gap-2" attr:role="search">
            <div class="flex-1">
                <label for="project-search" class="block text-sm font-medium">"Search projects"</label>
                <input id="project-search" type="search" name="search" placeholder="Name contains…" class=INPUT prop:value=move || param("search").unwrap_or_default() />
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Search"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match projects.await {
                    Ok(list) => view! { <ProjectTable list search=param("search") /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const PROJECT_COLUMNS: &[Column] = &[
    Column::Always("Name"),
    Column::Always("Access"),
    Column::Always("Repositories"),
    Column::Always("Storage"),
    Column::FromMedium("Created"),
];

#[component]
fn ProjectTable(list: ProjectList, search: Option<String>) -> impl IntoView {
    let ProjectList { projects, may_create } = list;
    let new_button = may_create.then(|| view! { <A href="/new-project" attr:class=PRIMARY_BUTTON>"New project"</A> });
    if projects.items.is_empty() {
        let (title, hint) = match &search {
            Some(search) => (format!("No project matches “{search}”"), "Try another part of the name.".to_owned()),
            None => (
                "No projects yet".to_owned(),
                "Create a project, then push to <registry>/<project>/<repository>:<tag>.".to_owned(),
            ),
        };
        return view! {
            <div class="mt-6">
                <EmptyState title hint>{new_button}</EmptyState>
            </div>
        }
        .into_any();
    }
    let shown = projects.items.len();
    let href = page_links("/projects".to_owned(), vec![("search", search)]);
    view! {
        <div class="mt-6 flex justify-end">{new_button}</div>
        <ListTable caption="Projects" columns=PROJECT_COLUMNS spacing="mt-3">
                    {projects
                        .items
                        .into_iter()
                        .map(|project| {
                            view! {
                                <tr data-testid="project-row">
                                    <td class="px-4 py-2">
                                        <A href=format!("/projects/{}", project.name) attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">
                                            {project.name.clone()}
                                        </A>
                                    </td>
                                    <td class="px-4 py-2"><AccessBadge public=project.public /></td>
                                    <td class="px-4 py-2">{project.repository_count}</td>
                                    <td class="px-4 py-2"><StorageBar used=project.storage_used quota=project.storage_quota /></td>
                                    <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">{timestamp(project.created_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
        </ListTable>
        <Pager total=projects.total shown previous=projects.previous next=projects.next href />
    }
    .into_any()
}

#[component]
pub fn AccessBadge(public: bool) -> impl IntoView {
    let (label, class) = if public {
        ("Public", "bg-emerald-100 text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200")
    } else {
        ("Private", "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300")
    };
    view! { <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}")>{label}</span> }
}

#[component]
pub fn NewProjectPage() -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let toasts = use_toasts();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(name)) = create.value().get() {
            toasts.success(format!("Project {name} created."));
            navigate(&format!("/projects/{name}"), Default::default());
        }
    });
    view! {
        <Title text="New project" />
        <Breadcrumbs crumbs=vec![("Projects".to_owned(), Some("/projects".to_owned())), ("New project".to_owned(), None)] />
        <h1 class="text-2xl font-semibold tracking-tight">"New project"</h1>
        <ActionForm action=create attr:class="mt-6 max-w-lg space-y-5 rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div>
                <label for="project-name" class="block text-sm font-medium">"Name"</label>
                <input
                    id="project-name"
                    name="name"
                    type="text"
                    required
                    maxlength="255"
                    pattern="[a-z0-9]+([._\\-][a-z0-9]+)*"
                    aria-describedby="project-name-help"
                    class=INPUT
                />
                <p id="project-name-help" class="mt-1 text-xs text-slate-500 dark:text-slate-400">
                    "Lowercase letters and digits, separated by single '.', '_' or '-'. It becomes the first part of every repository name."
                </p>
            </div>
            <div class="flex items-start gap-2">
                <input id="project-public" name="public" type="checkbox" class="mt-1 h-4 w-4 rounded border-slate-300" />
                <label for="project-public" class="text-sm">
                    <span class="font-medium">"Public"</span>
                    <span class="block text-xs text-slate-500 dark:text-slate-400">"Anyone, even without an account, may pull from a public project."</span>
                </label>
            </div>
            <QuotaFields current=None />
            {move || create.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <div class="flex gap-3">
                <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create project" }}
                </button>
                <A href="/projects" attr:class=SECONDARY_BUTTON>"Cancel"</A>
            </div>
        </ActionForm>
    }
}

/// The quota as an amount and a unit; empty for no limit.
#[component]
pub fn QuotaFields(current: Option<i64>) -> impl IntoView {
    // Shown in the largest unit it is a whole number of, else in MiB.
    let (amount, unit) = match current {
        None => (String::new(), "GiB"),
        Some(bytes) => QUOTA_UNITS
            .iter()
            .rev()
            .find(|(_, size)| bytes % size == 0)
            .map(|(unit, size)| ((bytes / size).to_string(), *unit))
            .unwrap_or_else(|| (format!("{:.2}", bytes as f64 / (1u64 << 20) as f64), "MiB")),
    };
    view! {
        <fieldset>
            <legend class="text-sm font-medium">"Storage quota"</legend>
            <div class="mt-1 flex gap-2">
                <label for="project-quota" class="sr-only">"Quota amount"</label>
                <input
                    id="project-quota"
                    name="quota"
                    type="text"
                    inputmode="decimal"
                    placeholder="No limit"
                    value=amount
                    aria-describedby="project-quota-help"
                    class=format!("{INPUT} max-w-40")
                />
                <label for="project-quota-unit" class="sr-only">"Quota unit"</label>
                <select id="project-quota-unit" name="quota_unit" class=format!("{INPUT} max-w-24")>
                    {QUOTA_UNITS
                        .iter()
                        .map(|(name, _)| view! { <option value=*name selected=*name == unit>{*name}</option> })
                        .collect_view()}
                </select>
            </div>
            <p id="project-quota-help" class="mt-1 text-xs text-slate-500 dark:text-slate-400">
                "Leave empty for no limit. Pushes that would go over it are refused."
            </p>
        </fieldset>
    }
}

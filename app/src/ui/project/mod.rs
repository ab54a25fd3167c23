//! One project: a header with its tabs (only those the user's role may
//! use), the summary, the repositories, the members, the robot accounts,
//! the audit log and the configuration (members, robots and logs in their
//! own modules).

mod logs;
mod members;
mod policy;
mod retention;
mod robots;

pub use logs::{LogTable, ProjectLogsTab};
pub use members::ProjectMembersTab;
pub use policy::ProjectPolicyTab;
pub use robots::ProjectRobotsTab;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form, Outlet},
    hooks::{use_navigate, use_params_map, use_query_map},
};

use super::{
    components::{
        Breadcrumbs, CARD, ConfirmDialog, CopyButton, DANGER_BUTTON, FormError, INPUT, PRIMARY_BUTTON,
        SECONDARY_BUTTON, StorageBar, on_result, timestamp, use_toasts,
    },
    layout::ErrorBanner,
    listing::{Column, EmptyState, ListTable, Pager, page_links},
    projects::{AccessBadge, QuotaFields},
};
use crate::api::{
    AppError,
    projects::{
        ConfigureProject, DeleteProject, Listing, ProjectOverview, RepositoryItem, get_project, list_repositories,
    },
};

/// The project being shown, fetched once by the frame for all its tabs.
#[derive(Clone, Copy)]
struct CurrentProject(Resource<Result<ProjectOverview, AppError>>);

fn project_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("project").unwrap_or_default())
}

#[component]
pub fn ProjectFrame() -> impl IntoView {
    let name = project_name();
    let project = Resource::new(move || name.get(), get_project);
    provide_context(CurrentProject(project));
    view! {
        <Title text=move || name.get() />
        <Breadcrumbs crumbs=vec![("Projects".to_owned(), Some("/projects".to_owned())), (name.get_untracked(), None)] />
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match project.await {
                    Ok(project) => view! { <ProjectHeader project /> <Outlet /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProjectHeader(project: ProjectOverview) -> impl IntoView {
    let base = format!("/projects/{}", project.name);
    let mut tabs = vec![("Summary", base.clone(), true), ("Repositories", format!("{base}/repositories"), false)];
    if project.permissions.read_members {
        tabs.push(("Members", format!("{base}/members"), false));
    }
    if project.permissions.manage_robots {
        tabs.push(("Robot accounts", format!("{base}/robots"), false));
    }
    if project.permissions.read_tag_policies {
        tabs.push(("Policy", format!("{base}/policy"), false));
    }
    if project.permissions.read_logs {
        tabs.push(("Logs", format!("{base}/logs"), false));
    }
    if project.permissions.edit {
        tabs.push(("Configuration", format!("{base}/configuration"), false));
    }
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight">{project.name.clone()}</h1>
            <AccessBadge public=project.public />
        </div>
        <nav aria-label="Project" class="mt-4 border-b border-slate-200 dark:border-slate-800">
            <ul class="-mb-px flex gap-4 overflow-x-auto text-sm">
                {tabs
                    .into_iter()
                    .map(|(label, href, exact)| {
                        view! {
                            <li>
                                <A
                                    href
                                    exact
                                    attr:class="block border-b-2 border-transparent px-1 py-2 text-slate-600 hover:text-slate-900 aria-[current=page]:border-sky-600 aria-[current=page]:font-medium aria-[current=page]:text-sky-700 dark:text-slate-400 dark:hover:text-slate-100 dark:aria-[current=page]:text-sky-300"
                                >
                                    {label}
                                </A>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}

/// The current project's overview, once the frame has it.
fn with_project<V, F>(render: F) -> impl IntoView
where
    V: IntoView + 'static,
    F: Fn(ProjectOverview) -> V + Clone + Send + Sync + 'static,
{
    let CurrentProject(project) = expect_context::<CurrentProject>();
    view! {
        <Suspense>
            {move || {
                let render = render.clone();
                Suspend::new(async move { project.await.ok().map(render) })
            }}
        </Suspense>
    }
}

#[component]
pub fn ProjectSummaryTab() -> impl IntoView {
    with_project(|project| {
        let push = format!("podman push {}/{}/REPOSITORY:TAG", project.registry_host, project.name);
        let login = format!("podman login {}", project.registry_host);
        view! {
            <dl class="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
                <div class=CARD>
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">"Repositories"</dt>
                    <dd class="mt-1 text-lg font-semibold" data-testid="summary-repositories">{project.repository_count}</dd>
                </div>
                <div class=CARD>
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">"Members"</dt>
                    <dd class="mt-1 text-lg font-semibold" data-testid="summary-members">
                        {project.member_count.map_or_else(|| "—".to_owned(), |n| n.to_string())}
                    </dd>
                </div>
                <div class=CARD>
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">"Storage"</dt>
                    <dd class="mt-2" data-testid="summary-storage"><StorageBar used=project.storage_used quota=project.storage_quota /></dd>
                </div>
                <div class=CARD>
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">"Created"</dt>
                    <dd class="mt-1 text-sm">
                        {timestamp(project.created_at)}
                        {project.owner.map(|owner| format!(" by {owner}"))}
                    </dd>
                </div>
            </dl>
            {project.permissions.push.then(|| view! {
                <section class=format!("{CARD} mt-6") aria-labelledby="push-title">
                    <h2 id="push-title" class="font-medium">"Push to this project"</h2>
                    <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">"Log in with your password or CLI secret, then push with any OCI client (docker, podman, skopeo, oras, helm)."</p>
                    <CommandLine command=login />
                    <CommandLine command=push />
                </section>
            })}
        }
    })
}

#[component]
pub fn CommandLine(command: String) -> impl IntoView {
    view! {
        <div class="mt-2 flex items-center gap-2">
            <code class="flex-1 overflow-x-auto whitespace-nowrap rounded bg-slate-100 px-3 py-2 font-mono text-xs dark:bg-slate-800" data-testid="command">
                {command.clone()}
            </code>
            <CopyButton text=command />
        </div>
    }
}

#[component]
pub fn ProjectRepositoriesTab() -> impl IntoView {
    let name = project_name();
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let repositories = Resource::new(
        move || (name.get(), param("search"), param("after"), param("before")),
        |(project, search, after, before)| list_repositories(project, search, after, before),
    );
    view! {
        <Form method="GET" action="" attr:class="mt-6 flex max-w-md items-end gap-2" attr:role="search">
            <div class="flex-1">
                <label for="repository-search" class="block text-sm font-medium">"Search repositories"</label>
                <input id="repository-search" type="search" name="search" placeholder="Name contains…" class=INPUT prop:value=move || param("search").unwrap_or_default() />
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Search"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match repositories.await {
                    Ok(listing) => view! { <RepositoryTable project=name.get_untracked() listing search=param("search") /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const REPOSITORY_COLUMNS: &[Column] =
    &[Column::Always("Name"), Column::Always("Artifacts"), Column::FromMedium("Last push")];

#[component]
fn RepositoryTable(project: String, listing: Listing<RepositoryItem>, search: Option<String>) -> impl IntoView {
    if listing.items.is_empty() {
        let (title, hint) = match &search {
            Some(search) => (format!("No repository matches “{search}”"), "Try another part of the name.".to_owned()),
            None => (
                "No repositories yet".to_owned(),
                format!("Push an image or artifact to {project}/<name>:<tag> and it appears here."),
            ),
        };
        return view! { <div class="mt-6"><EmptyState title hint /></div> }.into_any();
    }
    let shown = listing.items.len();
    let base = format!("/projects/{project}/repositories");
    let href = page_links(base, vec![("search", search)]);
    view! {
        <ListTable caption="Repositories" columns=REPOSITORY_COLUMNS>
                    {listing
                        .items
                        .into_iter()
                        .map(|repository| {
                            view! {
                                <tr data-testid="repository-row">
                                    <td class="px-4 py-2">
                                        <A href=format!("/projects/{}", repository.name.replacen('/', "/repositories/", 1)) attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">
                                            {repository.name.clone()}
                                        </A>
                                    </td>
                                    <td class="px-4 py-2">{repository.artifact_count}</td>
                                    <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">{timestamp(repository.updated_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
        </ListTable>
        <Pager total=listing.total shown previous=listing.previous next=listing.next href />
    }
    .into_any()
}

#[component]
pub fn ProjectConfigurationTab() -> impl IntoView {
    with_project(|project| view! { <ConfigurationForms project /> })
}

#[component]
fn ConfigurationForms(project: ProjectOverview) -> impl IntoView {
    let CurrentProject(current) = expect_context::<CurrentProject>();
    let configure = ServerAction::<ConfigureProject>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let toasts = use_toasts();
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = configure.value().get() {
            toasts.success("Configuration saved.");
            current.refetch();
        }
    });
    let name = project.name.clone();
    on_result(delete, Some(confirming), {
        let name = name.clone();
        move |()| {
            toasts.success(format!("Project {name} deleted."));
            navigate("/projects", Default::default());
        }
    });
    let has_repositories = project.repository_count > 0;
    view! {
        <ActionForm action=configure attr:class=format!("{CARD} mt-6 max-w-lg space-y-5")>
            <input type="hidden" name="name" value=project.name.clone() />
            <div class="flex items-start gap-2">
                <input id="config-public" name="public" type="checkbox" checked=project.public class="mt-1 h-4 w-4 rounded border-slate-300" />
                <label for="config-public" class="text-sm">
                    <span class="font-medium">"Public"</span>
                    <span class="block text-xs text-slate-500 dark:text-slate-400">"Anyone, even without an account, may pull from a public project."</span>
                </label>
            </div>
            {if project.permissions.change_quota {
                view! {
                    <input type="hidden" name="set_quota" value="true" />
                    <QuotaFields current=project.storage_quota />
                }
                .into_any()
            } else {
                view! {
                    <p class="text-sm">
                        <span class="font-medium">"Storage quota: "</span>
                        {project.storage_quota.map_or_else(|| "no limit".to_owned(), |q| super::format::bytes(q as u64))}
                        <span class="block text-xs text-slate-500 dark:text-slate-400">"System administrators change quotas."</span>
                    </p>
                }
                .into_any()
            }}
            {move || configure.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <button type="submit" class=PRIMARY_BUTTON disabled=move || configure.pending().get()>
                {move || if configure.pending().get() { "Saving…" } else { "Save" }}
            </button>
        </ActionForm>
        {project.permissions.delete.then(|| {
            let name = name.clone();
            view! {
                <section class="mt-8 max-w-lg rounded-lg border border-red-200 p-4 dark:border-red-900" aria-labelledby="danger-title">
                    <h2 id="danger-title" class="font-medium text-red-700 dark:text-red-300">"Delete this project"</h2>
                    <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                        {if has_repositories {
                            "Only an empty project can be deleted: delete its repositories first."
                        } else {
                            "The project, its members and robot accounts are removed. This cannot be undone."
                        }}
                    </p>
                    <button type="button" class=format!("{DANGER_BUTTON} mt-3") disabled=has_repositories on:click=move |_| confirming.set(true)>
                        "Delete project"
                    </button>
                    <ConfirmDialog
                        open=confirming
                        title=format!("Delete project {name}?")
                        message="Its members and robot accounts go with it. This cannot be undone.".to_owned()
                        confirm_label="Delete"
                        pending=delete.pending()
                        on_confirm=move |_| {
                            delete.dispatch(DeleteProject { name: name.clone() });
                        }
                    />
                </section>
            }
        })}
    }
}

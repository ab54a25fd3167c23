//! One project: a header with its tabs (only those the user's role may
//! use), the summary, the repositories, the members, the audit log and
//! the configuration.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form, Outlet},
    hooks::{use_navigate, use_params_map, use_query_map},
    location::Url,
};

use super::{
    components::{
        Breadcrumbs, CARD, ConfirmDialog, CopyButton, DANGER_BUTTON, EmptyState, FormError, INPUT, PRIMARY_BUTTON,
        Pager, SECONDARY_BUTTON, StorageBar, timestamp, use_toasts,
    },
    layout::ErrorBanner,
    projects::{AccessBadge, QuotaFields},
};
use crate::api::{
    AppError,
    logs::{LogItem, project_logs},
    members::{AddMember, ChangeMemberRole, MemberItem, ROLES, RemoveMember, list_members, role_label},
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
    let href = move |direction: &str, cursor: &str| {
        let search = search.as_deref().map(|s| format!("search={}&", Url::escape(s))).unwrap_or_default();
        format!("{base}?{search}{direction}={}", Url::escape(cursor))
    };
    view! {
        <div class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm">
                <caption class="sr-only">"Repositories"</caption>
                <thead class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Name"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Artifacts"</th>
                        <th scope="col" class="hidden px-4 py-2 font-medium md:table-cell">"Last push"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
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
                </tbody>
            </table>
        </div>
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
    Effect::new({
        let name = name.clone();
        move |_| match delete.value().get() {
            Some(Ok(())) => {
                confirming.set(false);
                toasts.success(format!("Project {name} deleted."));
                navigate("/projects", Default::default());
            }
            Some(Err(error)) => {
                confirming.set(false);
                toasts.error(error.to_string());
            }
            None => {}
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

#[component]
pub fn ProjectMembersTab() -> impl IntoView {
    with_project(|project| view! { <MembersPanel project /> })
}

#[component]
fn MembersPanel(project: ProjectOverview) -> AnyView {
    let name = project.name.clone();
    let may_manage = project.permissions.manage_members;
    let version = RwSignal::new(0u32);
    let members = Resource::new(move || (name.clone(), version.get()), |(project, _)| list_members(project));
    let add = ServerAction::<AddMember>::new();
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            toasts.success("Member added.");
            version.update(|v| *v += 1);
        }
    });
    let project_name = project.name.clone();
    view! {
        {may_manage.then(|| view! {
            <ActionForm action=add attr:class=format!("{CARD} mt-6 flex flex-wrap items-end gap-3")>
                <input type="hidden" name="project" value=project_name.clone() />
                <div>
                    <label for="member-kind" class="block text-sm font-medium">"Member type"</label>
                    <select id="member-kind" name="kind" class=INPUT>
                        <option value="user">"User"</option>
                        <option value="ldap_group">"LDAP group (DN)"</option>
                        <option value="oidc_group">"OIDC group"</option>
                    </select>
                </div>
                <div class="min-w-48 flex-1">
                    <label for="member-name" class="block text-sm font-medium">"Username or group"</label>
                    <input id="member-name" name="name" required class=INPUT placeholder="alice, or cn=devs,ou=groups,dc=example,dc=com" />
                </div>
                <div>
                    <label for="member-role" class="block text-sm font-medium">"Role"</label>
                    <RoleSelect id="member-role" selected="developer" />
                </div>
                <button type="submit" class=PRIMARY_BUTTON disabled=move || add.pending().get()>
                    {move || if add.pending().get() { "Adding…" } else { "Add member" }}
                </button>
                <div class="w-full">
                    {move || add.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
            </ActionForm>
        })}
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || {
                let project = project.name.clone();
                Suspend::new(async move {
                    match members.await {
                        Ok(members) => view! { <MemberTable project members may_manage version /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
    .into_any()
}

#[component]
fn RoleSelect(id: &'static str, selected: &'static str) -> impl IntoView {
    view! {
        <select id=id name="role" class=INPUT>
            {ROLES.iter().map(|(role, text)| view! { <option value=*role selected=*role == selected>{*text}</option> }).collect_view()}
        </select>
    }
}

#[component]
fn MemberTable(project: String, members: Vec<MemberItem>, may_manage: bool, version: RwSignal<u32>) -> AnyView {
    if members.is_empty() {
        return view! { <div class="mt-6"><EmptyState title="No members".to_owned() hint="Add a user or a group with a role.".to_owned() /></div> }.into_any();
    }
    view! {
        <div class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm">
                <caption class="sr-only">"Members"</caption>
                <thead class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Name"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Type"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Role"</th>
                        <th scope="col" class="px-4 py-2 font-medium"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {members.into_iter().map(|member| view! { <MemberRow project=project.clone() member may_manage version /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn MemberRow(project: String, member: MemberItem, may_manage: bool, version: RwSignal<u32>) -> AnyView {
    let toasts = use_toasts();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let confirming = RwSignal::new(false);
    Effect::new(move |_| match change.value().get() {
        Some(Ok(())) => toasts.success("Role changed."),
        Some(Err(error)) => {
            toasts.error(error.to_string());
            version.update(|v| *v += 1);
        }
        None => {}
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => {
            confirming.set(false);
            toasts.success("Member removed.");
            version.update(|v| *v += 1);
        }
        Some(Err(error)) => {
            confirming.set(false);
            toasts.error(error.to_string());
        }
        None => {}
    });
    let id = member.id;
    let role = if may_manage {
        let project = project.clone();
        view! {
            <select
                class=INPUT
                aria-label=format!("Role of {}", member.name)
                on:change=move |ev| {
                    change.dispatch(ChangeMemberRole { project: project.clone(), id, role: event_target_value(&ev) });
                }
            >
                {ROLES.iter().map(|(value, text)| view! { <option value=*value selected=*value == member.role.as_str()>{*text}</option> }).collect_view()}
            </select>
        }
        .into_any()
    } else {
        view! { <span>{role_label(&member.role)}</span> }.into_any()
    };
    let removal = may_manage.then(|| {
        let project = project.clone();
        view! {
            <button type="button" class="text-xs font-medium text-red-700 hover:underline dark:text-red-300" on:click=move |_| confirming.set(true)>
                "Remove"
            </button>
            <ConfirmDialog
                open=confirming
                title=format!("Remove {} from {project}?", member.name)
                message="They lose the access this membership gave at once.".to_owned()
                confirm_label="Remove"
                pending=remove.pending()
                on_confirm=move |_| {
                    remove.dispatch(RemoveMember { project: project.clone(), id });
                }
            />
        }
    });
    view! {
        <tr data-testid="member-row">
            <td class="break-all px-4 py-2 font-medium">{member.name.clone()}</td>
            <td class="px-4 py-2">{if member.is_group { "Group" } else { "User" }}</td>
            <td class="px-4 py-2">{role}</td>
            <td class="px-4 py-2">{removal}</td>
        </tr>
    }
    .into_any()
}

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
                    Ok(listing) => view! { <LogTable project=name.get_untracked() listing operation=param("operation") /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LogTable(project: String, listing: Listing<LogItem>, operation: Option<String>) -> AnyView {
    if listing.items.is_empty() {
        return view! { <div class="mt-6"><EmptyState title="No entries".to_owned() hint="Pushes, pulls and changes to this project appear here.".to_owned() /></div> }.into_any();
    }
    let shown = listing.items.len();
    let href = move |direction: &str, cursor: &str| {
        let operation = operation.as_deref().map(|o| format!("operation={o}&")).unwrap_or_default();
        format!("/projects/{project}/logs?{operation}{direction}={}", Url::escape(cursor))
    };
    view! {
        <div class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm">
                <caption class="sr-only">"Audit log"</caption>
                <thead class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"When"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Who"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Operation"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Resource"</th>
                        <th scope="col" class="hidden px-4 py-2 font-medium md:table-cell">"From"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
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
                </tbody>
            </table>
        </div>
        <Pager total=listing.total shown previous=listing.previous next=listing.next href />
    }
    .into_any()
}

//! One repository: its description (markdown, rendered safely by the
//! server) and its artifacts a page at a time (filter by tag, newest or
//! oldest first) with their tags, type, size, platforms, push and last
//! pull time; pull commands to copy; editing the description, adding and
//! removing tags and deleting artifacts for those allowed, each confirmed
//! or validated and reported with a toast.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form},
    hooks::{use_params_map, use_query_map},
};

use super::{
    components::{
        Breadcrumbs, CARD, ConfirmDialog, CopyButton, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result,
        timestamp, use_toasts,
    },
    format,
    layout::ErrorBanner,
    listing::{Column, EmptyState, ListTable, Pager, page_links},
};
use crate::api::artifacts::{
    AddTag, ArtifactItem, DeleteArtifact, RemoveTag, RepositoryView, SetRepositoryDescription, get_repository,
};

/// Where `/projects/<project>/repositories/<name…>[/artifacts/<digest>]`
/// points: a repository name and, for the artifact page, a digest.
fn route_target(project: &str, first: &str, rest: &str) -> (String, Option<String>) {
    let mut parts: Vec<&str> = std::iter::once(first).chain(rest.split('/')).filter(|p| !p.is_empty()).collect();
    let digest = match parts.as_slice() {
        [.., "artifacts", digest] if digest.contains(':') => Some((*digest).to_owned()),
        _ => None,
    };
    if digest.is_some() {
        parts.truncate(parts.len() - 2);
    }
    (format!("{project}/{}", parts.join("/")), digest)
}

/// The repository page, or one of its artifacts.
#[component]
pub fn RepositoryRoute() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        let params = params.read();
        let get = |key: &str| params.get(key).unwrap_or_default();
        route_target(&get("project"), &get("repository"), &get("rest"))
    });
    move || match target.get() {
        (name, Some(digest)) => view! { <super::artifact::ArtifactPage name digest /> }.into_any(),
        (name, None) => view! { <RepositoryPage name /> }.into_any(),
    }
}

#[component]
fn RepositoryPage(name: String) -> impl IntoView {
    let query = use_query_map();
    let name = Memo::new(move |_| name.clone());
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let repository = Resource::new(
        move || (name.get(), param("tag"), param("sort"), param("after"), param("before")),
        |(name, tag, sort, after, before)| get_repository(name, tag, sort, after, before),
    );
    // Actions anywhere on the page refresh the list when they succeed.
    let changed = RwSignal::new(0u32);
    Effect::new(move |previous: Option<u32>| {
        let now = changed.get();
        if previous.is_some_and(|previous| previous != now) {
            repository.refetch();
        }
        now
    });
    provide_context(Changed(changed));
    view! {
        <Title text=move || name.get() />
        {move || {
            let name = name.get();
            let project = name.split('/').next().unwrap_or_default().to_owned();
            view! {
                <Breadcrumbs crumbs=vec![
                    ("Projects".to_owned(), Some("/projects".to_owned())),
                    (project.clone(), Some(format!("/projects/{project}"))),
                    ("Repositories".to_owned(), Some(format!("/projects/{project}/repositories"))),
                    (name.clone(), None),
                ] />
                <h1 class="break-all text-2xl font-semibold tracking-tight">{name}</h1>
            }
        }}
        <Form method="GET" action="" attr:class="mt-4 flex flex-wrap items-end gap-2" attr:role="search">
            <div>
                <label for="tag-filter" class="block text-sm font-medium">"Filter by tag"</label>
                <input id="tag-filter" type="search" name="tag" placeholder="Tag contains…" class=INPUT prop:value=move || param("tag").unwrap_or_default() />
            </div>
            <div>
                <label for="artifact-sort" class="block text-sm font-medium">"Order"</label>
                <select id="artifact-sort" name="sort" class=INPUT>
                    <option value="newest" selected=move || param("sort").as_deref() != Some("oldest")>"Newest first"</option>
                    <option value="oldest" selected=move || param("sort").as_deref() == Some("oldest")>"Oldest first"</option>
                </select>
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Apply"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match repository.await {
                    Ok(view) => view! {
                        <DescriptionPanel
                            repository=view.name.clone()
                            markdown=view.description.clone()
                            html=view.description_html.clone()
                            editable=view.permissions.edit_description
                        />
                        <ArtifactTable view tag=param("tag") sort=param("sort") />
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A repository's description rendered (`html`), and for those allowed,
/// an editor for it as written (`markdown`).
#[component]
fn DescriptionPanel(repository: String, markdown: String, html: String, editable: bool) -> AnyView {
    let Changed(changed) = expect_context::<Changed>();
    let toasts = use_toasts();
    let save = ServerAction::<SetRepositoryDescription>::new();
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            editing.set(false);
            toasts.success("Description saved.");
            changed.update(|n| *n += 1);
        }
    });
    let empty = markdown.is_empty();
    if empty && !editable {
        return ().into_any();
    }
    let shown = StoredValue::new(html);
    let (repository, markdown) = (StoredValue::new(repository), StoredValue::new(markdown));
    view! {
        <section class=format!("{CARD} mt-4") aria-labelledby="description-title">
            <div class="flex items-center justify-between gap-3">
                <h2 id="description-title" class="font-medium">"About"</h2>
                {editable.then(|| view! {
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.update(|e| *e = !*e)>
                        {move || if editing.get() { "Cancel" } else { "Edit description" }}
                    </button>
                })}
            </div>
            <Show
                when=move || editing.get()
                fallback=move || {
                    if empty {
                        view! { <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">"No description yet: say what this repository holds and how to use it (markdown)."</p> }.into_any()
                    } else {
                        view! { <div class="markdown mt-2" data-testid="description" inner_html=shown.get_value()></div> }.into_any()
                    }
                }
            >
                <ActionForm action=save attr:class="mt-2 space-y-2">
                    <input type="hidden" name="repository" value=repository.get_value() />
                    <label for="description-editor" class="block text-sm font-medium">"Description (markdown)"</label>
                    <textarea id="description-editor" name="description" rows="8" class=format!("{INPUT} font-mono")>
                        {markdown.get_value()}
                    </textarea>
                    {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save description" }}
                    </button>
                </ActionForm>
            </Show>
        </section>
    }
    .into_any()
}

/// Bumped after a change so the page's list is read again.
#[derive(Clone, Copy)]
struct Changed(RwSignal<u32>);

#[component]
fn ArtifactTable(view: RepositoryView, tag: Option<String>, sort: Option<String>) -> AnyView {
    let RepositoryView { name, project, registry_host, permissions, artifacts, .. } = view;
    if artifacts.items.is_empty() {
        let (title, hint) = match &tag {
            Some(tag) => (format!("No artifact has a tag containing “{tag}”"), "Try another tag.".to_owned()),
            None => {
                ("This repository is empty".to_owned(), format!("Push to {registry_host}/{name}:<tag> to fill it."))
            }
        };
        return view! { <div class="mt-6"><EmptyState title hint /></div> }.into_any();
    }
    let shown = artifacts.items.len();
    let base = format!("/projects/{project}/repositories/{}", name.split_once('/').map_or("", |(_, rest)| rest));
    let href = page_links(base, vec![("tag", tag), ("sort", sort)]);
    let context = RowContext { repository: name.clone(), registry_host: registry_host.clone(), permissions };
    view! {
        <ListTable caption="Artifacts" columns=ARTIFACT_COLUMNS top_aligned=true>
            {artifacts.items.into_iter().map(|artifact| view! { <ArtifactRow artifact context=context.clone() /> }).collect_view()}
        </ListTable>
        <Pager total=artifacts.total shown previous=artifacts.previous next=artifacts.next href />
    }
    .into_any()
}

const ARTIFACT_COLUMNS: &[Column] = &[
    Column::Always("Artifact"),
    Column::Always("Tags"),
    Column::Always("Type"),
    Column::Always("Size"),
    Column::FromLarge("Pushed / last pull"),
    Column::Actions,
];

#[derive(Clone)]
struct RowContext {
    repository: String,
    registry_host: String,
    permissions: crate::api::artifacts::RepositoryPermissions,
}

/// One artifact: its digest and pull command, its tags (removable and
/// addable for those who manage tags), type, size, push and pull times, and
/// deleting it for those allowed.
#[component]
fn ArtifactRow(artifact: ArtifactItem, context: RowContext) -> AnyView {
    let RowContext { repository, registry_host, permissions } = context;
    let short = format::short_digest(&artifact.digest);
    let pull_by_digest = format!("podman pull {registry_host}/{repository}@{}", artifact.digest);
    let target = ArtifactRef { repository: repository.clone(), digest: artifact.digest.clone() };
    let tags = view! {
        <TagList target=target.clone() tags=artifact.tags.clone() immutable=artifact.immutable_tags.clone() registry_host removable=permissions.manage_tags />
    };
    let add_form = permissions.manage_tags.then(|| view! { <AddTagForm target=target.clone() /> });
    let delete_button =
        permissions.delete_artifacts.then(|| view! { <DeleteArtifactButton target short=short.clone() /> });
    view! {
        <tr data-testid="artifact-row">
            <td class="px-4 py-2">
                <div class="flex items-center gap-2">
                    <A href=format!("/projects/{}/artifacts/{}", repository.replacen('/', "/repositories/", 1), artifact.digest) attr:class="font-mono text-xs text-sky-700 hover:underline dark:text-sky-300" attr:title=artifact.digest.clone()>
                        {short.clone()}
                    </A>
                    <CopyButton text=artifact.digest.clone() label="Copy digest" compact=true />
                </div>
                <div class="mt-1"><CopyButton text=pull_by_digest label="Copy pull command" compact=true /></div>
            </td>
            <td class="px-4 py-2">
                {tags}
                {add_form}
            </td>
            <td class="px-4 py-2">
                <span data-testid="artifact-kind">{artifact.kind.clone()}</span>
                {(!artifact.platforms.is_empty()).then(|| view! {
                    <div class="mt-1 text-xs text-slate-500 dark:text-slate-400" data-testid="platforms">{artifact.platforms.join(", ")}</div>
                })}
            </td>
            <td class="px-4 py-2 whitespace-nowrap" data-testid="artifact-size">{format::bytes(artifact.size.max(0) as u64)}</td>
            <td class="hidden whitespace-nowrap px-4 py-2 text-slate-500 lg:table-cell dark:text-slate-400">
                <div>{timestamp(artifact.pushed_at)}</div>
                <div class="text-xs" data-testid="pulled-at">
                    {artifact.pulled_at.map_or_else(|| "Never pulled".to_owned(), |at| format!("Pulled {}", timestamp(at)))}
                </div>
            </td>
            <td class="px-4 py-2">{delete_button}</td>
        </tr>
    }
    .into_any()
}

/// The artifact a row's actions act on.
#[derive(Clone)]
struct ArtifactRef {
    repository: String,
    digest: String,
}

/// An artifact's tags, each with its pull command and, when `removable`, a
/// button that removes it.
#[component]
fn TagList(
    target: ArtifactRef,
    tags: Vec<String>,
    immutable: Vec<String>,
    registry_host: String,
    removable: bool,
) -> AnyView {
    let Changed(changed) = expect_context::<Changed>();
    let toasts = use_toasts();
    let remove = ServerAction::<RemoveTag>::new();
    on_result(remove, None, move |()| {
        toasts.success("Tag removed.");
        changed.update(|n| *n += 1);
    });
    let ArtifactRef { repository, digest } = target;
    let tags = tags
        .into_iter()
        .map(|tag| {
            let pull = format!("podman pull {registry_host}/{repository}:{tag}");
            let protected = immutable.contains(&tag);
            // A protected tag cannot be removed: no button that could only fail.
            let lock = protected.then(|| view! {
                <span class="rounded bg-amber-100 px-1 text-[10px] font-medium uppercase text-amber-800 dark:bg-amber-900 dark:text-amber-200" title="An immutability rule of the project protects this tag" data-testid="immutable-tag">
                    "immutable"
                </span>
            });
            let removal = (removable && !protected).then(|| {
                let (repository, digest, tag) = (repository.clone(), digest.clone(), tag.clone());
                view! {
                    <button
                        type="button"
                        class="rounded px-1 text-slate-500 hover:bg-slate-200 hover:text-red-700 dark:hover:bg-slate-700"
                        aria-label=format!("Remove tag {tag}")
                        disabled=move || remove.pending().get()
                        on:click=move |_| {
                            remove.dispatch(RemoveTag { repository: repository.clone(), digest: digest.clone(), tag: tag.clone() });
                        }
                    >
                        "×"
                    </button>
                }
            });
            view! {
                <li class="flex items-center gap-1 rounded-full bg-slate-100 py-0.5 pl-2 pr-1 text-xs dark:bg-slate-800" data-testid="tag">
                    <span class="font-mono">{tag}</span>
                    {lock}
                    <CopyButton text=pull label="Pull" compact=true />
                    {removal}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="flex flex-wrap gap-1">{tags}</ul> }.into_any()
}

/// "Add tag", opening a one-field form; a refused tag shows its error in place.
#[component]
fn AddTagForm(target: ArtifactRef) -> AnyView {
    let Changed(changed) = expect_context::<Changed>();
    let toasts = use_toasts();
    let add = ServerAction::<AddTag>::new();
    let adding = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            adding.set(false);
            toasts.success("Tag added.");
            changed.update(|n| *n += 1);
        }
    });
    let (repository, digest) = (StoredValue::new(target.repository), StoredValue::new(target.digest));
    view! {
        <Show
            when=move || adding.get()
            fallback=move || view! { <button type="button" class="mt-1 text-xs text-sky-700 hover:underline dark:text-sky-300" on:click=move |_| adding.set(true)>"Add tag"</button> }
        >
            <ActionForm action=add attr:class="mt-1 flex items-center gap-1">
                <input type="hidden" name="repository" value=repository.get_value() />
                <input type="hidden" name="digest" value=digest.get_value() />
                <label class="sr-only" for=format!("new-tag-{}", digest.get_value())>"New tag"</label>
                <input id=format!("new-tag-{}", digest.get_value()) name="tag" required pattern="[A-Za-z0-9_][A-Za-z0-9._\\-]{0,127}" placeholder="new tag" class="w-28 rounded border border-slate-300 px-2 py-0.5 text-xs dark:border-slate-700 dark:bg-slate-900" />
                <button type="submit" class="rounded bg-sky-600 px-2 py-0.5 text-xs font-medium text-white disabled:opacity-60" disabled=move || add.pending().get()>
                    {move || if add.pending().get() { "Adding…" } else { "Add" }}
                </button>
                <button type="button" class="text-xs text-slate-500 hover:underline" on:click=move |_| adding.set(false)>"Cancel"</button>
            </ActionForm>
            {move || add.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
        </Show>
    }
    .into_any()
}

/// "Delete", confirmed in a dialog.
#[component]
fn DeleteArtifactButton(target: ArtifactRef, short: String) -> AnyView {
    let Changed(changed) = expect_context::<Changed>();
    let toasts = use_toasts();
    let delete = ServerAction::<DeleteArtifact>::new();
    let confirming = RwSignal::new(false);
    on_result(delete, Some(confirming), {
        let short = short.clone();
        move |()| {
            toasts.success(format!("Artifact {short} deleted."));
            changed.update(|n| *n += 1);
        }
    });
    let ArtifactRef { repository, digest } = target;
    view! {
        <button type="button" class="text-xs font-medium text-red-700 hover:underline dark:text-red-300" on:click=move |_| confirming.set(true)>
            "Delete"
        </button>
        <ConfirmDialog
            open=confirming
            title=format!("Delete artifact {short}?")
            message="The artifact and all its tags are removed; clients can no longer pull it.".to_owned()
            confirm_label="Delete"
            pending=delete.pending()
            on_confirm=move |_| {
                delete.dispatch(DeleteArtifact { repository: repository.clone(), digest: digest.clone() });
            }
        />
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_name_a_repository_and_maybe_an_artifact() {
        use super::route_target;
        assert_eq!(route_target("team", "app", ""), ("team/app".to_owned(), None));
        assert_eq!(route_target("team", "nested", "tool/x"), ("team/nested/tool/x".to_owned(), None));
        assert_eq!(
            route_target("team", "nested", "tool/artifacts/sha256:ab"),
            ("team/nested/tool".to_owned(), Some("sha256:ab".to_owned()))
        );
        assert_eq!(route_target("team", "artifacts", ""), ("team/artifacts".to_owned(), None));
    }
}

//! Registries: the remote registries replication copies to and from. A
//! paged list; a form to add one or change one (its secret is write-only:
//! left empty, the stored one stays) with "Test connection"; delete,
//! refused while a policy uses the registry.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::replication::{DeleteRegistry, Listing, RegistryItem, SaveRegistry, TestRegistry, list_registries},
    ui::{
        admin::{PageLinks, page_param},
        components::{
            Breadcrumbs, CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, use_toasts,
        },
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";
const KINDS: [(&str, &str); 2] =
    [("harbor", "Berth or Harbor"), ("docker-registry", "Docker Registry (distribution) or another OCI registry")];

#[component]
pub fn RegistriesPage() -> impl IntoView {
    let page = page_param();
    let version = RwSignal::new(0u32);
    let registries = Resource::new(move || (page.get(), version.get()), |(page, _)| list_registries(page));
    // The registry being edited; `Some(None)` for a new one.
    let editing = RwSignal::new(None::<Option<RegistryItem>>);
    view! {
        <Title text="Registries" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Registries".to_owned(), None)] />
        <div class="mt-2 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Registries"</h1>
            <button type="button" class=PRIMARY_BUTTON on:click=move |_| editing.set(Some(None))>"New registry"</button>
        </div>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Remote registries that replication policies push to and pull from."
        </p>
        {move || editing.get().map(|registry| view! { <RegistryForm registry editing version /> })}
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match registries.await {
                    Ok(registries) => view! { <RegistryTable registries page=page.get_untracked() editing version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const COLUMNS: &[Column] = &[
    Column::Always("Name"),
    Column::Always("Status"),
    Column::FromMedium("Type"),
    Column::FromMedium("URL"),
    Column::FromLarge("Credential"),
    Column::Actions,
];

#[component]
fn RegistryTable(
    registries: Listing<RegistryItem>,
    page: u32,
    editing: RwSignal<Option<Option<RegistryItem>>>,
    version: RwSignal<u32>,
) -> AnyView {
    if registries.items.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="No registries yet".to_owned() hint="Add the registry to replicate with.".to_owned() />
            </div>
        }
        .into_any();
    }
    let shown = registries.items.len();
    let rows =
        registries.items.into_iter().map(|registry| view! { <RegistryRow registry editing version /> }).collect_view();
    view! {
        <ListTable caption="Registries" columns=COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/registries" page shown total=registries.total />
    }
    .into_any()
}

#[component]
fn RegistryRow(
    registry: RegistryItem,
    editing: RwSignal<Option<Option<RegistryItem>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let confirm = RwSignal::new(false);
    let delete = ServerAction::<DeleteRegistry>::new();
    let name = registry.name.clone();
    on_result(delete, Some(confirm), move |()| {
        toasts.success("Registry deleted.");
        version.update(|v| *v += 1);
    });
    let id = registry.id;
    let kind = match registry.kind.as_str() {
        "harbor" => "Berth or Harbor".to_owned(),
        "docker-registry" => "Docker Registry".to_owned(),
        other => other.to_owned(),
    };
    let credential = match (&registry.access_key, registry.has_secret) {
        (Some(key), true) => format!("{key} (secret set)"),
        (Some(key), false) => key.clone(),
        (None, _) => "Anonymous".to_owned(),
    };
    let healthy = registry.status == "healthy";
    let edited = registry.clone();
    view! {
        <tr data-testid="registry-row">
            <td class="px-4 py-2 font-medium">{registry.name.clone()}</td>
            <td class="px-4 py-2">
                <span class=if healthy { "text-emerald-700 dark:text-emerald-300" } else { "text-red-700 dark:text-red-300" }>
                    {if healthy { "Healthy" } else { "Unhealthy" }}
                </span>
            </td>
            <td class="hidden px-4 py-2 md:table-cell">{kind}</td>
            <td class="hidden px-4 py-2 font-mono text-xs md:table-cell">{registry.url.clone()}</td>
            <td class="hidden px-4 py-2 lg:table-cell">{credential}</td>
            <td class="px-4 py-2 text-right whitespace-nowrap">
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(Some(Some(edited.clone())))>"Edit"</button>
                " "
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirm.set(true)>"Delete"</button>
                <ConfirmDialog
                    open=confirm
                    title=format!("Delete {name}?")
                    message="Policies that use it must be deleted first.".to_owned()
                    confirm_label="Delete"
                    pending=delete.pending()
                    on_confirm=move |()| { delete.dispatch(DeleteRegistry { id }); }
                />
            </td>
        </tr>
    }
}

/// Adds a registry (`registry` empty) or changes one.
#[component]
fn RegistryForm(
    registry: Option<RegistryItem>,
    editing: RwSignal<Option<Option<RegistryItem>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SaveRegistry>::new();
    let test = ServerAction::<TestRegistry>::new();
    let id = registry.as_ref().map(|r| r.id);
    let kind = RwSignal::new(registry.as_ref().map_or("harbor".to_owned(), |r| r.kind.clone()));
    let url = RwSignal::new(registry.as_ref().map(|r| r.url.clone()).unwrap_or_default());
    let access_key = RwSignal::new(registry.as_ref().and_then(|r| r.access_key.clone()).unwrap_or_default());
    let access_secret = RwSignal::new(String::new());
    let insecure = RwSignal::new(registry.as_ref().is_some_and(|r| r.insecure));
    let has_secret = registry.as_ref().is_some_and(|r| r.has_secret);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            toasts.success("Registry saved.");
            editing.set(None);
            version.update(|v| *v += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = test.value().get() {
            toasts.success("The registry answered.");
        }
    });
    let run_test = move |_| {
        test.dispatch(TestRegistry {
            id,
            kind: kind.get_untracked(),
            url: url.get_untracked(),
            access_key: Some(access_key.get_untracked()),
            access_secret: Some(access_secret.get_untracked()),
            insecure: insecure.get_untracked().then(|| "on".to_owned()),
        });
    };
    let title = if registry.is_some() { "Edit registry" } else { "New registry" };
    view! {
        <section class="mt-6" aria-labelledby="registry-form-title">
            <h2 id="registry-form-title" class="text-lg font-semibold">{title}</h2>
            <ActionForm action=save attr:class=format!("{CARD} mt-2 grid max-w-3xl gap-4 sm:grid-cols-2")>
                {id.map(|id| view! { <input type="hidden" name="id" value=id.to_string() /> })}
                <div>
                    <label for="registry-name" class="block text-sm font-medium">"Name"</label>
                    <input id="registry-name" name="name" required maxlength="128" class=INPUT value=registry.as_ref().map(|r| r.name.clone()).unwrap_or_default() />
                </div>
                <div>
                    <label for="registry-kind" class="block text-sm font-medium">"Type"</label>
                    <select id="registry-kind" name="kind" class=INPUT disabled=id.is_some() bind:value=kind>
                        // `selected` as well: the select's value is set before its options exist.
                        {KINDS
                            .into_iter()
                            .map(|(value, label)| view! { <option value=value selected=kind.get_untracked() == value>{label}</option> })
                            .collect_view()}
                    </select>
                    {id.map(|_| view! { <input type="hidden" name="kind" value=move || kind.get() /> })}
                </div>
                <div class="sm:col-span-2">
                    <label for="registry-url" class="block text-sm font-medium">"URL"</label>
                    <input id="registry-url" name="url" type="url" required maxlength="512" placeholder="https://registry.example.com" class=INPUT bind:value=url />
                </div>
                <div>
                    <label for="registry-access-key" class="block text-sm font-medium">"Access ID"</label>
                    <input id="registry-access-key" name="access_key" autocomplete="off" class=INPUT bind:value=access_key />
                    <p class=HINT>"A username or robot account; empty for anonymous access."</p>
                </div>
                <div>
                    <label for="registry-access-secret" class="block text-sm font-medium">"Access secret"</label>
                    <input id="registry-access-secret" name="access_secret" type="password" autocomplete="new-password" class=INPUT bind:value=access_secret />
                    <p class=HINT>{if has_secret { "Set. Leave empty to keep it." } else { "A password or robot secret." }}</p>
                </div>
                <div class="sm:col-span-2">
                    <label for="registry-description" class="block text-sm font-medium">"Description"</label>
                    <input id="registry-description" name="description" maxlength="1024" class=INPUT value=registry.as_ref().map(|r| r.description.clone()).unwrap_or_default() />
                </div>
                <div class="flex items-start gap-2 sm:col-span-2">
                    <input id="registry-insecure" name="insecure" type="checkbox" class="mt-1" bind:checked=insecure />
                    <label for="registry-insecure" class="text-sm">
                        <span class="font-medium">"Skip TLS verification"</span>
                        <span class=format!("block {HINT}")>"For a registry with a self-signed certificate."</span>
                    </label>
                </div>
                <div class="sm:col-span-2">
                    {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                    {move || test.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
                <div class="flex flex-wrap gap-2 sm:col-span-2">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save"</button>
                    <button type="button" class=SECONDARY_BUTTON disabled=move || test.pending().get() on:click=run_test>
                        {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                    </button>
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(None)>"Cancel"</button>
                </div>
            </ActionForm>
        </section>
    }
}

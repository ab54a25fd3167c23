//! Quotas: every project's storage against its limit, a page at a time,
//! with the limit editable in place (one project at a time).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{PageLinks, page_param};
use crate::{
    api::{
        numbered::Listing,
        quotas::{QuotaItem, SetQuota, list_quotas},
    },
    ui::{
        components::{Breadcrumbs, FormError, PRIMARY_BUTTON, SECONDARY_BUTTON, StorageBar, use_toasts},
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
        projects::QuotaFields,
    },
};

#[component]
pub fn QuotasPage() -> impl IntoView {
    let page = page_param();
    let version = RwSignal::new(0u32);
    let quotas = Resource::new(move || (page.get(), version.get()), |(page, _)| list_quotas(page));
    // The project whose limit is being changed.
    let editing = RwSignal::new(None::<String>);
    view! {
        <Title text="Quotas" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Quotas".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Quotas"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Storage each project holds (a layer shared by its repositories counts once) against its limit. Pushes that would go over a limit are refused; deleting and garbage collection give room back."
        </p>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match quotas.await {
                    Ok(quotas) => view! { <QuotaTable quotas page=page.get_untracked() editing version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const COLUMNS: &[Column] = &[Column::Always("Project"), Column::Always("Storage"), Column::Actions];

#[component]
fn QuotaTable(
    quotas: Listing<QuotaItem>,
    page: u32,
    editing: RwSignal<Option<String>>,
    version: RwSignal<u32>,
) -> AnyView {
    if quotas.items.is_empty() {
        return view! {
            <div class="mt-6"><EmptyState title="No projects yet".to_owned() hint="Each project's quota appears here.".to_owned() /></div>
        }
        .into_any();
    }
    let shown = quotas.items.len();
    let rows = quotas.items.into_iter().map(|quota| view! { <QuotaRow quota editing version /> }).collect_view();
    view! {
        <ListTable caption="Quotas" columns=COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/quotas" page shown total=quotas.total />
    }
    .into_any()
}

#[component]
fn QuotaRow(quota: QuotaItem, editing: RwSignal<Option<String>>, version: RwSignal<u32>) -> impl IntoView {
    let project = StoredValue::new(quota.project.clone());
    let is_editing = move || editing.get().as_deref() == Some(project.get_value().as_str());
    let limit = quota.limit;
    view! {
        <tr data-testid="quota-row">
            <td class="px-4 py-2 font-medium">
                <A href=format!("/projects/{}", quota.project) attr:class="text-sky-700 hover:underline dark:text-sky-300">{quota.project.clone()}</A>
            </td>
            <td class="px-4 py-2 min-w-48"><StorageBar used=quota.used quota=quota.limit /></td>
            <td class="px-4 py-2 text-right whitespace-nowrap">
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(Some(project.get_value()))>"Edit"</button>
            </td>
        </tr>
        <Show when=is_editing>
            <tr>
                <td colspan="3" class="px-4 py-2">
                    <QuotaForm project=project.get_value() limit editing version />
                </td>
            </tr>
        </Show>
    }
}

#[component]
fn QuotaForm(
    project: String,
    limit: Option<i64>,
    editing: RwSignal<Option<String>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SetQuota>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.success("Quota saved.");
            editing.set(None);
            version.update(|v| *v += 1);
        }
    });
    let label = format!("Quota of {project}");
    view! {
        <ActionForm action=save attr:class="flex flex-wrap items-end gap-3" attr:aria-label=label>
            <input type="hidden" name="project" value=project />
            <QuotaFields current=limit />
            <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save"</button>
            <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(None)>"Cancel"</button>
            <div class="w-full">
                {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
        </ActionForm>
    }
}

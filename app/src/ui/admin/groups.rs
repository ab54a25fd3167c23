//! Groups: the LDAP groups (by DN) and OIDC groups (by name) that can be
//! project members. Groups appear when their people sign in; an
//! administrator adds one ahead of that (an LDAP DN must exist in the
//! directory) or deletes one with its memberships (confirmed).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;

use super::{PageLinks, page_param, search_param};
use crate::{
    api::{
        numbered::Listing,
        users::{AddGroup, DeleteGroup, GroupItem, MAX_SEARCH, list_groups},
    },
    ui::{
        components::{
            Breadcrumbs, CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, use_toasts,
        },
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

#[component]
pub fn GroupsPage() -> impl IntoView {
    let page = page_param();
    let search = search_param();
    let version = RwSignal::new(0u32);
    let groups = Resource::new(
        move || (page.get(), search.get(), version.get()),
        |(page, search, _)| list_groups(page, Some(search)),
    );
    view! {
        <Title text="Groups" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Groups".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Groups"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "LDAP and OIDC groups that can be made project members. They appear when their people sign in; add one to grant it a role before that."
        </p>
        <AddGroupForm version />
        <Form method="GET" action="" attr:class="mt-6 flex max-w-md items-end gap-2" attr:role="search">
            <div class="flex-1">
                <label for="group-search" class="block text-sm font-medium">"Search groups"</label>
                <input id="group-search" type="search" name="search" maxlength=MAX_SEARCH.to_string() placeholder="Name contains…" class=INPUT prop:value=move || search.get() />
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Search"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Ok(groups) => view! { <GroupTable groups page=page.get_untracked() search=search.get_untracked() version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AddGroupForm(version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let add = ServerAction::<AddGroup>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            toasts.success("Group added.");
            version.update(|v| *v += 1);
        }
    });
    view! {
        <ActionForm action=add attr:class=format!("{CARD} mt-4 flex flex-wrap items-end gap-3") attr:aria-label="Add a group">
            <div>
                <label for="group-kind" class="block text-sm font-medium">"Type"</label>
                <select id="group-kind" name="kind" class=INPUT>
                    <option value="ldap">"LDAP group (DN)"</option>
                    <option value="oidc">"OIDC group"</option>
                </select>
            </div>
            <div class="min-w-64 flex-1">
                <label for="group-name" class="block text-sm font-medium">"DN or name"</label>
                <input id="group-name" name="name" required maxlength="512" class=INPUT placeholder="cn=devs,ou=groups,dc=example,dc=com" />
            </div>
            <button type="submit" class=PRIMARY_BUTTON disabled=move || add.pending().get()>"Add group"</button>
            <div class="w-full">
                {move || add.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
        </ActionForm>
    }
}

const COLUMNS: &[Column] = &[Column::Always("Name"), Column::Always("Type"), Column::Actions];

#[component]
fn GroupTable(groups: Listing<GroupItem>, page: u32, search: String, version: RwSignal<u32>) -> AnyView {
    if groups.items.is_empty() {
        let title =
            if search.is_empty() { "No groups yet".to_owned() } else { format!("No group contains “{search}”") };
        let hint = "Groups come from LDAP or the OIDC provider as their people sign in.".to_owned();
        return view! { <div class="mt-6"><EmptyState title hint /></div> }.into_any();
    }
    let shown = groups.items.len();
    let rows = groups.items.into_iter().map(|group| view! { <GroupRow group version /> }).collect_view();
    view! {
        <ListTable caption="Groups" columns=COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/groups" page shown total=groups.total search />
    }
    .into_any()
}

#[component]
fn GroupRow(group: GroupItem, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let confirm = RwSignal::new(false);
    let delete = ServerAction::<DeleteGroup>::new();
    on_result(delete, Some(confirm), move |()| {
        toasts.success("Group deleted.");
        version.update(|v| *v += 1);
    });
    let id = group.id;
    let kind = match group.kind.as_str() {
        "ldap" => "LDAP",
        "oidc" => "OIDC",
        _ => "Other",
    };
    view! {
        <tr data-testid="group-row">
            <td class="px-4 py-2 font-mono text-xs break-all">{group.name.clone()}</td>
            <td class="px-4 py-2">{kind}</td>
            <td class="px-4 py-2 text-right whitespace-nowrap">
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirm.set(true)>"Delete"</button>
                <ConfirmDialog
                    open=confirm
                    title=format!("Delete {}?", group.name)
                    message="Its project memberships go with it. If the directory or provider still names it, it comes back at its people's next sign-in, without them.".to_owned()
                    confirm_label="Delete"
                    pending=delete.pending()
                    on_confirm=move |()| { delete.dispatch(DeleteGroup { id }); }
                />
            </td>
        </tr>
    }
}

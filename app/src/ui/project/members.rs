//! A project's Members tab: who holds which role, and (for project
//! admins) adding users or LDAP/OIDC groups, changing roles, removing.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{CurrentProject, project_name, with_project};
use crate::{
    api::{
        members::{AddMember, ChangeMemberRole, MemberItem, ROLES, RemoveMember, list_members, role_label},
        projects::{Listing, ProjectOverview},
    },
    ui::{
        components::{CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, on_result, use_toasts},
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable, Pager, page_links},
    },
};
/// The list is read at the tab's top level (not inside the project's own
/// suspense), so the page hydrates the same way it was rendered.
#[component]
pub fn ProjectMembersTab() -> impl IntoView {
    let name = project_name();
    let CurrentProject(project) = expect_context::<CurrentProject>();
    let version = RwSignal::new(0u32);
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let members = Resource::new(
        move || (name.get(), version.get(), param("after"), param("before")),
        |(project, _, after, before)| list_members(project, after, before),
    );
    view! {
        {with_project(move |project| view! { <AddMemberForm project version /> })}
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let may_manage = project.await.is_ok_and(|project| project.permissions.manage_members);
                match members.await {
                    Ok(members) => view! { <MemberTable project=name.get_untracked() members may_manage version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// For project admins: add a user or group with a role.
#[component]
fn AddMemberForm(project: ProjectOverview, version: RwSignal<u32>) -> AnyView {
    if !project.permissions.manage_members {
        return ().into_any();
    }
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
fn MemberTable(project: String, members: Listing<MemberItem>, may_manage: bool, version: RwSignal<u32>) -> AnyView {
    if members.items.is_empty() {
        return view! { <div class="mt-6"><EmptyState title="No members".to_owned() hint="Add a user or a group with a role.".to_owned() /></div> }.into_any();
    }
    let shown = members.items.len();
    let rows = members
        .items
        .into_iter()
        .map(|member| view! { <MemberRow project=project.clone() member may_manage version /> })
        .collect_view();
    view! {
        <ListTable caption="Members" columns=MEMBER_COLUMNS>{rows}</ListTable>
        <Pager total=members.total shown previous=members.previous next=members.next href=page_links(format!("/projects/{project}/members"), vec![]) />
    }
    .into_any()
}

const MEMBER_COLUMNS: &[Column] =
    &[Column::Always("Name"), Column::Always("Type"), Column::Always("Role"), Column::Actions];

#[component]
fn MemberRow(project: String, member: MemberItem, may_manage: bool, version: RwSignal<u32>) -> AnyView {
    let toasts = use_toasts();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let confirming = RwSignal::new(false);
    // A refused change reloads the list, so the menu shows the role kept.
    Effect::new(move |_| match change.value().get() {
        Some(Ok(())) => toasts.success("Role changed."),
        Some(Err(error)) => {
            toasts.error(error.to_string());
            version.update(|v| *v += 1);
        }
        None => {}
    });
    on_result(remove, Some(confirming), move |()| {
        toasts.success("Member removed.");
        version.update(|v| *v += 1);
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

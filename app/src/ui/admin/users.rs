//! Users: every account, searched by username and paged; a form to create
//! a database account; making or unmaking administrators, resetting a
//! password and deleting (confirmed) per row; and the self-registration
//! switch. `admin` and the person looking keep their flag and cannot be
//! deleted here (the core refuses it too).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;

use super::{PageLinks, page_param, search_param};
use crate::{
    api::{
        numbered::Listing,
        users::{
            CreateUser, DeleteUser, MAX_SEARCH, ResetUserPassword, SetSelfRegistration, SetUserAdmin, UserItem,
            list_users, self_registration,
        },
    },
    ui::{
        components::{
            Breadcrumbs, CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp,
            use_toasts,
        },
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

#[component]
pub fn UsersPage() -> impl IntoView {
    let page = page_param();
    let search = search_param();
    let version = RwSignal::new(0u32);
    let users = Resource::new(
        move || (page.get(), search.get(), version.get()),
        |(page, search, _)| list_users(page, Some(search)),
    );
    let creating = RwSignal::new(false);
    view! {
        <Title text="Users" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Users".to_owned(), None)] />
        <div class="mt-2 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Users"</h1>
            <button type="button" class=PRIMARY_BUTTON on:click=move |_| creating.set(true)>"New user"</button>
        </div>
        <SelfRegistration />
        <Show when=move || creating.get()>
            <NewUserForm creating version />
        </Show>
        <Form method="GET" action="" attr:class="mt-6 flex max-w-md items-end gap-2" attr:role="search">
            <div class="flex-1">
                <label for="user-search" class="block text-sm font-medium">"Search users"</label>
                <input id="user-search" type="search" name="search" maxlength=MAX_SEARCH.to_string() placeholder="Username contains…" class=INPUT prop:value=move || search.get() />
            </div>
            <button type="submit" class=SECONDARY_BUTTON>"Search"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <UserTable users page=page.get_untracked() search=search.get_untracked() version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The self-registration switch: applies at once, says when the login mode makes it moot.
#[component]
fn SelfRegistration() -> impl IntoView {
    let toasts = use_toasts();
    let version = RwSignal::new(0u32);
    let current = Resource::new(move || version.get(), |_| self_registration());
    let set = ServerAction::<SetSelfRegistration>::new();
    on_result(set, None, move |()| {
        toasts.success("Self-registration changed.");
        version.update(|v| *v += 1);
    });
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match current.await {
                    Ok((allowed, database_mode)) => view! {
                        <div class=format!("{CARD} mt-4 flex items-start gap-2")>
                            <input
                                id="self-registration"
                                type="checkbox"
                                class="mt-1"
                                prop:checked=allowed
                                disabled=move || set.pending().get()
                                on:change=move |event| { set.dispatch(SetSelfRegistration { allowed: event_target_checked(&event) }); }
                            />
                            <label for="self-registration" class="text-sm">
                                <span class="font-medium">"Allow self-registration"</span>
                                <span class=format!("block {HINT}")>
                                    {if database_mode {
                                        "People may create their own database accounts from the sign-in page (never as administrators)."
                                    } else {
                                        "Applies only while users sign in with database accounts; another login mode is in force."
                                    }}
                                </span>
                            </label>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewUserForm(creating: RwSignal<bool>, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let create = ServerAction::<CreateUser>::new();
    // Errors show in the form, next to what was typed.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            toasts.success("User created.");
            creating.set(false);
            version.update(|v| *v += 1);
        }
    });
    view! {
        <section class="mt-6" aria-labelledby="new-user-title">
            <h2 id="new-user-title" class="text-lg font-semibold">"New user"</h2>
            <ActionForm action=create attr:class=format!("{CARD} mt-2 grid max-w-3xl gap-4 sm:grid-cols-2")>
                <div>
                    <label for="new-user-username" class="block text-sm font-medium">"Username"</label>
                    <input id="new-user-username" name="username" required maxlength="255" autocomplete="off" class=INPUT />
                </div>
                <div>
                    <label for="new-user-email" class="block text-sm font-medium">"Email"</label>
                    <input id="new-user-email" name="email" type="email" maxlength="255" class=INPUT />
                </div>
                <div class="sm:col-span-2">
                    <label for="new-user-full-name" class="block text-sm font-medium">"Full name"</label>
                    <input id="new-user-full-name" name="full_name" maxlength="255" class=INPUT />
                </div>
                <div>
                    <label for="new-user-password" class="block text-sm font-medium">"Password"</label>
                    <input id="new-user-password" name="password" type="password" required autocomplete="new-password" class=INPUT />
                    <p class=HINT>"8 to 128 characters."</p>
                </div>
                <div>
                    <label for="new-user-confirm" class="block text-sm font-medium">"Confirm password"</label>
                    <input id="new-user-confirm" name="confirm_password" type="password" required autocomplete="new-password" class=INPUT />
                </div>
                <div class="flex items-start gap-2 sm:col-span-2">
                    <input id="new-user-admin" name="is_admin" type="checkbox" class="mt-1" />
                    <label for="new-user-admin" class="text-sm font-medium">"System administrator"</label>
                </div>
                <div class="sm:col-span-2">
                    {move || create.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
                <div class="flex gap-2 sm:col-span-2">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>"Create"</button>
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| creating.set(false)>"Cancel"</button>
                </div>
            </ActionForm>
        </section>
    }
}

const COLUMNS: &[Column] = &[
    Column::Always("Username"),
    Column::Always("Administrator"),
    Column::FromMedium("Full name"),
    Column::FromMedium("Email"),
    Column::FromLarge("Created"),
    Column::Actions,
];

#[component]
fn UserTable(users: Listing<UserItem>, page: u32, search: String, version: RwSignal<u32>) -> AnyView {
    if users.items.is_empty() {
        let title =
            if search.is_empty() { "No users".to_owned() } else { format!("No username contains “{search}”") };
        return view! {
            <div class="mt-6">
                <EmptyState title hint="Try another part of the name.".to_owned() />
            </div>
        }
        .into_any();
    }
    let shown = users.items.len();
    let rows = users.items.into_iter().map(|user| view! { <UserRow user version /> }).collect_view();
    view! {
        <ListTable caption="Users" columns=COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/users" page shown total=users.total search />
    }
    .into_any()
}

#[component]
fn UserRow(user: UserItem, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let confirm_delete = RwSignal::new(false);
    let resetting = RwSignal::new(false);
    let delete = ServerAction::<DeleteUser>::new();
    let set_admin = ServerAction::<SetUserAdmin>::new();
    on_result(delete, Some(confirm_delete), move |()| {
        toasts.success("User deleted.");
        version.update(|v| *v += 1);
    });
    on_result(set_admin, None, move |()| {
        toasts.success("Administrator flag changed.");
        version.update(|v| *v += 1);
    });
    let (id, is_admin, protected, me) = (user.id, user.is_admin, user.protected, user.me);
    let username = StoredValue::new(user.username.clone());
    view! {
        <tr data-testid="user-row">
            <td class="px-4 py-2 font-medium">{user.username.clone()}</td>
            <td class="px-4 py-2">{if is_admin { "Yes" } else { "No" }}</td>
            <td class="hidden px-4 py-2 md:table-cell">{user.full_name.clone()}</td>
            <td class="hidden px-4 py-2 md:table-cell">{user.email.clone().unwrap_or_default()}</td>
            <td class="hidden px-4 py-2 lg:table-cell">{timestamp(user.created_at)}</td>
            <td class="px-4 py-2 text-right whitespace-nowrap">
                {(!protected).then(|| view! {
                    <button
                        type="button"
                        class=SECONDARY_BUTTON
                        disabled=move || set_admin.pending().get()
                        on:click=move |_| { set_admin.dispatch(SetUserAdmin { id, is_admin: !is_admin }); }
                    >
                        {if is_admin { "Revoke administrator" } else { "Make administrator" }}
                    </button>
                    " "
                })}
                {(!me).then(|| view! {
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| resetting.update(|r| *r = !*r)>"Reset password"</button>
                })}
                {(!protected).then(|| view! {
                    " "
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirm_delete.set(true)>"Delete"</button>
                    <ConfirmDialog
                        open=confirm_delete
                        title=format!("Delete {}?", username.get_value())
                        message="The account, its project memberships and its sessions go; its audit entries stay.".to_owned()
                        confirm_label="Delete"
                        pending=delete.pending()
                        on_confirm=move |()| { delete.dispatch(DeleteUser { id }); }
                    />
                })}
            </td>
        </tr>
        <Show when=move || resetting.get()>
            <tr>
                <td colspan="6" class="px-4 py-2">
                    <ResetPasswordForm username=username.get_value() resetting />
                </td>
            </tr>
        </Show>
    }
}

#[component]
fn ResetPasswordForm(username: String, resetting: RwSignal<bool>) -> impl IntoView {
    let toasts = use_toasts();
    let reset = ServerAction::<ResetUserPassword>::new();
    let who = username.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = reset.value().get() {
            toasts.success(format!("Password of {who} reset; their sessions ended."));
            resetting.set(false);
        }
    });
    let label = format!("Reset the password of {username}");
    // Ids from the row's position would repeat across pages; the username is unique.
    let (new_id, confirm_id) = (format!("reset-{username}"), format!("reset-confirm-{username}"));
    view! {
        <ActionForm action=reset attr:class="flex flex-wrap items-end gap-3" attr:aria-label=label>
            <input type="hidden" name="username" value=username />
            <div>
                <label for=new_id.clone() class="block text-sm font-medium">"New password"</label>
                <input id=new_id name="password" type="password" required autocomplete="new-password" class=INPUT />
            </div>
            <div>
                <label for=confirm_id.clone() class="block text-sm font-medium">"Confirm"</label>
                <input id=confirm_id name="confirm_password" type="password" required autocomplete="new-password" class=INPUT />
            </div>
            <button type="submit" class=PRIMARY_BUTTON disabled=move || reset.pending().get()>"Set password"</button>
            <button type="button" class=SECONDARY_BUTTON on:click=move |_| resetting.set(false)>"Cancel"</button>
            <div class="w-full">
                {move || reset.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
        </ActionForm>
    }
}

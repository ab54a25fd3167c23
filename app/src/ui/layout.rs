//! The frame around every signed-in page: top bar with the user menu, side
//! navigation and footer. Visitors without a session are sent to the login page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form, Outlet, Redirect},
    hooks::use_location,
    location::Url,
};

use super::components::{ToastRegion, Toasts};
use crate::api::{
    AppError,
    auth::{Logout, SessionUser, signed_in_user},
};

#[component]
pub fn PortalLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| signed_in_user());
    let location = use_location();
    let toasts = Toasts::provide();
    view! {
        <div class="flex min-h-screen flex-col">
            <Suspense fallback=|| view! { <TopBarSkeleton /> }>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => view! { <TopBar user /> }.into_any(),
                        Ok(None) | Err(AppError::Unauthenticated) => {
                            let next = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                            let path = format!("/login?next={}", Url::escape(&next));
                            view! { <Redirect path /> }.into_any()
                        }
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
            <div class="mx-auto flex w-full max-w-7xl flex-1 flex-col gap-6 px-4 py-6 sm:flex-row">
                <SideNav user />
                <main class="min-w-0 flex-1">
                    <Outlet />
                </main>
            </div>
            <Footer />
            <ToastRegion toasts />
        </div>
    }
}

#[component]
fn TopBar(user: SessionUser) -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div class="mx-auto flex h-14 max-w-7xl items-center justify-between gap-4 px-4">
                <Brand />
                <Form method="GET" action="/search" attr:role="search" attr:class="min-w-0 flex-1 sm:max-w-sm">
                    <label for="top-search" class="sr-only">"Search projects and repositories"</label>
                    <input
                        id="top-search"
                        type="search"
                        name="q"
                        placeholder="Search projects and repositories"
                        class="w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500 dark:border-slate-700 dark:bg-slate-900"
                    />
                </Form>
                <UserMenu user />
            </div>
        </header>
    }
}

#[component]
fn TopBarSkeleton() -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div class="mx-auto flex h-14 max-w-7xl items-center px-4">
                <Brand />
            </div>
        </header>
    }
}

#[component]
fn Brand() -> impl IntoView {
    view! {
        <A href="/" attr:class="flex items-center gap-2 text-lg font-semibold tracking-tight">
            <span aria-hidden="true" class="inline-block h-6 w-6 rounded bg-sky-600"></span>
            "Berth"
        </A>
    }
}

/// The username button opens a menu with "Profile" and "Log out". The menu needs the wasm
/// to be running, which makes it the end-to-end tests' proof of hydration.
#[component]
fn UserMenu(user: SessionUser) -> impl IntoView {
    let (open, set_open) = signal(false);
    let logout = ServerAction::<Logout>::new();
    let role = if user.is_admin { "Administrator" } else { "User" };
    view! {
        <div class="relative">
            <button
                type="button"
                data-testid="user-menu"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                class="flex items-center gap-2 rounded-md px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 dark:hover:bg-slate-800"
                on:click=move |_| set_open.update(|open| *open = !*open)
            >
                <span>{user.username.clone()}</span>
                <span class="text-xs text-slate-500 dark:text-slate-400">{role}</span>
            </button>
            <Show when=move || open.get()>
                <div
                    role="menu"
                    class="absolute right-0 z-10 mt-2 w-48 rounded-md border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-900"
                >
                    <A
                        href="/profile"
                        attr:role="menuitem"
                        attr:class="block px-4 py-2 text-sm hover:bg-slate-100 dark:hover:bg-slate-800"
                        on:click=move |_| set_open.set(false)
                    >
                        "Profile and CLI secret"
                    </A>
                    <ActionForm action=logout>
                        <button
                            type="submit"
                            role="menuitem"
                            class="block w-full px-4 py-2 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800"
                        >
                            "Log out"
                        </button>
                    </ActionForm>
                </div>
            </Show>
        </div>
    }
}

/// The main links, and for system administrators the Administration section.
#[component]
fn SideNav(user: Resource<Result<Option<SessionUser>, AppError>>) -> impl IntoView {
    view! {
        <nav aria-label="Main" class="shrink-0 sm:w-48">
            // A row of links on a phone, a column beside the page from `sm` up.
            <ul class="flex gap-1 overflow-x-auto text-sm sm:block sm:space-y-1">
                <NavLink href="/" label="Dashboard" exact=true />
                <NavLink href="/projects" label="Projects" exact=false />
                <NavLink href="/api-reference" label="API reference" exact=false />
            </ul>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(user.await, Ok(Some(SessionUser { is_admin: true, .. })));
                    admin.then(|| view! {
                        <p class="mt-4 hidden px-3 text-xs font-semibold uppercase tracking-wide text-slate-500 sm:block dark:text-slate-400" id="admin-nav">
                            "Administration"
                        </p>
                        <ul class="flex gap-1 text-sm sm:block sm:space-y-1" aria-labelledby="admin-nav">
                            <NavLink href="/admin/users" label="Users" exact=false />
                            <NavLink href="/admin/groups" label="Groups" exact=false />
                            <NavLink href="/admin/robots" label="Robot accounts" exact=false />
                            <NavLink href="/admin/quotas" label="Quotas" exact=false />
                            <NavLink href="/admin/registries" label="Registries" exact=false />
                            <NavLink href="/admin/replications" label="Replications" exact=false />
                            <NavLink href="/admin/cleanup" label="Clean up" exact=false />
                            <NavLink href="/admin/audit-log" label="Audit log" exact=false />
                            <NavLink href="/admin/configuration" label="Configuration" exact=false />
                        </ul>
                    })
                })}
            </Suspense>
        </nav>
    }
}

#[component]
fn NavLink(href: &'static str, label: &'static str, exact: bool) -> impl IntoView {
    view! {
        <li>
            <A
                href
                exact
                attr:class="block whitespace-nowrap rounded-md px-3 py-2 hover:bg-slate-100 aria-[current=page]:bg-sky-50 aria-[current=page]:font-medium aria-[current=page]:text-sky-700 dark:hover:bg-slate-800 dark:aria-[current=page]:bg-slate-800 dark:aria-[current=page]:text-sky-300"
            >
                {label}
            </A>
        </li>
    }
}

#[component]
fn Footer() -> impl IntoView {
    view! {
        <footer class="border-t border-slate-200 py-4 text-center text-xs text-slate-500 dark:border-slate-800 dark:text-slate-400">
            "Berth " <span data-testid="version">{env!("CARGO_PKG_VERSION")}</span> " · OCI artifact registry"
        </footer>
    }
}

#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    view! {
        <div role="alert" class="mx-auto mt-4 max-w-7xl rounded-md border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
            {error.to_string()}
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <main class="mx-auto max-w-xl px-4 py-24 text-center">
            <h1 class="text-2xl font-semibold">"Page not found"</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">"There is nothing at this address."</p>
            <A href="/" attr:class="mt-6 inline-block text-sky-700 underline dark:text-sky-300">"Back to the dashboard"</A>
        </main>
    }
}

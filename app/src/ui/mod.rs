//! The portal's pages. The router lives here; each page is its own module.

mod admin;
mod api_reference;
mod artifact;
mod components;
mod dashboard;
mod format;
mod layout;
mod listing;
mod login;
mod profile;
mod project;
mod projects;
mod repository;
mod robots;
mod search;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use admin::{
    AuditLogPage, CleanupPage, ConfigurationPage, GroupsPage, QuotasPage, RegistriesPage, ReplicationExecutionPage,
    ReplicationsPage, SystemRobotsPage, UsersPage,
};
use api_reference::ApiReferencePage;
use dashboard::DashboardPage;
use layout::{NotFound, PortalLayout};
use login::LoginPage;
use profile::ProfilePage;
use project::{
    ProjectConfigurationTab, ProjectFrame, ProjectLogsTab, ProjectMembersTab, ProjectPolicyTab, ProjectRepositoriesTab,
    ProjectRobotsTab, ProjectSummaryTab,
};
use projects::{NewProjectPage, ProjectsPage};
use repository::RepositoryRoute;
use search::SearchPage;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, once the wasm has taken over the page:
    // the attribute tells people and tests that the portal is interactive.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/berth.css" />
        <Title formatter=|page: String| if page.is_empty() { "Berth".to_owned() } else { format!("{page} · Berth") } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage />
                <ParentRoute path=path!("") view=PortalLayout>
                    <Route path=path!("") view=DashboardPage />
                    <Route path=path!("/profile") view=ProfilePage />
                    <Route path=path!("/api-reference") view=ApiReferencePage />
                    <Route path=path!("/admin/users") view=UsersPage />
                    <Route path=path!("/admin/groups") view=GroupsPage />
                    <Route path=path!("/admin/robots") view=SystemRobotsPage />
                    <Route path=path!("/admin/quotas") view=QuotasPage />
                    <Route path=path!("/admin/audit-log") view=AuditLogPage />
                    <Route path=path!("/admin/configuration") view=ConfigurationPage />
                    <Route path=path!("/admin/cleanup") view=CleanupPage />
                    <Route path=path!("/admin/registries") view=RegistriesPage />
                    <Route path=path!("/admin/replications") view=ReplicationsPage />
                    <Route path=path!("/admin/replications/executions/:id") view=ReplicationExecutionPage />
                    <Route path=path!("/projects") view=ProjectsPage />
                    <Route path=path!("/search") view=SearchPage />
                    <Route path=path!("/new-project") view=NewProjectPage />
                    // A one-part name has no `rest`; the server's router needs both forms.
                    <Route path=path!("/projects/:project/repositories/:repository") view=RepositoryRoute />
                    <Route path=path!("/projects/:project/repositories/:repository/*rest") view=RepositoryRoute />
                    <ParentRoute path=path!("/projects/:project") view=ProjectFrame>
                        <Route path=path!("") view=ProjectSummaryTab />
                        <Route path=path!("/repositories") view=ProjectRepositoriesTab />
                        <Route path=path!("/members") view=ProjectMembersTab />
                        <Route path=path!("/robots") view=ProjectRobotsTab />
                        <Route path=path!("/policy") view=ProjectPolicyTab />
                        <Route path=path!("/logs") view=ProjectLogsTab />
                        <Route path=path!("/configuration") view=ProjectConfigurationTab />
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

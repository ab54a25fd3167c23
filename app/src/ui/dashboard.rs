//! The home page after sign-in: what the registry holds of what the user
//! may see, the latest pushes there, and what the server knows about itself.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{
    components::{CARD, timestamp},
    format,
    layout::ErrorBanner,
    listing::EmptyState,
};
use crate::api::{
    dashboard::{Dashboard, get_dashboard},
    system::{SystemOverview, get_system_overview},
};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| get_dashboard());
    let overview = Resource::new(|| (), |_| get_system_overview());
    view! {
        <Title text="Dashboard" />
        <h1 class="text-2xl font-semibold tracking-tight">"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(dashboard) => view! { <RegistryCards dashboard /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
        <h2 class="mt-10 text-lg font-semibold">"Server"</h2>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <OverviewCards overview /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RegistryCards(dashboard: Dashboard) -> impl IntoView {
    let pushes = if dashboard.recent_pushes.is_empty() {
        view! {
            <EmptyState
                title="No pushes yet".to_owned()
                hint="Create a project, then push to it with docker, podman, skopeo, oras or helm.".to_owned()
            >
                <A href="/projects" attr:class="text-sm text-sky-700 underline dark:text-sky-300">"Go to projects"</A>
            </EmptyState>
        }
        .into_any()
    } else {
        view! {
            <ul class=format!("{CARD} divide-y divide-slate-100 p-0 dark:divide-slate-800") data-testid="recent-pushes">
                {dashboard
                    .recent_pushes
                    .into_iter()
                    .map(|push| {
                        let (project, rest) = push.repository.split_once('/').unwrap_or((&push.repository, ""));
                        let href = format!("/projects/{project}/repositories/{rest}");
                        view! {
                            <li class="flex flex-wrap items-baseline justify-between gap-2 px-4 py-2 text-sm">
                                <span>
                                    <A href=href attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">{push.repository.clone()}</A>
                                    <span class="ml-1 font-mono text-xs">{push.reference}</span>
                                </span>
                                <span class="text-xs text-slate-500 dark:text-slate-400">
                                    {push.pushed_by.map(|by| format!("{by} · ")).unwrap_or_default()}
                                    {timestamp(push.pushed_at)}
                                </span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <dl class="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Card label="Projects" testid="dashboard-projects">{dashboard.projects}</Card>
            <Card label="Repositories" testid="dashboard-repositories">{dashboard.repositories}</Card>
            <Card label="Artifacts" testid="dashboard-artifacts">{dashboard.artifacts}</Card>
            <Card label="Storage used" testid="dashboard-storage">{format::bytes(dashboard.storage_used.max(0) as u64)}</Card>
        </dl>
        <h2 class="mt-8 text-lg font-semibold">"Recent pushes"</h2>
        <div class="mt-3">{pushes}</div>
    }
}

#[component]
fn OverviewCards(overview: SystemOverview) -> impl IntoView {
    view! {
        <dl class="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Card label="Version" testid="overview-version">{overview.version}</Card>
            <Card label="Database" testid="overview-database">{overview.database}</Card>
            <Card label="Storage location" testid="overview-storage">
                <span class="break-all font-mono text-sm">{overview.storage_location}</span>
            </Card>
            <Card label="Disk" testid="overview-disk">
                {match (overview.free_bytes, overview.total_bytes) {
                    (Some(free), Some(total)) => view! { <DiskUsage free total /> }.into_any(),
                    _ => view! { <span class="text-sm font-normal">"Not reported by this storage backend"</span> }.into_any(),
                }}
            </Card>
        </dl>
    }
}

#[component]
fn DiskUsage(free: u64, total: u64) -> impl IntoView {
    let used_percent = if total == 0 { 0.0 } else { 100.0 * (total - free.min(total)) as f64 / total as f64 };
    view! {
        <span>{format!("{} free of {}", format::bytes(free), format::bytes(total))}</span>
        <div
            class="mt-2 h-2 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700"
            role="meter"
            aria-label="Disk used"
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=format!("{used_percent:.0}")
        >
            <div class="h-full bg-sky-600" style=format!("width: {used_percent:.1}%")></div>
        </div>
    }
}

#[component]
fn Card(label: &'static str, testid: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="mt-1 text-lg font-semibold" data-testid=testid>{children()}</dd>
        </div>
    }
}

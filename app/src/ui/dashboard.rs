//! The home page after sign-in: what the server knows about itself.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{format, layout::ErrorBanner};
use crate::api::system::{SystemOverview, get_system_overview};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_system_overview());
    view! {
        <Title text="Dashboard" />
        <h1 class="text-2xl font-semibold tracking-tight">"Dashboard"</h1>
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

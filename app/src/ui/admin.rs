//! The Administration area (system administrators only; the navigation
//! shows it to nobody else and its server functions refuse them). Clean up:
//! audit-log rotation's schedule and parameters, running it now or as a dry
//! run, and its recent runs with their logs, refreshed while one is going.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{
    components::{
        Breadcrumbs, CARD, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp, use_toasts,
    },
    layout::ErrorBanner,
    listing::{Column, EmptyState, ListTable},
};
use crate::api::cleanup::{AuditRotation, RunAuditRotation, RunItem, SetAuditRotation, get_audit_rotation, job_log};

/// How often the page reads the runs again while one is pending or running.
const LIVE_REFRESH: std::time::Duration = std::time::Duration::from_millis(1500);

#[component]
pub fn CleanupPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let rotation = Resource::new(move || version.get(), |_| get_audit_rotation());
    // While a run is going the history is read again until it ends.
    Effect::new(move |_| {
        let active = rotation.get().and_then(Result::ok).is_some_and(|r| r.runs.iter().any(RunItem::is_active));
        if active {
            set_timeout(move || version.update(|v| *v += 1), LIVE_REFRESH);
        }
    });
    view! {
        <Title text="Clean up" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Clean up".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Clean up"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rotation.await {
                    Ok(rotation) => view! { <AuditRotationPanel rotation version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditRotationPanel(rotation: AuditRotation, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SetAuditRotation>::new();
    let run = ServerAction::<RunAuditRotation>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.success("Schedule saved.");
            version.update(|v| *v += 1);
        }
    });
    on_result(run, None, move |id| {
        toasts.success(format!("Run {id} started."));
        version.update(|v| *v += 1);
    });
    let retention = RwSignal::new(rotation.retention_hours.to_string());
    let operations = RwSignal::new(rotation.operations.clone());
    let dispatch_run = move |dry_run: bool| {
        run.dispatch(RunAuditRotation {
            retention_hours: retention.get_untracked(),
            operations: Some(operations.get_untracked()),
            dry_run: dry_run.then(|| "true".to_owned()),
        });
    };
    let next = rotation.next_run_at.map(|at| format!("Next run {}", timestamp(at)));
    view! {
        <section class="mt-6" aria-labelledby="audit-rotation-title">
            <h2 id="audit-rotation-title" class="text-lg font-semibold">"Audit log rotation"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                "Deletes audit log entries older than the retention, of the operations named (all when none are)."
            </p>
            <ActionForm action=save attr:class=format!("{CARD} mt-4 grid max-w-3xl gap-4 sm:grid-cols-2")>
                <div>
                    <label for="rotation-schedule" class="block text-sm font-medium">"Schedule"</label>
                    <select id="rotation-schedule" name="schedule" class=INPUT>
                        {["none", "hourly", "daily", "weekly", "custom"]
                            .into_iter()
                            .map(|choice| view! { <option value=choice selected=choice == rotation.schedule>{choice_label(choice)}</option> })
                            .collect_view()}
                    </select>
                    <p class="mt-1 text-xs text-slate-500 dark:text-slate-400" data-testid="next-run">{next}</p>
                </div>
                <div>
                    <label for="rotation-cron" class="block text-sm font-medium">"Custom cron (UTC)"</label>
                    <input id="rotation-cron" name="cron" value=rotation.cron.clone().unwrap_or_default() placeholder="0 30 2 * * *" class=format!("{INPUT} font-mono") />
                    <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Six fields: seconds minutes hours day month weekday."</p>
                </div>
                <div>
                    <label for="rotation-retention" class="block text-sm font-medium">"Keep entries for (hours)"</label>
                    <input id="rotation-retention" name="retention_hours" type="number" min="0" required class=INPUT bind:value=retention />
                </div>
                <div>
                    <label for="rotation-operations" class="block text-sm font-medium">"Operations"</label>
                    <input id="rotation-operations" name="operations" placeholder="pull,push,delete" class=INPUT bind:value=operations />
                </div>
                <div class="sm:col-span-2">
                    {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                    {move || run.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
                <div class="flex flex-wrap gap-2 sm:col-span-2">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save schedule"</button>
                    <button type="button" class=SECONDARY_BUTTON disabled=move || run.pending().get() on:click=move |_| dispatch_run(false)>"Run now"</button>
                    <button type="button" class=SECONDARY_BUTTON disabled=move || run.pending().get() on:click=move |_| dispatch_run(true)>"Dry run"</button>
                </div>
            </ActionForm>
            <RunHistory runs=rotation.runs total=rotation.total_runs />
        </section>
    }
}

fn choice_label(choice: &str) -> &'static str {
    match choice {
        "hourly" => "Hourly",
        "daily" => "Daily",
        "weekly" => "Weekly",
        "custom" => "Custom",
        _ => "None",
    }
}

const RUN_COLUMNS: &[Column] = &[
    Column::Always("Run"),
    Column::Always("Status"),
    Column::Always("Entries"),
    Column::FromMedium("Started"),
    Column::FromMedium("Took"),
    Column::Actions,
];

#[component]
fn RunHistory(runs: Vec<RunItem>, total: i64) -> AnyView {
    if runs.is_empty() {
        return view! { <div class="mt-6"><EmptyState title="No runs yet".to_owned() hint="Run it now, or save a schedule.".to_owned() /></div> }
            .into_any();
    }
    let shown = runs.len();
    let rows = runs.into_iter().map(|run| view! { <RunRow run /> }).collect_view();
    view! {
        <ListTable caption="Runs" columns=RUN_COLUMNS top_aligned=true>{rows}</ListTable>
        <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">{format!("The latest {shown} of {total} runs.")}</p>
    }
    .into_any()
}

#[component]
fn RunRow(run: RunItem) -> impl IntoView {
    let open = RwSignal::new(false);
    let id = run.id;
    let log = Resource::new(
        move || open.get(),
        move |open| async move { if open { job_log(id).await } else { Ok(Vec::new()) } },
    );
    let status = match run.status.as_str() {
        "success" => "Success",
        "error" => "Error",
        "stopped" => "Stopped",
        "running" => "Running",
        _ => "Pending",
    };
    let entries = match (run.matched, run.dry_run) {
        (Some(n), true) => format!("{n} would go (dry run)"),
        (Some(n), false) => format!("{n} deleted"),
        (None, _) => "—".to_owned(),
    };
    let took = match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => format!("{:.1} s", (end - start).num_milliseconds() as f64 / 1000.0),
        _ => "—".to_owned(),
    };
    let trigger = if run.trigger == "schedule" { "scheduled" } else { "manual" };
    view! {
        <tr data-testid="run-row">
            <td class="px-4 py-2">{format!("#{} ({trigger})", run.id)}</td>
            <td class="px-4 py-2" data-testid="run-status">
                {status}
                {run.error.clone().map(|error| view! { <span class="block text-xs text-red-700 dark:text-red-300">{error}</span> })}
            </td>
            <td class="px-4 py-2" data-testid="run-entries">{entries}</td>
            <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">{run.started_at.map(timestamp).unwrap_or_default()}</td>
            <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">{took}</td>
            <td class="px-4 py-2">
                <button type="button" class="text-xs font-medium text-sky-700 hover:underline dark:text-sky-300" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    {move || if open.get() { "Hide log" } else { "Log" }}
                </button>
                <Show when=move || open.get()>
                    <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match log.await {
                                Ok(lines) => view! {
                                    <pre class="mt-2 max-w-md overflow-x-auto whitespace-pre-wrap rounded bg-slate-100 p-2 text-xs dark:bg-slate-800" data-testid="run-log">{lines.join("\n")}</pre>
                                }.into_any(),
                                Err(error) => view! { <FormError error /> }.into_any(),
                            }
                        })}
                    </Suspense>
                </Show>
            </td>
        </tr>
    }
}

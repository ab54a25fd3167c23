//! One replication execution, followed live while it runs: how many tasks
//! are done, failed, running and waiting, the bytes copied, a "Stop"
//! button, and each task (one artifact) with its log.

use std::collections::HashSet;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{PageLinks, replications::status_text};
use crate::{
    api::replication::{ExecutionDetail, StopExecution, TaskItem, get_execution, task_log},
    ui::{
        components::{Breadcrumbs, CARD, FormError, SECONDARY_BUTTON, on_result, timestamp, use_toasts},
        format::bytes,
        layout::ErrorBanner,
        listing::{Column, ListTable},
    },
};

/// How often the page reads the execution again while it runs.
const LIVE_REFRESH: std::time::Duration = std::time::Duration::from_millis(1500);

#[component]
pub fn ReplicationExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0));
    let page = super::page_param();
    let version = RwSignal::new(0u32);
    let detail = Resource::new(move || (id.get(), page.get(), version.get()), |(id, page, _)| get_execution(id, page));
    // One refresh waiting at a time, however often the page is read again.
    let refresh_waiting = StoredValue::new(false);
    Effect::new(move |_| {
        let active = detail.get().and_then(Result::ok).is_some_and(|detail| detail.execution.is_active());
        if active && !refresh_waiting.get_value() {
            refresh_waiting.set_value(true);
            set_timeout(
                move || {
                    refresh_waiting.set_value(false);
                    version.update(|v| *v += 1);
                },
                LIVE_REFRESH,
            );
        }
    });
    // Which tasks' logs are open: kept by the page, so a refresh keeps them open.
    provide_context(OpenLogs(RwSignal::new(HashSet::new())));
    view! {
        <Title text=move || format!("Execution {}", id.get()) />
        <Breadcrumbs crumbs=vec![
            ("Administration".to_owned(), None),
            ("Replications".to_owned(), Some("/admin/replications".to_owned())),
            (format!("Execution {}", id.get_untracked()), None),
        ] />
        <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <ExecutionView detail page=page.get_untracked() version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ExecutionView(detail: ExecutionDetail, page: u32, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let stop = ServerAction::<StopExecution>::new();
    on_result(stop, None, move |()| {
        toasts.success("Stopping: the task under way ends first.");
        version.update(|v| *v += 1);
    });
    let execution = detail.execution;
    let id = execution.id;
    let active = execution.is_active();
    let done = execution.succeeded + execution.failed + execution.stopped;
    let percent = if execution.total > 0 {
        done * 100 / execution.total
    } else if active {
        0
    } else {
        100
    };
    let policy = detail.policy_name.unwrap_or_else(|| "a deleted policy".to_owned());
    let took = match (execution.started_at, execution.ended_at) {
        (Some(start), Some(end)) => format!("{:.1} s", (end - start).num_milliseconds() as f64 / 1000.0),
        _ => "—".to_owned(),
    };
    let figure = |label: &'static str, value: String, testid: &'static str| {
        view! {
            <div>
                <dt class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
                <dd class="mt-1 text-lg font-semibold" data-testid=testid>{value}</dd>
            </div>
        }
    };
    let shown = detail.tasks.items.len();
    let total_tasks = detail.tasks.total;
    let rows = detail.tasks.items.into_iter().map(|task| view! { <TaskRow execution=id task /> }).collect_view();
    view! {
        <div class="mt-2 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">{format!("Execution {id}")}</h1>
            {active.then(|| view! {
                <button type="button" class=SECONDARY_BUTTON disabled=move || stop.pending().get() on:click=move |_| { stop.dispatch(StopExecution { id }); }>"Stop"</button>
            })}
        </div>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            {format!("Policy {policy}, {} trigger, started {}.", execution.trigger.replace('_', "-"), timestamp(execution.started_at.unwrap_or(execution.created_at)))}
        </p>
        <section class=format!("{CARD} mt-4") aria-label="Progress">
            <div class="flex items-center justify-between text-sm">
                <span data-testid="execution-status">{status_text(&execution.status)}</span>
                <span>{format!("{done} of {} tasks", execution.total)}</span>
            </div>
            <div class="mt-2 h-2 w-full rounded bg-slate-200 dark:bg-slate-800" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent.to_string()>
                <div class="h-2 rounded bg-sky-600" style=format!("width: {percent}%")></div>
            </div>
            <dl class="mt-4 grid grid-cols-2 gap-4 sm:grid-cols-6">
                {figure("Succeeded", execution.succeeded.to_string(), "tasks-succeeded")}
                {figure("Failed", execution.failed.to_string(), "tasks-failed")}
                {figure("Running", execution.running.to_string(), "tasks-running")}
                {figure("Waiting", execution.waiting().to_string(), "tasks-waiting")}
                {figure("Copied", bytes(execution.bytes.max(0) as u64), "bytes-copied")}
                {figure("Took", took, "took")}
            </dl>
            {execution.error.clone().map(|error| view! { <p class="mt-4 text-sm text-red-700 dark:text-red-300" data-testid="execution-error">{error}</p> })}
        </section>
        <ListTable caption="Tasks" columns=TASK_COLUMNS top_aligned=true>{rows}</ListTable>
        <PageLinks base="" page shown total=total_tasks />
    }
}

const TASK_COLUMNS: &[Column] = &[
    Column::Always("Artifact"),
    Column::Always("Status"),
    Column::FromMedium("Destination"),
    Column::FromMedium("Copied"),
    Column::Actions,
];

/// The tasks whose logs are open.
#[derive(Clone, Copy)]
struct OpenLogs(RwSignal<HashSet<i64>>);

#[component]
fn TaskRow(execution: i64, task: TaskItem) -> impl IntoView {
    let OpenLogs(open_logs) = expect_context::<OpenLogs>();
    let id = task.id;
    let open = Memo::new(move |_| open_logs.read().contains(&id));
    let toggle = move |_| {
        open_logs.update(|open| {
            if !open.remove(&id) {
                open.insert(id);
            }
        })
    };
    // Read again with the task: a running task's log grows.
    let status = task.status.clone();
    let log = Resource::new(
        move || (open.get(), status.clone()),
        move |(open, _)| async move { if open { task_log(execution, id).await } else { Ok(String::new()) } },
    );
    let status = match task.status.as_str() {
        "succeeded" => "Succeeded",
        "failed" => "Failed",
        "stopped" => "Stopped",
        "running" => "Running",
        _ => "Waiting",
    };
    let operation = if task.operation == "deletion" { " (deletion)" } else { "" };
    view! {
        <tr data-testid="task-row">
            <td class="px-4 py-2 font-mono text-xs">{format!("{}{operation}", task.source)}</td>
            <td class="px-4 py-2" data-testid="task-status">{status}</td>
            <td class="hidden px-4 py-2 font-mono text-xs md:table-cell">{task.destination.clone()}</td>
            <td class="hidden px-4 py-2 md:table-cell">{bytes(task.bytes.max(0) as u64)}</td>
            <td class="px-4 py-2">
                <button type="button" class="text-xs font-medium text-sky-700 hover:underline dark:text-sky-300" aria-expanded=move || open.get().to_string() on:click=toggle>
                    {move || if open.get() { "Hide log" } else { "Log" }}
                </button>
                <Show when=move || open.get()>
                    <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match log.await {
                                Ok(text) => view! {
                                    <pre class="mt-2 max-w-xl overflow-x-auto whitespace-pre-wrap break-all rounded bg-slate-100 p-2 text-xs dark:bg-slate-800" data-testid="task-log">{text}</pre>
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

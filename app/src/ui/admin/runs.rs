//! What every job panel shares: the schedule fields (none, a preset or a
//! custom cron) and the recent runs, followed live while one is going,
//! each with its outcome and log.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::{
    api::cleanup::{JobSchedule, Outcome, RunItem, job_log, recent_runs},
    ui::{
        components::{FormError, INPUT, timestamp},
        format::bytes,
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

/// How often a panel reads its runs again while one is pending or running.
const LIVE_REFRESH: std::time::Duration = std::time::Duration::from_millis(1500);

const CHOICES: [(&str, &str); 5] =
    [("none", "None"), ("hourly", "Hourly"), ("daily", "Daily"), ("weekly", "Weekly"), ("custom", "Custom")];

/// The schedule select and custom cron of a job's form (`prefix` keeps the
/// ids apart), with when it runs next as last saved.
#[component]
pub fn ScheduleFields(
    prefix: &'static str,
    schedule: JobSchedule,
    next_run_at: Signal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    let (select_id, cron_id) = (format!("{prefix}-schedule"), format!("{prefix}-cron"));
    view! {
        <div>
            <label for=select_id.clone() class="block text-sm font-medium">"Schedule"</label>
            <select id=select_id name="schedule" class=INPUT>
                {CHOICES
                    .into_iter()
                    .map(|(value, label)| view! { <option value=value selected=value == schedule.choice>{label}</option> })
                    .collect_view()}
            </select>
            <p class="mt-1 text-xs text-slate-500 dark:text-slate-400" data-testid="next-run">
                {move || next_run_at.get().map(|at| format!("Next run {}", timestamp(at)))}
            </p>
        </div>
        <div>
            <label for=cron_id.clone() class="block text-sm font-medium">"Custom cron (UTC)"</label>
            <input id=cron_id name="cron" value=schedule.cron.clone().unwrap_or_default() placeholder="0 30 2 * * *" class=format!("{INPUT} font-mono") />
            <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Six fields: seconds minutes hours day month weekday."</p>
        </div>
    }
}

/// A job's latest runs. Bump `version` to read them again; while one is
/// pending or running they are read again every [`LIVE_REFRESH`].
#[component]
pub fn RecentRuns(kind: &'static str, version: RwSignal<u32>) -> impl IntoView {
    let runs = Resource::new(move || version.get(), move |_| recent_runs(kind.to_owned()));
    Effect::new(move |_| {
        if runs.get().and_then(Result::ok).is_some_and(|runs| runs.any_active()) {
            set_timeout(move || version.update(|v| *v += 1), LIVE_REFRESH);
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(runs) => view! { <RunTable runs=runs.items total=runs.total /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

const RUN_COLUMNS: &[Column] = &[
    Column::Always("Run"),
    Column::Always("Status"),
    Column::Always("Result"),
    Column::FromMedium("Started"),
    Column::FromMedium("Took"),
    Column::Actions,
];

#[component]
fn RunTable(runs: Vec<RunItem>, total: i64) -> AnyView {
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

/// What a run did, or how far it has got.
fn result_text(run: &RunItem) -> String {
    let dry = if run.dry_run { " (dry run)" } else { "" };
    match &run.outcome {
        Outcome::Unknown => match run.progress {
            (done, Some(total)) if run.is_active() && total > 0 => format!("{done} of {total} done"),
            _ => "—".to_owned(),
        },
        Outcome::Entries { matched } if run.dry_run => format!("{matched} would go{dry}"),
        Outcome::Entries { matched } => format!("{matched} deleted"),
        Outcome::Collected { bytes: freed, blobs, manifests, .. } => {
            let verb = if run.dry_run { "would be freed" } else { "freed" };
            format!("{} {verb}: {blobs} blobs, {manifests} manifests{dry}", bytes(*freed))
        }
    }
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
        "skipped" => "Skipped",
        "running" => "Running",
        _ => "Pending",
    };
    let took = match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => format!("{:.1} s", (end - start).num_milliseconds() as f64 / 1000.0),
        _ => "—".to_owned(),
    };
    let trigger = if run.trigger == "schedule" { "scheduled" } else { "manual" };
    let result = result_text(&run);
    view! {
        <tr data-testid="run-row">
            <td class="px-4 py-2">{format!("#{} ({trigger})", run.id)}</td>
            <td class="px-4 py-2" data-testid="run-status">
                {status}
                {run.error.clone().map(|error| view! { <span class="block text-xs text-red-700 dark:text-red-300">{error}</span> })}
            </td>
            <td class="px-4 py-2" data-testid="run-result">{result}</td>
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

#[cfg(test)]
mod tests {
    use super::result_text;
    use crate::api::cleanup::{Outcome, RunItem};

    fn run(status: &str, dry_run: bool, outcome: Outcome, progress: (i64, Option<i64>)) -> RunItem {
        RunItem {
            id: 1,
            trigger: "manual".to_owned(),
            status: status.to_owned(),
            created_at: chrono::Utc::now(),
            started_at: None,
            ended_at: None,
            dry_run,
            outcome,
            progress,
            error: None,
        }
    }

    #[test]
    fn results_say_what_went_or_would_go() {
        let collected = Outcome::Collected { bytes: 3 * 1024 * 1024, blobs: 4, manifests: 2, links: 9, uploads: 1 };
        assert_eq!(
            result_text(&run("success", false, collected.clone(), (4, Some(4)))),
            "3.0 MiB freed: 4 blobs, 2 manifests"
        );
        assert_eq!(
            result_text(&run("success", true, collected, (0, None))),
            "3.0 MiB would be freed: 4 blobs, 2 manifests (dry run)"
        );
        assert_eq!(
            result_text(&run("success", true, Outcome::Entries { matched: 7 }, (0, None))),
            "7 would go (dry run)"
        );
        assert_eq!(result_text(&run("running", false, Outcome::Unknown, (120, Some(500)))), "120 of 500 done");
        assert_eq!(result_text(&run("error", false, Outcome::Unknown, (120, Some(500)))), "—");
    }
}

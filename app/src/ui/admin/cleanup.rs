//! Clean up: garbage collection and audit-log rotation, each with its
//! schedule and parameters, "Run now", "Dry run" and its recent runs.

use chrono::{DateTime, Utc};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;

use super::runs::{RecentRuns, ScheduleFields};
use crate::{
    api::{
        AppError,
        cleanup::{
            AUDIT_ROTATION, AuditRotation, GARBAGE_COLLECTION, GarbageCollectionSettings, JobSchedule,
            RunAuditRotation, RunGarbageCollection, SetAuditRotation, SetGarbageCollection, get_cleanup,
        },
    },
    ui::{
        components::{Breadcrumbs, CARD, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, use_toasts},
        layout::ErrorBanner,
    },
};

const FORM: &str = "mt-4 grid max-w-3xl gap-4 sm:grid-cols-2";
const HINT: &str = "mt-1 text-sm text-slate-600 dark:text-slate-400";

#[component]
pub fn CleanupPage() -> impl IntoView {
    let cleanup = Resource::new(|| (), |_| get_cleanup());
    view! {
        <Title text="Clean up" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Clean up".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Clean up"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match cleanup.await {
                    Ok(cleanup) => view! {
                        <GarbageCollectionPanel settings=cleanup.gc />
                        <AuditRotationPanel rotation=cleanup.rotation />
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GarbageCollectionPanel(settings: GarbageCollectionSettings) -> impl IntoView {
    let runs = RwSignal::new(0u32);
    let save = ServerAction::<SetGarbageCollection>::new();
    let run = ServerAction::<RunGarbageCollection>::new();
    let next_run_at = RwSignal::new(settings.schedule.next_run_at);
    follow_job_actions(save, run, next_run_at, runs);
    let workers = RwSignal::new(settings.workers.to_string());
    let delete_untagged = RwSignal::new(settings.delete_untagged);
    let dispatch_run = move |dry_run: bool| {
        run.dispatch(RunGarbageCollection {
            workers: workers.get_untracked(),
            delete_untagged: delete_untagged.get_untracked().then(|| "on".to_owned()),
            dry_run: dry_run.then(|| "true".to_owned()),
        });
    };
    view! {
        <section class="mt-6" aria-labelledby="gc-title">
            <h2 id="gc-title" class="text-lg font-semibold">"Garbage collection"</h2>
            <p class=HINT>
                "Deletes what no artifact uses any more: the content of deleted artifacts and repositories, abandoned uploads and, when chosen, untagged artifacts. Pushes and pulls go on while it runs."
            </p>
            <ActionForm action=save attr:class=format!("{CARD} {FORM}")>
                <ScheduleFields prefix="gc" schedule=settings.schedule next_run_at=next_run_at.into() />
                <div>
                    <label for="gc-workers" class="block text-sm font-medium">"Workers"</label>
                    <input id="gc-workers" name="workers" type="number" min="1" max="10" required class=INPUT bind:value=workers />
                    <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Deletes at once, 1 to 10; more help object storage."</p>
                </div>
                <div class="flex items-start gap-2 pt-6">
                    <input id="gc-untagged" name="delete_untagged" type="checkbox" class="mt-1" bind:checked=delete_untagged />
                    <label for="gc-untagged" class="text-sm">
                        <span class="font-medium">"Delete untagged artifacts"</span>
                        <span class="block text-xs text-slate-500 dark:text-slate-400">"Except images of a kept index and signatures or SBOMs of a kept artifact."</span>
                    </label>
                </div>
                <JobFormFooter save run on_run=Callback::new(dispatch_run) />
            </ActionForm>
            <RecentRuns kind=GARBAGE_COLLECTION version=runs />
        </section>
    }
}

#[component]
pub(super) fn AuditRotationPanel(rotation: AuditRotation) -> impl IntoView {
    let runs = RwSignal::new(0u32);
    let save = ServerAction::<SetAuditRotation>::new();
    let run = ServerAction::<RunAuditRotation>::new();
    let next_run_at = RwSignal::new(rotation.schedule.next_run_at);
    follow_job_actions(save, run, next_run_at, runs);
    let retention = RwSignal::new(rotation.retention_hours.to_string());
    let operations = RwSignal::new(rotation.operations.clone());
    let dispatch_run = move |dry_run: bool| {
        run.dispatch(RunAuditRotation {
            retention_hours: retention.get_untracked(),
            operations: Some(operations.get_untracked()),
            dry_run: dry_run.then(|| "true".to_owned()),
        });
    };
    view! {
        <section class="mt-10" aria-labelledby="audit-rotation-title">
            <h2 id="audit-rotation-title" class="text-lg font-semibold">"Audit log rotation"</h2>
            <p class=HINT>
                "Deletes audit log entries older than the retention, of the operations named (all when none are)."
            </p>
            <ActionForm action=save attr:class=format!("{CARD} {FORM}")>
                <ScheduleFields prefix="rotation" schedule=rotation.schedule next_run_at=next_run_at.into() />
                <div>
                    <label for="rotation-retention" class="block text-sm font-medium">"Keep entries for (hours)"</label>
                    <input id="rotation-retention" name="retention_hours" type="number" min="0" required class=INPUT bind:value=retention />
                </div>
                <div>
                    <label for="rotation-operations" class="block text-sm font-medium">"Operations"</label>
                    <input id="rotation-operations" name="operations" placeholder="pull,push,delete" class=INPUT bind:value=operations />
                </div>
                <JobFormFooter save run on_run=Callback::new(dispatch_run) />
            </ActionForm>
            <RecentRuns kind=AUDIT_ROTATION version=runs />
        </section>
    }
}

/// What a job panel's actions do once they answer: a saved schedule shows
/// when it runs next (errors show in the form, next to what was wrong); a
/// started run is announced and the history read again.
fn follow_job_actions<S, R>(
    save: ServerAction<S>,
    run: ServerAction<R>,
    next_run_at: RwSignal<Option<DateTime<Utc>>>,
    runs: RwSignal<u32>,
) where
    S: ServerFn<Output = JobSchedule, Error = AppError> + Clone + Send + Sync + 'static,
    R: ServerFn<Output = i64, Error = AppError> + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(schedule)) = save.value().get() {
            next_run_at.set(schedule.next_run_at);
            toasts.success("Schedule saved.");
        }
    });
    on_result(run, None, move |id| {
        toasts.success(format!("Run {id} started."));
        runs.update(|v| *v += 1);
    });
}

/// The end of a job's form: what the last save or run refused, then "Save
/// schedule", "Run now" and "Dry run" (`on_run` gets whether it is dry).
#[component]
fn JobFormFooter<S, R>(save: ServerAction<S>, run: ServerAction<R>, on_run: Callback<bool>) -> impl IntoView
where
    S: ServerFn<Output = JobSchedule, Error = AppError> + Clone + Send + Sync + 'static,
    R: ServerFn<Output = i64, Error = AppError> + Clone + Send + Sync + 'static,
{
    view! {
        <div class="sm:col-span-2">
            {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            {move || run.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
        </div>
        <div class="flex flex-wrap gap-2 sm:col-span-2">
            <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save schedule"</button>
            <button type="button" class=SECONDARY_BUTTON disabled=move || run.pending().get() on:click=move |_| on_run.run(false)>"Run now"</button>
            <button type="button" class=SECONDARY_BUTTON disabled=move || run.pending().get() on:click=move |_| on_run.run(true)>"Dry run"</button>
        </div>
    }
}

//! The Policy tab's Tag retention section: the project's retention rules
//! (add, edit, delete), the schedule, "Dry run" and "Run now", and the
//! latest runs with each repository's task and its log.

use leptos::prelude::*;

use crate::{
    api::retention::{
        DeleteRetentionRule, RetentionRuleItem, RetentionRunItem, RetentionView, RunRetention, SaveRetentionRule,
        SetRetentionSchedule, TEMPLATES, retention, retention_task_log, retention_tasks, template_text,
    },
    ui::{
        components::{
            CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp, use_toasts,
        },
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

/// Which rule the form edits: `None` closed, `Some(None)` a new one.
type Editing = RwSignal<Option<Option<(usize, RetentionRuleItem)>>>;

#[component]
pub fn RetentionSection(project: Memo<String>) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let view_of = Resource::new(move || (project.get(), version.get()), |(project, _)| retention(project));
    view! {
        <section class="mt-10" aria-labelledby="retention-title">
            <h2 id="retention-title" class="text-lg font-semibold">"Tag retention"</h2>
            <p class="mt-1 max-w-3xl text-sm text-slate-600 dark:text-slate-300">
                "Each rule selects repositories and, in them, artifacts by tag, and keeps some of them. An artifact is kept when any rule keeps it; the rest of the selected repositories is deleted when the policy runs. Immutable artifacts are always kept; garbage collection frees the space afterwards."
            </p>
            <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match view_of.await {
                        Ok(policy) => view! { <RetentionPolicyView project=project.get_untracked() policy version /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RetentionPolicyView(project: String, policy: RetentionView, version: RwSignal<u32>) -> AnyView {
    let editing: Editing = RwSignal::new(None);
    let toasts = use_toasts();
    let run = ServerAction::<RunRetention>::new();
    let confirming = RwSignal::new(false);
    on_result(run, Some(confirming), move |_| {
        toasts.success("Retention run queued.");
        version.update(|v| *v += 1);
    });
    let may_manage = policy.may_manage;
    let has_rules = !policy.rules.is_empty();
    let stored = StoredValue::new((project.clone(), policy.version.clone()));
    let rules = if has_rules {
        let rows = policy
            .rules
            .iter()
            .cloned()
            .enumerate()
            .map(|(index, rule)| view! { <RuleRow stored index rule may_manage editing version /> })
            .collect_view();
        let columns = if may_manage { RULE_COLUMNS } else { &RULE_COLUMNS[..3] };
        view! { <div class="mt-4"><ListTable caption="Retention rules" columns>{rows}</ListTable></div> }.into_any()
    } else {
        view! { <div class="mt-4"><EmptyState title="No retention rules".to_owned() hint="Nothing is deleted by retention.".to_owned() /></div> }.into_any()
    };
    let full = policy.rules.len() >= 15;
    let actions = (may_manage && has_rules).then(|| {
        let (dry, real) = (project.clone(), project.clone());
        view! {
            <div class="mt-4 flex flex-wrap gap-3">
                <button type="button" class=SECONDARY_BUTTON disabled=move || run.pending().get()
                    on:click=move |_| { run.dispatch(RunRetention { project: dry.clone(), dry_run: true }); }>
                    "Dry run"
                </button>
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirming.set(true)>"Run now"</button>
                <ConfirmDialog
                    open=confirming
                    title="Run retention now?".to_owned()
                    message="Artifacts no rule keeps are deleted from the selected repositories.".to_owned()
                    confirm_label="Run now"
                    pending=run.pending()
                    on_confirm=move |_| { run.dispatch(RunRetention { project: real.clone(), dry_run: false }); }
                />
            </div>
        }
        .into_any()
    });
    let add = (may_manage && !full).then(|| {
        view! {
            <button type="button" class=format!("{SECONDARY_BUTTON} mt-4") on:click=move |_| editing.set(Some(None))>"Add retention rule"</button>
        }
        .into_any()
    });
    let form = move || editing.get().map(|rule| view! { <RetentionRuleForm stored rule editing version /> }.into_any());
    view! {
        {add}
        {form}
        {rules}
        <Schedule stored cron=policy.cron.clone() may_manage version />
        {actions}
        <Runs project runs=policy.runs />
    }
    .into_any()
}

const RULE_COLUMNS: &[Column] =
    &[Column::Always("Repositories"), Column::Always("Tags"), Column::Always("Retains"), Column::Actions];

fn selector_text(decoration: &str, pattern: &str) -> String {
    let verb = if decoration == "excludes" { "excluding" } else { "matching" };
    format!("{verb} {pattern}")
}

#[component]
fn RuleRow(
    stored: StoredValue<(String, Option<String>)>,
    index: usize,
    rule: RetentionRuleItem,
    may_manage: bool,
    editing: Editing,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let delete = ServerAction::<DeleteRetentionRule>::new();
    let confirming = RwSignal::new(false);
    on_result(delete, Some(confirming), move |()| {
        toasts.success("Rule deleted.");
        version.update(|v| *v += 1);
    });
    let untagged = if rule.untagged { " (untagged too)" } else { "" };
    let disabled = if rule.disabled { " — disabled" } else { "" };
    let actions = may_manage.then(|| {
        let edited = rule.clone();
        view! {
            <td class="px-4 py-2">
                <div class="flex gap-3 text-xs font-medium">
                    <button type="button" class="text-sky-700 hover:underline dark:text-sky-300" on:click=move |_| editing.set(Some(Some((index, edited.clone()))))>"Edit"</button>
                    <button type="button" class="text-red-700 hover:underline dark:text-red-300" on:click=move |_| confirming.set(true)>"Delete"</button>
                </div>
                <ConfirmDialog
                    open=confirming
                    title="Delete this rule?".to_owned()
                    message="What only this rule kept is deleted at the next run.".to_owned()
                    confirm_label="Delete"
                    pending=delete.pending()
                    on_confirm=move |_| {
                        let (project, version) = stored.get_value();
                        delete.dispatch(DeleteRetentionRule { project, version, index });
                    }
                />
            </td>
        }
    });
    view! {
        <tr data-testid="retention-rule">
            <td class="px-4 py-2 font-mono text-xs">{selector_text(&rule.repository_decoration, &rule.repository_pattern)}</td>
            <td class="px-4 py-2 font-mono text-xs">{format!("{}{untagged}", selector_text(&rule.tag_decoration, &rule.tag_pattern))}</td>
            <td class="px-4 py-2">{format!("{}{disabled}", template_text(&rule.template, rule.number))}</td>
            {actions}
        </tr>
    }
}

#[component]
fn RetentionRuleForm(
    stored: StoredValue<(String, Option<String>)>,
    rule: Option<(usize, RetentionRuleItem)>,
    editing: Editing,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SaveRetentionRule>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.success("Rule saved.");
            editing.set(None);
            version.update(|v| *v += 1);
        }
    });
    let index = rule.as_ref().map(|(index, _)| *index);
    let title = if rule.is_some() { "Edit retention rule" } else { "New retention rule" };
    let current = rule.map(|(_, rule)| rule).unwrap_or_else(|| RetentionRuleItem {
        disabled: false,
        template: "latestPushedK".to_owned(),
        number: Some(10),
        repository_decoration: "matches".to_owned(),
        repository_pattern: "**".to_owned(),
        tag_decoration: "matches".to_owned(),
        tag_pattern: "**".to_owned(),
        untagged: true,
    });
    let template = RwSignal::new(current.template.clone());
    let (project, policy_version) = stored.get_value();
    let repository_excludes = current.repository_decoration == "excludes";
    let tag_excludes = current.tag_decoration == "excludes";
    view! {
        <ActionForm action=save attr:class=format!("{CARD} mt-4 grid max-w-3xl gap-4 sm:grid-cols-2")>
            <h3 class="text-base font-semibold sm:col-span-2">{title}</h3>
            <input type="hidden" name="project" value=project />
            {policy_version.map(|v| view! { <input type="hidden" name="version" value=v /> })}
            {index.map(|i| view! { <input type="hidden" name="index" value=i.to_string() /> })}
            <div class="sm:col-span-2">
                <label for="retention-template" class="block text-sm font-medium">"Retain"</label>
                <div class="flex gap-2">
                    <select id="retention-template" name="template" class=INPUT bind:value=template>
                        {TEMPLATES.iter().map(|(name, words)| view! { <option value=*name selected=*name == current.template>{*words}</option> }).collect_view()}
                    </select>
                    <input name="number" type="number" min="1" aria-label="Count or days (#)" class=format!("{INPUT} w-28")
                        value=current.number.map(|n| n.to_string()).unwrap_or_default()
                        disabled=move || template.get() == "always" />
                </div>
            </div>
            <div>
                <label for="retention-repositories" class="block text-sm font-medium">"Repositories"</label>
                <div class="flex gap-2">
                    <select name="repository_decoration" aria-label="Repositories that" class=format!("{INPUT} w-36")>
                        <option value="matches" selected=!repository_excludes>"matching"</option>
                        <option value="excludes" selected=repository_excludes>"excluding"</option>
                    </select>
                    <input id="retention-repositories" name="repository_pattern" required maxlength="256" class=format!("{INPUT} font-mono") value=current.repository_pattern.clone() />
                </div>
                <p class=HINT>"Names within the project; ** selects all."</p>
            </div>
            <div>
                <label for="retention-tags" class="block text-sm font-medium">"Tags"</label>
                <div class="flex gap-2">
                    <select name="tag_decoration" aria-label="Tags that" class=format!("{INPUT} w-36")>
                        <option value="matches" selected=!tag_excludes>"matching"</option>
                        <option value="excludes" selected=tag_excludes>"excluding"</option>
                    </select>
                    <input id="retention-tags" name="tag_pattern" required maxlength="256" class=format!("{INPUT} font-mono") value=current.tag_pattern.clone() />
                </div>
            </div>
            <div class="flex items-start gap-2">
                <input id="retention-untagged" name="untagged" type="checkbox" class="mt-1" checked=current.untagged />
                <label for="retention-untagged" class="text-sm">"Untagged artifacts count too"</label>
            </div>
            <div class="flex items-start gap-2">
                <input id="retention-disabled" name="disabled" type="checkbox" class="mt-1" checked=current.disabled />
                <label for="retention-disabled" class="text-sm">"Disabled"</label>
            </div>
            <div class="flex gap-3 sm:col-span-2">
                <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>
                    {move || if save.pending().get() { "Saving…" } else { "Save retention rule" }}
                </button>
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
            <div class="sm:col-span-2">
                {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
        </ActionForm>
    }
}

#[component]
fn Schedule(
    stored: StoredValue<(String, Option<String>)>,
    cron: String,
    may_manage: bool,
    version: RwSignal<u32>,
) -> AnyView {
    let shown = if cron.is_empty() {
        "Runs only when started here.".to_owned()
    } else {
        format!("Runs on the schedule {cron} (UTC).")
    };
    if !may_manage || stored.get_value().1.is_none() {
        return view! { <p class="mt-4 text-sm text-slate-600 dark:text-slate-300" data-testid="retention-schedule">{shown}</p> }.into_any();
    }
    let toasts = use_toasts();
    let set = ServerAction::<SetRetentionSchedule>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = set.value().get() {
            toasts.success("Schedule saved.");
            version.update(|v| *v += 1);
        }
    });
    let (project, policy_version) = stored.get_value();
    view! {
        <ActionForm action=set attr:class="mt-4 flex flex-wrap items-end gap-3">
            <input type="hidden" name="project" value=project />
            {policy_version.map(|v| view! { <input type="hidden" name="version" value=v /> })}
            <div>
                <label for="retention-cron" class="block text-sm font-medium">"Schedule (cron with seconds, UTC; empty: by hand)"</label>
                <input id="retention-cron" name="cron" class=format!("{INPUT} font-mono") placeholder="0 0 3 * * *" value=cron />
            </div>
            <button type="submit" class=SECONDARY_BUTTON disabled=move || set.pending().get()>"Save schedule"</button>
            <p class="w-full text-sm text-slate-600 dark:text-slate-300" data-testid="retention-schedule">{shown}</p>
            <div class="w-full">{move || set.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}</div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn Runs(project: String, runs: Vec<RetentionRunItem>) -> AnyView {
    if runs.is_empty() {
        return ().into_any();
    }
    let rows = runs.into_iter().map(|run| view! { <RunRow project=project.clone() run /> }).collect_view();
    view! {
        <h3 class="mt-6 text-base font-semibold">"Latest runs"</h3>
        <div class="mt-2"><ListTable caption="Retention runs" columns=RUN_COLUMNS>{rows}</ListTable></div>
    }
    .into_any()
}

const RUN_COLUMNS: &[Column] = &[
    Column::Always("Run"),
    Column::Always("Status"),
    Column::Always("Result"),
    Column::FromMedium("Started"),
    Column::Actions,
];

#[component]
fn RunRow(project: String, run: RetentionRunItem) -> impl IntoView {
    let open = RwSignal::new(false);
    let id = run.id;
    let dry_run = run.dry_run;
    let project_name = StoredValue::new(project.clone());
    let tasks = Resource::new(move || open.get(), {
        let project = project.clone();
        move |open| {
            let project = project.clone();
            async move { if open { retention_tasks(project, id).await } else { Ok(Vec::new()) } }
        }
    });
    let kind = match (run.dry_run, run.scheduled) {
        (true, _) => "dry run",
        (false, true) => "scheduled",
        (false, false) => "manual",
    };
    let status = match run.status.as_str() {
        "success" => "Succeeded",
        "error" => "Failed",
        "stopped" => "Stopped",
        "skipped" => "Skipped",
        "running" => "Running",
        _ => "Pending",
    };
    view! {
        <tr data-testid="retention-run">
            <td class="px-4 py-2">{format!("#{id} ({kind})")}</td>
            <td class="px-4 py-2" data-testid="retention-run-status">{status}</td>
            <td class="px-4 py-2" data-testid="retention-run-outcome">{run.outcome.clone()}</td>
            <td class="hidden px-4 py-2 md:table-cell">{run.started_at.map(timestamp).unwrap_or_else(|| "—".to_owned())}</td>
            <td class="px-4 py-2">
                <button type="button" class="text-xs font-medium text-sky-700 hover:underline dark:text-sky-300" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    "Repositories"
                </button>
            </td>
        </tr>
        <Show when=move || open.get()>
            <tr>
                <td colspan="5" class="bg-slate-50 px-4 py-2 dark:bg-slate-900">
                    <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match tasks.await {
                                Ok(tasks) => tasks
                                    .into_iter()
                                    .map(|task| view! { <TaskLine project=project_name.get_value() execution=id dry_run task /> })
                                    .collect_view()
                                    .into_any(),
                                Err(error) => view! { <ErrorBanner error /> }.into_any(),
                            }
                        })}
                    </Suspense>
                </td>
            </tr>
        </Show>
    }
}

#[component]
fn TaskLine(
    project: String,
    execution: i64,
    dry_run: bool,
    task: crate::api::retention::RetentionTaskItem,
) -> impl IntoView {
    let verb = if dry_run { "would delete" } else { "deleted" };
    let open = RwSignal::new(false);
    let id = task.id;
    let log = Resource::new(
        move || open.get(),
        move |open| {
            let project = project.clone();
            async move { if open { retention_task_log(project, execution, id).await } else { Ok(String::new()) } }
        },
    );
    view! {
        <div class="py-1 text-sm" data-testid="retention-task">
            <span class="font-mono">{task.repository.clone()}</span>
            {format!(": {} artifacts, {} retained, {verb} {} ({})", task.artifacts, task.retained, task.deleted, task.status)}
            <button type="button" class="ml-2 text-xs text-sky-700 hover:underline dark:text-sky-300" on:click=move |_| open.update(|o| *o = !*o)>"Log"</button>
            <Show when=move || open.get()>
                <Suspense>
                    {move || Suspend::new(async move {
                        match log.await {
                            Ok(text) => view! { <pre class="mt-1 max-h-64 overflow-auto rounded bg-white p-2 text-xs dark:bg-slate-950" data-testid="retention-log">{text}</pre> }.into_any(),
                            Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        }
                    })}
                </Suspense>
            </Show>
        </div>
    }
}

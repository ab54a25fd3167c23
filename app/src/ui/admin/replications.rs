//! Replications: the policies (push here → there, or pull there → here)
//! with "Replicate now", enable/disable, edit and delete; a form with the
//! filters, the trigger and the destination; and the latest executions,
//! each linking to its page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{PageLinks, page_param, policy_form::PolicyForm};
use crate::{
    api::replication::{
        DeletePolicy, ExecutionItem, Listing, PolicyItem, SetPolicyEnabled, StartReplication, list_executions,
        list_policies, registry_choices,
    },
    ui::{
        components::{Breadcrumbs, ConfirmDialog, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp, use_toasts},
        format::bytes,
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

#[component]
pub fn ReplicationsPage() -> impl IntoView {
    let page = page_param();
    let version = RwSignal::new(0u32);
    let policies = Resource::new(move || (page.get(), version.get()), |(page, _)| list_policies(page));
    let registries = Resource::new(move || version.get(), |_| registry_choices());
    let executions = Resource::new(move || version.get(), |_| list_executions(None, 1));
    let editing = RwSignal::new(None::<Option<PolicyItem>>);
    view! {
        <Title text="Replications" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Replications".to_owned(), None)] />
        <div class="mt-2 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Replications"</h1>
            <button type="button" class=PRIMARY_BUTTON on:click=move |_| editing.set(Some(None))>"New policy"</button>
        </div>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Policies copy artifacts from here to a registry, or from a registry to here: by hand, on a schedule, or on each push."
        </p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let choices = registries.await.unwrap_or_default();
                editing.get().map(|policy| view! { <PolicyForm policy choices editing version /> })
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let choices = registries.await.unwrap_or_default();
                match policies.await {
                    Ok(policies) => view! { <PolicyTable policies choices page=page.get_untracked() editing version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
        <h2 class="mt-10 text-lg font-semibold">"Latest executions"</h2>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match executions.await {
                    Ok(executions) => view! { <ExecutionTable executions /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const POLICY_COLUMNS: &[Column] = &[
    Column::Always("Name"),
    Column::Always("Status"),
    Column::FromMedium("Direction"),
    Column::FromMedium("Trigger"),
    Column::FromLarge("Filters"),
    Column::Actions,
];

#[component]
fn PolicyTable(
    policies: Listing<PolicyItem>,
    choices: Vec<(i64, String)>,
    page: u32,
    editing: RwSignal<Option<Option<PolicyItem>>>,
    version: RwSignal<u32>,
) -> AnyView {
    if policies.items.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="No replication policies yet".to_owned() hint="Add a registry, then a policy that copies to or from it.".to_owned() />
            </div>
        }
        .into_any();
    }
    let shown = policies.items.len();
    let rows = policies
        .items
        .into_iter()
        .map(|policy| {
            let registry = choices
                .iter()
                .find(|(id, _)| *id == policy.registry_id)
                .map_or_else(|| format!("registry {}", policy.registry_id), |(_, name)| name.clone());
            view! { <PolicyRow policy registry editing version /> }
        })
        .collect_view();
    view! {
        <ListTable caption="Replication policies" columns=POLICY_COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/replications" page shown total=policies.total />
    }
    .into_any()
}

/// The policy's filters in a few words.
fn filters_text(policy: &PolicyItem) -> String {
    let mut parts = Vec::new();
    if !policy.name_filter.is_empty() {
        parts.push(format!("name {}", policy.name_filter));
    }
    if !policy.tag_filter.is_empty() {
        let verb = if policy.tag_decoration == "excludes" { "tags not" } else { "tags" };
        parts.push(format!("{verb} {}", policy.tag_filter));
    }
    if policy.resource == "image" {
        parts.push("images only".to_owned());
    }
    if parts.is_empty() { "Everything".to_owned() } else { parts.join(", ") }
}

fn trigger_text(policy: &PolicyItem) -> String {
    match (policy.trigger.as_str(), &policy.cron) {
        ("scheduled", Some(cron)) => format!("Scheduled ({cron})"),
        ("event_based", _) => "On push and delete".to_owned(),
        _ => "Manual".to_owned(),
    }
}

#[component]
fn PolicyRow(
    policy: PolicyItem,
    registry: String,
    editing: RwSignal<Option<Option<PolicyItem>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let start = ServerAction::<StartReplication>::new();
    let enable = ServerAction::<SetPolicyEnabled>::new();
    let delete = ServerAction::<DeletePolicy>::new();
    let confirm = RwSignal::new(false);
    on_result(start, None, move |execution| {
        toasts.success(format!("Execution {execution} started."));
        version.update(|v| *v += 1);
    });
    on_result(enable, None, move |()| version.update(|v| *v += 1));
    on_result(delete, Some(confirm), move |()| {
        toasts.success("Policy deleted.");
        version.update(|v| *v += 1);
    });
    let (id, enabled, name) = (policy.id, policy.enabled, policy.name.clone());
    let direction =
        if policy.direction == "push" { format!("Push to {registry}") } else { format!("Pull from {registry}") };
    let (filters, trigger) = (filters_text(&policy), trigger_text(&policy));
    let edited = policy.clone();
    view! {
        <tr data-testid="policy-row">
            <td class="px-4 py-2 font-medium">{policy.name.clone()}</td>
            <td class="px-4 py-2" data-testid="policy-status">{if enabled { "Enabled" } else { "Disabled" }}</td>
            <td class="hidden px-4 py-2 md:table-cell">{direction}</td>
            <td class="hidden px-4 py-2 md:table-cell">{trigger}</td>
            <td class="hidden px-4 py-2 lg:table-cell">{filters}</td>
            <td class="px-4 py-2 text-right whitespace-nowrap">
                <button type="button" class=SECONDARY_BUTTON disabled=move || !enabled || start.pending().get() on:click=move |_| { start.dispatch(StartReplication { id }); }>
                    "Replicate now"
                </button>
                " "
                <button type="button" class=SECONDARY_BUTTON disabled=move || enable.pending().get() on:click=move |_| { enable.dispatch(SetPolicyEnabled { id, enabled: !enabled }); }>
                    {if enabled { "Disable" } else { "Enable" }}
                </button>
                " "
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(Some(Some(edited.clone())))>"Edit"</button>
                " "
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirm.set(true)>"Delete"</button>
                <ConfirmDialog
                    open=confirm
                    title=format!("Delete {name}?")
                    message="Its executions and schedule go with it; copies already made stay.".to_owned()
                    confirm_label="Delete"
                    pending=delete.pending()
                    on_confirm=move |()| { delete.dispatch(DeletePolicy { id }); }
                />
            </td>
        </tr>
    }
}

const EXECUTION_COLUMNS: &[Column] = &[
    Column::Always("Execution"),
    Column::Always("Status"),
    Column::Always("Tasks"),
    Column::FromMedium("Copied"),
    Column::FromMedium("Started"),
];

/// Status in words.
pub fn status_text(status: &str) -> &'static str {
    match status {
        "success" => "Succeeded",
        "error" => "Failed",
        "stopped" => "Stopped",
        "skipped" => "Skipped",
        "running" => "In progress",
        _ => "Pending",
    }
}

#[component]
fn ExecutionTable(executions: Listing<ExecutionItem>) -> AnyView {
    if executions.items.is_empty() {
        return view! {
            <div class="mt-4">
                <EmptyState title="No executions yet".to_owned() hint="Replicate a policy now, or wait for its trigger.".to_owned() />
            </div>
        }
        .into_any();
    }
    let rows = executions
        .items
        .into_iter()
        .map(|execution| {
            let href = format!("/admin/replications/executions/{}", execution.id);
            let tasks = format!("{} of {} succeeded, {} failed", execution.succeeded, execution.total, execution.failed);
            view! {
                <tr data-testid="execution-row">
                    <td class="px-4 py-2"><A href=href attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">{format!("#{}", execution.id)}</A>{format!(" ({})", execution.trigger.replace('_', "-"))}</td>
                    <td class="px-4 py-2">{status_text(&execution.status)}</td>
                    <td class="px-4 py-2">{tasks}</td>
                    <td class="hidden px-4 py-2 md:table-cell">{bytes(execution.bytes.max(0) as u64)}</td>
                    <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">{timestamp(execution.started_at.unwrap_or(execution.created_at))}</td>
                </tr>
            }
        })
        .collect_view();
    view! { <ListTable caption="Executions" columns=EXECUTION_COLUMNS spacing="mt-4">{rows}</ListTable> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::{filters_text, trigger_text};
    use crate::api::replication::PolicyItem;

    fn policy() -> PolicyItem {
        PolicyItem {
            id: 1,
            name: "p".into(),
            description: String::new(),
            direction: "push".into(),
            registry_id: 1,
            dest_namespace: String::new(),
            replace_count: -1,
            trigger: "manual".into(),
            cron: None,
            name_filter: String::new(),
            tag_filter: String::new(),
            tag_decoration: "matches".into(),
            resource: "artifact".into(),
            replicate_deletion: false,
            override_existing: true,
            enabled: true,
            speed_kb: 0,
            copy_by_chunk: false,
        }
    }

    #[test]
    fn policies_are_summed_up_in_words() {
        assert_eq!(filters_text(&policy()), "Everything");
        let narrowed = PolicyItem {
            name_filter: "library/**".into(),
            tag_filter: "*-rc*".into(),
            tag_decoration: "excludes".into(),
            resource: "image".into(),
            ..policy()
        };
        assert_eq!(filters_text(&narrowed), "name library/**, tags not *-rc*, images only");
        let scheduled = PolicyItem { trigger: "scheduled".into(), cron: Some("0 0 * * * *".into()), ..policy() };
        assert_eq!(trigger_text(&scheduled), "Scheduled (0 0 * * * *)");
        assert_eq!(trigger_text(&PolicyItem { trigger: "event_based".into(), ..policy() }), "On push and delete");
    }
}

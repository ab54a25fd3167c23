//! Replications: the policies (push here → there, or pull there → here)
//! with "Replicate now", enable/disable, edit and delete; a form with the
//! filters, the trigger and the destination; and the latest executions,
//! each linking to its page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::registries::{PageLinks, page_param};
use crate::{
    api::replication::{
        DeletePolicy, ExecutionItem, Listing, PolicyItem, SavePolicy, SetPolicyEnabled, StartReplication,
        list_executions, list_policies, registry_choices,
    },
    ui::{
        components::{
            Breadcrumbs, CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp,
            use_toasts,
        },
        format::bytes,
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

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

/// Adds a policy (`policy` empty) or changes one.
#[component]
fn PolicyForm(
    policy: Option<PolicyItem>,
    choices: Vec<(i64, String)>,
    editing: RwSignal<Option<Option<PolicyItem>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SavePolicy>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            toasts.success("Policy saved.");
            editing.set(None);
            version.update(|v| *v += 1);
        }
    });
    let id = policy.as_ref().map(|p| p.id);
    let title = if policy.is_some() { "Edit policy" } else { "New policy" };
    // A new policy starts as Harbor's form does: push, manual, overriding, enabled.
    let current = policy.unwrap_or_else(|| PolicyItem {
        id: 0,
        name: String::new(),
        description: String::new(),
        direction: "push".to_owned(),
        registry_id: 0,
        dest_namespace: String::new(),
        replace_count: -1,
        trigger: "manual".to_owned(),
        cron: None,
        name_filter: String::new(),
        tag_filter: String::new(),
        tag_decoration: "matches".to_owned(),
        resource: "artifact".to_owned(),
        replicate_deletion: false,
        override_existing: true,
        enabled: true,
        speed_kb: 0,
        copy_by_chunk: false,
    });
    let direction = RwSignal::new(current.direction.clone());
    let trigger = RwSignal::new(current.trigger.clone());
    let registry_id = current.registry_id;
    let excludes = current.tag_decoration == "excludes";
    let images = current.resource == "image";
    let replace_count = current.replace_count.to_string();
    let no_registries = choices.is_empty();
    view! {
        <section class="mt-6" aria-labelledby="policy-form-title">
            <h2 id="policy-form-title" class="text-lg font-semibold">{title}</h2>
            {no_registries.then(|| view! {
                <p class="mt-2 text-sm text-amber-700 dark:text-amber-300">
                    "Add a registry first: "<A href="/admin/registries" attr:class="underline">"Registries"</A>"."
                </p>
            })}
            <ActionForm action=save attr:class=format!("{CARD} mt-2 grid max-w-3xl gap-4 sm:grid-cols-2")>
                {id.map(|id| view! { <input type="hidden" name="id" value=id.to_string() /> })}
                <div>
                    <label for="policy-name" class="block text-sm font-medium">"Name"</label>
                    <input id="policy-name" name="name" required maxlength="128" class=INPUT value=current.name.clone() />
                </div>
                <div>
                    <label for="policy-description" class="block text-sm font-medium">"Description"</label>
                    <input id="policy-description" name="description" maxlength="1024" class=INPUT value=current.description.clone() />
                </div>
                <div>
                    <label for="policy-direction" class="block text-sm font-medium">"Replication mode"</label>
                    <select id="policy-direction" name="direction" class=INPUT bind:value=direction>
                        <option value="push">"Push-based: from here to the registry"</option>
                        <option value="pull">"Pull-based: from the registry to here"</option>
                    </select>
                </div>
                <div>
                    <label for="policy-registry" class="block text-sm font-medium">
                        {move || if direction.get() == "push" { "Destination registry" } else { "Source registry" }}
                    </label>
                    <select id="policy-registry" name="registry_id" required class=INPUT>
                        {choices
                            .into_iter()
                            .map(|(id, name)| view! { <option value=id.to_string() selected=id == registry_id>{name}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div>
                    <label for="policy-name-filter" class="block text-sm font-medium">"Source repositories"</label>
                    <input id="policy-name-filter" name="name_filter" maxlength="256" placeholder="library/**" class=format!("{INPUT} font-mono") value=current.name_filter.clone() />
                    <p class=HINT>"A glob of repository names with their project; * stays within a path part, ** crosses them, {a,b} picks one. Empty: all."</p>
                </div>
                <div>
                    <label for="policy-tag-filter" class="block text-sm font-medium">"Tags"</label>
                    <div class="flex gap-2">
                        <select name="tag_decoration" aria-label="Tags that" class=format!("{INPUT} w-40")>
                            <option value="matches" selected=!excludes>"matching"</option>
                            <option value="excludes" selected=excludes>"excluding"</option>
                        </select>
                        <input id="policy-tag-filter" name="tag_filter" maxlength="256" placeholder="v*" class=format!("{INPUT} font-mono") value=current.tag_filter.clone() />
                    </div>
                    <p class=HINT>"Empty: every tag, and untagged artifacts too."</p>
                </div>
                <div>
                    <label for="policy-resource" class="block text-sm font-medium">"Resources"</label>
                    <select id="policy-resource" name="resource" class=INPUT>
                        <option value="artifact" selected=!images>"Any artifact"</option>
                        <option value="image" selected=images>"Images only"</option>
                    </select>
                </div>
                <div>
                    <label for="policy-namespace" class="block text-sm font-medium">"Destination namespace"</label>
                    <div class="flex gap-2">
                        <input id="policy-namespace" name="dest_namespace" maxlength="255" placeholder="Same as the source" class=format!("{INPUT} font-mono") value=current.dest_namespace.clone() />
                        <select name="replace_count" aria-label="Flattening" class=format!("{INPUT} w-48")>
                            {[("-1", "Flatten all levels"), ("0", "No flattening"), ("1", "Flatten 1 level"), ("2", "Flatten 2 levels"), ("3", "Flatten 3 levels")]
                                .into_iter()
                                .map(|(value, label)| view! { <option value=value selected=replace_count == value>{label}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <p class=HINT>"With a namespace, how many leading path parts of the source name it replaces."</p>
                </div>
                <div>
                    <label for="policy-trigger" class="block text-sm font-medium">"Trigger"</label>
                    <select id="policy-trigger" name="trigger" class=INPUT bind:value=trigger>
                        <option value="manual">"Manual"</option>
                        <option value="scheduled">"Scheduled"</option>
                        <option value="event_based">"On push and delete (push-based only)"</option>
                    </select>
                </div>
                <div>
                    <label for="policy-cron" class="block text-sm font-medium">"Cron (UTC)"</label>
                    <input id="policy-cron" name="cron" placeholder="0 0 * * * *" class=format!("{INPUT} font-mono") disabled=move || trigger.get() != "scheduled" value=current.cron.clone().unwrap_or_default() />
                    <p class=HINT>"Six fields: seconds minutes hours day month weekday."</p>
                </div>
                <div>
                    <label for="policy-speed" class="block text-sm font-medium">"Bandwidth per task (KB/s)"</label>
                    <input id="policy-speed" name="speed_kb" type="number" min="-1" class=INPUT value=current.speed_kb.to_string() />
                    <p class=HINT>"0 or -1 for no limit."</p>
                </div>
                <fieldset class="space-y-2 sm:col-span-2">
                    <legend class="sr-only">"Options"</legend>
                    <Check id="policy-override" name="override_existing" label="Override artifacts that exist at the destination with another digest" checked=current.override_existing />
                    <Check id="policy-deletion" name="replicate_deletion" label="Replicate deletions (event-based push policies)" checked=current.replicate_deletion />
                    <Check id="policy-chunk" name="copy_by_chunk" label="Copy large blobs by chunk (an interrupted copy resumes)" checked=current.copy_by_chunk />
                    <Check id="policy-enabled" name="enabled" label="Enabled" checked=current.enabled />
                </fieldset>
                <div class="sm:col-span-2">
                    {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
                <div class="flex flex-wrap gap-2 sm:col-span-2">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get() || no_registries>"Save"</button>
                    <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(None)>"Cancel"</button>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn Check(id: &'static str, name: &'static str, label: &'static str, checked: bool) -> impl IntoView {
    view! {
        <div class="flex items-start gap-2">
            <input id=id name=name type="checkbox" value="on" class="mt-1" checked=checked />
            <label for=id class="text-sm">{label}</label>
        </div>
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

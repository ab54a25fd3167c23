//! A project's Policy tab: its tag immutability rules and (below, in
//! `retention`) its tag retention policy. Everyone who may read them sees
//! them; maintainers and project admins change them.

use leptos::prelude::*;

use super::{project_name, retention::RetentionSection};
use crate::{
    api::immutability::{
        DeleteImmutableRule, ImmutableRuleItem, ImmutableRules, SaveImmutableRule, ToggleImmutableRule,
        list_immutable_rules,
    },
    ui::{
        components::{CARD, ConfirmDialog, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, use_toasts},
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

/// Which rule the form edits: `None` closed, `Some(None)` a new one.
type Editing = RwSignal<Option<Option<ImmutableRuleItem>>>;

#[component]
pub fn ProjectPolicyTab() -> impl IntoView {
    let name = project_name();
    let version = RwSignal::new(0u32);
    let editing: Editing = RwSignal::new(None);
    let rules = Resource::new(move || (name.get(), version.get()), |(project, _)| list_immutable_rules(project));
    view! {
        <section class="mt-6" aria-labelledby="immutability-title">
            <h2 id="immutability-title" class="text-lg font-semibold">"Tag immutability"</h2>
            <p class="mt-1 max-w-3xl text-sm text-slate-600 dark:text-slate-300">
                "A tag an enabled rule selects can be pushed once. After that it cannot be moved to another artifact or deleted, and its artifact cannot be deleted, from any client, the API or here."
            </p>
            <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Ok(rules) => view! { <RuleSection project=name.get_untracked() rules editing version /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <RetentionSection project=name />
    }
}

#[component]
fn RuleSection(project: String, rules: ImmutableRules, editing: Editing, version: RwSignal<u32>) -> impl IntoView {
    let may_add = rules.may_manage && rules.rules.len() < rules.limit;
    let full = rules.may_manage && !may_add;
    let form_project = project.clone();
    let table = if rules.rules.is_empty() {
        view! {
            <div class="mt-4">
                <EmptyState title="No immutability rules".to_owned() hint="Every tag can be moved and deleted.".to_owned() />
            </div>
        }
        .into_any()
    } else {
        let may_manage = rules.may_manage;
        let rows = rules
            .rules
            .into_iter()
            .map(|rule| view! { <RuleRow project=project.clone() rule may_manage editing version /> })
            .collect_view();
        let columns = if may_manage { RULE_COLUMNS } else { &RULE_COLUMNS[..3] };
        view! { <div class="mt-4"><ListTable caption="Immutability rules" columns>{rows}</ListTable></div> }.into_any()
    };
    view! {
        {may_add.then(|| view! {
            <button type="button" class=format!("{SECONDARY_BUTTON} mt-4") on:click=move |_| editing.set(Some(None))>"Add rule"</button>
        })}
        {full.then(|| view! { <p class="mt-4 text-sm text-slate-500">{format!("A project has at most {} rules.", rules.limit)}</p> })}
        {move || editing.get().map(|rule| view! { <RuleForm project=form_project.clone() rule editing version /> })}
        {table}
    }
}

const RULE_COLUMNS: &[Column] =
    &[Column::Always("Repositories"), Column::Always("Tags"), Column::Always("Status"), Column::Actions];

fn selector_text(decoration: &str, pattern: &str) -> String {
    let verb = if decoration == "excludes" { "excluding" } else { "matching" };
    format!("{verb} {pattern}")
}

#[component]
fn RuleRow(
    project: String,
    rule: ImmutableRuleItem,
    may_manage: bool,
    editing: Editing,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let toggle = ServerAction::<ToggleImmutableRule>::new();
    let delete = ServerAction::<DeleteImmutableRule>::new();
    let confirming = RwSignal::new(false);
    on_result(toggle, None, move |()| version.update(|v| *v += 1));
    on_result(delete, Some(confirming), move |()| {
        toasts.success("Rule deleted.");
        version.update(|v| *v += 1);
    });
    let id = rule.id;
    let disabled = rule.disabled;
    let actions = may_manage.then(|| {
        let edited = rule.clone();
        let (toggled, deleted) = (project.clone(), project.clone());
        view! {
            <td class="px-4 py-2">
                <div class="flex gap-3 text-xs font-medium">
                    <button type="button" class="text-sky-700 hover:underline dark:text-sky-300" on:click=move |_| editing.set(Some(Some(edited.clone())))>"Edit"</button>
                    <button
                        type="button"
                        class="text-sky-700 hover:underline dark:text-sky-300"
                        disabled=move || toggle.pending().get()
                        on:click=move |_| {
                            toggle.dispatch(ToggleImmutableRule { project: toggled.clone(), id, disabled: !disabled });
                        }
                    >
                        {if disabled { "Enable" } else { "Disable" }}
                    </button>
                    <button type="button" class="text-red-700 hover:underline dark:text-red-300" on:click=move |_| confirming.set(true)>"Delete"</button>
                </div>
                <ConfirmDialog
                    open=confirming
                    title="Delete this rule?".to_owned()
                    message="The tags it protects can be moved and deleted again, unless another rule protects them.".to_owned()
                    confirm_label="Delete"
                    pending=delete.pending()
                    on_confirm=move |_| {
                        delete.dispatch(DeleteImmutableRule { project: deleted.clone(), id });
                    }
                />
            </td>
        }
    });
    view! {
        <tr data-testid="immutable-rule">
            <td class="px-4 py-2 font-mono text-xs">{selector_text(&rule.repository_decoration, &rule.repository_pattern)}</td>
            <td class="px-4 py-2 font-mono text-xs">{selector_text(&rule.tag_decoration, &rule.tag_pattern)}</td>
            <td class="px-4 py-2" data-testid="rule-status">{if disabled { "Disabled" } else { "Enabled" }}</td>
            {actions}
        </tr>
    }
}

/// Adds a rule (`rule` empty) or changes one.
#[component]
fn RuleForm(
    project: String,
    rule: Option<ImmutableRuleItem>,
    editing: Editing,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SaveImmutableRule>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.success("Rule saved.");
            editing.set(None);
            version.update(|v| *v += 1);
        }
    });
    let id = rule.as_ref().map(|r| r.id);
    let title = if rule.is_some() { "Edit rule" } else { "New rule" };
    let current = rule.unwrap_or_else(|| ImmutableRuleItem {
        id: 0,
        disabled: false,
        repository_decoration: "matches".to_owned(),
        repository_pattern: "**".to_owned(),
        tag_decoration: "matches".to_owned(),
        tag_pattern: String::new(),
    });
    let repository_excludes = current.repository_decoration == "excludes";
    let tag_excludes = current.tag_decoration == "excludes";
    view! {
        <ActionForm action=save attr:class=format!("{CARD} mt-4 grid max-w-3xl gap-4 sm:grid-cols-2")>
            <h3 class="text-base font-semibold sm:col-span-2">{title}</h3>
            <input type="hidden" name="project" value=project />
            {id.map(|id| view! { <input type="hidden" name="id" value=id.to_string() /> })}
            <div>
                <label for="rule-repositories" class="block text-sm font-medium">"Repositories"</label>
                <div class="flex gap-2">
                    <select name="repository_decoration" aria-label="Repositories that" class=format!("{INPUT} w-36")>
                        <option value="matches" selected=!repository_excludes>"matching"</option>
                        <option value="excludes" selected=repository_excludes>"excluding"</option>
                    </select>
                    <input id="rule-repositories" name="repository_pattern" required maxlength="256" class=format!("{INPUT} font-mono") value=current.repository_pattern.clone() />
                </div>
                <p class=HINT>"Names within the project: app, tools/**; ** selects all, {a,b} picks one."</p>
            </div>
            <div>
                <label for="rule-tags" class="block text-sm font-medium">"Tags"</label>
                <div class="flex gap-2">
                    <select name="tag_decoration" aria-label="Tags that" class=format!("{INPUT} w-36")>
                        <option value="matches" selected=!tag_excludes>"matching"</option>
                        <option value="excludes" selected=tag_excludes>"excluding"</option>
                    </select>
                    <input id="rule-tags" name="tag_pattern" required maxlength="256" placeholder="v*" class=format!("{INPUT} font-mono") value=current.tag_pattern.clone() />
                </div>
                <p class=HINT>"release-*, v{1,2}.*, ** for every tag."</p>
            </div>
            <div class="flex items-start gap-2 sm:col-span-2">
                <input id="rule-disabled" name="disabled" type="checkbox" class="mt-1" checked=current.disabled />
                <label for="rule-disabled" class="text-sm">"Disabled (saved, but protects nothing)"</label>
            </div>
            <div class="flex gap-3 sm:col-span-2">
                <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>
                    {move || if save.pending().get() { "Saving…" } else { "Save rule" }}
                </button>
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
            <div class="sm:col-span-2">
                {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
        </ActionForm>
    }
}

//! The replication policy form: mode and registry, which repositories
//! and tags (matched or excluded) and resources, where they land, when it
//! runs, and how (bandwidth, override, deletions, by chunk, enabled).

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::replication::{PolicyItem, SavePolicy},
    ui::components::{CARD, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, use_toasts},
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

/// Adds a policy (`policy` empty) or changes one.
#[component]
pub fn PolicyForm(
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
                        // `selected` as well: the select's value is set before its options exist.
                        <option value="push" selected=current.direction == "push">"Push-based: from here to the registry"</option>
                        <option value="pull" selected=current.direction == "pull">"Pull-based: from the registry to here"</option>
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
                    <p class=HINT>"Empty: every tag (and, pushing, untagged artifacts too)."</p>
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
                        <input name="replace_count" type="number" min="-1" max="127" aria-label="Path parts replaced (-1: all but the last)" class=format!("{INPUT} w-28") value=replace_count.clone() />
                    </div>
                    <p class=HINT>"With a namespace, how many leading path parts of the source name it replaces: -1 all but the last (library/app → ns/app), 0 none (ns/library/app)."</p>
                </div>
                <div>
                    <label for="policy-trigger" class="block text-sm font-medium">"Trigger"</label>
                    <select id="policy-trigger" name="trigger" class=INPUT bind:value=trigger>
                        <option value="manual" selected=current.trigger == "manual">"Manual"</option>
                        <option value="scheduled" selected=current.trigger == "scheduled">"Scheduled"</option>
                        <option value="event_based" selected=current.trigger == "event_based">"On push and delete (push-based only)"</option>
                    </select>
                </div>
                <div>
                    <label for="policy-cron" class="block text-sm font-medium">"Cron (UTC)"</label>
                    <input id="policy-cron" name="cron" placeholder="0 0 * * * *" class=format!("{INPUT} font-mono") disabled=move || trigger.get() != "scheduled" value=current.cron.clone().unwrap_or_default() />
                    <p class=HINT>"Six fields: seconds minutes hours day month weekday."</p>
                </div>
                <div>
                    <label for="policy-speed" class="block text-sm font-medium">"Bandwidth per task (KiB/s)"</label>
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

//! Robot accounts (system level): robots whose pull, push and delete
//! permissions apply in every project or in the projects named, with a
//! lifetime (the system default unless changed); the secret is shown once;
//! refresh, disable and delete per row.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{PageLinks, page_param};
use crate::{
    api::{
        numbered::Listing,
        robots::{
            CreateSystemRobot, MAX_ROBOT_PROJECTS, RobotCredentials, RobotItem, list_system_robots,
            robot_default_lifetime,
        },
    },
    ui::{
        components::{Breadcrumbs, CARD, FormError, INPUT, PRIMARY_BUTTON, use_toasts},
        layout::ErrorBanner,
        listing::{EmptyState, ListTable},
        robots::{PermissionBoxes, ROBOT_COLUMNS, RevealedSecret, RobotRow, SecretPanel},
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";

#[component]
pub fn SystemRobotsPage() -> impl IntoView {
    let page = page_param();
    let version = RwSignal::new(0u32);
    let robots = Resource::new(move || (page.get(), version.get()), |(page, _)| list_system_robots(page));
    let default_days = Resource::new(|| (), |_| robot_default_lifetime());
    let revealed = RwSignal::new(None::<RobotCredentials>);
    provide_context(RevealedSecret(revealed));
    view! {
        <Title text="Robot accounts" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Robot accounts".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Robot accounts"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "System robots log in as robot$<name> and may pull, push or delete in every project or in the projects named."
        </p>
        <SecretPanel revealed />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let days = default_days.await.ok();
                view! { <NewSystemRobotForm default_days=days version revealed /> }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match robots.await {
                    Ok(robots) => view! { <SystemRobotTable robots page=page.get_untracked() version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewSystemRobotForm(
    default_days: Option<u32>,
    version: RwSignal<u32>,
    revealed: RwSignal<Option<RobotCredentials>>,
) -> impl IntoView {
    let create = ServerAction::<CreateSystemRobot>::new();
    let toasts = use_toasts();
    let all_projects = RwSignal::new(true);
    Effect::new(move |_| {
        if let Some(Ok(credentials)) = create.value().get() {
            toasts.success(format!("Robot {} created.", credentials.name));
            revealed.set(Some(credentials));
            version.update(|v| *v += 1);
        }
    });
    view! {
        <ActionForm action=create attr:class=format!("{CARD} mt-6 space-y-4") attr:aria-labelledby="new-system-robot-title">
            <h2 id="new-system-robot-title" class="font-medium">"New robot account"</h2>
            <div class="flex flex-wrap gap-3">
                <div class="min-w-48 flex-1">
                    <label for="system-robot-name" class="block text-sm font-medium">"Name"</label>
                    <input id="system-robot-name" name="name" required class=INPUT placeholder="ci" />
                    <p class=HINT>"Clients log in as robot$<name>."</p>
                </div>
                <div class="min-w-48 flex-[2]">
                    <label for="system-robot-description" class="block text-sm font-medium">"Description"</label>
                    <input id="system-robot-description" name="description" maxlength="1024" class=INPUT placeholder="What uses it" />
                </div>
                <div class="w-40">
                    <label for="system-robot-expiry" class="block text-sm font-medium">"Expires after (days)"</label>
                    <input id="system-robot-expiry" name="expires_in_days" inputmode="numeric" value=default_days.map(|d| d.to_string()) class=INPUT placeholder="never" />
                    <p class=HINT>"Empty: never expires."</p>
                </div>
            </div>
            <fieldset>
                <legend class="text-sm font-medium">"Where"</legend>
                <label class="mt-2 flex items-center gap-2 text-sm">
                    <input id="system-robot-all" type="checkbox" name="all_projects" class="h-4 w-4 rounded border-slate-300" bind:checked=all_projects />
                    "All projects, present and future"
                </label>
                <Show when=move || !all_projects.get()>
                    <div class="mt-2">
                        <label for="system-robot-projects" class="block text-sm font-medium">"Projects"</label>
                        <input id="system-robot-projects" name="projects" class=INPUT placeholder="team-a, team-b" />
                        <p class=HINT>{format!("Comma-separated, at most {MAX_ROBOT_PROJECTS}.")}</p>
                    </div>
                </Show>
            </fieldset>
            <fieldset>
                <legend class="text-sm font-medium">"Permissions"</legend>
                <PermissionBoxes id_prefix="system-robot-permission" />
            </fieldset>
            {move || create.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create robot account" }}
            </button>
        </ActionForm>
    }
}

#[component]
fn SystemRobotTable(robots: Listing<RobotItem>, page: u32, version: RwSignal<u32>) -> AnyView {
    if robots.items.is_empty() {
        let hint = "Create one for each pipeline or tool that works across projects.";
        return view! { <div class="mt-6"><EmptyState title="No system robot accounts".to_owned() hint=hint.to_owned() /></div> }
            .into_any();
    }
    let shown = robots.items.len();
    let rows = robots.items.into_iter().map(|robot| view! { <RobotRow project=None robot version /> }).collect_view();
    view! {
        <ListTable caption="Robot accounts" columns=ROBOT_COLUMNS>{rows}</ListTable>
        <PageLinks base="/admin/robots" page shown total=robots.total />
    }
    .into_any()
}

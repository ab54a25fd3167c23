//! A project's Robot accounts tab (for those who may manage robots):
//! create a robot with pull/push/delete permissions and a lifetime, see
//! its secret once, refresh the secret, disable or enable it, delete it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{project_name, with_project};
use crate::{
    api::{
        projects::{Listing, ProjectOverview},
        robots::{CreateRobot, RobotCredentials, RobotItem, list_robots},
    },
    ui::{
        components::{CARD, FormError, INPUT, PRIMARY_BUTTON, use_toasts},
        layout::ErrorBanner,
        listing::{EmptyState, ListTable, Pager, page_links},
        robots::{PermissionBoxes, ROBOT_COLUMNS, RevealedSecret, RobotRow, SecretPanel},
    },
};

/// The list is read at the tab's top level (not inside the project's own
/// suspense), so the page hydrates the same way it was rendered.
#[component]
pub fn ProjectRobotsTab() -> impl IntoView {
    let name = project_name();
    let version = RwSignal::new(0u32);
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let robots = Resource::new(
        move || (name.get(), version.get(), param("after"), param("before")),
        |(project, _, after, before)| list_robots(project, after, before),
    );
    // The secret of the robot just created or refreshed, shown until dismissed.
    let revealed = RwSignal::new(None::<RobotCredentials>);
    provide_context(RevealedSecret(revealed));
    view! {
        <SecretPanel revealed />
        {with_project(move |project| view! { <NewRobotForm project version revealed /> })}
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match robots.await {
                    Ok(robots) => view! { <RobotTable project=name.get_untracked() robots version /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// For those who may manage robots: name, description, lifetime and permissions.
#[component]
fn NewRobotForm(
    project: ProjectOverview,
    version: RwSignal<u32>,
    revealed: RwSignal<Option<RobotCredentials>>,
) -> AnyView {
    if !project.permissions.manage_robots {
        return ().into_any();
    }
    let create = ServerAction::<CreateRobot>::new();
    let default_days = project.robot_lifetime_days.map(|days| days.to_string());
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(credentials)) = create.value().get() {
            toasts.success(format!("Robot {} created.", credentials.name));
            revealed.set(Some(credentials));
            version.update(|v| *v += 1);
        }
    });
    let project_name = project.name.clone();
    view! {
        <ActionForm action=create attr:class=format!("{CARD} mt-6 space-y-4") attr:aria-labelledby="new-robot-title">
            <h2 id="new-robot-title" class="font-medium">"New robot account"</h2>
            <input type="hidden" name="project" value=project_name.clone() />
            <div class="flex flex-wrap gap-3">
                <div class="min-w-48 flex-1">
                    <label for="robot-name" class="block text-sm font-medium">"Name"</label>
                    <input id="robot-name" name="name" required class=INPUT placeholder="ci" aria-describedby="robot-name-hint" />
                    <p id="robot-name-hint" class="mt-1 text-xs text-slate-500 dark:text-slate-400">
                        {format!("Clients log in as robot${project_name}+<name>.")}
                    </p>
                </div>
                <div class="min-w-48 flex-[2]">
                    <label for="robot-description" class="block text-sm font-medium">"Description"</label>
                    <input id="robot-description" name="description" class=INPUT placeholder="What uses it" />
                </div>
                <div class="w-40">
                    <label for="robot-expiry" class="block text-sm font-medium">"Expires after (days)"</label>
                    <input id="robot-expiry" name="expires_in_days" inputmode="numeric" value=default_days class=INPUT placeholder="never" aria-describedby="robot-expiry-hint" />
                    <p id="robot-expiry-hint" class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Empty: never expires."</p>
                </div>
            </div>
            <fieldset>
                <legend class="text-sm font-medium">"Permissions in this project"</legend>
                <PermissionBoxes id_prefix="robot-permission" />
            </fieldset>
            {move || create.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create robot account" }}
            </button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn RobotTable(project: String, robots: Listing<RobotItem>, version: RwSignal<u32>) -> AnyView {
    if robots.items.is_empty() {
        let hint = "Create one for each pipeline or tool that pushes or pulls, with only the permissions it needs.";
        return view! { <div class="mt-6"><EmptyState title="No robot accounts".to_owned() hint=hint.to_owned() /></div> }
            .into_any();
    }
    let shown = robots.items.len();
    let rows = robots
        .items
        .into_iter()
        .map(|robot| view! { <RobotRow project=Some(project.clone()) robot version /> })
        .collect_view();
    view! {
        <ListTable caption="Robot accounts" columns=ROBOT_COLUMNS>{rows}</ListTable>
        <Pager total=robots.total shown previous=robots.previous next=robots.next href=page_links(format!("/projects/{project}/robots"), vec![]) />
    }
    .into_any()
}

//! A project's Robot accounts tab (for those who may manage robots):
//! create a robot with pull/push/delete permissions and a lifetime, see
//! its secret once, refresh the secret, disable or enable it, delete it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{project_name, with_project};
use crate::{
    api::{
        projects::{Listing, ProjectOverview},
        robots::{
            CreateRobot, DeleteRobot, ROBOT_PERMISSIONS, RefreshRobotSecret, RobotCredentials, RobotItem,
            SetRobotDisabled, list_robots,
        },
    },
    ui::{
        components::{
            CARD, ConfirmDialog, CopyButton, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, on_result, timestamp,
            use_toasts,
        },
        layout::ErrorBanner,
        listing::{Column, EmptyState, ListTable, Pager, page_links},
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
                    <input id="robot-expiry" name="expires_in_days" type="number" min="1" value="30" class=INPUT placeholder="never" aria-describedby="robot-expiry-hint" />
                    <p id="robot-expiry-hint" class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Empty: never expires."</p>
                </div>
            </div>
            <fieldset>
                <legend class="text-sm font-medium">"Permissions in this project"</legend>
                <div class="mt-2 flex flex-wrap gap-4">
                    {ROBOT_PERMISSIONS
                        .iter()
                        .map(|(action, label)| {
                            let id = format!("robot-permission-{action}");
                            view! {
                                <label class="flex items-center gap-2 text-sm">
                                    <input id=id type="checkbox" name=*action checked=*action == "pull" class="h-4 w-4 rounded border-slate-300" />
                                    {*label}
                                </label>
                            }
                        })
                        .collect_view()}
                </div>
            </fieldset>
            {move || create.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create robot account" }}
            </button>
        </ActionForm>
    }
    .into_any()
}

/// Where a row puts a refreshed secret for the panel to show.
#[derive(Clone, Copy)]
struct RevealedSecret(RwSignal<Option<RobotCredentials>>);

/// A new secret, with the warning that it is not shown again.
#[component]
fn SecretPanel(revealed: RwSignal<Option<RobotCredentials>>) -> impl IntoView {
    move || {
        revealed.get().map(|credentials| {
            view! {
                <section role="status" class="mt-6 rounded-lg border border-amber-300 bg-amber-50 p-4 dark:border-amber-700 dark:bg-amber-950" data-testid="robot-secret">
                    <h2 class="font-medium">{format!("Secret of {}", credentials.name)}</h2>
                    <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
                        "Copy it now: it is shown only this once. Use it as the password with the robot's name as the username."
                    </p>
                    <div class="mt-3 flex flex-wrap items-center gap-2">
                        <code class="break-all rounded bg-white px-3 py-2 font-mono text-xs dark:bg-slate-900" data-testid="robot-secret-value">
                            {credentials.secret.clone()}
                        </code>
                        <CopyButton text=credentials.secret.clone() label="Copy secret" />
                        <CopyButton text=credentials.name.clone() label="Copy name" />
                        <button type="button" class=SECONDARY_BUTTON on:click=move |_| revealed.set(None)>"Done"</button>
                    </div>
                </section>
            }
        })
    }
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
        .map(|robot| view! { <RobotRow project=project.clone() robot version /> })
        .collect_view();
    view! {
        <ListTable caption="Robot accounts" columns=ROBOT_COLUMNS>{rows}</ListTable>
        <Pager total=robots.total shown previous=robots.previous next=robots.next href=page_links(format!("/projects/{project}/robots"), vec![]) />
    }
    .into_any()
}

const ROBOT_COLUMNS: &[Column] = &[
    Column::Always("Name"),
    Column::Always("Permissions"),
    Column::Always("Status"),
    Column::FromMedium("Expires"),
    Column::FromLarge("Created"),
    Column::Actions,
];

/// One robot: its name, permissions, status, expiry and creation, and its actions.
#[component]
fn RobotRow(project: String, robot: RobotItem, version: RwSignal<u32>) -> AnyView {
    let (status, status_class) = if robot.disabled {
        ("Disabled", "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300")
    } else if robot.expired {
        ("Expired", "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300")
    } else {
        ("Active", "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300")
    };
    let permissions = robot
        .permissions
        .iter()
        .map(|action| ROBOT_PERMISSIONS.iter().find(|(name, _)| name == action).map_or(action.as_str(), |(_, l)| l))
        .collect::<Vec<_>>()
        .join(", ");
    let (id, name, disabled) = (robot.id, robot.name.clone(), robot.disabled);
    view! {
        <tr data-testid="robot-row">
            <td class="px-4 py-2">
                <span class="break-all font-medium">{robot.name.clone()}</span>
                {(!robot.description.is_empty()).then(|| view! {
                    <span class="block text-xs text-slate-500 dark:text-slate-400">{robot.description.clone()}</span>
                })}
            </td>
            <td class="px-4 py-2">{permissions}</td>
            <td class="px-4 py-2">
                <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {status_class}") data-testid="robot-status">{status}</span>
            </td>
            <td class="hidden px-4 py-2 text-slate-500 md:table-cell dark:text-slate-400">
                {robot.expires_at.map_or_else(|| "Never".to_owned(), timestamp)}
            </td>
            <td class="hidden px-4 py-2 text-slate-500 lg:table-cell dark:text-slate-400">
                {format!("{} by {}", timestamp(robot.created_at), robot.created_by)}
            </td>
            <td class="px-4 py-2">
                <RobotActions project id name disabled version />
            </td>
        </tr>
    }
    .into_any()
}

/// A robot's actions: refreshing its secret (shown in the secret panel),
/// disabling or enabling it, and deleting it; the first and last confirmed.
#[component]
fn RobotActions(project: String, id: i64, name: String, disabled: bool, version: RwSignal<u32>) -> AnyView {
    let toasts = use_toasts();
    let RevealedSecret(revealed) = expect_context();
    let refresh = ServerAction::<RefreshRobotSecret>::new();
    let toggle = ServerAction::<SetRobotDisabled>::new();
    let delete = ServerAction::<DeleteRobot>::new();
    let confirming_refresh = RwSignal::new(false);
    let confirming_delete = RwSignal::new(false);
    on_result(refresh, Some(confirming_refresh), move |credentials| revealed.set(Some(credentials)));
    on_result(toggle, None, move |()| version.update(|v| *v += 1));
    on_result(delete, Some(confirming_delete), move |()| {
        toasts.success("Robot account deleted.");
        version.update(|v| *v += 1);
    });
    let toggle_project = project.clone();
    let refresh_project = project.clone();
    view! {
        <div class="flex flex-wrap justify-end gap-2">
            <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirming_refresh.set(true)>"Refresh secret"</button>
            <button
                type="button"
                class=SECONDARY_BUTTON
                disabled=move || toggle.pending().get()
                on:click=move |_| {
                    toggle.dispatch(SetRobotDisabled { project: toggle_project.clone(), id, disabled: !disabled });
                }
            >
                {if disabled { "Enable" } else { "Disable" }}
            </button>
            <button type="button" class="text-xs font-medium text-red-700 hover:underline dark:text-red-300" on:click=move |_| confirming_delete.set(true)>
                "Delete"
            </button>
        </div>
        <ConfirmDialog
            open=confirming_refresh
            title=format!("Refresh the secret of {name}?")
            message="The current secret stops working at once; whatever uses it needs the new one.".to_owned()
            confirm_label="Refresh"
            pending=refresh.pending()
            on_confirm=move |_| {
                refresh.dispatch(RefreshRobotSecret { project: refresh_project.clone(), id });
            }
        />
        <ConfirmDialog
            open=confirming_delete
            title=format!("Delete {name}?")
            message="Clients using it are refused at once. This cannot be undone.".to_owned()
            confirm_label="Delete"
            pending=delete.pending()
            on_confirm=move |_| {
                delete.dispatch(DeleteRobot { project: project.clone(), id });
            }
        />
    }
    .into_any()
}

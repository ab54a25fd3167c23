//! What the project's Robot accounts tab and the Administration area's
//! Robot accounts page share: the panel showing a new secret once, and a
//! robot's row with its actions (refresh the secret, disable or enable,
//! delete). `project` is the robot's project, `None` for system robots.

use leptos::prelude::*;

use crate::{
    api::robots::{DeleteRobot, ROBOT_PERMISSIONS, RefreshRobotSecret, RobotCredentials, RobotItem, SetRobotDisabled},
    ui::{
        components::{ConfirmDialog, CopyButton, SECONDARY_BUTTON, on_result, timestamp, use_toasts},
        listing::Column,
    },
};

/// The registry permissions a new robot may get, as checkboxes named by
/// action (pull ticked to begin with); `id_prefix` keeps their ids apart.
#[component]
pub fn PermissionBoxes(id_prefix: &'static str) -> impl IntoView {
    view! {
        <div class="mt-2 flex flex-wrap gap-4">
            {ROBOT_PERMISSIONS
                .iter()
                .map(|(action, label)| {
                    let id = format!("{id_prefix}-{action}");
                    view! {
                        <label class="flex items-center gap-2 text-sm">
                            <input id=id type="checkbox" name=*action checked=*action == "pull" class="h-4 w-4 rounded border-slate-300" />
                            {*label}
                        </label>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Where a row puts a refreshed secret for the panel to show.
#[derive(Clone, Copy)]
pub struct RevealedSecret(pub RwSignal<Option<RobotCredentials>>);

/// A new secret, with the warning that it is not shown again.
#[component]
pub fn SecretPanel(revealed: RwSignal<Option<RobotCredentials>>) -> impl IntoView {
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

pub const ROBOT_COLUMNS: &[Column] = &[
    Column::Always("Name"),
    Column::Always("Permissions"),
    Column::Always("Status"),
    Column::FromMedium("Expires"),
    Column::FromLarge("Created"),
    Column::Actions,
];

/// One robot: its name, permissions, status, expiry and creation, and its actions.
#[component]
pub fn RobotRow(project: Option<String>, robot: RobotItem, version: RwSignal<u32>) -> AnyView {
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
            <td class="px-4 py-2">
                {robot.scope.clone().map(|scope| view! { <span class="block text-xs text-slate-500 dark:text-slate-400">{scope}</span> })}
                {permissions}
            </td>
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
fn RobotActions(project: Option<String>, id: i64, name: String, disabled: bool, version: RwSignal<u32>) -> AnyView {
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

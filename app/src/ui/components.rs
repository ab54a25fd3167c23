//! Pieces every page uses: toasts for results and [`on_result`] to show
//! them, a confirmation dialog for destructive actions, breadcrumbs, a
//! storage bar, inline errors, copy buttons and the shared button and field
//! styles. Listings have theirs in [`super::listing`].

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::components::A;

use super::format;
use crate::api::AppError;

pub const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500 dark:border-slate-700 dark:bg-slate-900";
pub const PRIMARY_BUTTON: &str = "inline-flex items-center justify-center rounded-md bg-sky-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-sky-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60";
pub const SECONDARY_BUTTON: &str = "inline-flex items-center justify-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:cursor-not-allowed disabled:opacity-60 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800";
pub const DANGER_BUTTON: &str = "inline-flex items-center justify-center rounded-md bg-red-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-red-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60";
pub const CARD: &str =
    "rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Toast {
    id: u64,
    kind: ToastKind,
    message: String,
}

/// The page's toasts; [`PortalLayout`](super::layout::PortalLayout)
/// provides them and shows them in a live region.
#[derive(Clone, Copy)]
pub struct Toasts {
    shown: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    pub fn provide() -> Self {
        let toasts = Self { shown: RwSignal::new(Vec::new()), next_id: StoredValue::new(0) };
        provide_context(toasts);
        toasts
    }

    pub fn success(&self, message: impl Into<String>) {
        self.push(ToastKind::Success, message.into());
    }

    pub fn error(&self, message: impl Into<String>) {
        self.push(ToastKind::Error, message.into());
    }

    fn push(&self, kind: ToastKind, message: String) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.shown.update(|shown| shown.push(Toast { id, kind, message }));
        // Results fade after a while; errors stay until dismissed.
        #[cfg(feature = "hydrate")]
        if kind == ToastKind::Success {
            let shown = self.shown;
            set_timeout(
                move || shown.update(|list| list.retain(|toast| toast.id != id)),
                std::time::Duration::from_secs(6),
            );
        }
    }

    fn dismiss(&self, id: u64) {
        self.shown.update(|shown| shown.retain(|toast| toast.id != id));
    }
}

/// The toasts of the nearest layout.
pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

#[component]
pub fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div aria-live="polite" class="pointer-events-none fixed inset-x-0 bottom-4 z-50 flex flex-col items-center gap-2 px-4 sm:items-end">
            <For each=move || toasts.shown.get() key=|toast| toast.id let:toast>
                <div
                    role=if toast.kind == ToastKind::Error { "alert" } else { "status" }
                    data-testid="toast"
                    class=format!(
                        "pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-md px-4 py-3 text-sm shadow-lg {}",
                        match toast.kind {
                            ToastKind::Success => "bg-emerald-600 text-white",
                            ToastKind::Error => "bg-red-600 text-white",
                        },
                    )
                >
                    <span class="flex-1">{toast.message.clone()}</span>
                    <button
                        type="button"
                        aria-label="Dismiss"
                        class="rounded px-1 hover:bg-white/20 focus:outline-none focus-visible:ring-2 focus-visible:ring-white"
                        on:click=move |_| toasts.dismiss(toast.id)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}

/// What the portal does with a server action's result, once per result:
/// on success `done` gets the value; on failure the error is shown as a
/// toast. A confirmation dialog, when given, closes either way.
pub fn on_result<S>(action: ServerAction<S>, dialog: Option<RwSignal<bool>>, done: impl Fn(S::Output) + 'static)
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    Effect::new(move |_| {
        let Some(result) = action.value().get() else {
            return;
        };
        if let Some(dialog) = dialog {
            dialog.set(false);
        }
        match result {
            Ok(value) => done(value),
            Err(error) => toasts.error(error.to_string()),
        }
    });
}

/// A modal asking to confirm a destructive action. `open` shows it; the
/// confirm button calls `on_confirm` and shows `pending` while it runs.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    title: String,
    message: String,
    confirm_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] on_confirm: Callback<()>,
) -> impl IntoView {
    let title_id = "confirm-dialog-title";
    view! {
        <Show when=move || open.get()>
            <div
                class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 px-4"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        open.set(false);
                    }
                }
            >
                <div
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby=title_id
                    class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl dark:bg-slate-900"
                >
                    <h2 id=title_id class="text-lg font-semibold">{title.clone()}</h2>
                    <p class="mt-2 text-sm text-slate-600 dark:text-slate-300">{message.clone()}</p>
                    <div class="mt-6 flex justify-end gap-3">
                        <button type="button" class=SECONDARY_BUTTON autofocus on:click=move |_| open.set(false)>
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class=DANGER_BUTTON
                            disabled=move || pending.get()
                            on:click=move |_| on_confirm.run(())
                        >
                            {move || if pending.get() { "Working…" } else { confirm_label }}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

/// `Projects / team / Repositories`: links for all but the last crumb.
#[component]
pub fn Breadcrumbs(crumbs: Vec<(String, Option<String>)>) -> impl IntoView {
    let last = crumbs.len().saturating_sub(1);
    view! {
        <nav aria-label="Breadcrumb" class="mb-3 text-sm text-slate-500 dark:text-slate-400">
            <ol class="flex flex-wrap items-center gap-1">
                {crumbs
                    .into_iter()
                    .enumerate()
                    .map(|(index, (label, href))| {
                        let separator = (index > 0).then(|| view! { <span aria-hidden="true">"/"</span> });
                        let crumb = match href {
                            Some(href) if index != last => {
                                view! { <A href=href attr:class="hover:text-sky-700 hover:underline dark:hover:text-sky-300">{label}</A> }.into_any()
                            }
                            _ => view! { <span aria-current="page" class="text-slate-700 dark:text-slate-200">{label}</span> }.into_any(),
                        };
                        view! { <li class="flex items-center gap-1">{separator}{crumb}</li> }
                    })
                    .collect_view()}
            </ol>
        </nav>
    }
}

/// Storage used against the quota: a bar when there is one.
#[component]
pub fn StorageBar(used: i64, quota: Option<i64>) -> impl IntoView {
    let used_text = format::bytes(used.max(0) as u64);
    match quota {
        Some(quota) => {
            let percent = (100.0 * used as f64 / quota.max(1) as f64).clamp(0.0, 100.0);
            let colour = if percent >= 90.0 {
                "bg-red-600"
            } else if percent >= 75.0 {
                "bg-amber-500"
            } else {
                "bg-sky-600"
            };
            view! {
                <div class="min-w-32">
                    <div class="text-xs">{format!("{used_text} of {}", format::bytes(quota as u64))}</div>
                    <div
                        class="mt-1 h-1.5 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700"
                        role="meter"
                        aria-label="Storage used"
                        aria-valuemin="0"
                        aria-valuemax="100"
                        aria-valuenow=format!("{percent:.0}")
                    >
                        <div class=format!("h-full {colour}") style=format!("width: {percent:.1}%")></div>
                    </div>
                </div>
            }
            .into_any()
        }
        None => view! { <span class="text-xs">{format!("{used_text} · no quota")}</span> }.into_any(),
    }
}

/// An error under a form, read by screen readers when it appears.
#[component]
pub fn FormError(error: AppError) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950 dark:text-red-300">
            {error.to_string()}
        </p>
    }
}

/// A value with a button that copies it (a pull command, a digest).
#[component]
pub fn CopyButton(
    text: String,
    #[prop(optional)] label: &'static str,
    /// A small button for tight places (tag chips, table cells).
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let label = if label.is_empty() { "Copy" } else { label };
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            set_copied.set(true);
            set_timeout(move || set_copied.set(false), std::time::Duration::from_secs(2));
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (&text, set_copied);
        }
    };
    let class = if compact {
        "rounded border border-slate-300 bg-white px-1.5 py-0.5 text-xs hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800"
    } else {
        SECONDARY_BUTTON
    };
    view! {
        <button type="button" class=class on:click=on_click>
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}

/// Dates as the lists show them: `2026-11-23 19:05 UTC`.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

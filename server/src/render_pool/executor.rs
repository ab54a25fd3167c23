//! The task executor Leptos spawns with: on a render thread, a render's
//! tasks stay on that thread (`spawn_local`); anywhere else they go to the
//! runtime as usual.

use std::cell::Cell;

thread_local! {
    static ON_RENDER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a render thread.
pub(super) fn mark_render_thread() {
    ON_RENDER_THREAD.set(true);
}

/// Makes Leptos spawn a render's tasks on the render thread running it
/// (elsewhere, on the runtime as usual). Must run before Leptos sets its
/// default executor, which it does when its routes are built.
pub fn install_executor() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        if any_spawner::Executor::init_custom_executor(RenderThreadExecutor).is_err() {
            // Someone set another executor first: a render's tasks could then
            // run on other threads, which is what the render threads prevent.
            tracing::error!(
                "Leptos' task executor was set before the portal's: renders are not confined to their threads"
            );
        }
    });
}

struct RenderThreadExecutor;

impl any_spawner::CustomExecutor for RenderThreadExecutor {
    fn spawn(&self, task: any_spawner::PinnedFuture<()>) {
        if ON_RENDER_THREAD.get() {
            tokio::task::spawn_local(task);
        } else {
            tokio::spawn(task);
        }
    }

    fn spawn_local(&self, task: any_spawner::PinnedLocalFuture<()>) {
        tokio::task::spawn_local(task);
    }

    fn poll_local(&self) {}
}

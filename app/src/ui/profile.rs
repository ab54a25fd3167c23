//! The user's profile: who they are, and for OIDC accounts the CLI secret
//! to give `docker login`/`podman login`, with a way to replace it.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{components::CopyButton, layout::ErrorBanner};
use crate::api::profile::{Profile, RegenerateCliSecret, get_profile};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let profile = Resource::new(|| (), |_| get_profile());
    view! {
        <Title text="Profile" />
        <h1 class="text-2xl font-semibold tracking-tight">"Profile"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(profile) => view! { <ProfileDetails profile /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProfileDetails(profile: Profile) -> impl IntoView {
    let role = if profile.is_admin { "System administrator" } else { "User" };
    view! {
        <dl class="mt-6 grid max-w-2xl gap-x-6 gap-y-3 rounded-lg border border-slate-200 bg-white p-6 text-sm shadow-sm sm:grid-cols-[10rem_1fr] dark:border-slate-800 dark:bg-slate-900">
            <dt class="font-medium text-slate-500 dark:text-slate-400">"Username"</dt>
            <dd data-testid="profile-username">{profile.username.clone()}</dd>
            <dt class="font-medium text-slate-500 dark:text-slate-400">"Full name"</dt>
            <dd>{profile.full_name.clone()}</dd>
            <dt class="font-medium text-slate-500 dark:text-slate-400">"Email"</dt>
            <dd>{profile.email.clone().unwrap_or_else(|| "—".to_owned())}</dd>
            <dt class="font-medium text-slate-500 dark:text-slate-400">"Role"</dt>
            <dd>{role}</dd>
        </dl>
        {profile.cli_secret.map(|secret| view! { <CliSecret secret username=profile.username /> })}
    }
}

/// The secret, hidden until asked for; regenerating needs a second click
/// because the old secret stops working at once.
#[component]
fn CliSecret(secret: String, username: String) -> impl IntoView {
    let regenerate = ServerAction::<RegenerateCliSecret>::new();
    let (current, set_current) = signal(secret);
    let (shown, set_shown) = signal(false);
    let (confirming, set_confirming) = signal(false);
    Effect::new(move |_| {
        if let Some(Ok(secret)) = regenerate.value().get() {
            set_current.set(secret);
            set_confirming.set(false);
        }
    });
    let error = move || regenerate.value().get().and_then(Result::err).map(|error| error.to_string());
    let regenerated = move || matches!(regenerate.value().get(), Some(Ok(_)));
    let button = "rounded-md border border-slate-300 px-3 py-2 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:opacity-60 dark:border-slate-700 dark:hover:bg-slate-800";
    view! {
        <section class="mt-8 max-w-2xl rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h2 class="text-lg font-semibold">"CLI secret"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                "Registry clients cannot sign in through your identity provider. Use this secret as the password: "
                <code class="font-mono text-xs">{format!("docker login -u {username} <registry>")}</code>
            </p>
            <div class="mt-4 flex flex-wrap items-center gap-2">
                <label for="cli-secret" class="sr-only">"CLI secret"</label>
                <input
                    id="cli-secret"
                    data-testid="cli-secret"
                    readonly
                    type=move || if shown.get() { "text" } else { "password" }
                    prop:value=move || current.get()
                    class="min-w-0 flex-1 rounded-md border border-slate-300 bg-slate-50 px-3 py-2 font-mono text-sm dark:border-slate-700 dark:bg-slate-950"
                />
                <button type="button" class=button on:click=move |_| set_shown.update(|shown| *shown = !*shown)>
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
                // Copies the secret in force (a new one once regenerated), shown or not.
                {move || view! { <CopyButton text=current.get() label="Copy secret" /> }}
                <Show
                    when=move || confirming.get()
                    fallback=move || {
                        view! {
                            <button type="button" class=button on:click=move |_| set_confirming.set(true)>
                                "Regenerate"
                            </button>
                        }
                    }
                >
                    <span class="text-sm">"The current secret stops working at once."</span>
                    <button
                        type="button"
                        class="rounded-md bg-red-600 px-3 py-2 text-sm font-semibold text-white hover:bg-red-700 disabled:opacity-60"
                        disabled=move || regenerate.pending().get()
                        on:click=move |_| {
                            regenerate.dispatch(RegenerateCliSecret {});
                        }
                    >
                        {move || if regenerate.pending().get() { "Regenerating…" } else { "Yes, regenerate" }}
                    </button>
                    <button type="button" class=button on:click=move |_| set_confirming.set(false)>
                        "Cancel"
                    </button>
                </Show>
            </div>
            <Show when=regenerated>
                <p role="status" class="mt-3 text-sm text-green-700 dark:text-green-400">
                    "A new secret is in place; sign in again with it wherever you used the old one."
                </p>
            </Show>
            {move || {
                error()
                    .map(|message| {
                        view! {
                            <p role="alert" class="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950 dark:text-red-300">
                                {message}
                            </p>
                        }
                    })
            }}
        </section>
    }
}

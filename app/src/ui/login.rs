//! The sign-in page: the OIDC provider's button when users sign in there,
//! and the username/password form (database and LDAP users, and always the
//! first administrator).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{Login, get_login_options};

/// What each reason code the OIDC callback sends back means for the user.
fn oidc_failure(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "oidc_denied" => "The identity provider did not sign you in.",
        "oidc_state" => "That sign-in expired or was started in another browser. Please try again.",
        "oidc_conflict" => {
            "An account with your username already exists and is not yours to sign in to. Ask an administrator."
        }
        "oidc_off" => "Signing in through an identity provider is not enabled.",
        "oidc_provider" => {
            "The identity provider could not be reached or gave an answer Berth cannot use; the server log has the details."
        }
        "oidc_failed" => "Signing in failed; the server log has the details.",
        _ => return None,
    })
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let options = Resource::new(|| (), |_| get_login_options());
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
            .or_else(|| query.read().get("error").and_then(|reason| oidc_failure(&reason)).map(str::to_owned))
    };
    let oidc_href = move || {
        let next = next();
        if next.is_empty() {
            "/c/oidc/login".to_owned()
        } else {
            format!("/c/oidc/login?next={}", leptos_router::location::Url::escape(&next))
        }
    };
    let input_class = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500 dark:border-slate-700 dark:bg-slate-900";
    view! {
        <Title text="Log in" />
        <main class="flex min-h-screen items-center justify-center px-4">
            <div class="w-full max-w-sm">
                <div class="mb-8 text-center">
                    <span aria-hidden="true" class="mx-auto mb-3 block h-10 w-10 rounded-lg bg-sky-600"></span>
                    <h1 class="text-2xl font-semibold tracking-tight">"Log in to Berth"</h1>
                </div>
                <Suspense>
                    {move || Suspend::new(async move {
                        options.await.ok().and_then(|options| options.oidc_provider).map(|provider| {
                            view! {
                                <a
                                    href=oidc_href
                                    rel="external"
                                    class="mb-4 block w-full rounded-md bg-sky-600 px-4 py-2 text-center text-sm font-semibold text-white shadow-sm hover:bg-sky-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2"
                                >
                                    {format!("Log in with {provider}")}
                                </a>
                                <p class="mb-4 text-center text-xs text-slate-500 dark:text-slate-400">
                                    "Local administrator? Use the form below."
                                </p>
                            }
                        })
                    })}
                </Suspense>
                <ActionForm
                    action=login
                    attr:class="space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900"
                >
                    <input type="hidden" name="next" prop:value=next />
                    <div>
                        <label for="username" class="block text-sm font-medium">"Username"</label>
                        <input id="username" name="username" type="text" autocomplete="username" required autofocus class=input_class />
                    </div>
                    <div>
                        <label for="password" class="block text-sm font-medium">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required class=input_class />
                    </div>
                    {move || {
                        error()
                            .map(|message| {
                                view! {
                                    <p role="alert" class="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950 dark:text-red-300">
                                        {message}
                                    </p>
                                }
                            })
                    }}
                    <button
                        type="submit"
                        disabled=move || login.pending().get()
                        class="w-full rounded-md bg-sky-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-sky-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2 disabled:opacity-60"
                    >
                        {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}

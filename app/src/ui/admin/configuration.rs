//! Configuration: Authentication (database accounts, LDAP or OIDC, each
//! with all its settings, "Test LDAP connection" and "Check endpoint";
//! secrets are write-only) and System (who creates projects, session and
//! robot lifetimes, and audit-log retention with its rotation schedule).

use leptos::{html, prelude::*};
use leptos_meta::Title;

use super::cleanup::AuditRotationPanel;
use crate::{
    api::{
        cleanup::get_cleanup,
        configuration::{
            CheckOidcLogin, ConfigurationView, LDAP_SCOPES, LdapView, OidcView, SaveSystemSettings, TestLdapLogin,
            UseDatabaseLogin, UseLdapLogin, UseOidcLogin, configuration,
        },
    },
    ui::{
        components::{Breadcrumbs, CARD, FormError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON, use_toasts},
        layout::ErrorBanner,
    },
};

const HINT: &str = "mt-1 text-xs text-slate-500 dark:text-slate-400";
const FORM: &str = "mt-2 grid max-w-3xl gap-4 sm:grid-cols-2";
const MODES: [(&str, &str); 3] =
    [("database", "Database accounts"), ("ldap", "LDAP directory"), ("oidc", "OpenID Connect provider")];

#[component]
pub fn ConfigurationPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let settings = Resource::new(move || version.get(), |_| configuration());
    let cleanup = Resource::new(|| (), |_| get_cleanup());
    view! {
        <Title text="Configuration" />
        <Breadcrumbs crumbs=vec![("Administration".to_owned(), None), ("Configuration".to_owned(), None)] />
        <h1 class="mt-2 text-2xl font-semibold tracking-tight">"Configuration"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! {
                        <Authentication settings=settings.clone() version />
                        <SystemSettings settings />
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match cleanup.await {
                    Ok(cleanup) => view! { <AuditRotationPanel rotation=cleanup.rotation /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Authentication(settings: ConfigurationView, version: RwSignal<u32>) -> impl IntoView {
    let in_force = settings.mode.clone();
    let mode = RwSignal::new(settings.mode.clone());
    let accounts =
        settings.accounts.iter().map(|(source, count)| format!("{count} {source}")).collect::<Vec<_>>().join(", ");
    let mode_label = |mode: &str| MODES.iter().find(|(value, _)| *value == mode).map_or("?", |(_, label)| *label);
    let (ldap, oidc) = (settings.ldap, settings.oidc);
    let in_force_text = format!("In force: {}. Accounts: {accounts}.", mode_label(&in_force));
    view! {
        <section class="mt-6" aria-labelledby="authentication-title">
            <h2 id="authentication-title" class="text-lg font-semibold">"Authentication"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400" data-testid="login-mode">{in_force_text}</p>
            <p class=HINT>
                "The mode can change at any time. Accounts of the other kinds stay, with their project memberships, but cannot sign in until their mode is back; "
                "a directory or provider user whose name an account of another kind already holds is refused, never merged. "
                "admin always signs in with its database password, and robot accounts are not affected."
            </p>
            <div class=format!("{CARD} mt-3 max-w-3xl")>
                <label for="login-mode" class="block text-sm font-medium">"Sign in with"</label>
                <select id="login-mode" class=INPUT bind:value=mode>
                    {MODES
                        .into_iter()
                        .map(|(value, label)| view! { <option value=value selected=mode.get_untracked() == value>{label}</option> })
                        .collect_view()}
                </select>
            </div>
            {move || match mode.get().as_str() {
                "ldap" => view! { <LdapSettingsForm ldap=ldap.clone() version /> }.into_any(),
                "oidc" => view! { <OidcSettingsForm oidc=oidc.clone() version /> }.into_any(),
                _ => view! { <DatabaseLogin in_force=in_force == "database" version /> }.into_any(),
            }}
        </section>
    }
}

/// Reloads the page's settings once `action` succeeds, with a toast.
fn reload_on_success<S>(action: ServerAction<S>, message: &'static str, version: RwSignal<u32>)
where
    S: leptos::server_fn::ServerFn<Output = (), Error = crate::api::AppError> + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            toasts.success(message);
            version.update(|v| *v += 1);
        }
    });
}

#[component]
fn DatabaseLogin(in_force: bool, version: RwSignal<u32>) -> impl IntoView {
    let save = ServerAction::<UseDatabaseLogin>::new();
    reload_on_success(save, "Users sign in with database accounts now.", version);
    view! {
        <ActionForm action=save attr:class=format!("{CARD} mt-3 max-w-3xl")>
            <p class="text-sm">"Users sign in with the accounts created here (or registered, when self-registration is on)."</p>
            {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            <button type="submit" class=format!("mt-3 {PRIMARY_BUTTON}") disabled=move || in_force || save.pending().get()>
                {if in_force { "In force" } else { "Use database accounts" }}
            </button>
        </ActionForm>
    }
}

/// A text field of the LDAP or OIDC form, posted as `{group}[{name}]`.
fn text_field(
    group: &'static str,
    name: &'static str,
    label: &'static str,
    value: String,
    hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{group}-{}", name.replace('_', "-"));
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium">{label}</label>
            <input id=id name=format!("{group}[{name}]") value=value maxlength="2048" class=INPUT />
            {hint.map(|hint| view! { <p class=HINT>{hint}</p> })}
        </div>
    }
}

/// A checkbox of the LDAP or OIDC form.
fn check_field(group: &'static str, name: &'static str, label: &'static str, checked: bool) -> impl IntoView {
    let id = format!("{group}-{}", name.replace('_', "-"));
    view! {
        <div class="flex items-start gap-2">
            <input id=id.clone() name=format!("{group}[{name}]") type="checkbox" class="mt-1" checked=checked />
            <label for=id class="text-sm font-medium">{label}</label>
        </div>
    }
}

/// A write-only secret: empty keeps the saved one.
fn secret_field(group: &'static str, name: &'static str, label: &'static str, set: bool) -> impl IntoView {
    let id = format!("{group}-{}", name.replace('_', "-"));
    let hint = if set { "Set. Leave empty to keep it." } else { "Not set." };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium">{label}</label>
            <input id=id name=format!("{group}[{name}]") type="password" autocomplete="new-password" maxlength="2048" class=INPUT />
            <p class=HINT>{hint}</p>
        </div>
    }
}

/// Dispatches `S` with what the form holds now (for a second button next
/// to the form's own submit, such as "Test connection").
fn dispatch_form<S>(form: NodeRef<html::Form>, action: ServerAction<S>)
where
    S: leptos::server_fn::ServerFn<Error = crate::api::AppError>
        + serde::de::DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static,
    S::Output: Send + Sync + 'static,
{
    #[cfg(feature = "hydrate")]
    {
        use leptos::form::FromFormData;
        let Some(form) = form.get_untracked() else { return };
        let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
        match S::from_form_data(&data) {
            Ok(arguments) => {
                action.dispatch(arguments);
            }
            Err(error) => use_toasts().error(format!("The form could not be read: {error}")),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (form, action);
}

#[component]
fn LdapSettingsForm(ldap: LdapView, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<UseLdapLogin>::new();
    let test = ServerAction::<TestLdapLogin>::new();
    let form = NodeRef::<html::Form>::new();
    reload_on_success(save, "Users sign in through LDAP now.", version);
    Effect::new(move |_| {
        if let Some(Ok(())) = test.value().get() {
            toasts.success("Connected to the directory and read the base DN.");
        }
    });
    let scope = ldap.scope.clone();
    view! {
        <ActionForm action=save node_ref=form attr:class=format!("{CARD} {FORM}") attr:aria-label="LDAP settings">
            <div class="sm:col-span-2">{text_field("ldap", "url", "LDAP URL", ldap.url, Some("ldap://host:389 or ldaps://host:636"))}</div>
            {check_field("ldap", "start_tls", "Upgrade with StartTLS", ldap.start_tls)}
            {check_field("ldap", "verify_certificate", "Verify the server's certificate", ldap.verify_certificate)}
            {text_field("ldap", "search_dn", "Search DN", ldap.search_dn, Some("Who searches for users; empty for anonymous search."))}
            {secret_field("ldap", "search_password", "Search password", ldap.has_search_password)}
            {text_field("ldap", "base_dn", "Base DN", ldap.base_dn, Some("Where users are searched."))}
            <div>
                <label for="ldap-scope" class="block text-sm font-medium">"Search scope"</label>
                <select id="ldap-scope" name="ldap[scope]" class=INPUT>
                    {LDAP_SCOPES
                        .into_iter()
                        .map(|(value, label)| view! { <option value=value selected=scope == value>{label}</option> })
                        .collect_view()}
                </select>
            </div>
            {text_field("ldap", "user_filter", "User filter", ldap.user_filter, Some("e.g. (objectClass=person)"))}
            {text_field("ldap", "uid_attribute", "Username attribute", ldap.uid_attribute, Some("e.g. uid or sAMAccountName"))}
            {text_field("ldap", "group_base_dn", "Group base DN", ldap.group_base_dn, Some("Empty: groups are not looked up."))}
            {text_field("ldap", "group_filter", "Group filter", ldap.group_filter, None)}
            {text_field("ldap", "group_name_attribute", "Group name attribute", ldap.group_name_attribute, None)}
            {text_field("ldap", "group_member_attribute", "Group membership attribute", ldap.group_member_attribute, None)}
            {text_field("ldap", "admin_group_dn", "Administrator group DN", ldap.admin_group_dn, Some("Its members are system administrators."))}
            {text_field("ldap", "timeout_seconds", "Timeout (seconds)", ldap.timeout_seconds.to_string(), Some("1 to 300."))}
            <div class="sm:col-span-2">
                {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                {move || test.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
            <div class="flex flex-wrap gap-2 sm:col-span-2">
                <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save and use LDAP"</button>
                <button type="button" class=SECONDARY_BUTTON disabled=move || test.pending().get() on:click=move |_| dispatch_form(form, test)>
                    {move || if test.pending().get() { "Testing…" } else { "Test LDAP connection" }}
                </button>
            </div>
        </ActionForm>
    }
}

#[component]
fn OidcSettingsForm(oidc: OidcView, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<UseOidcLogin>::new();
    let check = ServerAction::<CheckOidcLogin>::new();
    let form = NodeRef::<html::Form>::new();
    reload_on_success(save, "Users sign in through the OIDC provider now.", version);
    Effect::new(move |_| {
        if let Some(Ok(found)) = check.value().get() {
            toasts.success(found);
        }
    });
    view! {
        <ActionForm action=save node_ref=form attr:class=format!("{CARD} {FORM}") attr:aria-label="OIDC settings">
            {text_field("oidc", "provider_name", "Provider name", oidc.provider_name, Some("On the sign-in button."))}
            {text_field("oidc", "issuer_url", "Endpoint (issuer URL)", oidc.issuer_url, Some("Its /.well-known/openid-configuration is read."))}
            {text_field("oidc", "client_id", "Client ID", oidc.client_id, None)}
            {secret_field("oidc", "client_secret", "Client secret", oidc.has_client_secret)}
            {text_field("oidc", "scopes", "Scopes", oidc.scopes, Some("Comma-separated; openid is required, offline_access keeps CLI secrets working."))}
            {text_field("oidc", "username_claim", "Username claim", oidc.username_claim, None)}
            {text_field("oidc", "groups_claim", "Groups claim", oidc.groups_claim, Some("Empty: groups are not read."))}
            {text_field("oidc", "admin_group", "Administrator group", oidc.admin_group, Some("Its members are system administrators."))}
            {check_field("oidc", "verify_certificate", "Verify the provider's certificate", oidc.verify_certificate)}
            <div class="sm:col-span-2">
                {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                {move || check.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
            </div>
            <div class="flex flex-wrap gap-2 sm:col-span-2">
                <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save and use OIDC"</button>
                <button type="button" class=SECONDARY_BUTTON disabled=move || check.pending().get() on:click=move |_| dispatch_form(form, check)>
                    {move || if check.pending().get() { "Checking…" } else { "Check endpoint" }}
                </button>
            </div>
        </ActionForm>
    }
}

#[component]
fn SystemSettings(settings: ConfigurationView) -> impl IntoView {
    let toasts = use_toasts();
    let save = ServerAction::<SaveSystemSettings>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.success("System settings saved.");
        }
    });
    view! {
        <section class="mt-10" aria-labelledby="system-title">
            <h2 id="system-title" class="text-lg font-semibold">"System"</h2>
            <ActionForm action=save attr:class=format!("{CARD} {FORM}") attr:aria-label="System settings">
                <div class="flex items-start gap-2 sm:col-span-2">
                    <input id="system-admin-only" name="project_creation_admin_only" type="checkbox" class="mt-1" checked=settings.project_creation_admin_only />
                    <label for="system-admin-only" class="text-sm">
                        <span class="font-medium">"Only administrators create projects"</span>
                        <span class=format!("block {HINT}")>"Otherwise everyone signed in may."</span>
                    </label>
                </div>
                <div>
                    <label for="system-session" class="block text-sm font-medium">"Session lifetime (minutes)"</label>
                    <input id="system-session" name="session_lifetime_minutes" inputmode="numeric" required class=INPUT value=settings.session_lifetime_minutes.to_string() />
                    <p class=HINT>"5 to 43 200. Applies to sessions opened from now on."</p>
                </div>
                <div>
                    <label for="system-robot" class="block text-sm font-medium">"Robot account lifetime (days)"</label>
                    <input id="system-robot" name="robot_token_duration_days" inputmode="numeric" required class=INPUT value=settings.robot_token_duration_days.to_string() />
                    <p class=HINT>"1 to 36 500. For robot accounts created without a lifetime of their own."</p>
                </div>
                <div class="sm:col-span-2">
                    {move || save.value().get().and_then(Result::err).map(|error| view! { <FormError error /> })}
                </div>
                <div class="sm:col-span-2">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>"Save"</button>
                </div>
            </ActionForm>
        </section>
    }
}

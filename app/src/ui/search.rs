//! Results of the top bar's search: matching projects and repositories.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use super::{
    components::{Breadcrumbs, CARD, EmptyState},
    layout::ErrorBanner,
    projects::AccessBadge,
};
use crate::api::search::{SearchResults, search};

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let text = move || query.read().get("q").unwrap_or_default();
    let results = Resource::new(text, |text| async move {
        if text.trim().is_empty() { Ok(None) } else { search(text).await.map(Some) }
    });
    view! {
        <Title text="Search" />
        <Breadcrumbs crumbs=vec![("Search".to_owned(), None)] />
        <h1 class="text-2xl font-semibold tracking-tight">{move || format!("Search: {}", text())}</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(Some(results)) => view! { <Results results /> }.into_any(),
                    Ok(None) => view! { <p class="mt-6 text-sm">"Type part of a project or repository name in the search box."</p> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Results(results: SearchResults) -> AnyView {
    if results.projects.is_empty() && results.repositories.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="Nothing matches".to_owned() hint="Only projects you may see are searched; try another part of the name.".to_owned() />
            </div>
        }
        .into_any();
    }
    let link = "font-medium text-sky-700 hover:underline dark:text-sky-300";
    view! {
        <section class=format!("{CARD} mt-6") aria-labelledby="found-projects">
            <h2 id="found-projects" class="font-medium">{format!("Projects ({})", results.project_total)}</h2>
            <ul class="mt-2 divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="found-projects">
                {results
                    .projects
                    .into_iter()
                    .map(|project| view! {
                        <li class="flex items-center justify-between gap-2 py-2">
                            <A href=format!("/projects/{}", project.name) attr:class=link>{project.name.clone()}</A>
                            <span class="flex items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
                                {format!("{} repositories", project.repository_count)}
                                <AccessBadge public=project.public />
                            </span>
                        </li>
                    })
                    .collect_view()}
            </ul>
        </section>
        <section class=format!("{CARD} mt-6") aria-labelledby="found-repositories">
            <h2 id="found-repositories" class="font-medium">{format!("Repositories ({})", results.repository_total)}</h2>
            <ul class="mt-2 divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="found-repositories">
                {results
                    .repositories
                    .into_iter()
                    .map(|repository| view! {
                        <li class="flex items-center justify-between gap-2 py-2">
                            <A href=format!("/projects/{}", repository.name.replacen('/', "/repositories/", 1)) attr:class=link>{repository.name.clone()}</A>
                            <span class="text-xs text-slate-500 dark:text-slate-400">{format!("{} artifacts", repository.artifact_count)}</span>
                        </li>
                    })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

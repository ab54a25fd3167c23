//! Results of the top bar's search: matching projects and repositories.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map, location::Url};

use super::{
    components::{Breadcrumbs, CARD},
    layout::ErrorBanner,
    listing::{EmptyState, Pager, page_links},
    projects::AccessBadge,
};
use crate::api::search::{SearchResults, search};

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let text = move || query.read().get("q").unwrap_or_default();
    let param = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let results = Resource::new(
        move || (text(), param("after"), param("before")),
        |(text, after, before)| async move {
            if text.trim().is_empty() { Ok(None) } else { search(text, after, before).await.map(Some) }
        },
    );
    view! {
        <Title text="Search" />
        <Breadcrumbs crumbs=vec![("Search".to_owned(), None)] />
        <h1 class="text-2xl font-semibold tracking-tight">{move || format!("Search: {}", text())}</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(Some(results)) => view! { <Results results text=text() /> }.into_any(),
                    Ok(None) => view! { <p class="mt-6 text-sm">"Type part of a project or repository name in the search box."</p> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Results(results: SearchResults, text: String) -> AnyView {
    if results.projects.is_empty() && results.repositories.items.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="Nothing matches".to_owned() hint="Only projects you may see are searched; try another part of the name.".to_owned() />
            </div>
        }
        .into_any();
    }
    let link = "font-medium text-sky-700 hover:underline dark:text-sky-300";
    let more_projects = (results.project_total > results.projects.len() as i64).then(|| {
        let href = format!("/projects?search={}", Url::escape(&text));
        view! { <A href attr:class=format!("mt-2 inline-block text-sm {link}")>{format!("All {} matching projects", results.project_total)}</A> }
    });
    let repositories = results.repositories;
    let shown = repositories.items.len();
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
            {more_projects}
        </section>
        <section class=format!("{CARD} mt-6") aria-labelledby="found-repositories">
            <h2 id="found-repositories" class="font-medium">{format!("Repositories ({})", repositories.total)}</h2>
            <ul class="mt-2 divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="found-repositories">
                {repositories
                    .items
                    .into_iter()
                    .map(|repository| view! {
                        <li class="flex items-center justify-between gap-2 py-2">
                            <A href=format!("/projects/{}", repository.name.replacen('/', "/repositories/", 1)) attr:class=link>{repository.name.clone()}</A>
                            <span class="text-xs text-slate-500 dark:text-slate-400">{format!("{} artifacts", repository.artifact_count)}</span>
                        </li>
                    })
                    .collect_view()}
            </ul>
            <Pager
                total=repositories.total
                shown
                previous=repositories.previous
                next=repositories.next
                href=page_links("/search".to_owned(), vec![("q", Some(text))])
            />
        </section>
    }
    .into_any()
}

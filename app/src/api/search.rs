//! The top bar's search across the projects and repositories the signed-in
//! user may see.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{
    AppError,
    projects::{Listing, RepositoryItem},
};

/// Matches of each kind the search page shows at once: the first projects
/// (all of them are in the projects list, searched the same way) and a
/// page of repositories.
pub const SEARCH_LIMIT: u32 = 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectMatch {
    pub name: String,
    pub public: bool,
    pub repository_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub projects: Vec<ProjectMatch>,
    pub project_total: i64,
    pub repositories: Listing<RepositoryItem>,
}

#[server(prefix = "/portal/fn", endpoint = "search")]
pub async fn search(query: String, after: Option<String>, before: Option<String>) -> Result<SearchResults, AppError> {
    use crate::core::{AppState, db::Keyset};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let query = query.trim();
    if query.is_empty() {
        return Err(AppError::Invalid { field: "query".into(), message: "type part of a name".into() }.respond());
    }
    let projects = state.projects.browse(&actor, Some(query), &Keyset::First, SEARCH_LIMIT).await?;
    let keyset = crate::api::projects::keyset(after, before);
    let repositories = state.artifacts.search_repositories(&actor, query, &keyset, SEARCH_LIMIT).await?;
    Ok(SearchResults {
        project_total: projects.total,
        projects: projects
            .items
            .into_iter()
            .map(|project| ProjectMatch {
                name: project.name.to_string(),
                public: project.public,
                repository_count: project.repository_count,
            })
            .collect(),
        repositories: crate::api::projects::listing(
            repositories,
            |repository| repository.name.clone(),
            RepositoryItem::from,
        ),
    })
}

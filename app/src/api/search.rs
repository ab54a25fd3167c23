//! The top bar's search across the projects and repositories the signed-in
//! user may see.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, projects::RepositoryItem};

/// Matches of each kind the search page shows.
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
    pub repositories: Vec<RepositoryItem>,
    pub repository_total: i64,
}

#[server(prefix = "/portal/fn", endpoint = "search")]
pub async fn search(query: String) -> Result<SearchResults, AppError> {
    use crate::core::{AppState, db::Keyset};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let query = query.trim();
    if query.is_empty() {
        return Err(AppError::Invalid { field: "query".into(), message: "type part of a name".into() }.respond());
    }
    let projects = state.projects.browse(&actor, Some(query), &Keyset::First, SEARCH_LIMIT).await?;
    let (repositories, repository_total) =
        state.artifacts.all_repositories(&actor, Some(query), 0, SEARCH_LIMIT).await?;
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
        repository_total,
        repositories: repositories
            .into_iter()
            .map(|repository| RepositoryItem {
                name: repository.name,
                artifact_count: repository.artifact_count,
                updated_at: repository.updated_at,
            })
            .collect(),
    })
}

//! Who is calling `/v2` and whether they may do what the endpoint needs.
//! Credentials come from the `Authorization` header: Basic (a user's
//! password) or Bearer (a registry token from `/service/token`). Callers
//! without credentials are anonymous; when they may not do something they
//! get the 401 challenge that sends docker clients to the token service.
//! The decision itself is the core's (`AccessService` → `rbac::decide`).
//! A token's scopes are not the whole answer: its holder must still be
//! allowed now (asked at most `RECHECK_AFTER` ago), so a removal, demotion
//! or deletion ends what an issued token can do within seconds.

use std::sync::Arc;

use axum::http::HeaderMap;

use app::core::{
    AppState, Error,
    access::{Decision, ProjectGrant, registry_action_name},
    auth::tokens::Claims,
    identity::{Actor, Principal, ROBOT_PREFIX, Visibility},
    rbac::Action,
    registry::names::RepoName,
};

use super::error::{OciError, OciResult};
use crate::credentials::{Presented, presented, sign_in, token_principal};

/// The caller of one request, once its credentials checked out.
#[derive(Clone, Debug)]
pub enum Identity {
    Anonymous,
    /// Basic credentials of an account.
    Account(Principal),
    /// A registry token: it carries what the caller may do.
    Token(Arc<Claims>),
}

impl Identity {
    /// Who acts, as the core and the audit log take it.
    pub fn principal(&self) -> Principal {
        match self {
            Identity::Anonymous => Principal::Anonymous,
            Identity::Account(principal) => principal.clone(),
            Identity::Token(claims) if claims.sub.is_empty() => Principal::Anonymous,
            Identity::Token(claims) => Principal::TokenHolder(claims.sub.clone()),
        }
    }
}

/// Reads and checks the request's credentials. Wrong ones are refused with
/// 401 even where anonymous access would do: a client that sent them wants
/// to know.
pub async fn identify(state: &AppState, headers: &HeaderMap, client_addr: Option<&str>) -> OciResult<Identity> {
    match presented(headers) {
        Presented::None => Ok(Identity::Anonymous),
        Presented::Bearer(token) => match state.tokens.verify(&token) {
            // A robot's tokens die with it: checked on every request.
            Ok(claims) if claims.sub.starts_with(ROBOT_PREFIX) => {
                if state.robots.is_usable(&claims.sub).await.map_err(OciError::from)? {
                    Ok(Identity::Token(claims))
                } else {
                    Err(unauthorized(state, None, "the robot account is disabled, expired or gone"))
                }
            }
            Ok(claims) => Ok(Identity::Token(claims)),
            Err(error) => {
                tracing::debug!(%error, "refused a registry token");
                Err(unauthorized(state, None, "the registry token is invalid or has expired"))
            }
        },
        Presented::Basic { username, password } => {
            // Boxed: a sign-in (password hash, LDAP) is a large future every request would carry.
            match Box::pin(sign_in(state, &username, password, client_addr, "registry API")).await {
                Ok(principal) => Ok(Identity::Account(principal)),
                Err(app::core::Error::InvalidCredentials) => {
                    Err(unauthorized(state, None, "invalid username or password"))
                }
                Err(error @ app::core::Error::Throttled { .. }) => Err(OciError::TooManyRequests(error.to_string())),
                Err(other) => Err(other.into()),
            }
        }
        Presented::Malformed => Err(unauthorized(state, None, "unreadable Authorization header; use Basic or Bearer")),
    }
}

/// What the caller must be allowed for a request that names no repository.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// `GET /v2/`: any valid credentials.
    SignedIn,
    /// The catalog: a signed-in caller (the listing is filtered for them).
    Catalog,
}

/// Lets the request through, or says why not: 401 with a challenge when
/// credentials (or a token's scope) would help.
pub async fn authorize(state: &AppState, identity: &Identity, need: Need) -> OciResult<()> {
    let scope = match need {
        Need::SignedIn => None,
        Need::Catalog => Some("registry:catalog:*"),
    };
    match (identity, need) {
        (Identity::Anonymous, _) => Err(unauthorized(state, scope, "authentication required")),
        (Identity::Account(_) | Identity::Token(_), Need::SignedIn) | (Identity::Account(_), Need::Catalog) => Ok(()),
        (Identity::Token(claims), Need::Catalog) if claims.allows("registry", "catalog", "*") => Ok(()),
        (Identity::Token(_), Need::Catalog) => {
            Err(insufficient_scope(state, scope, "the token does not grant the catalog"))
        }
    }
}

/// The grant for `action` in repository `name`, or why not: 401 with a
/// challenge when credentials (or a token's scope) would help, 403 DENIED
/// when the caller is known and not allowed, NAME_UNKNOWN when the project
/// does not exist. `actor` is the identity's, with the client's address.
pub async fn grant(
    state: &AppState,
    identity: &Identity,
    actor: &Actor,
    name: &RepoName,
    action: Action,
) -> OciResult<ProjectGrant> {
    grant_asking(state, identity, actor, name, action, || repository_scope(name, action)).await
}

/// A cross-repository mount: the grant to push in `target`, and the
/// challenge asks for pull in `source` too, so a client that follows it
/// gets a token that can mount (without it the registry falls back to a
/// plain upload).
pub async fn grant_mount(
    state: &AppState,
    identity: &Identity,
    actor: &Actor,
    target: &RepoName,
    source: &RepoName,
) -> OciResult<ProjectGrant> {
    let scope = format!("repository:{target}:pull,push repository:{source}:pull");
    let grant = grant_asking(state, identity, actor, target, Action::Push, || scope.clone()).await?;
    // A token without the source's pull scope, held by an account that may
    // pull there: a wider token makes the mount work, so say so (as
    // distribution does) rather than silently falling back to an upload.
    if let Identity::Token(claims) = identity
        && !claims.sub.is_empty()
        && !claims.allows("repository", source.as_str(), "pull")
        && holder_decision(state, claims, source, Action::Pull).await? == Decision::Allowed
    {
        return Err(insufficient_scope(state, Some(&scope), "the token does not grant pull in the mount's source"));
    }
    Ok(grant)
}

/// [`grant`], with the scope a challenge names (made only for a refusal).
/// The access service's refusals (Forbidden, NotFound) become the
/// registry's here, and only here.
async fn grant_asking(
    state: &AppState,
    identity: &Identity,
    actor: &Actor,
    name: &RepoName,
    action: Action,
    scope: impl FnOnce() -> String,
) -> OciResult<ProjectGrant> {
    // A name without a project names no project that exists.
    let project = name.project().unwrap_or_default();
    match identity {
        Identity::Token(claims) => {
            let action_name = registry_action_name(action).expect("the registry asks only for registry actions");
            let scoped = claims.allows("repository", name.as_str(), action_name);
            // What the holder may do now, not only what the token says: a
            // removal, demotion or deletion ends a token's rights early.
            let signed_in = !claims.sub.is_empty();
            match state.access.require_holder(actor, project, action, holder(state, claims)).await {
                Ok(grant) if scoped => Ok(grant),
                // A signed-in caller learns whether a new token would help: not
                // when the project is missing or the account may not do this.
                Err(Error::Forbidden(_)) if signed_in => Err(denied(&claims.sub, name, action)),
                Err(Error::NotFound(_)) if signed_in => Err(OciError::ProjectUnknown(project_unknown(name))),
                Ok(_) | Err(Error::Forbidden(_) | Error::NotFound(_)) => {
                    Err(insufficient_scope(state, Some(&scope()), "the token does not grant this"))
                }
                Err(other) => Err(other.into()),
            }
        }
        Identity::Anonymous => match state.access.require(actor, project, action).await {
            Ok(grant) => Ok(grant),
            // Anonymous callers cannot tell private projects from missing ones.
            Err(Error::Forbidden(_) | Error::NotFound(_)) => {
                Err(unauthorized(state, Some(&scope()), "authentication required"))
            }
            Err(other) => Err(other.into()),
        },
        Identity::Account(principal) => match state.access.require(actor, project, action).await {
            Ok(grant) => Ok(grant),
            Err(Error::Forbidden(_)) => Err(denied(principal.name().unwrap_or("this caller"), name, action)),
            Err(Error::NotFound(_)) => Err(OciError::ProjectUnknown(project_unknown(name))),
            Err(other) => Err(other.into()),
        },
    }
}

/// The grant for `action` in `name` when the caller may, `None` when not:
/// no error for "no" (a mount's source, which falls back to an upload).
pub async fn grant_if(
    state: &AppState,
    identity: &Identity,
    actor: &Actor,
    name: &RepoName,
    action: Action,
) -> OciResult<Option<ProjectGrant>> {
    let project = name.project().unwrap_or_default();
    let granted = match identity {
        Identity::Token(claims) => {
            if !registry_action_name(action).is_some_and(|a| claims.allows("repository", name.as_str(), a)) {
                return Ok(None);
            }
            state.access.require_holder(actor, project, action, holder(state, claims)).await
        }
        Identity::Anonymous | Identity::Account(_) => state.access.require(actor, project, action).await,
    };
    match granted {
        Ok(grant) => Ok(Some(grant)),
        Err(Error::Forbidden(_) | Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Resolves a token's holder to its live account, only when a decision
/// must be made afresh (`None` when it is gone, disabled or expired).
async fn holder(state: &AppState, claims: &Claims) -> app::core::Result<Option<Principal>> {
    if claims.sub.is_empty() { Ok(Some(Principal::Anonymous)) } else { token_principal(state, &claims.sub).await }
}

/// Which projects' repositories the caller's catalog shows.
pub async fn visibility(state: &AppState, identity: &Identity) -> OciResult<Visibility> {
    Ok(match identity {
        Identity::Anonymous => Visibility::PublicOnly,
        Identity::Account(principal) => principal.visibility(),
        Identity::Token(claims) => match token_account(state, claims).await? {
            Some(principal) => principal.visibility(),
            None => Visibility::PublicOnly,
        },
    })
}

/// Whether the holder of a registry token may do `action` in `name` now
/// (a decision at most [`app::core::access::RECHECK_AFTER`] old).
async fn holder_decision(state: &AppState, claims: &Claims, name: &RepoName, action: Action) -> OciResult<Decision> {
    let Some(project) = name.project() else {
        return Ok(Decision::NoSuchProject);
    };
    state.access.holder_decision(&claims.sub, project, action, holder(state, claims)).await.map_err(OciError::from)
}

/// The account a token was issued to (`None` for anonymous tokens and
/// accounts that are gone).
async fn token_account(state: &AppState, claims: &Claims) -> OciResult<Option<Principal>> {
    token_principal(state, &claims.sub).await.map_err(OciError::from)
}

fn denied(caller: &str, name: &RepoName, action: Action) -> OciError {
    OciError::Denied(format!("{caller} may not {} in {name}", registry_action_name(action).unwrap_or("do this")))
}

fn project_unknown(name: &RepoName) -> String {
    app::core::registry::Error::ProjectUnknown(name.clone()).to_string()
}

/// The token scope a client should ask for to do `action` in `name`.
fn repository_scope(name: &RepoName, action: Action) -> String {
    match action {
        // Docker asks for pull with push (a push reads what is there).
        Action::Push => format!("repository:{name}:pull,push"),
        other => format!("repository:{name}:{}", registry_action_name(other).unwrap_or("pull")),
    }
}

fn challenge(state: &AppState, scope: Option<&str>, error: Option<&str>) -> String {
    let mut value =
        format!("Bearer realm=\"{}/service/token\",service=\"{}\"", state.http.external_origin, state.tokens.service());
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    if let Some(error) = error {
        value.push_str(&format!(",error=\"{error}\""));
    }
    value
}

fn unauthorized(state: &AppState, scope: Option<&str>, message: &str) -> OciError {
    OciError::Unauthorized { challenge: challenge(state, scope, None), message: message.to_owned() }
}

fn insufficient_scope(state: &AppState, scope: Option<&str>, message: &str) -> OciError {
    OciError::Unauthorized {
        challenge: challenge(state, scope, Some("insufficient_scope")),
        message: message.to_owned(),
    }
}

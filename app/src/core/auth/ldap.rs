//! Signing in against an LDAP directory: search for the user with the
//! service account, then bind as the entry found with the password given
//! (search-then-bind), then look up the user's groups. Every value put into
//! a filter is escaped, and an empty password never reaches the directory
//! (an empty simple bind is an anonymous bind, which "succeeds").

use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, ldap_escape};

use crate::core::settings::{LdapScope, LdapSettings};

/// LDAP's result code for a failed bind.
const INVALID_CREDENTIALS: u32 = 49;

/// A user as the directory describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: String,
    pub groups: Vec<DirectoryGroup>,
    /// A member of the administrators' group.
    pub is_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub dn: String,
    pub name: String,
}

/// The directory could not be asked (unreachable, misconfigured, refused
/// the service account). Distinct from "wrong password", which is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[error("LDAP: {0}")]
pub struct DirectoryError(String);

impl From<LdapError> for DirectoryError {
    fn from(error: LdapError) -> Self {
        Self(error.to_string())
    }
}

/// The user `username` with `password`, or `None` when the directory does
/// not know that pair (no such user, several matches, or a wrong password).
pub async fn authenticate(
    settings: &LdapSettings,
    username: &str,
    password: &str,
) -> Result<Option<DirectoryUser>, DirectoryError> {
    if password.is_empty() || username.is_empty() {
        return Ok(None);
    }
    let mut ldap = connect(settings).await?;
    let outcome = authenticate_on(&mut ldap, settings, username, password).await;
    let _ = ldap.unbind().await;
    outcome
}

async fn authenticate_on(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    username: &str,
    password: &str,
) -> Result<Option<DirectoryUser>, DirectoryError> {
    bind_service_account(ldap, settings).await?;
    let filter = format!("(&{}({}={}))", settings.user_filter.trim(), settings.uid_attribute, ldap_escape(username));
    let attributes = [settings.uid_attribute.as_str(), "mail", "cn", "displayName"];
    let (entries, _) = ldap
        .with_timeout(timeout(settings))
        .search(&settings.base_dn, scope(settings.scope), &filter, attributes.to_vec())
        .await?
        .success()?;
    // Exactly one entry: none is an unknown user, several an ambiguous setup.
    let mut entries = entries.into_iter();
    let (Some(entry), None) = (entries.next(), entries.next()) else {
        return Ok(None);
    };
    let entry = SearchEntry::construct(entry);
    match ldap.with_timeout(timeout(settings)).simple_bind(&entry.dn, password).await?.success() {
        Ok(_) => {}
        Err(LdapError::LdapResult { result }) if result.rc == INVALID_CREDENTIALS => return Ok(None),
        Err(other) => return Err(other.into()),
    }
    // Group lookups run as the service account again, which may read groups.
    bind_service_account(ldap, settings).await?;
    let groups = member_groups(ldap, settings, &entry.dn).await?;
    let is_admin = !settings.admin_group_dn.trim().is_empty()
        && (groups.iter().any(|g| g.dn.eq_ignore_ascii_case(settings.admin_group_dn.trim()))
            || is_member(ldap, settings, settings.admin_group_dn.trim(), &entry.dn).await?);
    let first = |name: &str| entry.attrs.get(name).and_then(|values| values.first()).cloned();
    Ok(Some(DirectoryUser {
        username: first(&settings.uid_attribute).unwrap_or_else(|| username.to_owned()),
        email: first("mail"),
        full_name: first("displayName").or_else(|| first("cn")).unwrap_or_default(),
        dn: entry.dn,
        groups,
        is_admin,
    }))
}

/// Checks the settings against the directory: connects, binds as the
/// service account and reads the base DN ("test connection").
pub async fn test_connection(settings: &LdapSettings) -> Result<(), DirectoryError> {
    let mut ldap = connect(settings).await?;
    let outcome = async {
        bind_service_account(&mut ldap, settings).await?;
        let (entries, _) = ldap
            .with_timeout(timeout(settings))
            .search(&settings.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await?
            .success()?;
        if entries.is_empty() {
            return Err(DirectoryError(format!("the base DN {} was not found", settings.base_dn)));
        }
        Ok(())
    }
    .await;
    let _ = ldap.unbind().await;
    outcome
}

/// The group with this DN, if the directory has it and it matches the group filter.
pub async fn find_group(settings: &LdapSettings, dn: &str) -> Result<Option<DirectoryGroup>, DirectoryError> {
    let mut ldap = connect(settings).await?;
    let outcome = async {
        bind_service_account(&mut ldap, settings).await?;
        let filter = group_filter(settings);
        let found = ldap
            .with_timeout(timeout(settings))
            .search(dn, Scope::Base, &filter, vec![settings.group_name_attribute.as_str()])
            .await?
            .success();
        match found {
            Ok((entries, _)) => Ok(entries.into_iter().next().map(|e| group_of(settings, SearchEntry::construct(e)))),
            // 32: no such object.
            Err(LdapError::LdapResult { result }) if result.rc == 32 => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
    .await;
    let _ = ldap.unbind().await;
    outcome
}

async fn connect(settings: &LdapSettings) -> Result<Ldap, DirectoryError> {
    let connection = LdapConnSettings::new()
        .set_conn_timeout(timeout(settings))
        .set_starttls(settings.start_tls)
        .set_no_tls_verify(!settings.verify_certificate);
    let (conn, ldap) = LdapConnAsync::with_settings(connection, &settings.url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

async fn bind_service_account(ldap: &mut Ldap, settings: &LdapSettings) -> Result<(), DirectoryError> {
    if settings.search_dn.trim().is_empty() {
        return Ok(());
    }
    ldap.with_timeout(timeout(settings))
        .simple_bind(settings.search_dn.trim(), &settings.search_password)
        .await?
        .success()
        .map_err(|e| DirectoryError(format!("the search account could not bind: {e}")))?;
    Ok(())
}

async fn member_groups(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    dn: &str,
) -> Result<Vec<DirectoryGroup>, DirectoryError> {
    if settings.group_base_dn.trim().is_empty() {
        return Ok(Vec::new());
    }
    let filter = format!("(&{}({}={}))", group_filter(settings), settings.group_member_attribute, ldap_escape(dn));
    let (entries, _) = ldap
        .with_timeout(timeout(settings))
        .search(settings.group_base_dn.trim(), Scope::Subtree, &filter, vec![settings.group_name_attribute.as_str()])
        .await?
        .success()?;
    Ok(entries.into_iter().map(|e| group_of(settings, SearchEntry::construct(e))).collect())
}

async fn is_member(ldap: &mut Ldap, settings: &LdapSettings, group: &str, dn: &str) -> Result<bool, DirectoryError> {
    let filter = format!("({}={})", settings.group_member_attribute, ldap_escape(dn));
    let found = ldap.with_timeout(timeout(settings)).search(group, Scope::Base, &filter, vec!["1.1"]).await?.success();
    match found {
        Ok((entries, _)) => Ok(!entries.is_empty()),
        Err(LdapError::LdapResult { result }) if result.rc == 32 => Ok(false),
        Err(other) => Err(other.into()),
    }
}

fn group_filter(settings: &LdapSettings) -> String {
    match settings.group_filter.trim() {
        "" => "(objectClass=*)".to_owned(),
        filter => filter.to_owned(),
    }
}

fn group_of(settings: &LdapSettings, entry: SearchEntry) -> DirectoryGroup {
    let name = entry
        .attrs
        .get(&settings.group_name_attribute)
        .and_then(|values| values.first())
        .cloned()
        .unwrap_or_else(|| entry.dn.clone());
    DirectoryGroup { dn: entry.dn, name }
}

fn scope(scope: LdapScope) -> Scope {
    match scope {
        LdapScope::Base => Scope::Base,
        LdapScope::OneLevel => Scope::OneLevel,
        LdapScope::Subtree => Scope::Subtree,
    }
}

fn timeout(settings: &LdapSettings) -> Duration {
    Duration::from_secs(settings.timeout_seconds.max(1))
}

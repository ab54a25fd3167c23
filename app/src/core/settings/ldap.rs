//! LDAP login settings: where the directory is and how users and groups
//! are found in it.

use serde::{Deserialize, Serialize};

use crate::core::{Error, Result};

/// Where the LDAP directory is and how users and groups are found in it
/// (Harbor's settings of the same names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// Check the server's certificate (leave on outside tests).
    pub verify_certificate: bool,
    /// Who searches for users (empty: anonymous search).
    pub search_dn: String,
    pub search_password: String,
    /// Where users are searched, and how deep.
    pub base_dn: String,
    pub scope: LdapScope,
    /// An extra filter users must match, e.g. `(objectClass=person)`.
    pub user_filter: String,
    /// The attribute holding the username, e.g. `uid` or `sAMAccountName`.
    pub uid_attribute: String,
    /// Where groups are searched (empty: groups are not looked up).
    pub group_base_dn: String,
    /// Which entries are groups, e.g. `(objectClass=groupOfNames)`.
    pub group_filter: String,
    /// The attribute naming a group, e.g. `cn`.
    pub group_name_attribute: String,
    /// The group attribute listing member DNs, e.g. `member`.
    pub group_member_attribute: String,
    /// Members of this group are system administrators.
    pub admin_group_dn: String,
    pub timeout_seconds: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            start_tls: false,
            verify_certificate: true,
            search_dn: String::new(),
            search_password: String::new(),
            base_dn: String::new(),
            scope: LdapScope::Subtree,
            user_filter: String::new(),
            uid_attribute: "uid".into(),
            group_base_dn: String::new(),
            group_filter: "(objectClass=groupOfNames)".into(),
            group_name_attribute: "cn".into(),
            group_member_attribute: "member".into(),
            admin_group_dn: String::new(),
            timeout_seconds: 5,
        }
    }
}

impl LdapSettings {
    /// Refuses settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        self.check_bounds()?;
        if !(self.url.starts_with("ldap://") || self.url.starts_with("ldaps://")) {
            return Err(Error::invalid("url", "must start with ldap:// or ldaps://"));
        }
        if self.start_tls && self.url.starts_with("ldaps://") {
            return Err(Error::invalid("start_tls", "StartTLS upgrades ldap:// connections; ldaps:// is TLS already"));
        }
        if self.base_dn.trim().is_empty() {
            return Err(Error::invalid("base_dn", "must name where users are searched"));
        }
        if self.uid_attribute.trim().is_empty() {
            return Err(Error::invalid("uid_attribute", "must name the attribute holding usernames"));
        }
        for (field, filter) in [("user_filter", &self.user_filter), ("group_filter", &self.group_filter)] {
            let filter = filter.trim();
            let parenthesized = filter.starts_with('(') && filter.ends_with(')');
            if !filter.is_empty() && !parenthesized {
                return Err(Error::invalid(field, "must be an LDAP filter in parentheses"));
            }
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            return Err(Error::invalid("timeout_seconds", "must be 1 to 300 seconds"));
        }
        Ok(())
    }
}

impl LdapSettings {
    /// Refuses a setting longer than [`super::MAX_SETTING`]: what even
    /// settings only kept for later, or only tested, must fit.
    pub fn check_bounds(&self) -> Result<()> {
        super::check_lengths(self.texts())
    }

    /// Every text setting, by field name.
    fn texts(&self) -> [(&'static str, &str); 11] {
        [
            ("url", &self.url),
            ("search_dn", &self.search_dn),
            ("search_password", &self.search_password),
            ("base_dn", &self.base_dn),
            ("user_filter", &self.user_filter),
            ("uid_attribute", &self.uid_attribute),
            ("group_base_dn", &self.group_base_dn),
            ("group_filter", &self.group_filter),
            ("group_name_attribute", &self.group_name_attribute),
            ("group_member_attribute", &self.group_member_attribute),
            ("admin_group_dn", &self.admin_group_dn),
        ]
    }

    /// Refuses settings that would bind with the saved password to another
    /// directory than `saved`'s, or to it with less protection (StartTLS or
    /// certificate checks turned off), unless the caller sent the password
    /// again (`password_sent`).
    pub fn check_password_destination(&self, saved: &LdapSettings, password_sent: bool) -> Result<()> {
        use super::secret_destination::{check, ldap_destination};
        let moved = ldap_destination(&self.url) != ldap_destination(&saved.url)
            || (saved.start_tls && !self.start_tls)
            || (saved.verify_certificate && !self.verify_certificate);
        check("search_password", moved, &self.search_password, &saved.search_password, password_sent)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LdapScope {
    Base,
    OneLevel,
    #[default]
    Subtree,
}

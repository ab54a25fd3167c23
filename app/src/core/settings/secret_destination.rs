//! A stored secret (LDAP bind password, OIDC client secret) was given for
//! one server. Settings that point at another host use it only when the
//! administrator sends the secret again; otherwise Berth would hand the
//! saved secret to whichever host the changed address names.

use crate::core::{Error, Result};

/// Host and port a URL reaches (`None` when it does not parse); the scheme
/// may change (`ldap` to `ldaps`) without the destination changing.
fn destination(url: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(url).ok()?;
    let port = url.port().or_else(|| match url.scheme() {
        "ldap" => Some(389),
        "ldaps" => Some(636),
        _ => url.port_or_known_default(),
    })?;
    Some((url.host_str()?.to_ascii_lowercase(), port))
}

/// Refuses settings that would send the saved `secret` to another host
/// than `saved_url`'s, unless the caller sent the secret along (`sent`).
pub(super) fn check(
    field: &'static str,
    new_url: &str,
    saved_url: &str,
    secret: &str,
    saved_secret: &str,
    sent: bool,
) -> Result<()> {
    let reuses_saved = !saved_secret.is_empty() && secret == saved_secret && !sent;
    if reuses_saved && destination(new_url) != destination(saved_url) {
        return Err(Error::invalid(
            field,
            "the address changed: send the secret for the new server too (the saved one is only ever sent to the \
             server it was saved for)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_secret_stays_with_its_host() {
        let ok = |new: &str, sent: bool| check("f", new, "ldap://dir.example:389", "pw", "pw", sent).is_ok();
        assert!(ok("ldap://dir.example", false), "same host and port");
        assert!(ok("ldaps://dir.example:389", false), "another scheme, same destination");
        assert!(ok("LDAP://DIR.example:389", false));
        assert!(!ok("ldap://evil.example:389", false), "another host");
        assert!(!ok("ldap://dir.example:10389", false), "another port");
        assert!(!ok("ldaps://dir.example", false), "ldaps' own port");
        assert!(ok("ldap://evil.example:389", true), "the secret was sent again");
        assert!(check("f", "ldap://evil.example", "ldap://dir.example", "new", "pw", false).is_ok(), "a new secret");
        assert!(check("f", "ldap://evil.example", "ldap://dir.example", "", "", false).is_ok(), "nothing saved");
        assert!(check("f", "https://idp.example/realm", "https://idp.example:443/other", "s", "s", false).is_ok());
        assert!(check("f", "https://evil.example/realm", "https://idp.example/realm", "s", "s", false).is_err());
    }
}

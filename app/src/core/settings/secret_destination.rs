//! A stored secret (LDAP bind password, OIDC client secret) was given for
//! one server, reached one way. Settings that point elsewhere, or reach it
//! with less protection, use it only when the administrator sends the
//! secret again; otherwise Berth would hand the saved secret to whichever
//! server the changed settings name.

use crate::core::{Error, Result};

/// Scheme, host and port an LDAP URL reaches (`None` when it does not parse).
pub(super) fn ldap_destination(url: &str) -> Option<(String, String, u16)> {
    let url = url::Url::parse(url).ok()?;
    let port = url.port().or(match url.scheme() {
        "ldap" => Some(389),
        "ldaps" => Some(636),
        _ => None,
    })?;
    Some((url.scheme().to_owned(), url.host_str()?.to_ascii_lowercase(), port))
}

/// An issuer URL as providers compare it: scheme, host, port and path
/// (several realms often share one host, each with its own clients).
pub(super) fn issuer(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let port = url.port_or_known_default()?;
    let path = url.path().trim_end_matches('/');
    Some(format!("{}://{}:{port}{path}", url.scheme(), url.host_str()?.to_ascii_lowercase()))
}

/// Refuses settings that would use the saved secret (`secret` unchanged and
/// not `sent` along) although `moved`: another server, or less protection.
pub(super) fn check(field: &'static str, moved: bool, secret: &str, saved_secret: &str, sent: bool) -> Result<()> {
    let reuses_saved = !saved_secret.is_empty() && secret == saved_secret && !sent;
    if reuses_saved && moved {
        return Err(Error::invalid(
            field,
            "the server or how it is reached changed: send the secret again (the saved one is only ever used \
             with the server and protection it was saved for)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let ldap = |url| ldap_destination(url).unwrap();
        assert_eq!(ldap("ldap://Dir.example"), ldap("ldap://dir.example:389"));
        assert_ne!(ldap("ldaps://dir.example:389"), ldap("ldap://dir.example:389"), "the scheme counts");
        assert_ne!(ldap("ldap://dir.example:10389"), ldap("ldap://dir.example"));
        assert_eq!(issuer("https://idp.example/realms/main/"), issuer("https://IDP.example:443/realms/main"));
        assert_ne!(issuer("https://idp.example/realms/main"), issuer("https://idp.example/realms/other"));
        assert_ne!(issuer("https://idp.example/realms/main"), issuer("http://idp.example/realms/main"));
    }

    #[test]
    fn a_saved_secret_stays_with_its_server() {
        assert!(check("f", false, "pw", "pw", false).is_ok(), "nothing moved");
        assert!(check("f", true, "pw", "pw", false).is_err(), "moved, saved secret reused");
        assert!(check("f", true, "pw", "pw", true).is_ok(), "the secret was sent again");
        assert!(check("f", true, "new", "pw", false).is_ok(), "a new secret");
        assert!(check("f", true, "", "", false).is_ok(), "nothing saved");
    }
}

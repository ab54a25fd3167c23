//! The parsers every configuration value goes through, whatever its
//! source: each says in words what it expected.

use std::{fmt, path::PathBuf};

use url::Url;

pub(super) fn parse_with<T, E: fmt::Display>(f: impl Fn(&str) -> Result<T, E>) -> impl Fn(&str) -> Result<T, String> {
    move |s| f(s.trim()).map_err(|e| e.to_string())
}

pub(super) fn non_empty_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() { Err("must not be empty".to_owned()) } else { Ok(PathBuf::from(s)) }
}

pub(super) fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err("must not be empty".to_owned()) } else { Ok(s.trim().to_owned()) }
}

pub(super) fn boolean(s: &str) -> Result<bool, String> {
    match s.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

pub(super) fn existing_file(s: &str) -> Result<PathBuf, String> {
    let path = non_empty_path(s)?;
    if path.is_file() { Ok(path) } else { Err(format!("{} is not a readable file", path.display())) }
}

pub(super) fn number_between(s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}, got {s:?}")),
    }
}

pub(super) fn positive_number(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number greater than zero, got {s:?}")),
    }
}

pub(super) fn parse_database_url(s: &str) -> Result<String, String> {
    match app::core::db::DbKind::from_url(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err("expected a sqlite:// or postgres:// URL".to_owned()),
    }
}

pub(super) fn parse_external_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("expected an http:// or https:// URL with a host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".to_owned());
    }
    Ok(url)
}

/// `"admin_password: must be…"` → `"must be…"`: the key is named by the caller.
pub(super) fn strip_field(message: &str) -> String {
    message.split_once(": ").map_or(message, |(_, rest)| rest).to_owned()
}

pub(super) fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("********"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

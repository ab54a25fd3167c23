//! Where a replicated repository lands: Harbor's destination namespace
//! with `dest_namespace_replace_count` (how many leading path components
//! of the source name the namespace replaces; -1, the default, keeps only
//! the last one).

/// The destination repository for `source` (`a/b/c/image`): with no
/// namespace the same name; with namespace `n`, -1 gives `n/image`, 0
/// `n/a/b/c/image`, 1 `n/b/c/image`, and so on. A count past the source's
/// own prefix is refused.
pub fn destination(source: &str, namespace: &str, replace_count: i8) -> Result<String, String> {
    let namespace = namespace.trim_matches('/');
    if namespace.is_empty() {
        return Ok(source.to_owned());
    }
    let components: Vec<&str> = source.split('/').collect();
    let keep_from = match replace_count {
        -1 => components.len() - 1,
        n if n < -1 => return Err(format!("dest_namespace_replace_count {n} is below -1")),
        n if n as usize > components.len() - 1 => {
            return Err(format!(
                "dest_namespace_replace_count {n} would replace more than the {} leading components of {source}",
                components.len() - 1
            ));
        }
        n => n as usize,
    };
    Ok(format!("{namespace}/{}", components[keep_from..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn flattening_as_in_harbor() {
        let source = "a/b/c/image";
        assert_eq!(destination(source, "n", -1).unwrap(), "n/image");
        assert_eq!(destination(source, "n", 0).unwrap(), "n/a/b/c/image");
        assert_eq!(destination(source, "n", 1).unwrap(), "n/b/c/image");
        assert_eq!(destination(source, "n", 2).unwrap(), "n/c/image");
        assert_eq!(destination(source, "n", 3).unwrap(), "n/image");
        assert!(destination(source, "n", 4).is_err());
        assert!(destination(source, "n", -2).is_err());
        assert_eq!(destination(source, "", 3).unwrap(), source, "no namespace keeps the name");
        assert_eq!(destination("library/app", "mirror/", -1).unwrap(), "mirror/app");
    }
}

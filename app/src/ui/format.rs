//! Formatting helpers shared by pages.

/// Bytes in binary units, one decimal: `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `sha256:0123456789ab`: enough of a digest to tell artifacts apart.
pub fn short_digest(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
    format!("{algorithm}:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1023), "1023 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn short_digests_keep_the_algorithm_and_twelve_hex_digits() {
        assert_eq!(super::short_digest("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(super::short_digest("sha256:abc"), "sha256:abc");
    }
}

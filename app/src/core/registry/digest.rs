//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`) and the streaming
//! hasher that computes them while bytes pass through.

use std::{fmt, str::FromStr};

use sha2::{Digest as _, Sha256, Sha512};

/// The hash algorithms Berth verifies content with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest Berth accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("digest {0:?} is not of the form algorithm:encoded")]
    Malformed(String),
    #[error("digest algorithm {0:?} is not supported (use sha256 or sha512)")]
    UnsupportedAlgorithm(String),
    #[error("digest {0:?} does not have the length or characters its algorithm requires")]
    BadEncoding(String),
}

/// A validated digest: a supported algorithm and its lowercase hex value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part (lowercase hex).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self::of(Algorithm::Sha256, bytes)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    /// Accepts exactly what the OCI image spec's digest grammar allows for
    /// the registered algorithms; anything else is refused, not guessed at.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, encoded) = s.split_once(':').ok_or_else(|| DigestError::Malformed(s.to_owned()))?;
        let valid_algorithm_grammar = !algorithm.is_empty()
            && algorithm
                .split(['+', '.', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let valid_encoded_grammar = !encoded.is_empty()
            && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !valid_algorithm_grammar || !valid_encoded_grammar {
            return Err(DigestError::Malformed(s.to_owned()));
        }
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_owned())),
        };
        let lower_hex = encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if encoded.len() != algorithm.hex_len() || !lower_hex {
            return Err(DigestError::BadEncoding(s.to_owned()));
        }
        Ok(Self { algorithm, hex: encoded.to_owned() })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes bytes as they stream past, with the algorithm a digest names.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha256(_) => Algorithm::Sha256,
            Self::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Self::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Self::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_supported_digests() {
        let d: Digest = EMPTY_SHA256.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.to_string(), EMPTY_SHA256);
        assert_eq!(Digest::sha256_of(b""), d);
        let sha512 = Digest::of(Algorithm::Sha512, b"");
        assert_eq!(sha512.hex().len(), 128);
        assert_eq!(sha512.to_string().parse::<Digest>().unwrap(), sha512);
    }

    #[test]
    fn refuses_everything_else() {
        let cases = [
            ("", DigestError::Malformed(String::new())),
            ("sha256", DigestError::Malformed("sha256".into())),
            (":abc", DigestError::Malformed(":abc".into())),
            ("sha256:", DigestError::Malformed("sha256:".into())),
            ("SHA256:abc", DigestError::Malformed("SHA256:abc".into())),
            ("sha256:abc def", DigestError::Malformed("sha256:abc def".into())),
            ("md5:d41d8cd98f00b204e9800998ecf8427e", DigestError::UnsupportedAlgorithm("md5".into())),
            ("sha256:abc", DigestError::BadEncoding("sha256:abc".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<Digest>(), Err(expected), "{input:?}");
        }
        let upper = EMPTY_SHA256.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(upper.parse::<Digest>(), Err(DigestError::BadEncoding(_))));
        let sha512_with_sha256_length = EMPTY_SHA256.replace("sha256", "sha512");
        assert!(matches!(sha512_with_sha256_length.parse::<Digest>(), Err(DigestError::BadEncoding(_))));
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(b"hello ");
        hasher.update(b"world");
        assert_eq!(hasher.finish(), Digest::sha256_of(b"hello world"));
    }
}

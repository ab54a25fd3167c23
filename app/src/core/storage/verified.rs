//! Checking content against its digest while it streams: for reads that
//! must not hand out a blob whose bytes have changed on disk, and for
//! `berth storage verify`.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::ByteStream;
use crate::core::registry::digest::{Digest, Hasher};

/// Hashes a whole stream with `expected`'s algorithm; returns the digest
/// and the number of bytes.
pub async fn hash_stream(mut body: ByteStream, expected: &Digest) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new(expected.algorithm());
    let mut size = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    Ok((hasher.finish(), size))
}

/// Passes a whole blob's bytes through while hashing them, holding the last
/// piece back until everything has been hashed: content that no longer
/// matches `expected` ends in an error, so no client takes it for whole.
pub fn verified_while_read(body: ByteStream, expected: Digest) -> ByteStream {
    let hasher = Some(Hasher::new(expected.algorithm()));
    Box::pin(VerifiedStream { body, hasher, held: None, expected, done: false })
}

struct VerifiedStream {
    body: ByteStream,
    hasher: Option<Hasher>,
    held: Option<Bytes>,
    expected: Digest,
    done: bool,
}

impl Stream for VerifiedStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match ready!(this.body.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => {
                    if let Some(hasher) = this.hasher.as_mut() {
                        hasher.update(&chunk);
                    }
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Some(Err(error)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.done = true;
                    let actual = this.hasher.take().map(Hasher::finish);
                    if actual.as_ref() == Some(&this.expected) {
                        return Poll::Ready(this.held.take().map(Ok));
                    }
                    tracing::error!(
                        expected = %this.expected,
                        actual = ?actual,
                        "a stored blob does not match its digest; not served (run `berth storage verify`)"
                    );
                    let message = format!("stored content of {} does not match its digest", this.expected);
                    return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidData, message))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    fn pieces(parts: &[&'static [u8]]) -> ByteStream {
        Box::pin(stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()))
    }

    async fn collect(mut body: ByteStream) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        while let Some(piece) = body.next().await {
            match piece {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(error) => return (out, Some(error)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn matching_content_passes_whole() {
        let digest = Digest::sha256_of(b"hello, berth");
        let (bytes, error) = collect(verified_while_read(pieces(&[b"hello", b", ", b"berth"]), digest)).await;
        assert_eq!((bytes.as_slice(), error.is_none()), (&b"hello, berth"[..], true));
    }

    #[tokio::test]
    async fn changed_content_never_arrives_whole() {
        let digest = Digest::sha256_of(b"hello, berth");
        let (bytes, error) = collect(verified_while_read(pieces(&[b"hello", b", ", b"BERTH"]), digest)).await;
        assert_eq!(bytes, b"hello, ", "the last piece is held back");
        assert_eq!(error.unwrap().kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn hashes_a_stream() {
        let digest = Digest::sha256_of(b"abc");
        assert_eq!(hash_stream(pieces(&[b"a", b"bc"]), &digest).await.unwrap(), (digest, 3));
    }
}

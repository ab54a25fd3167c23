//! A blob's bytes on their way between registries: cut off past the size
//! its manifest declares (a remote cannot fill the disk with a blob larger
//! than it said), and paced to the policy's speed limit.

use std::{io, time::Duration};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use crate::core::storage::ByteStream;

/// `bytes` with at most `limit` bytes; more is an error.
pub fn bounded(bytes: ByteStream, limit: u64) -> ByteStream {
    let mut seen = 0u64;
    Box::pin(bytes.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the blob is longer than its {limit} bytes"),
            ));
        }
        Ok(chunk)
    }))
}

/// `bytes` at no more than `kb_per_second` KiB/s on average (unpaced when 0):
/// each chunk waits until the bytes before it are due.
pub fn paced(bytes: ByteStream, kb_per_second: u32) -> ByteStream {
    if kb_per_second == 0 {
        return bytes;
    }
    let rate = f64::from(kb_per_second) * 1024.0;
    let state = (bytes, Instant::now(), 0u64);
    Box::pin(stream::unfold(state, move |(mut bytes, started, sent)| async move {
        let chunk: io::Result<Bytes> = bytes.next().await?;
        let due = Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let sent = sent + chunk.as_ref().map_or(0, |c| c.len() as u64);
        Some((chunk, (bytes, started, sent)))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> ByteStream {
        let items: Vec<io::Result<Bytes>> = sizes.iter().map(|n| Ok(Bytes::from(vec![7u8; *n]))).collect();
        Box::pin(stream::iter(items))
    }

    #[tokio::test]
    async fn a_blob_longer_than_declared_is_cut_off() {
        let within: Vec<_> = bounded(chunks(&[4, 4]), 8).collect().await;
        assert!(within.iter().all(Result::is_ok));
        let over: Vec<_> = bounded(chunks(&[4, 4, 1]), 8).collect().await;
        assert_eq!(over.last().unwrap().as_ref().unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_are_paced_to_the_limit() {
        // 4 chunks of 1 KiB at 1 KiB/s: the last starts 3 s in.
        let started = tokio::time::Instant::now();
        let all: Vec<_> = paced(chunks(&[1024; 4]), 1).collect().await;
        assert_eq!(all.len(), 4);
        assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
        let unpaced = tokio::time::Instant::now();
        let _: Vec<_> = paced(chunks(&[1024; 4]), 0).collect().await;
        assert_eq!(unpaced.elapsed(), Duration::ZERO);
    }
}

//! Copying one artifact between this registry and a remote one, byte for
//! byte with its digests, in either direction ([`push`] sends, [`pull`]
//! fetches): an index's images first, each manifest's blobs before the
//! manifest, the referrers (signatures, SBOMs) after their subject, then
//! the tags. What the receiving side has already is not sent again, so a
//! re-run moves only what is missing; a blob it has in another repository
//! is mounted rather than sent. Transient failures are retried as Harbor
//! does: five tries, two seconds doubling. With a speed limit, each
//! blob's bytes are paced to it.

mod pull;
mod push;
mod stream;

use std::{collections::HashMap, sync::Mutex, time::Duration};

pub use pull::PullCopy;
pub use push::PushCopy;

use super::remote::RemoteError;
use crate::core::registry;

/// Tries per blob or manifest request, and the first wait between them.
pub const TRIES: u32 = 5;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// How often a wait between tries looks whether the execution was stopped.
const STOP_CHECK: Duration = Duration::from_millis(250);
/// How deep an index may nest indexes.
const MAX_DEPTH: usize = 4;
/// Bytes per request when a policy copies by chunk; smaller blobs go whole.
pub const CHUNK: u64 = 10 << 20;
/// Blobs an execution remembers the repository of, for mounting.
const MAX_KNOWN_BLOBS: usize = 100_000;

/// What stopped a copy, in words for the task's log.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{what} here: {source}")]
    Local { what: String, source: registry::Error },
    #[error("stopped on request")]
    Stopped,
}

impl CopyError {
    /// Whether trying again later might work: the remote was away or busy,
    /// or its stream broke off while this registry stored it.
    fn is_transient(&self) -> bool {
        match self {
            Self::Remote(error) => error.is_transient(),
            // Cut off for being longer than declared is not going to change.
            Self::Local { source: registry::Error::ClientAborted(cause), .. } => {
                cause.kind() != std::io::ErrorKind::InvalidData
            }
            Self::Local { .. } | Self::Stopped => false,
        }
    }
}

/// Where a copy writes its log lines.
pub trait CopyLog: Sync {
    fn line(&self, message: String) -> impl Future<Output = ()> + Send;
    fn stopped(&self) -> bool;
}

/// What a copy moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub bytes: u64,
    pub blobs_sent: u32,
    pub blobs_present: u32,
    pub blobs_mounted: u32,
    pub manifests: u32,
}

/// How the bytes of one execution move: its speed limit per task (KiB/s,
/// 0 for none), whether large blobs go by chunk, and which blobs its
/// tasks are copying or have copied where. Tasks run side by side: the
/// first to need a blob copies it while the others that need it wait,
/// then mount it from where it went instead of sending it again.
#[derive(Debug, Default)]
pub struct Transfer {
    pub speed_kb: u32,
    /// Large blobs go in chunks that a retry resumes after.
    pub by_chunk: bool,
    known: Mutex<HashMap<String, Known>>,
}

/// Where a blob stands in an execution.
#[derive(Debug)]
enum Known {
    /// A task is copying it; dropped (ending the waits) when that ends.
    Copying(tokio::sync::watch::Sender<()>),
    /// It is in this repository on the receiving side.
    At(String),
}

/// A task's turn at a blob: to copy it (`copying`; others wait until this
/// is dropped or [`Claim::done`]), or to mount it from `mount_from`.
pub(super) struct Claim<'a> {
    transfer: &'a Transfer,
    digest: String,
    copying: bool,
    pub mount_from: Option<String>,
}

impl Claim<'_> {
    /// The blob is now in `repository`.
    pub fn done(mut self, repository: &str) {
        self.copying = false;
        let mut known = self.transfer.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= MAX_KNOWN_BLOBS {
            known.retain(|_, state| matches!(state, Known::Copying(_)));
        }
        known.insert(std::mem::take(&mut self.digest), Known::At(repository.to_owned()));
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        // A copy that did not end well: the next task that needs the blob copies it.
        if self.copying {
            self.transfer.known.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.digest);
        }
    }
}

impl Transfer {
    pub fn new(speed_kb: u32, by_chunk: bool) -> Self {
        Self { speed_kb, by_chunk, known: Mutex::default() }
    }

    /// Whether a blob of `size` bytes goes in chunks.
    fn chunked(&self, size: u64) -> bool {
        self.by_chunk && size > CHUNK
    }

    /// This task's turn at `digest`, which `repository` needs: waits while
    /// another task copies it.
    pub(super) async fn claim(&self, digest: &str, repository: &str) -> Claim<'_> {
        loop {
            let mut copied = {
                let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
                match known.get(digest) {
                    Some(Known::Copying(copying)) => copying.subscribe(),
                    Some(Known::At(at)) => {
                        let mount_from = (at != repository).then(|| at.clone());
                        return Claim { transfer: self, digest: digest.to_owned(), copying: false, mount_from };
                    }
                    None => {
                        known.insert(digest.to_owned(), Known::Copying(tokio::sync::watch::channel(()).0));
                        return Claim { transfer: self, digest: digest.to_owned(), copying: true, mount_from: None };
                    }
                }
            };
            // Ends when the copying task's entry is replaced or removed.
            let _ = copied.changed().await;
        }
    }
}

/// Runs `attempt` until it works, fails for good, or [`TRIES`] are used;
/// waits [`FIRST_BACKOFF`], doubling, between tries that may work later.
pub(super) async fn retrying<T, F, Fut>(log: &impl CopyLog, attempt: F) -> Result<T, CopyError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, CopyError>>,
{
    let mut wait = FIRST_BACKOFF;
    let mut tried = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() && tried < TRIES && !log.stopped() => {
                log.line(format!("try {tried} of {TRIES} failed: {error}; again in {} s", wait.as_secs())).await;
                // Waited in steps, so a stop asked meanwhile ends the wait.
                let until = tokio::time::Instant::now() + wait;
                while tokio::time::Instant::now() < until {
                    if log.stopped() {
                        return Err(CopyError::Stopped);
                    }
                    tokio::time::sleep(STOP_CHECK.min(until - tokio::time::Instant::now())).await;
                }
                wait *= 2;
                tried += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

//! What a running job holds: its execution's id, where its log lines and
//! progress go, and whether it was asked to stop.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicI64, Ordering},
};

use chrono::Utc;

use super::JobRepository;
use crate::core::{Error, Result};

/// Longest log line kept; longer ones are cut.
pub const MAX_LOG_LINE: usize = 4096;

/// The handle a [`super::Job`] runs with.
#[derive(Clone, Debug)]
pub struct JobContext {
    execution: i64,
    repository: JobRepository,
    stop: Arc<AtomicBool>,
    next_line: Arc<AtomicI64>,
}

impl JobContext {
    pub(super) fn new(execution: i64, repository: JobRepository, stop: Arc<AtomicBool>) -> Self {
        Self { execution, repository, stop, next_line: Arc::new(AtomicI64::new(1)) }
    }

    pub fn execution(&self) -> i64 {
        self.execution
    }

    /// Whether the job should stop before its next unit of work: someone
    /// asked, or its lease was lost.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// [`Self::stopped`] as an error to return with `?` (the runner
    /// records the execution as Stopped, not failed).
    pub fn check_stop(&self) -> Result<()> {
        if self.stopped() { Err(Error::Conflict("stopped on request".into())) } else { Ok(()) }
    }

    /// Appends a line to the execution's log, readable at once.
    pub async fn log(&self, message: impl AsRef<str>) -> Result<()> {
        self.write("info", message.as_ref()).await
    }

    pub async fn warn(&self, message: impl AsRef<str>) -> Result<()> {
        self.write("warning", message.as_ref()).await
    }

    async fn write(&self, level: &str, message: &str) -> Result<()> {
        let line = self.next_line.fetch_add(1, Ordering::Relaxed);
        let message = match message.char_indices().nth(MAX_LOG_LINE) {
            Some((cut, _)) => &message[..cut],
            None => message,
        };
        self.repository.append_log(self.execution, line, Utc::now(), level, message).await
    }

    /// Reports `done` units of work out of `total` (when known).
    pub async fn progress(&self, done: i64, total: Option<i64>) -> Result<()> {
        self.repository.set_progress(self.execution, done, total).await
    }
}

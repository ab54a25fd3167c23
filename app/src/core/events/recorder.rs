//! The queue pulls, sign-ins and refusals go through: they change nothing,
//! so a request never waits for their row. A writer task inserts them in
//! batches and keeps the pulled artifacts' last pull times.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{AuditEvent, EventRepository};
use crate::core::db::Db;

enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Events waiting beyond this make recorders wait (backpressure, not loss).
const QUEUE: usize = 10_000;
/// Most events written at once (one statement).
const BATCH: usize = 500;
/// How long an event may wait for company before it is written.
const LINGER: Duration = Duration::from_millis(100);

/// Queues events for the writer task.
#[derive(Clone, Debug)]
pub struct EventRecorder {
    queue: mpsc::Sender<Message>,
    /// Cuts the writer's wait for company short: a flush is waiting.
    flush_asked: Arc<Notify>,
}

impl EventRecorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE);
        let flush_asked = Arc::new(Notify::new());
        tokio::spawn(write_events(EventRepository::new(db), inbox, flush_asked.clone()));
        Self { queue, flush_asked }
    }

    pub async fn record(&self, event: AuditEvent) {
        if self.queue.send(Message::Event(Box::new(event.bounded()))).await.is_err() {
            tracing::error!("event writer has stopped; event lost");
        }
    }

    /// Waits until every event recorded before this call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            self.flush_asked.notify_one();
            let _ = wait.await;
        }
    }
}

/// Waits for an event, lets company gather for [`LINGER`] (unless a flush
/// is waiting or a batch is full), writes them, and again. Only the wait
/// for the first event wakes the task: events queued while it lingers or
/// writes wake nothing (waking it for each of them, and arming a timer
/// each time, was a tenth of what a manifest GET cost).
async fn write_events(repository: EventRepository, mut inbox: mpsc::Receiver<Message>, flush_asked: Arc<Notify>) {
    let mut messages = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while inbox.recv_many(&mut messages, BATCH).await > 0 {
        let flushing = |messages: &[Message]| messages.iter().any(|message| matches!(message, Message::Flush(_)));
        if messages.len() < BATCH && !flushing(&messages) {
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = flush_asked.notified() => {}
            }
            while messages.len() < BATCH
                && let Ok(message) = inbox.try_recv()
            {
                messages.push(message);
            }
        }
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => batch.push(*event),
                Message::Flush(done) => waiting.push(done),
            }
        }
        if !batch.is_empty() {
            let pulls = last_pulls(&batch);
            let count = batch.len();
            if let Err(error) = repository.insert_batch(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).await
            {
                tracing::error!(%error, count, "could not record audit events");
            }
            let pulls: Vec<_> =
                pulls.iter().map(|(repository, digest, at)| (repository.as_str(), digest.as_str(), *at)).collect();
            if let Err(error) = repository.record_pulls(&pulls).await {
                tracing::error!(%error, "could not record pull times");
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The latest pull of each artifact pulled in the batch: usually one or
/// a few artifacts, so the list is searched from its newest entry.
fn last_pulls(batch: &[AuditEvent]) -> Vec<(String, String, DateTime<Utc>)> {
    let mut latest: Vec<(&str, &str, DateTime<Utc>)> = Vec::new();
    for event in batch {
        let Some((repository, digest)) = event.pulled_artifact() else { continue };
        match latest.iter_mut().rev().find(|(r, d, _)| *d == digest && *r == repository) {
            Some((_, _, at)) => *at = (*at).max(event.occurred_at),
            None => latest.push((repository, digest, event.occurred_at)),
        }
    }
    latest.into_iter().map(|(repository, digest, at)| (repository.to_owned(), digest.to_owned(), at)).collect()
}

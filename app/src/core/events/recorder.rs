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
/// Most events written at once (one transaction): four of the largest INSERT statements.
const BATCH: usize = 512;
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
        tokio::spawn(write_events(EventRepository::new(db.for_one_writer()), inbox, flush_asked.clone()));
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
    while inbox.recv_many(&mut messages, BATCH).await > 0 {
        if messages.len() < BATCH && !messages.iter().any(|message| matches!(message, Message::Flush(_))) {
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
        let (mut batch, mut waiting) = (Vec::with_capacity(messages.len()), Vec::new());
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => batch.push(*event),
                Message::Flush(done) => waiting.push(done),
            }
        }
        if !batch.is_empty() {
            if let Err(error) = repository.record_pulls(&last_pulls(&batch)).await {
                tracing::error!(%error, "could not record pull times");
            }
            let count = batch.len();
            if let Err(error) = repository.insert_batch(batch).await {
                tracing::error!(%error, count, "could not record audit events");
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// The latest pull of each artifact pulled in the batch: usually one or
/// a few artifacts, so the list is searched from its newest entry.
fn last_pulls(batch: &[AuditEvent]) -> Vec<(&str, &str, DateTime<Utc>)> {
    let mut latest: Vec<(&str, &str, DateTime<Utc>)> = Vec::new();
    for event in batch {
        let Some((repository, digest)) = event.pulled_artifact() else { continue };
        match latest.iter_mut().rev().find(|(r, d, _)| *d == digest && *r == repository) {
            Some((_, _, at)) => *at = (*at).max(event.occurred_at),
            None => latest.push((repository, digest, event.occurred_at)),
        }
    }
    latest
}

//! Registry events: every push, pull and delete, with who, what, when and
//! from where. They feed the audit log, quotas and replication triggers.
//! Recording never makes a pull wait for a database write: events go through
//! a bounded queue to a writer task that inserts them in batches.

mod repository;

pub use repository::{EventRepository, StoredEvent};

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::core::db::Db;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Push,
    Pull,
    Delete,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
            Self::Delete => "delete",
        }
    }
}

/// Who is acting, as far as the request tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated account, once authentication exists for the API.
    pub actor: Option<String>,
    pub client_addr: Option<String>,
}

/// One event, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEvent {
    pub kind: EventKind,
    pub repository: String,
    pub digest: Option<String>,
    pub tag: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    pub caller: Caller,
    pub occurred_at: DateTime<Utc>,
}

enum Message {
    Event(RegistryEvent),
    Flush(oneshot::Sender<()>),
}

/// Events waiting beyond this make recorders wait (backpressure, not loss).
const QUEUE: usize = 10_000;
/// Most events inserted by one statement.
const BATCH: usize = 500;
/// How long a lone event may wait for company before it is written.
const LINGER: Duration = Duration::from_millis(100);

/// Queues events for the writer task.
#[derive(Clone, Debug)]
pub struct EventRecorder {
    queue: mpsc::Sender<Message>,
}

impl EventRecorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(EventRepository::new(db), inbox));
        Self { queue }
    }

    pub async fn record(&self, event: RegistryEvent) {
        if self.queue.send(Message::Event(event)).await.is_err() {
            tracing::error!("event writer has stopped; event lost");
        }
    }

    /// Waits until every event recorded before this call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_events(repository: EventRepository, mut inbox: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = inbox.recv().await {
        let mut next = Some(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        loop {
            match next.take() {
                Some(Message::Event(event)) => batch.push(event),
                Some(Message::Flush(done)) => {
                    waiting.push(done);
                    break;
                }
                None => {}
            }
            if batch.len() >= BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(Some(message)) => next = Some(message),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            if let Err(error) = repository.insert_batch(&batch).await {
                tracing::error!(%error, count = batch.len(), "could not record registry events");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

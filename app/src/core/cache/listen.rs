//! Hearing other nodes' changes on PostgreSQL: triggers on tags, manifests
//! and projects `NOTIFY` [`CHANNEL`] with `r:<repository id>` or
//! `p:<project id>` when the change commits (migration 0026), and each node
//! `LISTEN`s on one connection of its own.
//!
//! A connection can die without saying so; then changes would go unheard.
//! So every node also sends a `ping` on the channel every [`HEARTBEAT`], and a
//! listener that hears nothing at all for [`SILENCE`] counts as deaf: the
//! cache serves nothing until a new connection listens, and starts empty.
//!
//! Listening and pinging use two connections of their own, outside the
//! pool requests use: a busy pool never delays a ping into a false silence,
//! and a dead listening connection never holds one of the requests'.

use std::time::Duration;

use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};

use super::{Change, ReadCache};

/// The notification channel the triggers and pings use.
pub const CHANNEL: &str = "berth_changes";

/// How often each node pings the channel.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// How long a listener may hear nothing (not even a ping) before its
/// connection counts as dead.
const SILENCE: Duration = Duration::from_secs(6);

/// How long to wait before listening again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Keeps `cache` hearing changes made to `pool`'s database, on any node,
/// until the pool closes.
pub fn listen(cache: ReadCache, pool: PgPool) {
    tokio::spawn(async move {
        tokio::select! {
            () = keep_listening(&cache, &pool) => {}
            () = pool.close_event() => {}
        }
    });
}

async fn keep_listening(cache: &ReadCache, pool: &PgPool) {
    loop {
        // Two connections to the same database: one listens, one pings.
        let own = PgPoolOptions::new()
            .max_connections(2)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(HEARTBEAT)
            .connect_lazy_with((*pool.connect_options()).clone());
        let heard = tokio::select! {
            heard = hear(cache, &own) => heard,
            () = ping(&own) => Ok(()),
        };
        match heard {
            Ok(()) => tracing::warn!("lost the connection that hears other nodes' changes; cache off until back"),
            Err(error) => tracing::warn!(%error, "cannot hear other nodes' changes; cache off until back"),
        }
        cache.deaf();
        // Not waited for: a connection that died silently would hold the close up.
        drop(own);
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Listens on one connection until it fails or goes silent (`Ok`), or an
/// error says why it could not.
async fn hear(cache: &ReadCache, pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    // Listening: what changes from now on is heard. What changed before is
    // forgotten by starting empty.
    cache.hearing();
    loop {
        match tokio::time::timeout(SILENCE, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                if let Some(change) = parse(notification.payload()) {
                    cache.changed(change);
                }
            }
            // The connection was lost, or silent too long: this listener
            // and its pool are dropped, the next ones start afresh.
            Ok(Ok(None)) | Err(_) => return Ok(()),
            Ok(Err(error)) => return Err(error),
        }
    }
}

/// Pings the channel every [`HEARTBEAT`] so listeners (this node's and the
/// others') can tell silence from death. Returns only if the pool closes.
async fn ping(pool: &PgPool) {
    let mut every = tokio::time::interval(HEARTBEAT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match sqlx::query("SELECT pg_notify($1, 'ping')").bind(CHANNEL).execute(pool).await {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => tracing::debug!(%error, "could not ping the change channel"),
        }
    }
}

/// A notification's change; `None` for pings and anything unknown (a newer
/// release's notifications).
fn parse(payload: &str) -> Option<Change> {
    let (kind, id) = payload.split_once(':')?;
    let id = id.parse().ok()?;
    match kind {
        "r" => Some(Change::Repository(id)),
        "p" => Some(Change::Project(id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(parse("r:42"), Some(Change::Repository(42)));
        assert_eq!(parse("p:7"), Some(Change::Project(7)));
        assert_eq!(parse("ping"), None);
        assert_eq!(parse("x:1"), None);
        assert_eq!(parse("r:abc"), None);
    }
}

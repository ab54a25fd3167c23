//! All SQL touching `registry_events`.

use chrono::{DateTime, Utc};

use super::RegistryEvent;
use crate::{
    core::{Result, db::Db},
    on_db,
};

/// An event as read back.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredEvent {
    pub kind: String,
    pub repository: String,
    pub digest: Option<String>,
    pub tag: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    pub actor: Option<String>,
    pub client_addr: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct EventRepository {
    db: Db,
}

impl EventRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert_batch(&self, events: &[RegistryEvent]) -> Result<()> {
        on_db!(&self.db, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO registry_events (kind, repository, digest, tag, media_type, size, actor, client_addr, occurred_at) ",
            );
            query.push_values(events, |mut row, event| {
                row.push_bind(event.kind.as_str())
                    .push_bind(event.repository.clone())
                    .push_bind(event.digest.clone())
                    .push_bind(event.tag.clone())
                    .push_bind(event.media_type.clone())
                    .push_bind(event.size)
                    .push_bind(event.caller.actor.clone())
                    .push_bind(event.caller.client_addr.clone())
                    .push_bind(event.occurred_at);
            });
            query.build().execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// The newest events of a repository, newest first.
    pub async fn list_for_repository(&self, repository: &str, limit: u32) -> Result<Vec<StoredEvent>> {
        const SQL: &str = "SELECT kind, repository, digest, tag, media_type, size, actor, client_addr, occurred_at \
             FROM registry_events WHERE repository = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2";
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as::<_, StoredEvent>(SQL).bind(repository).bind(i64::from(limit)).fetch_all(pool).await
        })?;
        Ok(rows)
    }
}

//! Where jobs run and what waits: the nodes whose runners take executions
//! (Harbor's worker pools; each says it is alive at every look for work),
//! each kind's queue of pending executions, and pausing a queue.

use chrono::{DateTime, Utc};

use super::JobRepository;
use crate::{
    core::{Result, db::begin_writing},
    on_db,
};

/// A node not heard from for this long is not listed as taking jobs.
pub const NODE_SILENCE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// Rows of nodes silent this long are removed.
const NODE_FORGOTTEN: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A node whose runner takes executions, as it last said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's name in leases.
    pub node: String,
    pub host: String,
    pub pid: i64,
    /// Executions it runs at once.
    pub concurrency: i64,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// What it runs now.
    pub running: Vec<RunningExecution>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningExecution {
    pub id: i64,
    pub kind: String,
    pub started_at: Option<DateTime<Utc>>,
}

/// One kind's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub kind: String,
    /// Executions waiting for a runner.
    pub pending: i64,
    /// When the one waiting longest was queued.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub paused: bool,
}

type NodeRow = (String, String, i64, i64, DateTime<Utc>, DateTime<Utc>);
/// Lease owner, id, kind, start.
type RunningRow = (Option<String>, i64, String, Option<DateTime<Utc>>);

impl JobRepository {
    /// `node` is alive; forgets nodes silent for a day.
    pub async fn heartbeat(&self, node: &Node, now: DateTime<Utc>) -> Result<()> {
        const UPSERT: &str = "INSERT INTO job_nodes (node, host, pid, concurrency, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
        const FORGET: &str = "DELETE FROM job_nodes WHERE heartbeat_at < $1";
        on_db!(&self.db, pool => async {
            sqlx::query(UPSERT)
                .bind(&node.node)
                .bind(&node.host)
                .bind(node.pid)
                .bind(node.concurrency)
                .bind(node.started_at)
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query(FORGET).bind(now - NODE_FORGOTTEN).execute(pool).await.map(|_| ())
        }.await)?;
        Ok(())
    }

    /// Nodes heard from since `since`, oldest first, with what each runs.
    pub async fn nodes(&self, since: DateTime<Utc>) -> Result<Vec<Node>> {
        const NODES: &str = "SELECT node, host, pid, concurrency, started_at, heartbeat_at FROM job_nodes \
             WHERE heartbeat_at >= $1 ORDER BY started_at, node";
        const RUNNING: &str =
            "SELECT lease_owner, id, kind, started_at FROM job_executions WHERE status = 'running' ORDER BY id";
        let (nodes, running) = on_db!(&self.db, pool => async {
            let nodes: Vec<NodeRow> = sqlx::query_as(NODES).bind(since).fetch_all(pool).await?;
            let running: Vec<RunningRow> = sqlx::query_as(RUNNING).fetch_all(pool).await?;
            Ok::<_, sqlx::Error>((nodes, running))
        }.await)?;
        Ok(nodes
            .into_iter()
            .map(|(node, host, pid, concurrency, started_at, heartbeat_at)| Node {
                running: running
                    .iter()
                    .filter(|(owner, ..)| owner.as_deref() == Some(node.as_str()))
                    .map(|(_, id, kind, started_at)| RunningExecution {
                        id: *id,
                        kind: kind.clone(),
                        started_at: *started_at,
                    })
                    .collect(),
                node,
                host,
                pid,
                concurrency,
                started_at,
                heartbeat_at,
            })
            .collect())
    }

    /// The queues of `kinds` and of any other kind with pending executions.
    pub async fn queues(&self, kinds: &[&str]) -> Result<Vec<Queue>> {
        const PENDING: &str = "SELECT e.kind, c.pending, e.created_at FROM \
             (SELECT kind, COUNT(*) AS pending, MIN(id) AS first FROM job_executions WHERE status = 'pending' \
             GROUP BY kind) c JOIN job_executions e ON e.id = c.first";
        let (pending, paused) = on_db!(&self.db, pool => async {
            let pending: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(PENDING).fetch_all(pool).await?;
            let paused: Vec<String> = sqlx::query_scalar(PAUSED).fetch_all(pool).await?;
            Ok::<_, sqlx::Error>((pending, paused))
        }.await)?;
        let mut names: Vec<String> = kinds.iter().map(|kind| (*kind).to_owned()).collect();
        names.extend(pending.iter().map(|(kind, ..)| kind.clone()).filter(|kind| !kinds.contains(&kind.as_str())));
        Ok(names
            .into_iter()
            .map(|kind| {
                let waiting = pending.iter().find(|(k, ..)| *k == kind);
                Queue {
                    pending: waiting.map_or(0, |(_, n, _)| *n),
                    oldest_pending_at: waiting.map(|(.., at)| *at),
                    paused: paused.contains(&kind),
                    kind,
                }
            })
            .collect())
    }

    /// Kinds whose queue is paused.
    pub async fn paused_kinds(&self) -> Result<Vec<String>> {
        let paused: Vec<String> = on_db!(&self.db, pool => sqlx::query_scalar(PAUSED).fetch_all(pool).await)?;
        Ok(paused)
    }

    pub async fn set_paused(&self, kind: &str, paused: bool, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "INSERT INTO job_queues (kind, paused, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at";
        on_db!(&self.db, pool => sqlx::query(SQL).bind(kind).bind(paused).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Stops `kind`'s pending executions and asks its running one to stop,
    /// both or neither; how many.
    pub async fn stop_kind(&self, kind: &str, now: DateTime<Utc>) -> Result<u64> {
        const PENDING: &str =
            "UPDATE job_executions SET status = 'stopped', ended_at = $1 WHERE kind = $2 AND status = 'pending'";
        const RUNNING: &str = "UPDATE job_executions SET stop_requested = TRUE WHERE kind = $1 AND status = 'running'";
        let stopped = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let pending = sqlx::query(PENDING).bind(now).bind(kind).execute(&mut *tx).await?.rows_affected();
            let running = sqlx::query(RUNNING).bind(kind).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(pending + running)
        }.await)?;
        Ok(stopped)
    }
}

const PAUSED: &str = "SELECT kind FROM job_queues WHERE paused = TRUE";

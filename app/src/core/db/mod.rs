//! The metadata database: one [`Db`] handle over SQLite (embedded default) or
//! PostgreSQL, the migrators for both, and the [`on_db!`](crate::on_db) macro
//! that lets a repository write a query once and run it on either pool.
//!
//! Queries are runtime-checked (`sqlx::query_as` with explicit columns) because
//! the same statement text must serve both databases; `$1`-style placeholders
//! work on both. Every query is exercised by tests on both databases.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::core::Result;

mod paging;
pub use paging::{Counted, Keyset, NameCursor, Page, TimeCursor, Window, total_of};

/// A connection pool to whichever database the configuration selected.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    /// Tells which engine a database URL selects, or `None` when it names neither.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or
/// `&PgPool`), so one query text serves both databases.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::core::db::Db::Sqlite($pool) => $body,
            $crate::core::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Begins a transaction that will write. SQLite's default, deferred, one
/// that reads first fails at its first write, at once and without waiting,
/// when another connection committed meanwhile (`SQLITE_BUSY`); an immediate
/// one takes the write lock when it begins, waiting for it up to the busy
/// timeout. Every transaction begins here (clippy.toml disallows `Pool::begin`).
#[allow(clippy::disallowed_methods)]
pub(crate) async fn begin_writing<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> sqlx::Result<sqlx::Transaction<'static, DB>> {
    if DB::NAME == "SQLite" { pool.begin_with("BEGIN IMMEDIATE").await } else { pool.begin().await }
}

/// On PostgreSQL, background work's multi-row deletes (garbage collection,
/// cleanup of abandoned pushes) give up on a row a request holds after this
/// long, well before the server looks for deadlocks (one second): a push
/// that locks rows in another order then never fails, and the background
/// work tries those rows again next run.
pub(crate) const YIELD_TO_PUSHES: &str = "SET LOCAL lock_timeout = '250ms'";

/// Whether `error` is PostgreSQL's `lock_not_available` from [`YIELD_TO_PUSHES`].
pub(crate) fn waited_too_long(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("55P03"))
}

/// `%needle%` for `LIKE … ESCAPE '\'`, with the needle's own wildcards
/// escaped, so a search for `a_b` finds only names containing `a_b`.
pub fn like_contains(needle: &str) -> String {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Whether `error` says the database cannot be reached right now, as
/// opposed to refusing a query: the connection failed or broke, the pool
/// waited [`ACQUIRE_TIMEOUT`] for one in vain, or PostgreSQL is shutting
/// down, starting up or out of connections (SQLSTATE classes 08 and 57P,
/// and 53300).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            error.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code == "53300")
        }
        _ => false,
    }
}

/// How long a request waits for a database connection before it is told
/// the database is unavailable (503): short enough that clients hear of an
/// outage quickly, long enough to ride out a burst.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl Db {
    /// Opens a pool for `url`. SQLite files are created when missing and run in
    /// WAL mode so readers never wait for the writer.
    pub async fn connect(url: &str) -> Result<Self> {
        match DbKind::from_url(url) {
            Some(DbKind::Sqlite) => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| {
                        sqlx::Error::Configuration(format!("cannot create {}: {e}", dir.display()).into())
                    })?;
                }
                let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
                Ok(Self::Sqlite(pool))
            }
            Some(DbKind::Postgres) => {
                let options = PgConnectOptions::from_str(url)?.application_name("berth");
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Self::Postgres(pool))
            }
            None => {
                Err(sqlx::Error::Configuration(format!("unsupported database URL scheme in {url:?}").into()).into())
            }
        }
    }

    /// Applies every pending migration. Each migration runs in its own
    /// transaction; on PostgreSQL an advisory lock keeps concurrent nodes from
    /// migrating at once. On PostgreSQL, migrations this build does not know
    /// are a newer release's, applied during a rolling upgrade: they only add
    /// (docs/deployment.md), so this node still starts and serves, saying so.
    /// SQLite serves one node, and its migrations may rebuild tables: a
    /// database a newer release migrated stops an older one.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
            Self::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("../migrations/postgres");
                let known = migrator.iter().map(|m| m.version).max().unwrap_or_default();
                migrator.set_ignore_missing(true).run(pool).await?;
                let newer: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE version > $1 ORDER BY version")
                        .bind(known)
                        .fetch_all(pool)
                        .await?;
                if !newer.is_empty() {
                    tracing::warn!(
                        ?newer,
                        "the database has migrations of a newer Berth; serving alongside it (a rolling upgrade)"
                    );
                }
            }
        }
        Ok(())
    }

    /// A handle for a task that writes all the time (the audit writer): on
    /// SQLite a pool of its own single connection. A connection's page cache
    /// is dropped whenever another connection committed since it last read,
    /// and the shared pool hands out its connections in turn, so every batch
    /// began by reading its tables' pages from disk again; its own connection
    /// keeps them while nothing else writes. PostgreSQL's pool is shared.
    pub fn for_one_writer(&self) -> Self {
        match self {
            Self::Sqlite(pool) => Self::Sqlite(
                SqlitePoolOptions::new().max_connections(1).connect_lazy_with(pool.connect_options().as_ref().clone()),
            ),
            Self::Postgres(_) => self.clone(),
        }
    }

    pub fn kind(&self) -> DbKind {
        match self {
            Self::Sqlite(_) => DbKind::Sqlite,
            Self::Postgres(_) => DbKind::Postgres,
        }
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

/// A migrated SQLite database in a temporary directory, for unit tests; it
/// lives as long as the directory.
#[cfg(test)]
pub(crate) async fn temporary() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    db.migrate().await.unwrap();
    (db, dir)
}

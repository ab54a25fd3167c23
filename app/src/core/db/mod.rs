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

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

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

/// `%needle%` for `LIKE … ESCAPE '\'`, with the needle's own wildcards
/// escaped, so a search for `a_b` finds only names containing `a_b`.
pub fn like_contains(needle: &str) -> String {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Where a page read by keyset starts: at the beginning, after the last
/// row of the page shown (forward), or before its first row (back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keyset<K> {
    First,
    After(K),
    Before(K),
}

/// One page read by keyset, the matching rows in all, and whether rows lie
/// either side of the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysetPage<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub has_previous: bool,
    pub has_next: bool,
}

/// A keyset position in a list ordered by time, then id (artifacts by push
/// time, audit entries by when they happened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeCursor {
    pub at: chrono::DateTime<chrono::Utc>,
    pub id: i64,
}

impl TimeCursor {
    /// `<RFC 3339 with nanoseconds>_<id>`, the form links carry.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), self.id)
    }

    pub fn decode(raw: &str) -> crate::core::Result<Self> {
        let invalid = || crate::core::Error::invalid("cursor", "not a page position this server made");
        let (at, id) = raw.rsplit_once('_').ok_or_else(invalid)?;
        let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| invalid())?.with_timezone(&chrono::Utc);
        Ok(Self { at, id: id.parse().map_err(|_| invalid())? })
    }

    /// The keyset a page link asks for: `after`, else `before`, else the first page.
    pub fn keyset(after: Option<&str>, before: Option<&str>) -> crate::core::Result<Keyset<Self>> {
        Keyset::from_links(after, before, Self::decode)
    }
}

/// A keyset position in a list ordered by name, then id (members, whose
/// names a user and a group may share; robots).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCursor {
    pub name: String,
    pub id: i64,
}

impl NameCursor {
    /// `<id>_<name>`, the form links carry.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.id, self.name)
    }

    pub fn decode(raw: &str) -> crate::core::Result<Self> {
        let invalid = || crate::core::Error::invalid("cursor", "not a page position this server made");
        let (id, name) = raw.split_once('_').ok_or_else(invalid)?;
        Ok(Self { name: name.to_owned(), id: id.parse().map_err(|_| invalid())? })
    }

    /// The keyset a page link asks for: `after`, else `before`, else the first page.
    pub fn keyset(after: Option<&str>, before: Option<&str>) -> crate::core::Result<Keyset<Self>> {
        Keyset::from_links(after, before, Self::decode)
    }

    /// The SQL condition placing a row of `name` and `id` columns after
    /// (`>`) or before (`<`) the cursor bound to `$n` (name) and `$n+1` (id);
    /// true when they are bound to NULL (the first page).
    pub fn condition(name: &str, id: &str, cmp: &str, n: usize) -> String {
        format!("(${n} IS NULL OR {name} {cmp} ${n} OR ({name} = ${n} AND {id} {cmp} ${}))", n + 1)
    }
}

impl<K> Keyset<K> {
    /// The keyset a page link asks for: `after`, else `before`, else the first page.
    pub fn from_links(
        after: Option<&str>,
        before: Option<&str>,
        decode: impl Fn(&str) -> crate::core::Result<K>,
    ) -> crate::core::Result<Self> {
        Ok(match (after, before) {
            (Some(after), _) => Keyset::After(decode(after)?),
            (None, Some(before)) => Keyset::Before(decode(before)?),
            (None, None) => Keyset::First,
        })
    }

    /// The cursor bounds for SQL: `(after, before)`.
    pub fn bounds(&self) -> (Option<&K>, Option<&K>) {
        match self {
            Keyset::First => (None, None),
            Keyset::After(key) => (Some(key), None),
            Keyset::Before(key) => (None, Some(key)),
        }
    }

    /// Whether the query reads backwards (to be reversed into page order).
    pub fn is_backwards(&self) -> bool {
        matches!(self, Keyset::Before(_))
    }

    /// Makes a page of the up to `limit + 1` rows a query read in its
    /// direction: the extra row only says another page follows that way.
    pub fn page<T>(&self, mut rows: Vec<T>, limit: usize, total: i64) -> KeysetPage<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let (has_previous, has_next) = match self {
            Keyset::First => (false, more),
            Keyset::After(_) => (true, more),
            Keyset::Before(_) => {
                rows.reverse();
                (more, true)
            }
        };
        KeysetPage { items: rows, total, has_previous, has_next }
    }
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
    /// migrating at once.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
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

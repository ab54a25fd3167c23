//! Login throttling: after repeated failed sign-ins for one username from
//! one address, further attempts are refused for a while without checking
//! the password (which also keeps password hashing from being used to load
//! the server). Keyed by the pair, so an attacker elsewhere cannot lock a
//! user out; the username as directories compare it (case and surrounding
//! spaces ignored), so `Alice ` gets no fresh tries.
//!
//! The counts live in the database (`login_failures`), so every node sees
//! the same ones: with a count per node, N nodes behind a load balancer
//! would give an attacker N times the tries. A pair is stored as a digest of
//! the name and the address. Rows whose window and lockout have both passed
//! are deleted, by each node at most once every [`PRUNE_EVERY`] (when a
//! sign-in fails), and past [`CAPACITY`] pairs the oldest that are not
//! locked out go too: at most that many plus what arrives in one minute.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use crate::{
    core::{Result, db::Db},
    on_db,
};

/// Failures that start a lockout…
const MAX_FAILURES: i64 = 5;
/// …when they happen within this window…
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// …and how long the lockout lasts.
const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// How often a node deletes pairs that no longer count.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Pairs kept at most after a prune, besides those locked out: failures
/// that cost no password hash (an unknown robot name) can come as fast as
/// requests do.
const CAPACITY: i64 = 100_000;

/// What is on record for a pair before a sign-in is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// How long until the pair may try again, when it is locked out now.
    pub locked_for: Option<Duration>,
    /// Whether any failure is on record (a success then clears it).
    pub on_record: bool,
}

#[derive(Debug)]
pub struct LoginThrottle {
    db: Db,
    last_prune: Mutex<Option<Instant>>,
}

fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).expect("a few minutes fit")
}

fn earlier(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(by).expect("a few minutes fit")
}

impl LoginThrottle {
    pub fn new(db: Db) -> Self {
        Self { db, last_prune: Mutex::default() }
    }

    /// The pair as stored: hex of a digest of the normalised name and the address.
    fn key(username: &str, client_addr: Option<&str>) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(username.trim().to_lowercase().as_bytes());
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        hasher.update([0]);
        hasher.update(client_addr.unwrap_or_default().as_bytes());
        hex::encode(&hasher.finalize()[..16])
    }

    /// The pair's standing now: one indexed read.
    pub async fn standing(&self, username: &str, client_addr: Option<&str>) -> Result<Standing> {
        self.standing_at(username, client_addr, Utc::now()).await
    }

    async fn standing_at(&self, username: &str, client_addr: Option<&str>, now: DateTime<Utc>) -> Result<Standing> {
        const SQL: &str = "SELECT locked_until FROM login_failures WHERE pair = $1";
        let key = Self::key(username, client_addr);
        let row: Option<(Option<DateTime<Utc>>,)> =
            on_db!(&self.db, pool => sqlx::query_as(SQL).bind(&key).fetch_optional(pool).await)?;
        let locked_for =
            row.and_then(|(until,)| until).and_then(|until| (until - now).to_std().ok()).filter(|wait| !wait.is_zero());
        Ok(Standing { locked_for, on_record: row.is_some() })
    }

    /// Counts a failure; the one that reaches [`MAX_FAILURES`] within the
    /// window locks the pair out. One statement, so failures arriving at
    /// several nodes at once are all counted.
    pub async fn failed(&self, username: &str, client_addr: Option<&str>) -> Result<()> {
        self.failed_at(username, client_addr, Utc::now()).await
    }

    async fn failed_at(&self, username: &str, client_addr: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        // A pair whose window has passed, and whose lockout (if any) is
        // over, starts again from one failure; a lockout is never cut short.
        const SQL: &str = "INSERT INTO login_failures (pair, failures, first_failed_at, locked_until) \
             VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (pair) DO UPDATE SET \
             failures = CASE WHEN login_failures.first_failed_at <= $3 AND (login_failures.locked_until IS NULL \
                 OR login_failures.locked_until <= $2) THEN 1 ELSE login_failures.failures + 1 END, \
             first_failed_at = CASE WHEN login_failures.first_failed_at <= $3 AND (login_failures.locked_until IS NULL \
                 OR login_failures.locked_until <= $2) THEN $2 ELSE login_failures.first_failed_at END, \
             locked_until = CASE WHEN login_failures.first_failed_at <= $3 AND (login_failures.locked_until IS NULL \
                 OR login_failures.locked_until <= $2) THEN NULL \
                 WHEN login_failures.failures + 1 >= $4 THEN $5 ELSE login_failures.locked_until END";
        let key = Self::key(username, client_addr);
        let window_start = earlier(now, WINDOW);
        let until = later(now, LOCKOUT);
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(&key)
                .bind(now)
                .bind(window_start)
                .bind(MAX_FAILURES)
                .bind(until)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        // Pruning is housekeeping: its failure must not turn a 401 into a 500.
        if self.prune_due()
            && let Err(error) = self.prune(now, CAPACITY).await
        {
            tracing::warn!(%error, "could not prune the sign-in failure counts");
        }
        Ok(())
    }

    /// Clears the pair's failures after a successful sign-in.
    pub async fn succeeded(&self, username: &str, client_addr: Option<&str>) -> Result<()> {
        let key = Self::key(username, client_addr);
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM login_failures WHERE pair = $1")
                .bind(&key)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    fn prune_due(&self) -> bool {
        let mut last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Deletes pairs whose window and lockout have both passed, then, past
    /// `capacity` pairs, the longest-standing ones not locked out (a lockout
    /// is never forgotten to make room).
    async fn prune(&self, now: DateTime<Utc>, capacity: i64) -> Result<u64> {
        const EXPIRED: &str = "DELETE FROM login_failures WHERE first_failed_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $2)";
        const OVER_CAPACITY: &str = "DELETE FROM login_failures WHERE pair IN (SELECT pair FROM login_failures \
             WHERE locked_until IS NULL OR locked_until <= $1 ORDER BY first_failed_at DESC, pair LIMIT -1 OFFSET $2)";
        const OVER_CAPACITY_PG: &str = "DELETE FROM login_failures WHERE pair IN (SELECT pair FROM login_failures \
             WHERE locked_until IS NULL OR locked_until <= $1 ORDER BY first_failed_at DESC, pair OFFSET $2)";
        let window_start = earlier(now, WINDOW);
        let pruned = on_db!(&self.db, pool => async {
            let expired = sqlx::query(EXPIRED).bind(window_start).bind(now).execute(pool).await?.rows_affected();
            Ok::<_, sqlx::Error>(expired)
        }.await)?;
        // SQLite needs a LIMIT before OFFSET (-1: none); PostgreSQL refuses a negative one.
        let over = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query(OVER_CAPACITY).bind(now).bind(capacity).execute(pool).await.map(|d| d.rows_affected())
            }
            Db::Postgres(pool) => {
                sqlx::query(OVER_CAPACITY_PG).bind(now).bind(capacity).execute(pool).await.map(|d| d.rows_affected())
            }
        }
        .map_err(crate::core::Error::from)?;
        Ok(pruned + over)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::{LOCKOUT, LoginThrottle, MAX_FAILURES, WINDOW, later};
    use crate::core::db;

    async fn throttle() -> (LoginThrottle, tempfile::TempDir) {
        let (db, dir) = db::temporary().await;
        (LoginThrottle::new(db), dir)
    }

    #[tokio::test]
    async fn locks_a_pair_after_repeated_failures_only() {
        let (throttle, _dir) = throttle().await;
        let locked = |name: &'static str, addr: Option<&'static str>| {
            let throttle = &throttle;
            async move { throttle.standing(name, addr).await.unwrap().locked_for.is_some() }
        };
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("alice", Some("10.0.0.1")).await.unwrap();
        }
        assert!(!locked("alice", Some("10.0.0.1")).await);
        assert!(throttle.standing("alice", Some("10.0.0.1")).await.unwrap().on_record);
        throttle.failed("Alice", Some("10.0.0.1")).await.unwrap();
        assert!(locked("alice", Some("10.0.0.1")).await);
        assert!(!locked("alice", Some("10.0.0.2")).await, "other addresses are not locked out");
        assert!(!locked("bob", Some("10.0.0.1")).await);
        throttle.failed("carol", None).await.unwrap();
        throttle.succeeded("carol", None).await.unwrap();
        assert!(!throttle.standing("carol", None).await.unwrap().on_record, "a success clears the record");
        // The username as a directory compares it: spaces around it and case do not give fresh tries.
        for _ in 0..MAX_FAILURES {
            throttle.failed(" dave ", Some("10.0.0.1")).await.unwrap();
        }
        assert!(locked("Dave", Some("10.0.0.1")).await);
    }

    #[tokio::test]
    async fn windows_end_lockouts_end_and_old_pairs_are_deleted() {
        let (throttle, _dir) = throttle().await;
        let start = Utc::now();
        // Four failures, then the window passes: the count starts again.
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed_at("erin", Some("10.0.0.1"), start).await.unwrap();
        }
        let after_window = later(start, WINDOW + Duration::from_secs(1));
        throttle.failed_at("erin", Some("10.0.0.1"), after_window).await.unwrap();
        let standing = throttle.standing_at("erin", Some("10.0.0.1"), after_window).await.unwrap();
        assert_eq!(standing.locked_for, None, "failures outside the window do not add up");

        // A lockout lasts LOCKOUT from the failure that started it.
        for _ in 0..MAX_FAILURES {
            throttle.failed_at("frank", None, start).await.unwrap();
        }
        let wait = throttle.standing_at("frank", None, start).await.unwrap().locked_for.unwrap();
        assert_eq!(wait, LOCKOUT);
        let after_lockout = later(start, LOCKOUT);
        assert_eq!(throttle.standing_at("frank", None, after_lockout).await.unwrap().locked_for, None);

        // Pruning deletes what no longer counts and keeps what does.
        throttle.failed_at("grace", None, later(start, WINDOW)).await.unwrap();
        let pruned = throttle.prune(later(start, WINDOW + Duration::from_secs(2)), 100).await.unwrap();
        assert_eq!(pruned, 1, "frank's pair: window and lockout over");
        assert!(throttle.standing("grace", None).await.unwrap().on_record);
        assert!(throttle.standing_at("erin", Some("10.0.0.1"), after_window).await.unwrap().on_record);
    }

    #[tokio::test]
    async fn a_lockout_outlasts_its_window_and_a_flood_never_evicts_it() {
        let (throttle, _dir) = throttle().await;
        let start = Utc::now();
        // Locked out at the very end of the window: a failure just after the
        // window (the lockout still running) does not start a fresh count.
        for n in 0..MAX_FAILURES {
            let at = if n == MAX_FAILURES - 1 { later(start, WINDOW - Duration::from_secs(1)) } else { start };
            throttle.failed_at("henry", None, at).await.unwrap();
        }
        let past_window = later(start, WINDOW + Duration::from_secs(1));
        throttle.failed_at("henry", None, past_window).await.unwrap();
        assert!(throttle.standing_at("henry", None, past_window).await.unwrap().locked_for.is_some());

        // Over capacity, the oldest pairs that are not locked out go first.
        for n in 0..5 {
            throttle.failed_at(&format!("flood-{n}"), None, later(start, Duration::from_secs(n))).await.unwrap();
        }
        let pruned = throttle.prune(later(start, Duration::from_secs(10)), 2).await.unwrap();
        assert_eq!(pruned, 3);
        for (n, kept) in [(0, false), (1, false), (2, false), (3, true), (4, true)] {
            let name = format!("flood-{n}");
            assert_eq!(throttle.standing(&name, None).await.unwrap().on_record, kept, "{name}");
        }
        assert!(throttle.standing_at("henry", None, past_window).await.unwrap().locked_for.is_some());
    }
}

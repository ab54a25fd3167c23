//! Pages of lists. Every list answers with one [`Page`]: the rows shown, how
//! many match in all, and whether rows lie either side. A page is asked for
//! either by position ([`Window`]: offset and limit, what Harbor's REST API
//! and the audit log use) or by keyset ([`Keyset`] with a [`TimeCursor`] or
//! [`NameCursor`], what the portal's long lists use, so a page stays cheap
//! however deep it is).
//!
//! Offset queries fold the count into the page query (`COUNT(*) OVER ()`,
//! read into [`Counted`]): one round trip, and only a page past the end
//! needs a second query to learn the total.

use std::future::Future;

use crate::core::{Error, Result};

/// One page of a list, the matching rows in all, and whether rows lie
/// either side of the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Page<T> {
    /// The page `window` asked for, of `total` matching rows.
    pub fn at(window: Window, items: Vec<T>, total: i64) -> Self {
        let has_next = i64::from(window.offset) + (items.len() as i64) < total;
        Self { items, total, has_previous: window.offset > 0, has_next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            has_previous: self.has_previous,
            has_next: self.has_next,
        }
    }

    /// [`Self::map`] with a conversion that can fail (a stored row that does not read back).
    pub fn try_map<U>(self, f: impl FnMut(T) -> Result<U>) -> Result<Page<U>> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_>>()?,
            total: self.total,
            has_previous: self.has_previous,
            has_next: self.has_next,
        })
    }
}

/// A page asked for by position: skip `offset` rows, show at most `limit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub offset: u32,
    pub limit: u32,
}

impl Window {
    pub fn new(offset: u32, limit: u32) -> Self {
        Self { offset, limit }
    }

    /// `LIMIT` and `OFFSET`, as the databases bind them.
    pub fn sql(self) -> (i64, i64) {
        (i64::from(self.limit), i64::from(self.offset))
    }

    /// The page of rows read with `COUNT(*) OVER () AS total`.
    pub async fn page<T, R>(
        self,
        rows: Vec<Counted<R>>,
        count: impl Future<Output = std::result::Result<i64, sqlx::Error>>,
        read: impl FnMut(R) -> Result<T>,
    ) -> Result<Page<T>> {
        let total = total_of(&rows, self, count).await?;
        Page::at(self, rows.into_iter().map(|counted| counted.row).collect(), total).try_map(read)
    }
}

/// How many rows match, from the first counted row; only a page past the
/// end has none, and then `count` asks.
pub async fn total_of<R>(
    rows: &[Counted<R>],
    window: Window,
    count: impl Future<Output = std::result::Result<i64, sqlx::Error>>,
) -> Result<i64> {
    Ok(match rows.first() {
        Some(first) => first.total,
        None if window.offset == 0 => 0,
        None => count.await?,
    })
}

/// A row of a page query with `COUNT(*) OVER () AS total` among its columns.
#[derive(Clone, Debug)]
pub struct Counted<R> {
    pub row: R,
    pub total: i64,
}

impl<'r, Row, R> sqlx::FromRow<'r, Row> for Counted<R>
where
    Row: sqlx::Row,
    R: sqlx::FromRow<'r, Row>,
    &'r str: sqlx::ColumnIndex<Row>,
    i64: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
{
    fn from_row(row: &'r Row) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self { row: R::from_row(row)?, total: row.try_get("total")? })
    }
}

/// Where a page read by keyset starts: at the beginning, after the last
/// row of the page shown (forward), or before its first row (back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keyset<K> {
    First,
    After(K),
    Before(K),
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

    pub fn decode(raw: &str) -> Result<Self> {
        let invalid = || Error::invalid("cursor", "not a page position this server made");
        let (at, id) = raw.rsplit_once('_').ok_or_else(invalid)?;
        let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| invalid())?.with_timezone(&chrono::Utc);
        Ok(Self { at, id: id.parse().map_err(|_| invalid())? })
    }

    /// The keyset a page link asks for: `after`, else `before`, else the first page.
    pub fn keyset(after: Option<&str>, before: Option<&str>) -> Result<Keyset<Self>> {
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

    pub fn decode(raw: &str) -> Result<Self> {
        let invalid = || Error::invalid("cursor", "not a page position this server made");
        let (id, name) = raw.split_once('_').ok_or_else(invalid)?;
        Ok(Self { name: name.to_owned(), id: id.parse().map_err(|_| invalid())? })
    }

    /// The keyset a page link asks for: `after`, else `before`, else the first page.
    pub fn keyset(after: Option<&str>, before: Option<&str>) -> Result<Keyset<Self>> {
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
    pub fn from_links(after: Option<&str>, before: Option<&str>, decode: impl Fn(&str) -> Result<K>) -> Result<Self> {
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
    pub fn page<T>(&self, mut rows: Vec<T>, limit: usize, total: i64) -> Page<T> {
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
        Page { items: rows, total, has_previous, has_next }
    }
}

//! Audit rows written inside the transactions of the changes they record:
//! one row at a time, or a batch in INSERT statements of a few fixed sizes.

/// Binds `$event`'s (an owned [`AuditEvent`](super::AuditEvent)) columns of an audit row,
/// `occurred_at` to `detail`, to `$query`, in the order both INSERTs name them.
/// The events' own strings are bound, not copies: the driver would copy
/// borrowed text once more on its way to the database.
macro_rules! bind_audit_event {
    ($query:expr, $event:expr) => {{
        let event = $event;
        $query
            .bind(event.occurred_at)
            .bind(event.actor)
            .bind(event.client_addr)
            .bind(event.operation.as_str())
            .bind(event.resource_type.as_str())
            .bind(event.resource)
            .bind(event.project)
            .bind(event.digest)
            .bind(event.tag)
            .bind(event.media_type)
            .bind(event.size)
            .bind(if event.succeeded { "success" } else { "failure" })
            .bind(event.detail)
    }};
}
pub(crate) use bind_audit_event;

/// One audit row; `$14`, the project's id, is that of the project named `$7` now.
pub(crate) const INSERT_ONE: &str = "INSERT INTO audit_log (occurred_at, actor, client_addr, operation, resource_type, \
     resource, project, digest, tag, media_type, size, outcome, detail, project_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, (SELECT id FROM projects WHERE name = $7))";

/// Inside transaction `$tx` (either database): writes the audit row of
/// `$event` (an `&AuditEvent`), so it commits or rolls back with the change
/// it records. Evaluates to `sqlx::Result<()>`.
macro_rules! write_audit_row {
    ($tx:ident, $event:expr) => {{
        let event = $crate::core::events::AuditEvent::bounded(::std::clone::Clone::clone($event));
        $crate::core::events::bind_audit_event!(sqlx::query($crate::core::events::insert::INSERT_ONE), event)
            .execute(&mut *$tx)
            .await
            .map(|_| ())
    }};
}
pub(crate) use write_audit_row;

/// The row counts of the INSERT statements [`insert_audit_rows`] writes
/// with, largest first: a batch is written as full statements of the
/// largest and its rest in powers of two. The statement text is built once
/// and each shape is prepared once per connection; an INSERT shaped to each
/// batch was built, parsed and planned anew (and crowded the connection's
/// statement cache) whenever the batch size changed.
const INSERT_SHAPES: [usize; 8] = [128, 64, 32, 16, 8, 4, 2, 1];

/// The INSERT statement of each of [`INSERT_SHAPES`], in the same order,
/// with PostgreSQL's numbered parameters or SQLite's anonymous ones: SQLite
/// looks a numbered parameter's name up by walking a list, once per
/// parameter bound, which made a 128-row statement's binding quadratic.
static INSERT_SQL: std::sync::LazyLock<[Vec<String>; 2]> = std::sync::LazyLock::new(|| {
    let statements = |parameter: fn(usize) -> String| {
        INSERT_SHAPES
            .iter()
            .map(|&rows| {
                let values = (0..rows)
                    .map(|row| {
                        let first = row * AUDIT_COLUMNS + 1;
                        let row = (first..first + AUDIT_COLUMNS).map(parameter).collect::<Vec<_>>().join(", ");
                        format!("({row})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "INSERT INTO audit_log (occurred_at, actor, client_addr, operation, resource_type, resource, \
                     project, digest, tag, media_type, size, outcome, detail, project_id) VALUES {values}"
                )
            })
            .collect()
    };
    [statements(|n| format!("${n}")), statements(|_| "?".to_owned())]
});

/// Parameters of one row of [`INSERT_SQL`].
const AUDIT_COLUMNS: usize = 14;

/// The next INSERT statement for `remaining` rows, on `DB`, and how many
/// rows it takes.
pub(crate) fn insert_statement<'q, DB: sqlx::Database>(
    remaining: usize,
) -> (sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>, usize) {
    let shape = INSERT_SHAPES.iter().position(|&rows| rows <= remaining).unwrap_or(INSERT_SHAPES.len() - 1);
    let anonymous = usize::from(DB::NAME != "PostgreSQL");
    (sqlx::query(&INSERT_SQL[anonymous][shape]), INSERT_SHAPES[shape])
}

/// Writes `$events` (a `Vec` of [`AuditEvent`](super::AuditEvent)) on `$executor`, after one
/// SELECT there for the projects they name, in as few INSERT statements of
/// [`INSERT_SHAPES`] as add up to their number. `$executor` is named more
/// than once: a connection (`&mut *conn`) inside a transaction the caller
/// begins, or `&mut *tx`, so the rows commit together and with the change
/// they record. Evaluates to `sqlx::Result<()>`.
macro_rules! insert_audit_rows {
    ($executor:expr, $events:expr) => {
        async {
            use $crate::core::events::AuditEvent;
            let events: ::std::vec::Vec<AuditEvent> = $events.into_iter().map(AuditEvent::bounded).collect();
            // The projects of those names when the entries are written, read
            // once for the batch: a subquery per row cost as much as the
            // rest of the insert.
            let mut names: ::std::vec::Vec<&str> = events.iter().filter_map(|event| event.project.as_deref()).collect();
            names.sort_unstable();
            names.dedup();
            let project_ids: ::std::collections::HashMap<String, i64> = if names.is_empty() {
                ::std::collections::HashMap::new()
            } else {
                let mut query = sqlx::QueryBuilder::new("SELECT name, id FROM projects WHERE name IN (");
                let mut list = query.separated(", ");
                for name in &names {
                    list.push_bind(*name);
                }
                query.push(")");
                query.build_query_as::<(String, i64)>().fetch_all($executor).await?.into_iter().collect()
            };
            let mut remaining = events.len();
            let mut events = events.into_iter();
            while remaining > 0 {
                let (mut query, rows) = $crate::core::events::insert_statement(remaining);
                for event in events.by_ref().take(rows) {
                    let project_id = event.project.as_deref().and_then(|name| project_ids.get(name)).copied();
                    query = $crate::core::events::bind_audit_event!(query, event).bind(project_id);
                }
                query.execute($executor).await?;
                remaining -= rows;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await
    };
}
pub(crate) use insert_audit_rows;

/// Runs `$body` (statements on the transaction `$tx`, evaluating to the
/// result) and writes `$event`'s audit row in the same transaction, on
/// either database; with `if $happened` (a closure on the result), only
/// when the change happened. Evaluates to `sqlx::Result` of the body's value.
macro_rules! audited_transaction {
    ($db:expr, $event:expr, |$tx:ident| $body:expr) => {
        $crate::core::events::audited_transaction!($db, $event, |$tx| $body, if |_| true)
    };
    ($db:expr, $event:expr, |$tx:ident| $body:expr, if $happened:expr) => {
        $crate::on_db!($db, pool => async {
            let mut $tx = $crate::core::db::begin_writing(pool).await?;
            let done = $body;
            if ($happened)(&done) {
                $crate::core::events::write_audit_row!($tx, $event)?;
            }
            $tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }.await)
    };
}
pub(crate) use audited_transaction;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_split_into_the_fewest_fixed_statements() {
        for count in 1..=1100 {
            let (mut remaining, mut statements) = (count, 0);
            while remaining > 0 {
                let (query, rows) = insert_statement::<sqlx::Sqlite>(remaining);
                assert!(rows <= remaining, "{count}: a statement takes no more rows than are left");
                let sql = sqlx::Execute::sql(&query);
                assert_eq!(sql.matches('(').count(), rows + 1, "{count}: the statement has one VALUES row per event");
                assert_eq!(
                    sql.matches('?').count(),
                    rows * AUDIT_COLUMNS,
                    "{count}: SQLite's parameters are anonymous"
                );
                remaining -= rows;
                statements += 1;
            }
            let largest = INSERT_SHAPES[0];
            assert_eq!(statements, count / largest + (count % largest).count_ones() as usize, "{count}");
        }
        let (postgres, _) = insert_statement::<sqlx::Postgres>(128);
        assert!(sqlx::Execute::sql(&postgres).ends_with(&format!("${})", 128 * AUDIT_COLUMNS)));
    }
}

//! The Audit log page's CSV export: the entries its filters select, newest
//! first, streamed a batch at a time so a long log never sits in memory.
//! System administrators only (a portal session or Basic credentials);
//! at most [`MAX_EXPORT`] entries, so a bigger log is exported by time range.

use axum::body::Bytes;
use axum::{
    body::Body,
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use chrono::SecondsFormat;
use futures_util::stream;

use app::{
    api::audit::AuditFilters,
    core::{
        AppState, Error,
        access::require_system,
        db::TimeCursor,
        events::{MAX_EXPORT, StoredEvent},
        identity::Actor,
        rbac::SystemAction,
    },
};

use crate::rest::{caller::Caller, error::ApiResult};

/// Entries read from the database per batch.
const BATCH: u32 = 1000;

const HEADER: &str = "time,user,operation,resource_type,resource,outcome,client_address,detail\r\n";

pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(filters): Query<AuditFilters>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    // Only those who may read the log wait for it to be written.
    require_system(&actor, SystemAction::ReadAuditLog)?;
    state.events.flush().await;
    // Checked (filters, permission, size) before the first byte: a refusal is a status, not a cut-off file.
    let total = state.audit.count(&actor, &filters.check()?.query()).await?;
    if total > MAX_EXPORT {
        let message = format!("{total} entries match; an export holds at most {MAX_EXPORT}: narrow the time range");
        return Err(Error::invalid("to", message).into());
    }
    let batches = stream::try_unfold(Some(Export { state, actor, filters, cursor: None }), next_batch);
    let body = Body::from_stream(futures_util::StreamExt::chain(
        stream::once(async { Ok::<_, Error>(Bytes::from_static(HEADER.as_bytes())) }),
        batches,
    ));
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, body).into_response())
}

struct Export {
    state: AppState,
    actor: Actor,
    filters: AuditFilters,
    /// The last entry written; `None` before the first batch.
    cursor: Option<TimeCursor>,
}

/// The next batch as CSV lines; `None` once the entries are all written.
async fn next_batch(export: Option<Export>) -> Result<Option<(Bytes, Option<Export>)>, Error> {
    let Some(mut export) = export else { return Ok(None) };
    let checked = export.filters.check()?;
    let entries = export.state.audit.batch(&export.actor, &checked.query(), export.cursor.as_ref(), BATCH).await?;
    let Some(last) = entries.last() else { return Ok(None) };
    export.cursor = Some(TimeCursor { at: last.occurred_at, id: last.id });
    let full = entries.len() == BATCH as usize;
    let mut lines = String::with_capacity(entries.len() * 160);
    for entry in &entries {
        write_line(&mut lines, entry);
    }
    Ok(Some((Bytes::from(lines), full.then_some(export))))
}

fn write_line(out: &mut String, entry: &StoredEvent) {
    let time = entry.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let fields = [
        time.as_str(),
        entry.actor.as_deref().unwrap_or("anonymous"),
        &entry.operation,
        &entry.resource_type,
        &entry.resource,
        &entry.outcome,
        entry.client_addr.as_deref().unwrap_or(""),
        entry.detail.as_deref().unwrap_or(""),
    ];
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

/// One RFC 4180 field. Text a spreadsheet would run as a formula (a
/// username can be anything someone typed at the sign-in page) is
/// prefixed with `'`, as OWASP advises for CSV exports.
fn push_field(out: &mut String, field: &str) {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || field.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in field.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::push_field;

    fn field(text: &str) -> String {
        let mut out = String::new();
        push_field(&mut out, text);
        out
    }

    #[test]
    fn fields_are_quoted_when_they_must_be() {
        assert_eq!(field("alice"), "alice");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("-1"), "\"'-1\"");
    }
}

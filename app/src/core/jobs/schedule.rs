//! Schedules in Harbor's cron syntax: six fields with seconds first
//! (`0 0 3 * * *` is 03:00 every day), in UTC, or a preset (`hourly`,
//! `daily`, `weekly`). Parsed by `croner`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::{Cron, errors::CronError};

/// Longest cron expression accepted: far longer than any real one.
pub const MAX_EXPRESSION: usize = 128;

/// The presets and their six fields.
const PRESETS: [(&str, &str); 3] = [("hourly", "0 0 * * * *"), ("daily", "0 0 0 * * *"), ("weekly", "0 0 0 * * 0")];

/// A parsed schedule and the expression it came from (presets expanded).
#[derive(Clone, Debug)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
}

/// Why a schedule was refused, in words for the person who wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("must be at most {MAX_EXPRESSION} characters")]
    TooLong,
    #[error("needs six fields (seconds minutes hours day-of-month month day-of-week), not {0}")]
    FieldCount(usize),
    #[error("{0}")]
    Invalid(String),
}

impl CronSchedule {
    /// Reads `raw`: a preset or six cron fields.
    pub fn parse(raw: &str) -> Result<Self, ScheduleError> {
        let raw = raw.trim();
        if raw.len() > MAX_EXPRESSION {
            return Err(ScheduleError::TooLong);
        }
        let name = raw.to_ascii_lowercase();
        let name = name.strip_prefix('@').unwrap_or(&name);
        let expression = match PRESETS.iter().find(|(preset, _)| *preset == name) {
            Some((_, fields)) => (*fields).to_owned(),
            None => raw.to_owned(),
        };
        let fields = expression.split_whitespace().count();
        if fields != 6 {
            return Err(ScheduleError::FieldCount(fields));
        }
        let cron = parse_with_seconds(&expression).map_err(|e| ScheduleError::Invalid(e.to_string()))?;
        Ok(Self { expression, cron })
    }

    /// The preset `expression` is, if it is one: `hourly`, `daily` or `weekly`.
    pub fn preset_of(expression: &str) -> Option<&'static str> {
        PRESETS.iter().find(|(_, fields)| *fields == expression).map(|(name, _)| *name)
    }

    /// The six fields (a preset's, for a preset).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first tick strictly after `after`; `None` if it never comes.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

fn parse_with_seconds(expression: &str) -> Result<Cron, CronError> {
    Cron::new(expression).with_seconds_required().parse()
}

impl FromStr for CronSchedule {
    type Err = ScheduleError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn presets_and_six_fields() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 30, 0).unwrap();
        let hourly = CronSchedule::parse("hourly").unwrap();
        assert_eq!(hourly.expression(), "0 0 * * * *");
        assert_eq!(hourly.next_after(at), Some(Utc.with_ymd_and_hms(2026, 12, 6, 11, 0, 0).unwrap()));
        let daily = CronSchedule::parse("Daily").unwrap();
        assert_eq!(daily.next_after(at), Some(Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap()));
        // 2026-12-06 is a Sunday: the next weekly tick is a week on.
        let weekly = CronSchedule::parse("weekly").unwrap();
        assert_eq!(weekly.next_after(at), Some(Utc.with_ymd_and_hms(2026, 12, 13, 0, 0, 0).unwrap()));
        let custom = CronSchedule::parse("30 15 3 * * *").unwrap();
        assert_eq!(custom.next_after(at), Some(Utc.with_ymd_and_hms(2026, 12, 7, 3, 15, 30).unwrap()));
        let every_second = CronSchedule::parse("* * * * * *").unwrap();
        assert_eq!(every_second.next_after(at), Some(at + chrono::Duration::seconds(1)));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert!(matches!(CronSchedule::parse("0 0 * * *"), Err(ScheduleError::FieldCount(5))));
        assert!(matches!(CronSchedule::parse(""), Err(ScheduleError::FieldCount(0))));
        assert!(matches!(CronSchedule::parse("0 0 25 * * *"), Err(ScheduleError::Invalid(_))));
        assert!(matches!(CronSchedule::parse("a b c d e f"), Err(ScheduleError::Invalid(_))));
        assert!(matches!(CronSchedule::parse(&"0 ".repeat(100)), Err(ScheduleError::TooLong)));
        // At the bound and one past it.
        let padded = |len: usize| format!("0 0 0 * *{}*", " ".repeat(len - 10));
        assert_eq!(padded(MAX_EXPRESSION).len(), MAX_EXPRESSION);
        assert!(CronSchedule::parse(&padded(MAX_EXPRESSION)).is_ok());
        assert!(matches!(CronSchedule::parse(&padded(MAX_EXPRESSION + 1)), Err(ScheduleError::TooLong)));
    }
}

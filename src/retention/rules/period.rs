//! How long a rule keeps data, and from which moment the period runs.

use super::*;

/// When the period starts (DIN 66398 start points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPoint {
    /// When the item was collected (message time, status receipt, request time).
    Collection,
    /// The contact's last message on that channel.
    ConversationEnd,
    /// When the contact was marked closed (end of the business relationship).
    RelationshipEnd,
    /// When consent was withdrawn.
    ConsentWithdrawal,
}

impl StartPoint {
    pub const ALL: [StartPoint; 4] = [
        StartPoint::Collection,
        StartPoint::ConversationEnd,
        StartPoint::RelationshipEnd,
        StartPoint::ConsentWithdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StartPoint::Collection => "collection",
            StartPoint::ConversationEnd => "conversation_end",
            StartPoint::RelationshipEnd => "relationship_end",
            StartPoint::ConsentWithdrawal => "consent_withdrawal",
        }
    }

    pub(super) fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("must be one of {}", names(Self::ALL.map(Self::as_str))),
                )
            })
    }
}

/// A standard deletion period: calendar years, months, days and hours (ISO 8601 `P6Y`,
/// `P3M`, `P90D`, `PT48H`, or combinations like `P1Y6M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Period {
    pub const fn years(years: u32) -> Self {
        Self {
            years,
            months: 0,
            days: 0,
            hours: 0,
        }
    }

    /// What is due now when kept for this period from its start point, counted to the end of
    /// that year when `end_of_year` (the statutory periods of § 257 HGB, § 147 AO).
    pub fn cutoff(self, now: DateTime<Utc>, end_of_year: bool) -> Option<Cutoff> {
        let limit = self.before(now)?;
        let before = if end_of_year {
            // Due once 1 January after the start point's year plus the period has passed:
            // start < 1 January of the year of (now - period). The year turns in UTC, an hour
            // after it does in Germany: later, never earlier, than the law requires.
            let jan1 = Utc.with_ymd_and_hms(limit.year(), 1, 1, 0, 0, 0).single()?;
            to_micros(jan1)
        } else {
            to_micros(limit) + 1
        };
        Some(Cutoff { before })
    }

    pub const fn days(days: u32) -> Self {
        Self {
            years: 0,
            months: 0,
            days,
            hours: 0,
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                field,
                "must be an ISO 8601 period such as P6Y, P3M, P90D or PT48H, or \"keep\"",
            )
        };
        let rest = s.strip_prefix('P').ok_or_else(bad)?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let mut period = Period {
            years: 0,
            months: 0,
            days: 0,
            hours: 0,
        };
        let mut any = false;
        for (part, units) in [(date, "YMWD"), (time.unwrap_or(""), "H")] {
            let mut number = String::new();
            let mut last = 0usize;
            for c in part.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                    continue;
                }
                let position = units.find(c).ok_or_else(bad)? + 1;
                // Units must come in order, each once, and carry a number.
                if position <= last || number.is_empty() || number.len() > 5 {
                    return Err(bad());
                }
                last = position;
                let n: u32 = number.parse().map_err(|_| bad())?;
                number.clear();
                any = true;
                match c {
                    'Y' => period.years = n,
                    'M' => period.months = n,
                    'W' => period.days += n * 7,
                    'D' => period.days += n,
                    _ => period.hours = n,
                }
            }
            if !number.is_empty() {
                return Err(bad());
            }
        }
        if !any || period.years > 200 {
            return Err(bad());
        }
        Ok(period)
    }

    /// The period's shortest length (months of 28 days, years of 365), for comparing with a
    /// floor.
    pub fn approximate(&self) -> chrono::Duration {
        chrono::Duration::days(
            i64::from(self.years) * 365 + i64::from(self.months) * 28 + i64::from(self.days),
        ) + chrono::Duration::hours(i64::from(self.hours))
    }

    pub fn iso(&self) -> String {
        let mut s = String::from("P");
        for (n, unit) in [(self.years, 'Y'), (self.months, 'M'), (self.days, 'D')] {
            if n > 0 {
                s.push_str(&format!("{n}{unit}"));
            }
        }
        if self.hours > 0 {
            s.push_str(&format!("T{}H", self.hours));
        }
        if s == "P" {
            s.push_str("0D");
        }
        s
    }

    /// `at` moved back by this period (calendar months clamp to the month's last day).
    pub(super) fn before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        at.checked_sub_months(Months::new(self.years * 12 + self.months))?
            .checked_sub_signed(Duration::days(i64::from(self.days)))?
            .checked_sub_signed(Duration::hours(i64::from(self.hours)))
    }
}

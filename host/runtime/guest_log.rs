//! What guests write to Rotor's log, by the `log` import or on stderr (in
//! a fault's log line): escaped so that it cannot forge lines, and bounded
//! in rate per tenant.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `text` with every control character written as an escape (`\n`, `\r`,
/// `\t`, else `\u{..}`), and the Unicode line and paragraph separators too:
/// text a guest wrote stays on the one log line it was given, so it cannot
/// start a line of its own that looks like the host's or another tenant's,
/// nor move a terminal's cursor. Text without them is borrowed as it is.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    let needs_escape = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// How often a tenant's dropped lines are reported, at most.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// One tenant's log rate: a bucket of lines that refills at `per_second`
/// and holds a second's worth, shared by all the tenant's guests. Lines
/// over the rate are dropped, and counted in one warning a second.
#[derive(Debug)]
pub struct LogRate {
    per_second: u32,
    bucket: Mutex<LogBucket>,
}

#[derive(Debug)]
struct LogBucket {
    /// Lines that may be written now.
    lines: f64,
    refilled: Instant,
    /// Lines dropped since the last report.
    dropped: u64,
    reported: Option<Instant>,
}

/// What happens to one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// It is written.
    Line,
    /// It is dropped.
    Drop,
    /// It is dropped, and a warning should say how many were (this many).
    DropAndReport(u64),
}

impl LogRate {
    /// A full bucket at `per_second` lines a second (at least 1).
    pub fn new(per_second: u32) -> LogRate {
        let per_second = per_second.max(1);
        LogRate {
            per_second,
            bucket: Mutex::new(LogBucket {
                lines: f64::from(per_second),
                refilled: Instant::now(),
                dropped: 0,
                reported: None,
            }),
        }
    }

    /// Its rate, in lines a second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Whether a line written at `now` is within the rate.
    pub fn admit(&self, now: Instant) -> Admit {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rate = f64::from(self.per_second);
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.lines = (bucket.lines + elapsed * rate).min(rate);
        bucket.refilled = bucket.refilled.max(now);
        if bucket.lines >= 1.0 {
            bucket.lines -= 1.0;
            return Admit::Line;
        }
        bucket.dropped += 1;
        let due = bucket
            .reported
            .is_none_or(|last| now.saturating_duration_since(last) >= REPORT_EVERY);
        if due {
            bucket.reported = Some(now);
            Admit::DropAndReport(std::mem::take(&mut bucket.dropped))
        } else {
            Admit::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 10 of the hardening review: a guest's `\n` or `\r` started
    /// a log line of its own, which could claim any tenant.
    #[test]
    fn guest_text_cannot_forge_log_lines() {
        let forged = "ok\n2026-01-01T00:00:00Z  INFO tenant=other: forged\r\x1b[2K\u{2028}x\ty";
        let escaped = escape_control(forged);
        assert!(!escaped.contains(|c: char| c.is_control() || c == '\u{2028}'));
        assert_eq!(
            escaped,
            "ok\\n2026-01-01T00:00:00Z  INFO tenant=other: forged\\r\\u{1b}[2K\\u{2028}x\\ty"
        );
        assert!(matches!(
            escape_control("plain, é"),
            Cow::Borrowed("plain, é")
        ));
    }

    /// Finding 10 of the hardening review: one tenant's guests could write
    /// as many lines as their calls allowed, flooding the log.
    #[test]
    fn a_tenants_log_rate_drops_lines_over_it_and_reports_them_once_a_second() {
        let rate = LogRate::new(10);
        let start = Instant::now();
        let admitted = (0..25)
            .map(|_| rate.admit(start))
            .filter(|admit| *admit == Admit::Line)
            .count();
        assert_eq!(admitted, 10, "a second's worth at once");
        // The first drop was reported with its count; the rest wait.
        let mut bucket_report = rate.admit(start);
        assert_eq!(bucket_report, Admit::Drop);
        // Half a second refills five lines.
        let later = start + Duration::from_millis(500);
        let admitted = (0..10)
            .map(|_| rate.admit(later))
            .filter(|admit| *admit == Admit::Line)
            .count();
        assert_eq!(admitted, 5);
        // A second after the first report, the drops since are reported.
        let next = start + Duration::from_millis(1000);
        bucket_report = Admit::Line;
        for _ in 0..20 {
            if let Admit::DropAndReport(count) = rate.admit(next) {
                bucket_report = Admit::DropAndReport(count);
                break;
            }
        }
        assert!(
            matches!(bucket_report, Admit::DropAndReport(count) if count > 15),
            "{bucket_report:?}"
        );
    }
}

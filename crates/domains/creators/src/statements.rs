//! Monthly statements: a creator's ledger entries of one calendar month in the shop's time zone
//! (date, kind, note, amount), the balance before and after, and the totals by kind; written as
//! CSV and as a small PDF made here (text only, the standard Helvetica font, no dependency).
//!
//! A balance here is the sum of the entries (pending and approved alike), as the ledger defines it.

use crate::{Creators, CreatorsError};
use chrono::{Datelike, TimeZone};
use lsn_db::RowExt;
use std::collections::BTreeMap;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// `2026-11` → November 2026; anything else is `None`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        ((1970..=9998).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    /// The month's first moment in `tz`, in Unix milliseconds.
    pub fn start<Tz: TimeZone>(self, tz: &Tz) -> i64 {
        tz.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0).earliest().map(|t| t.timestamp_millis()).unwrap_or(0)
    }

    /// The month `ms` falls in, in `tz`.
    pub fn of<Tz: TimeZone>(ms: i64, tz: &Tz) -> Option<Month> {
        let t = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(tz);
        Some(Month { year: t.year(), month: t.month() })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One line of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub at: i64,
    /// `YYYY-MM-DD` in the shop's time zone.
    pub date: String,
    pub kind: String,
    pub status: String,
    pub note: String,
    pub amount: i64,
}

/// A month's statement of one creator, in cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub month: Month,
    pub creator_name: String,
    pub handle: String,
    pub abn: Option<String>,
    pub gst_registered: bool,
    pub opening: i64,
    pub closing: i64,
    pub lines: Vec<Line>,
    /// Kind → total, in the ledger's kinds.
    pub totals: BTreeMap<String, i64>,
}

impl Creators {
    /// The months (newest first) in which a creator's ledger moved, in the shop's time zone.
    pub async fn statement_months(&self, creator_id: &str) -> Result<Vec<Month>, CreatorsError> {
        let tz = self.live.commerce.cfg.timezone;
        let rows = lsn_db::query("SELECT created_at FROM creator_ledger WHERE creator_id = $1 ORDER BY created_at DESC LIMIT 50000")
            .bind(creator_id)
            .fetch_all(self.db.read())
            .await?;
        let mut months: Vec<Month> = Vec::new();
        for r in &rows {
            if let Some(m) = Month::of(r.try_get::<i64, _>(0)?, &tz) {
                if months.last() != Some(&m) {
                    months.push(m);
                }
            }
        }
        months.dedup();
        Ok(months)
    }

    /// A creator's statement of `month`.
    pub async fn statement(&self, creator_id: &str, month: Month) -> Result<Statement, CreatorsError> {
        let c = self.get(creator_id).await?;
        let tz = self.live.commerce.cfg.timezone;
        let (from, until) = (month.start(&tz), month.next().start(&tz));
        let opening: i64 =
            lsn_db::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_ledger WHERE creator_id = $1 AND created_at < $2")
                .bind(creator_id)
                .bind(from)
                .fetch_one(self.db.read())
                .await?
                .try_get(0)?;
        let rows = lsn_db::query(
            "SELECT created_at, kind, status, note, amount FROM creator_ledger WHERE creator_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at, id",
        )
        .bind(creator_id)
        .bind(from)
        .bind(until)
        .fetch_all(self.db.read())
        .await?;
        let mut lines = Vec::with_capacity(rows.len());
        let mut totals = BTreeMap::new();
        for r in &rows {
            let at: i64 = r.try_get(0)?;
            let date = chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let line = Line { at, date, kind: r.try_get(1)?, status: r.try_get(2)?, note: r.try_get(3)?, amount: r.try_get(4)? };
            *totals.entry(line.kind.clone()).or_insert(0i64) += line.amount;
            lines.push(line);
        }
        let closing = opening + lines.iter().map(|l| l.amount).sum::<i64>();
        Ok(Statement {
            month,
            creator_name: c.display_name,
            handle: c.handle,
            abn: c.abn,
            gst_registered: c.gst_registered,
            opening,
            closing,
            lines,
            totals,
        })
    }
}

/// Cents as a plain decimal (`-12.50`), the form a spreadsheet reads.
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// One CSV field: quoted when it must be, and a text that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first) kept as text.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

impl Statement {
    /// The statement as CSV: a header, the opening balance, one row per entry, the closing
    /// balance (amounts in dollars; the entry rows add up to closing less opening).
    pub fn csv(&self) -> String {
        let mut out = String::from("date,kind,status,note,amount\r\n");
        let first = format!("{}-01", self.month);
        out.push_str(&format!("{first},opening_balance,,,{}\r\n", decimal(self.opening)));
        for l in &self.lines {
            out.push_str(&format!("{},{},{},{},{}\r\n", l.date, field(&l.kind), field(&l.status), field(&l.note), decimal(l.amount)));
        }
        let last = self.lines.last().map(|l| l.date.clone()).unwrap_or(first);
        out.push_str(&format!("{last},closing_balance,,,{}\r\n", decimal(self.closing)));
        out
    }

    /// The statement as a PDF (A4, Helvetica, as many pages as its lines need).
    pub fn pdf(&self, shop: &str, labels: &PdfLabels) -> Vec<u8> {
        let mut head =
            vec![(16.0, format!("{shop} - {} {}", labels.title, self.month)), (11.0, format!("{} ({})", self.creator_name, self.handle))];
        if let Some(abn) = &self.abn {
            head.push((10.0, format!("{}: {abn}", labels.abn)));
        }
        head.push((10.0, if self.gst_registered { labels.gst_yes.clone() } else { labels.gst_no.clone() }));
        head.push((10.0, String::new()));
        head.push((11.0, format!("{}: {}", labels.opening, decimal(self.opening))));
        let mut body: Vec<(f32, String)> = vec![(10.0, String::new())];
        for l in &self.lines {
            let note: String = l.note.chars().take(48).collect();
            body.push((9.0, format!("{}   {:<13} {:<9} {:<48} {:>12}", l.date, l.kind, l.status, note, decimal(l.amount))));
        }
        if self.lines.is_empty() {
            body.push((9.0, labels.empty.clone()));
        }
        body.push((10.0, String::new()));
        body.push((11.0, labels.totals.clone()));
        for (k, v) in &self.totals {
            body.push((9.0, format!("{k:<13} {:>12}", decimal(*v))));
        }
        body.push((10.0, String::new()));
        body.push((11.0, format!("{}: {}", labels.closing, decimal(self.closing))));
        let mut all = head;
        all.extend(body);
        pdf::document(&all)
    }
}

/// The words of a PDF statement in the reader's language.
pub struct PdfLabels {
    pub title: String,
    pub abn: String,
    pub gst_yes: String,
    pub gst_no: String,
    pub opening: String,
    pub closing: String,
    pub totals: String,
    pub empty: String,
}

/// A minimal PDF writer: lines of text on A4 pages, in a monospaced column layout (Courier for
/// the table so its columns line up, Helvetica for the rest).
mod pdf {
    const TOP: f32 = 800.0;
    const BOTTOM: f32 = 50.0;
    const LEFT: f32 = 40.0;

    /// Text as the PDF string of a WinAnsi font: Latin-1 kept, other characters as `?`, and
    /// `\`, `(` and `)` escaped.
    fn string(s: &str) -> Vec<u8> {
        let mut out = vec![b'('];
        for c in s.chars() {
            let b = match c {
                '\u{2013}' | '\u{2014}' => b'-',
                c if (c as u32) < 0x20 => b' ',
                c if (c as u32) <= 0xFF => c as u32 as u8,
                _ => b'?',
            };
            if matches!(b, b'\\' | b'(' | b')') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b')');
        out
    }

    /// The PDF of `lines` (font size, text), paged.
    pub fn document(lines: &[(f32, String)]) -> Vec<u8> {
        let mut pages: Vec<Vec<u8>> = Vec::new();
        let mut content = Vec::new();
        let mut y = TOP;
        for (size, text) in lines {
            let step = size * 1.4;
            if y - step < BOTTOM {
                pages.push(std::mem::take(&mut content));
                y = TOP;
            }
            y -= step;
            if text.is_empty() {
                continue;
            }
            // The table's rows (9 pt) in Courier, so their columns line up.
            let font = if *size < 9.5 { "F2" } else { "F1" };
            content.extend_from_slice(format!("BT /{font} {size} Tf {LEFT} {y:.1} Td ").as_bytes());
            content.extend(string(text));
            content.extend_from_slice(b" Tj ET\n");
        }
        pages.push(content);

        // Objects: 1 catalog, 2 pages, 3 Helvetica, 4 Courier, then a page and its content each.
        let n = pages.len();
        let mut objects: Vec<Vec<u8>> = Vec::new();
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 5 + i * 2)).collect();
        objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
        objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
        objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>".to_vec());
        for (i, c) in pages.iter().enumerate() {
            let content_id = 6 + i * 2;
            objects.push(
                format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_id} 0 R >>")
                    .into_bytes(),
            );
            let mut s = format!("<< /Length {} >>\nstream\n", c.len()).into_bytes();
            s.extend_from_slice(c);
            s.extend_from_slice(b"\nendstream");
            objects.push(s);
        }
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(o);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn text_is_escaped_and_pages_break() {
            assert_eq!(super::string("a (b) \\ é €"), b"(a \\(b\\) \\\\ \xE9 ?)".to_vec());
            let lines: Vec<(f32, String)> = (0..200).map(|i| (9.0, format!("line {i}"))).collect();
            let pdf = super::document(&lines);
            let text = String::from_utf8_lossy(&pdf);
            assert!(text.starts_with("%PDF-1.4"));
            assert!(text.contains("/Count 4"), "200 lines of 12.6 pt need 4 pages");
            assert!(text.trim_end().ends_with("%%EOF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2026-11"), Some(Month { year: 2026, month: 11 }));
        for bad in ["2026-13", "2026-1", "26-11", "2026-00", "2026-11.csv", "abcd-ef", ""] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(Month { year: 2026, month: 12 }.next(), Month { year: 2027, month: 1 });
        assert_eq!(Month::parse("2026-03").map(|m| m.to_string()).as_deref(), Some("2026-03"));
    }

    #[test]
    fn csv_fields_are_escaped_and_formulas_kept_as_text() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(decimal(-1250), "-12.50");
        assert_eq!(decimal(5), "0.05");
    }
}

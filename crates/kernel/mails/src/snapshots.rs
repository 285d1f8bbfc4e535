//! Snapshot tests: every template rendered with fixed sample data and compared with the files
//! checked in under `tests/snapshots/mail/`. A difference fails with a line diff;
//! `UPDATE_SNAPSHOTS=1 cargo test -p lsn-mails` rewrites the files (review them in the diff).

use crate::*;
use lsn_core::i18n::Locale;
use lsn_core::money::Money;
use lsn_ops::summary::*;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/snapshots/mail")
}

/// A line diff of `expected` against `actual` (longest common subsequence; the files are small).
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push_str(&format!("+{:>4} {}\n", j + 1, b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{:>4} {}\n", i + 1, a[i]));
            i += 1;
        }
    }
    out
}

/// `Ok` when `actual` is the snapshot, else the diff to show.
fn compare(expected: &str, actual: &str) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else if expected.lines().eq(actual.lines()) {
        Err("only the line endings or the final newline differ".into())
    } else {
        Err(diff(expected, actual))
    }
}

fn check(name: &str, actual: &str) {
    let path = dir().join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(dir()).expect("snapshot directory");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot {} (run with UPDATE_SNAPSHOTS=1 to write it)", path.display()));
    if let Err(d) = compare(&expected, actual) {
        panic!("{name} differs from its snapshot (- snapshot, + now; UPDATE_SNAPSHOTS=1 rewrites it):\n{d}");
    }
}

fn mail(name: &str, m: &Mail) {
    check(&format!("{name}.subject.txt"), &format!("{}\n", m.subject));
    check(&format!("{name}.html"), &m.html);
    check(&format!("{name}.txt"), &m.text);
}

/// Fixture texts (already translated, as a section's are).
fn texts(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn brand() -> Brand {
    Brand::new("LSN Live", "https://shop.example/")
}

fn lines() -> Vec<Line> {
    vec![
        Line { quantity: 2, title: "Linen Tote — Natural".into(), total: Money::aud(7_990) },
        Line { quantity: 1, title: "Ceramic Mug <Limited>".into(), total: Money::aud(2_450) },
    ]
}

fn order() -> OrderConfirmation {
    OrderConfirmation {
        number: "LSN-7K2P9QX".into(),
        lines: lines(),
        shipping: Money::aud(995),
        discount: Money::aud(1_000),
        gst: Money::aud(948),
        total: Money::aud(10_435),
        link: "https://shop.example/orders/LSN-7K2P9QX".into(),
    }
}

fn at() -> chrono::DateTime<chrono_tz::Tz> {
    chrono::DateTime::from_timestamp(1_796_135_400, 0).expect("valid").with_timezone(&chrono_tz::Australia::Sydney)
}

#[test]
fn order_confirmation() {
    mail("order_confirmation", &brand().render(&order()).expect("render"));
}

#[tokio::test]
async fn order_confirmation_in_american_english() {
    let us = Locale::parse("en-US").expect("supported");
    let m = lsn_core::i18n::scope(us, async { brand().render(&order()) }).await.expect("render");
    assert!(m.text.contains("A$104.35"), "{}", m.text);
    mail("order_confirmation.en-US", &m);
}

#[test]
fn shipping_notification() {
    let m = ShippingNotification {
        number: "LSN-7K2P9QX".into(),
        carrier: "Australia Post".into(),
        tracking_number: "33LSN0000123".into(),
        tracking_link: Some("https://auspost.com.au/mypost/track/details/33LSN0000123".into()),
        lines: lines(),
        link: "https://shop.example/orders/LSN-7K2P9QX".into(),
    };
    mail("shipping_notification", &brand().render(&m).expect("render"));
}

#[test]
fn delivery_confirmation() {
    let m =
        DeliveryConfirmation { number: "LSN-7K2P9QX".into(), delivered_at: at(), link: "https://shop.example/orders/LSN-7K2P9QX".into() };
    mail("delivery_confirmation", &brand().render(&m).expect("render"));
}

#[test]
fn password_reset() {
    let m = PasswordReset { link: "https://shop.example/password/reset?token=abc123".into() };
    mail("password_reset", &brand().render(&m).expect("render"));
}

#[test]
fn welcome() {
    let m = Welcome { name: "Zoë & Co".into(), confirm_link: "https://shop.example/api/auth/verify?token=abc123".into() };
    let r = brand().render(&m).expect("render");
    assert!(r.html.contains("Zoë &amp; Co") || r.html.contains("Zoë &#38; Co"), "names are escaped in HTML: {}", r.html);
    mail("welcome", &r);
}

#[test]
fn low_stock_alert() {
    let m = LowStockAlert {
        items: vec![
            LowItem { sku: "MUG-RARE".into(), title: "Ceramic Mug — Sage".into(), available: 0 },
            LowItem { sku: "TOTE-NAT".into(), title: "Linen Tote — Natural".into(), available: 7 },
        ],
        threshold: 10,
        link: "https://shop.example/admin/tasks".into(),
    };
    mail("low_stock_alert", &brand().render(&m).expect("render"));
}

#[test]
fn fraud_alert() {
    let m = FraudAlert {
        number: "LSN-9QX7K2P".into(),
        amount: Money::aud(129_900),
        risk_score: 84,
        reasons: vec!["Billing and shipping countries differ".into(), "4 cards tried in 10 minutes".into()],
        link: "https://shop.example/admin/orders/LSN-9QX7K2P".into(),
    };
    mail("fraud_alert", &brand().render(&m).expect("render"));
}

/// The runbook's sample summary (31 December 2025), as the modules would report it.
fn sample_report() -> Report {
    let period = Period::daily(chrono_tz::Australia::Sydney, chrono::NaiveDate::from_ymd_opt(2025, 12, 31).expect("date"));
    let hours: Vec<(String, Measure)> = (0..24)
        .map(|h| {
            (
                format!("{h:02}"),
                Measure::Money([0, 0, 0, 0, 0, 0, 20, 40, 60, 80, 90, 110, 120, 100, 90, 80, 70, 90, 110, 120, 60, 40, 20, 10][h] * 1_000),
            )
        })
        .collect();
    let revenue = Section::new("summary-orders-title")
        .icon("💰")
        .figure(Figure::new(lsn_core::i18n::t("summary-revenue"), Measure::Money(1_245_000)).against(Measure::Money(1_082_600)))
        .figure(Figure::new(lsn_core::i18n::t("summary-orders"), Measure::Count(87)).against(Measure::Count(81)))
        .figure(Figure::new(lsn_core::i18n::t("summary-aov"), Measure::Money(14_310)).against(Measure::Money(13_365)))
        .note("2 unpaid orders cancelled".into())
        .chart(Chart { id: "revenue", title: lsn_core::i18n::t("summary-chart-revenue-hourly"), kind: ChartKind::Bars, points: hours })
        .table(Table {
            caption: lsn_core::i18n::t("summary-top-products"),
            columns: texts(&["SKU", "Product", "Units", "Sales"]),
            rows: vec![vec!["TOTE-NAT".into(), "Linen Tote".into(), "31".into(), "$2,479.00".into()]],
            empty: String::new(),
        })
        .csv(Csv {
            name: "orders",
            header: vec!["number".into(), "total".into()],
            rows: vec![vec!["LSN-7K2P9QX".into(), "104.35".into()]],
        });
    let live = Section::new("summary-live-title")
        .icon("🎥")
        .figure(Figure::new(lsn_core::i18n::t("summary-streams"), Measure::Count(8)).against(Measure::Count(8)).note("24 h total".into()))
        .figure(Figure::new(lsn_core::i18n::t("summary-viewers"), Measure::Count(3_421)).against(Measure::Count(3_002)))
        .figure(Figure::new(lsn_core::i18n::t("summary-conversion"), Measure::Percent(ratio(86, 3_421))).against(Measure::Percent(250)));
    let stock = Section::new("summary-stock-title")
        .icon("📦")
        .figure(Figure::new("Low stock (< 10 units)".into(), Measure::Count(12)))
        .table(Table {
            caption: "Variants below 10 units available".into(),
            columns: texts(&["SKU"]),
            rows: Vec::new(),
            empty: "Every variant has enough stock.".into(),
        })
        .action("12 products low stock (<10 units)".into());
    Report {
        shop: "LSN Live".into(),
        period,
        sections: vec![revenue, live, stock],
        failed: vec![Failed { title: "System health".into(), error: "database is locked".into() }],
    }
}

#[test]
fn daily_summary() {
    let m = summary(&brand(), &sample_report(), Images::Inline).expect("render");
    let mut listing = String::new();
    for a in &m.attachments {
        // A PNG is listed by its name (its bytes are checked by the chart's own test).
        let body = if a.content_type == "text/csv" { String::from_utf8_lossy(&a.content).into_owned() } else { String::new() };
        listing.push_str(&format!("{} {} {}\n{body}", a.filename, a.content_type, a.content_id.as_deref().unwrap_or("-")));
    }
    check("daily_summary.attachments.txt", &listing);
    assert!(m.html.contains("src=\"cid:chart-revenue\""), "{}", m.html);
    assert!(m.attachments.iter().any(|a| a.content_id.as_deref() == Some("chart-revenue")));
    mail("daily_summary", &m);
    // The same report on the admin's page embeds its image, and as files names it.
    let page = summary(&brand(), &sample_report(), Images::Embedded).expect("render");
    assert!(page.html.contains("src=\"data:image/png;base64,iVBOR") && page.attachments.iter().all(|a| a.content_type == "text/csv"));
    let files = summary(&brand(), &sample_report(), Images::Files).expect("render");
    assert!(files.html.contains("src=\"chart-revenue-2025-12-31.png\""));
}

#[test]
fn a_snapshot_that_differs_fails_with_a_diff() {
    assert_eq!(compare("a\nb\nc\n", "a\nb\nc\n"), Ok(()));
    let d = compare("a\nb\nc\n", "a\nB\nc\nd\n").expect_err("differs");
    assert_eq!(d, "-   2 b\n+   2 B\n+   4 d\n");
    assert!(compare("a\n", "a").is_err(), "a lost final newline is a difference too");
    let missing = std::panic::catch_unwind(|| check("no-such-snapshot.txt", "x"));
    if std::env::var("UPDATE_SNAPSHOTS").is_err() {
        assert!(missing.is_err(), "a missing snapshot fails");
    } else {
        let _ = std::fs::remove_file(dir().join("no-such-snapshot.txt"));
    }
}

//! The `lsn` binary as an operator uses it: init, doctor, admin, backup, restore, jobs, serve.

use crate::common::{fresh_database, Backend};
use std::process::{Command, Output};

fn lsn(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lsn"));
    c.current_dir(dir)
        .args(args)
        .env("LSN_DATA_DIR", dir.join("data"))
        .env("LSN_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("LSN_ENV")
        .env_remove("NODE_ENV");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run lsn")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn init_is_idempotent_and_doctor_checks_everything() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let before = lsn(d, &[], &["doctor"]);
    assert!(!before.status.success());
    assert!(text(&before).contains("✗ database file"), "{}", text(&before));

    let first = lsn(d, &[], &["init", "--demo"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("core data created")
            && text(&first).contains("bins 150")
            && text(&first).contains("5 demo accounts, 32 demo products, 1 demo show"),
        "{}",
        text(&first)
    );
    let second = lsn(d, &[], &["init", "--demo"]);
    assert!(
        text(&second).contains("nothing changed") && text(&second).contains("0 demo accounts, 0 demo products, 0 demo show"),
        "{}",
        text(&second)
    );

    let doc = lsn(d, &[], &["doctor"]);
    let t = text(&doc);
    assert!(doc.status.success(), "{t}");
    let latest = lsn_web::schema().latest();
    let schema = format!("✓ schema at the latest migration ({latest} of {latest})");
    for want in [
        "✓ database reachable (SQLite",
        schema.as_str(),
        "✓ core data: 1 warehouse, 4 zones, 150 bins, 1 channel, 1 supplier(s)",
        "✓ Stripe: sandbox: records only (STRIPE_SECRET_KEY unset)",
        "✓ SendGrid: sandbox: records only, in the development mailbox",
        "✓ circuit breakers: none has ever opened",
        "✓ workflows: 0 unfinished run(s), every version registered",
        "✓ jobs: none stuck",
        "✓ disk space for backups in",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    assert!(!t.contains('✗'), "{t}");
    // Every ✓ is a check: an integration with no client says so instead.
    assert!(t.contains("✓ Slack: sandbox: records only (SLACK_WEBHOOK_URL unset)") && !t.contains("– Slack"), "{t}");
    assert!(t.contains("✓ Twilio: sandbox: records only (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER unset)"), "{t}");
    assert!(t.contains("– HeyGen: not built yet"), "{t}");
    assert!(t.contains("– Sendle: not built yet, comes with nothing: Sendle halted bookings"), "{t}");
    // A real client's credentials are checked: their shape, then a call that changes nothing
    // (here against a port where nothing listens: a ✗ saying so, and a failing doctor).
    let real = lsn(d, &[("STRIPE_SECRET_KEY", "sk_test_123"), ("STRIPE_API_BASE", "http://127.0.0.1:9")], &["doctor"]);
    assert!(
        text(&real).contains("✗ Stripe: credentials set (real client, test key); balance read: 127.0.0.1 unreachable"),
        "{}",
        text(&real)
    );
    assert!(!real.status.success());
    assert!(!text(&real).contains("sk_test_123"), "secrets are never printed");
    let bad = lsn(d, &[("STRIPE_SECRET_KEY", "pk_live_oops"), ("SENDGRID_API_KEY", "nope")], &["doctor"]);
    assert!(text(&bad).contains("✗ Stripe: STRIPE_SECRET_KEY does not look like a Stripe secret key"), "{}", text(&bad));
    assert!(text(&bad).contains("✗ SendGrid: SENDGRID_API_KEY does not look like a SendGrid key"), "{}", text(&bad));
    assert!(!text(&bad).contains("pk_live_oops"), "secrets are never printed");
}

#[test]
fn bad_configuration_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let o = lsn(d, &[("DATABASE_URL", "mysql://root@localhost/lsn")], &["migrate"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("DATABASE_URL") && text(&o).contains("not supported yet"), "{}", text(&o));
    let o = lsn(d, &[("DATABASE_URL", "nonsense")], &["migrate"]);
    assert!(!o.status.success() && text(&o).contains("DATABASE_URL"));

    // A file that is not SQLite at the database path is reported and never overwritten.
    std::fs::create_dir_all(d.join("data")).expect("mkdir");
    let junk = b"these are my tax records, not a database".repeat(100);
    std::fs::write(d.join("data/lsn.db"), &junk).expect("write");
    let o = lsn(d, &[], &["init"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not an SQLite database"), "{}", text(&o));
    assert_eq!(std::fs::read(d.join("data/lsn.db")).expect("read"), junk);

    let o = lsn(d, &[("LSN_ENV", "production"), ("JWT_SECRET", "lsn-development-secret-do-not-use-in-production")], &["doctor"]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("JWT_SECRET is missing or left at the development default")
            && t.contains("STRIPE_SECRET_KEY is missing")
            && t.contains("SENDGRID_API_KEY"),
        "{t}"
    );

    let o = lsn(d, &[("PORT", "seventy")], &["doctor"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("PORT"));
}

#[test]
fn unreachable_postgres_is_retried_then_reported() {
    let dir = tempfile::tempdir().expect("dir");
    let o = lsn(dir.path(), &[("DATABASE_URL", "postgres://lsn:secret-pw@127.0.0.1:9/lsn")], &["migrate"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("DATABASE_URL") && t.contains("unreachable") && t.contains("after 6 attempts"), "{t}");
    assert!(!t.contains("secret-pw"), "the password is never printed: {t}");
}

#[test]
fn admin_create_backup_restore_and_jobs() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let o =
        lsn(d, &[("LSN_ADMIN_PASSWORD", "a long admin password")], &["admin", "create", "--email", "Boss@Shop.example", "--role", "owner"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("created boss@shop.example (owner)"));
    let o = lsn(d, &[], &["admin", "create", "--email", "boss@shop.example", "--role", "admin"]);
    assert!(text(&o).contains("role is now admin"), "{}", text(&o));
    let o = lsn(d, &[], &["admin", "create", "--email", "x@shop.example", "--role", "king"]);
    assert!(!o.status.success() && text(&o).contains("unknown role"));

    let o = lsn(d, &[], &["backup", "--prune"]);
    assert!(o.status.success(), "{}", text(&o));
    let file = std::fs::read_dir(d.join("data/backups"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sqlite.gz"))
        .expect("backup file");
    let o = lsn(d, &[], &["restore", file.to_str().expect("path")]);
    assert!(!o.status.success() && text(&o).contains("--force"), "{}", text(&o));
    let o = lsn(d, &[], &["restore", file.to_str().expect("path"), "--force"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 users") && text(&o).contains("kept as"), "{}", text(&o));
    let truncated = d.join("lsn-daily-20200101-000000Z.sqlite.gz");
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() - 50]).expect("write");
    let o = lsn(d, &[], &["restore", truncated.to_str().expect("path"), "--force"]);
    assert!(!o.status.success() && text(&o).contains("nothing was changed"), "{}", text(&o));

    let o = lsn(d, &[], &["jobs", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("backup_daily") && text(&o).contains("CRON_TZ=UTC 0 0 2 * * *"), "{}", text(&o));
    let o = lsn(d, &[], &["jobs", "history", "backup_daily"]);
    assert!(text(&o).contains("no runs recorded"));
}

#[tokio::test]
async fn postgres_init_doctor_backup() {
    let Some((url, _)) = fresh_database(Backend::Postgres).await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let env = [("DATABASE_URL", url.as_str())];
    assert!(lsn(d, &env, &["init"]).status.success());
    let doc = lsn(d, &env, &["doctor"]);
    assert!(doc.status.success(), "{}", text(&doc));
    assert!(text(&doc).contains("✓ database reachable (PostgreSQL"));
    assert!(!text(&doc).contains(":lsn@"), "password hidden: {}", text(&doc));
    let o = lsn(d, &env, &["backup", "--kind", "hourly"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(".pgsql.gz"));
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let mut node =
        crate::common::spawn_node(dir.path(), &[("LSN_DATA_DIR", &dir.path().join("data").display().to_string()), ("LSN_DEMO", "true")]);
    let port = node.port;
    let body = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/healthz")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    assert!(body.contains("ok") || body.is_empty(), "{body}");
    let _ = Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = node.child.try_wait().expect("wait") {
            break s;
        }
        assert!(started.elapsed().as_secs() < 30, "did not stop within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut seen = node.startup.clone();
    while let Ok(l) = node.log.recv_timeout(std::time::Duration::from_millis(200)) {
        seen.push(l);
    }
    assert!(status.success(), "{status:?}");
    let log = seen.join("\n");
    assert!(log.contains("demo shop loaded"), "an empty development database gets the demo: {log}");
    assert!(log.contains("shutdown complete"), "{log}");
}

#[test]
fn summary_prints_every_modules_section_for_a_day() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    assert!(lsn(d, &[], &["init", "--demo"]).status.success());
    // A day before the demo's generated history (its weeks end now).
    let out = lsn(d, &[("LSN_TIMEZONE", "Australia/Sydney")], &["summary", "--date", "2020-12-01"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        "📊 LSN Live - Daily Summary\nDate: 1 Dec 2020\n",
        "💰 Revenue\n- Total: $0.00 (no change vs yesterday)\n- Orders: 0 (no change vs yesterday)\n- AOV: $0.00 (no change vs yesterday)\n",
        "📦 Inventory alerts\n- Low stock (< 10 units): ",
        "🎥 Live Streaming\n- Streams: 0 (0 h total) (no change vs yesterday)\n",
        "🩺 System health\n- Jobs run: 0 (no change vs yesterday)\n",
        "- No backup yet\n",
        "⚠️ Action items\n",
    ] {
        assert!(t.contains(want), "{want:?} in:\n{t}");
    }
    // The weekly report, written as the mail's HTML with its image and files beside it.
    let out =
        lsn(d, &[("LSN_TIMEZONE", "Australia/Sydney")], &["summary", "--weekly", "--date", "2020-12-06", "--out", "reports/week.html"]);
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(d.join("reports/week.html")).expect("html");
    assert!(html.contains("LSN Live - Weekly Report") && html.contains("30 Nov 2020 – 6 Dec 2020"), "{html}");
    assert!(html.contains("src=\"chart-revenue-2020-11-30_2020-12-06.png\""), "{html}");
    let png = std::fs::read(d.join("reports/chart-revenue-2020-11-30_2020-12-06.png")).expect("chart beside it");
    assert_eq!(&png[..4], b"\x89PNG");
    let bad = lsn(d, &[], &["summary", "--date", "yesterday"]);
    assert!(!bad.status.success() && text(&bad).contains("--date: give a day as YYYY-MM-DD"), "{}", text(&bad));
}

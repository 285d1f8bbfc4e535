//! The workflow engine under SIGKILL (issue 15): a child process runs workflows whose steps call
//! a fake provider and is killed at random moments; afterwards every run has ended, no effect is
//! lost or repeated after its step was recorded done, and every compensation ran. The full
//! 200-kill storm is in docs/BENCHMARKS.md; CI runs a shorter one on both databases.

use std::process::Command;

fn storm(db: &str, kills: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_lsn-wfbench"))
        .args(["storm", "--db", db, "--kills", kills, "--runs", "60"])
        .output()
        .expect("run the storm");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("**lost 0**") && text.contains("**duplicated 0**"), "{text}");
}

#[test]
fn sqlite_survives_sigkills() {
    let dir = tempfile::tempdir().expect("tempdir");
    storm(&format!("sqlite://{}", dir.path().join("storm.db").display()), "20");
}

#[test]
fn postgres_survives_sigkills() {
    let Ok(admin) = std::env::var("LSN_TEST_DATABASE_URL") else {
        assert_ne!(std::env::var("LSN_TEST_REQUIRE_ALL").as_deref(), Ok("1"), "LSN_TEST_DATABASE_URL is not set");
        eprintln!("skipping PostgreSQL variant: LSN_TEST_DATABASE_URL not set");
        return;
    };
    let name = format!("lsn_storm_{}", std::process::id());
    let psql = |sql: &str| Command::new("psql").args([admin.as_str(), "-qc", sql]).status().expect("psql").success();
    assert!(psql(&format!("DROP DATABASE IF EXISTS {name}")) && psql(&format!("CREATE DATABASE {name}")));
    let mut url = admin.clone();
    if let Some(i) = url.rfind('/') {
        url.truncate(i);
    }
    storm(&format!("{url}/{name}"), "8");
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

use lsn_db::{Db, Migration, Schema};
use lsn_payouts::{Account, Recipient, Transfer};

static PAYOUTS: &[Migration] = &[lsn_payouts::MIGRATION];

fn schema() -> Schema {
    Schema::new(&[lsn_db::HISTORY, PAYOUTS]).expect("schema")
}

/// A fresh migrated database: SQLite in a temporary directory, or a new PostgreSQL database under
/// `LSN_TEST_DATABASE_URL`.
pub struct TestDb {
    pub db: Db,
    pub path: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("payouts.db");
    let db = open_sqlite(&path).await;
    db.migrate(&schema()).await.expect("migrate");
    TestDb { db, path: Some(path), _dir: Some(dir) }
}

/// The same SQLite file opened again, as a restarted process would.
pub async fn open_sqlite(path: &std::path::Path) -> Db {
    Db::connect_target(&lsn_db::DbTarget::Sqlite(path.to_path_buf()), 4, lsn_core::config::Durability::Full, 1).await.expect("open")
}

pub async fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("LSN_TEST_DATABASE_URL") else {
        assert_ne!(std::env::var("LSN_TEST_REQUIRE_ALL").as_deref(), Ok("1"), "LSN_TEST_DATABASE_URL is not set");
        eprintln!("skipping PostgreSQL variant: LSN_TEST_DATABASE_URL not set");
        return None;
    };
    let name = format!("lsn_payouts_{}", uuid::Uuid::new_v4().simple());
    let pool =
        Db::connect_target(&lsn_db::DbTarget::parse(&admin).expect("url"), 2, lsn_core::config::Durability::Full, 1).await.expect("admin");
    lsn_db::query(&format!("CREATE DATABASE {name}")).execute(pool.write()).await.expect("create database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("url");
    url.set_path(&format!("/{name}"));
    let db = Db::connect_target(&lsn_db::DbTarget::parse(url.as_str()).expect("url"), 8, lsn_core::config::Durability::Full, 1)
        .await
        .expect("open");
    db.migrate(&schema()).await.expect("migrate");
    Some(TestDb { db, path: None, _dir: None })
}

/// Runs a scenario taking a database on SQLite and on PostgreSQL.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = crate::common::sqlite().await;
                super::$name(t.db.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = crate::common::postgres().await {
                    super::$name(t.db.clone()).await;
                }
            }
        }
    };
}
pub(crate) use both;

pub fn transfer(account: Account, currency: &str, amount_minor: i64) -> Transfer {
    Transfer {
        source_currency: None,
        payout_id: lsn_core::ids::new_id(),
        amount_minor,
        currency: currency.into(),
        recipient: Recipient { holder_name: "Ann Lee".into(), email: Some("ann@example.com".into()), account },
        reference: "LSN 2026-07".into(),
    }
}

pub fn au(bsb: &str, number: &str) -> Account {
    Account::Australian { bsb: bsb.into(), account_number: number.into() }
}

pub fn iban() -> Account {
    Account::Iban { iban: "DE89 3704 0044 0532 0130 00".into(), bic: None }
}

pub fn uk() -> Account {
    Account::SortCode { sort_code: "23-14-70".into(), account_number: "28821822".into() }
}

pub fn config(pairs: &[(&str, &str)]) -> lsn_core::Config {
    lsn_core::Config::from_sources(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).expect("config")
}

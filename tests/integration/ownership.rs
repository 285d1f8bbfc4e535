//! Each domain owns its tables. The map below names the one crate that may write and read each
//! table; another domain reads through the owner's public functions or its public views (read
//! models, defined in the owner's migrations and never written to), and the app crate and the
//! binary run no SQL at all. The test reads the source: SQL in one crate that names another's
//! table fails here, as does a table nobody owns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Table → the crate (its folder under `crates/`) that owns it.
const TABLES: &[(&str, &[&str])] = &[
    ("kernel/db", &["schema_migrations"]),
    (
        "kernel/ops",
        &[
            "jobs",
            "job_runs",
            "schedules",
            "outbox",
            "leases",
            "tasks",
            "workflow_definitions",
            "workflow_runs",
            "workflow_steps",
            "workflow_events",
            "alert_thresholds",
            "node_metrics",
            "alerts",
            "alert_deliveries",
            "alert_silences",
            "incidents",
            "incident_events",
            "analytics_buckets",
            "policies",
            "policy_versions",
            "policy_decisions",
            "healing_events",
            "circuit_breakers",
        ],
    ),
    ("integrations/notify", &["notify_sandbox"]),
    ("integrations/payouts", &["payout_sandbox_transfers", "payout_wise_batch_groups"]),
    (
        "domains/creators",
        &[
            "creator_tiers",
            "creators",
            "creator_rate_overrides",
            "creator_collaborations",
            "creator_collaboration_members",
            "creator_links",
            "creator_codes",
            "creator_clicks",
            "creator_attributions",
            "creator_flags",
            "creator_ledger",
            "creator_holds",
            "creator_bank_accounts",
            "creator_payouts",
            "creator_payout_events",
            "creator_tier_proposals",
            "creator_settings",
        ],
    ),
    ("integrations/mail", &["mailbox"]),
    (
        "domains/risk",
        &["fraud_checks", "risk_payment_attempts", "risk_lists", "risk_list_audit", "risk_labels", "risk_models", "risk_settings"],
    ),
    ("domains/identity", &["users", "sessions", "api_keys", "audit_log", "login_failures", "user_tokens", "settings"]),
    ("domains/catalog", &["products", "variants", "categories", "product_images", "products_fts"]),
    (
        "domains/warehouse",
        &["warehouses", "zones", "bins", "bin_stock", "stock_levels", "stock_movements", "reservations", "suppliers", "channels"],
    ),
    (
        "domains/commerce",
        &[
            "carts",
            "cart_items",
            "orders",
            "order_items",
            "order_transitions",
            "payments",
            "refunds",
            "disputes",
            "discount_codes",
            "discount_customer_uses",
            "customer_product_purchases",
            "offers",
            "offer_claims",
            "idempotency_keys",
            "sandbox_intents",
            "unpaid_checkouts",
            "webhook_events",
        ],
    ),
    (
        "domains/live",
        &[
            "live_shows",
            "live_lineup",
            "live_events",
            "live_viewers",
            "live_chat_messages",
            "live_moderation",
            "auctions",
            "auction_bids",
            "coin_packs",
            "coin_wallets",
            "coin_ledger",
            "gift_ledger",
            "coin_lots",
            "gift_funding",
            "coin_lot_disputes",
        ],
    ),
];

/// Public read models: any crate may read them; only their owner's migrations define them.
const VIEWS: &[(&str, &[&str])] = &[
    ("domains/warehouse", &["variant_stock"]),
    ("domains/catalog", &["catalog_products", "catalog_variants"]),
    ("domains/identity", &["user_names", "user_contacts"]),
];

/// The crossings that remain, each with its reason. An entry no longer needed fails the test, so
/// the list only shrinks.
const ALLOWED: &[(&str, &str, &str)] =
    &[("crates/kernel/db/src/backup.rs", "users", "a restore proves the backup holds the shop's accounts before it replaces anything")];

/// Words after which SQL names a table.
const BEFORE_TABLE: &[&str] = &["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "VIEW"];
/// Of those, the ones that write (a view is never written).
const WRITES: &[&str] = &["INTO", "UPDATE"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// `(keyword, table)` pairs of the SQL in `text`: the word after each of [`BEFORE_TABLE`] (past
/// `IF NOT EXISTS`), comment lines left out.
fn references(text: &str) -> Vec<(String, String)> {
    let code: String = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("//") && !t.starts_with("--")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let words: Vec<&str> = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !BEFORE_TABLE.contains(w) {
            continue;
        }
        let mut j = i + 1;
        while j < words.len() && matches!(words[j], "IF" | "NOT" | "EXISTS") {
            j += 1;
        }
        if let Some(t) = words.get(j) {
            out.push((w.to_string(), t.to_string()));
        }
    }
    out
}

/// The owning folder (`domains/commerce`) of a path under `crates/`, or `app` for the binary.
fn crate_of(path: &Path) -> String {
    let rel = path.strip_prefix(root()).expect("under the root");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    if parts.first().map(String::as_str) == Some("crates") && parts.len() > 2 {
        format!("{}/{}", parts[1], parts[2])
    } else {
        "app".into()
    }
}

fn owners(list: &[(&'static str, &'static [&'static str])]) -> BTreeMap<&'static str, &'static str> {
    let mut m = BTreeMap::new();
    for (owner, names) in list {
        for n in *names {
            assert!(m.insert(*n, *owner).is_none(), "{n} has two owners");
        }
    }
    m
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root()).expect("under the root").display().to_string()
}

#[test]
fn every_table_and_view_has_one_owner() {
    let (tables, views) = (owners(TABLES), owners(VIEWS));
    let mut migrations = Vec::new();
    files(&root().join("crates"), "sql", &mut migrations);
    assert!(migrations.len() >= 14, "found the migrations: {migrations:?}");
    let mut created = BTreeSet::new();
    for m in &migrations {
        let text = std::fs::read_to_string(m).expect("read");
        for (kw, name) in references(&text) {
            if kw == "TABLE" || kw == "VIEW" {
                created.insert(name.clone());
                let owned = tables.get(name.as_str()).or(views.get(name.as_str()));
                assert!(owned.is_some(), "{} creates {name}, which has no owner in the map", rel(m));
                // A domain's own migrations create only what it owns (the kernel's history holds
                // the first steps of every domain).
                let by = crate_of(m);
                if by != "kernel/db" {
                    assert_eq!(
                        owned.copied(),
                        Some(by.as_str()),
                        "{} creates {name}, which {} owns",
                        rel(m),
                        owned.copied().unwrap_or("?")
                    );
                }
            }
        }
    }
    created.insert("schema_migrations".into()); // made by the migration runner itself
    for name in tables.keys().chain(views.keys()) {
        assert!(created.contains(*name), "the map names {name}, which no migration creates");
    }
}

#[test]
fn a_crate_touches_only_its_own_tables_and_the_app_runs_no_sql() {
    let (tables, views) = (owners(TABLES), owners(VIEWS));
    let mut sources = Vec::new();
    files(&root().join("crates"), "rs", &mut sources);
    files(&root().join("src"), "rs", &mut sources);
    assert!(sources.len() > 50, "found the sources");
    let mut used_allowances = BTreeSet::new();
    let mut problems = Vec::new();
    for path in &sources {
        let text = std::fs::read_to_string(path).expect("read");
        let here = crate_of(path);
        let file = rel(path);
        if here == "app" || here == "apps/web" {
            for marker in ["lsn_db::query", "sqlx::query", ".execute_batch("] {
                if text.contains(marker) {
                    problems.push(format!("{file} runs SQL ({marker}): the app folds modules, it queries nothing"));
                }
            }
        }
        for (kw, name) in references(&text) {
            let writes = WRITES.contains(&kw.as_str());
            if let Some(owner) = tables.get(name.as_str()) {
                if *owner == here {
                    continue;
                }
                if let Some((_, _, _)) = ALLOWED.iter().find(|(f, t, _)| *f == file && *t == name) {
                    used_allowances.insert((file.clone(), name.clone()));
                    continue;
                }
                problems.push(format!("{file} ({here}) {} {name}, which {owner} owns", if writes { "writes" } else { "reads" }));
            } else if let Some(owner) = views.get(name.as_str()) {
                if writes && *owner != here {
                    problems.push(format!("{file} writes the view {name} ({owner}'s read model)"));
                }
            }
        }
    }
    for (f, t, why) in ALLOWED {
        if !used_allowances.contains(&(f.to_string(), t.to_string())) {
            problems.push(format!("the allowance for {f} reading {t} ({why}) is no longer needed: remove it"));
        }
    }
    assert!(problems.is_empty(), "tables crossed:\n  {}", problems.join("\n  "));
}

#[test]
fn the_scanner_finds_what_it_must() {
    let refs = references(
        "lsn_db::query(\"SELECT a FROM orders o JOIN\n  order_items i ON 1 = 1\")\n// FROM users\nINSERT INTO t\nCREATE TABLE IF NOT EXISTS jobs",
    );
    let names: Vec<&str> = refs.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(names, ["orders", "order_items", "t", "jobs"]);
}

#[test]
fn the_schema_folds_every_domains_migrations_in_order() {
    let schema = lsn_web::schema();
    let versions: Vec<i64> = schema.steps().iter().map(|m| m.version).collect();
    assert_eq!(versions, (1..=schema.latest()).collect::<Vec<_>>(), "one step per version, none missing");
    assert!(lsn_db::Schema::new(&[lsn_db::HISTORY, lsn_db::HISTORY]).is_err(), "two steps with one version are refused");
}

/// The query layer is the only code that knows the driver: every other crate (and the tests)
/// reads and writes through `lsn_db` and decides on `lsn_db::Error`'s kinds.
#[test]
fn only_the_query_layer_knows_the_driver() {
    let root = root();
    let mut manifests = Vec::new();
    files(&root.join("crates"), "toml", &mut manifests);
    manifests.push(root.join("Cargo.toml"));
    let mut leaks = Vec::new();
    for m in &manifests {
        let text = std::fs::read_to_string(m).expect("manifest");
        let own = rel(m) == "crates/kernel/db/Cargo.toml";
        // The workspace's own list of versions may name it; only the query layer may use it.
        let uses = text.lines().any(|l| l.trim_start().starts_with("sqlx.workspace") || l.trim_start().starts_with("sqlx = { workspace"));
        if uses && !own {
            leaks.push(rel(m));
        }
    }
    let mut sources = Vec::new();
    files(&root.join("crates"), "rs", &mut sources);
    files(&root.join("src"), "rs", &mut sources);
    files(&root.join("tests"), "rs", &mut sources);
    for f in &sources {
        let path = rel(f);
        if path.starts_with("crates/kernel/db/") || path == "tests/integration/ownership.rs" {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("source");
        if text.contains("sqlx::") {
            leaks.push(path);
        }
    }
    assert!(leaks.is_empty(), "these use sqlx instead of lsn_db: {leaks:?}");
    assert!(manifests.len() > 8 && sources.len() > 50, "the walk found the workspace");
}

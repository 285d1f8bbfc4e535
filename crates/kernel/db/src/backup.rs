//! Consistent online backups and verified restores.
//!
//! SQLite: `VACUUM INTO` a snapshot (readers and the writer go on), gzip it. PostgreSQL:
//! `pg_dump` plain SQL, gzip it. Files are `lsn-<kind>-<YYYYMMDD-HHMMSS>Z.<sqlite|pgsql>.gz` in
//! the backup directory, written under a `.partial` name and renamed when complete.
//! Retention follows the runbook: daily backups 30 days, hourly backups 7 days.

use crate::{dialect, query, Backend, Db, DbError, DbTarget, RowExt, Slow};
use chrono::{DateTime, NaiveDateTime, Utc};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    Daily,
    Hourly,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Daily => "daily",
            BackupKind::Hourly => "hourly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(BackupKind::Daily),
            "hourly" => Some(BackupKind::Hourly),
            _ => None,
        }
    }

    /// How long the runbook keeps this kind.
    pub fn retention(self) -> chrono::Duration {
        match self {
            BackupKind::Daily => chrono::Duration::days(30),
            BackupKind::Hourly => chrono::Duration::days(7),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackupFile {
    pub path: PathBuf,
    pub kind: BackupKind,
    pub taken_at: DateTime<Utc>,
    pub bytes: u64,
}

const PG_DUMP_END: &str = "-- PostgreSQL database dump complete";

fn progress(len: Option<u64>, msg: &'static str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    // indicatif draws to stderr only when it is a terminal, so scripts and logs stay clean.
    pb
}

pub fn file_name(kind: BackupKind, backend: Backend, at: DateTime<Utc>) -> String {
    let ext = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "pgsql",
    };
    format!("lsn-{}-{}Z.{ext}.gz", kind.as_str(), at.format("%Y%m%d-%H%M%S"))
}

/// Reads a backup's kind and time from its name; `None` for files that are not LSN backups.
pub fn parse_name(name: &str) -> Option<(BackupKind, DateTime<Utc>, Backend)> {
    let rest = name.strip_prefix("lsn-")?;
    let (kind, rest) = rest.split_once('-')?;
    let kind = BackupKind::parse(kind)?;
    let (stamp, ext) = rest.split_once("Z.")?;
    let backend = match ext {
        "sqlite.gz" => Backend::Sqlite,
        "pgsql.gz" => Backend::Postgres,
        _ => return None,
    };
    let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").ok()?.and_utc();
    Some((kind, at, backend))
}

pub fn list(dir: &Path) -> Result<Vec<BackupFile>, DbError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some((kind, taken_at, _)) = parse_name(&name) {
            out.push(BackupFile { path: entry.path(), kind, taken_at, bytes: entry.metadata()?.len() });
        }
    }
    out.sort_by_key(|b| b.taken_at);
    Ok(out)
}

/// Deletes backups older than their kind's retention; returns what was deleted.
pub fn prune(dir: &Path, now: DateTime<Utc>) -> Result<Vec<PathBuf>, DbError> {
    let mut removed = Vec::new();
    for b in list(dir)? {
        if now - b.taken_at > b.kind.retention() {
            std::fs::remove_file(&b.path)?;
            removed.push(b.path);
        }
    }
    Ok(removed)
}

fn gzip_file(src: &Path, dest: &Path) -> Result<u64, DbError> {
    let len = std::fs::metadata(src)?.len();
    let pb = progress(Some(len), "compressing");
    let mut input = pb.wrap_read(std::fs::File::open(src)?);
    let out = std::fs::File::create(dest)?;
    let mut enc = GzEncoder::new(std::io::BufWriter::new(out), flate2::Compression::default());
    std::io::copy(&mut input, &mut enc)?;
    let mut w = enc.finish()?;
    w.flush()?;
    w.get_ref().sync_all()?;
    pb.finish_and_clear();
    Ok(std::fs::metadata(dest)?.len())
}

impl Db {
    /// Takes a consistent backup of the running database into `dir`.
    pub async fn backup(&self, dir: &Path, kind: BackupKind, now: DateTime<Utc>) -> Result<BackupFile, DbError> {
        std::fs::create_dir_all(dir).map_err(|e| DbError::Backup(format!("cannot create backup directory {}: {e}", dir.display())))?;
        let name = file_name(kind, self.backend(), now);
        let final_path = dir.join(&name);
        let partial = dir.join(format!("{name}.partial"));
        let result = match self.target().clone() {
            DbTarget::Sqlite(_) => {
                let snapshot = dir.join(format!("{name}.snapshot"));
                let _ = std::fs::remove_file(&snapshot);
                let snap_str = snapshot.to_string_lossy().to_string();
                let r = async {
                    query("VACUUM INTO $1").bind(&snap_str).execute(Slow(self.read())).await?;
                    let s = snapshot.clone();
                    let p = partial.clone();
                    tokio::task::spawn_blocking(move || gzip_file(&s, &p)).await.map_err(|e| DbError::Backup(e.to_string()))?
                }
                .await;
                let _ = std::fs::remove_file(&snapshot);
                r
            }
            DbTarget::Postgres(url) => {
                let p = partial.clone();
                tokio::task::spawn_blocking(move || pg_dump(&url, &p)).await.map_err(|e| DbError::Backup(e.to_string()))?
            }
        };
        match result {
            Ok(bytes) => {
                std::fs::rename(&partial, &final_path)?;
                tracing::info!(file = %final_path.display(), bytes, "backup written");
                Ok(BackupFile { path: final_path, kind, taken_at: now, bytes })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }
}

fn pg_dump(url: &str, dest: &Path) -> Result<u64, DbError> {
    let mut child = Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "--format=plain", "--dbname", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DbError::Backup(format!("cannot run pg_dump (install the postgresql-client package): {e}")))?;
    let mut stdout = child.stdout.take().ok_or_else(|| DbError::Backup("pg_dump gave no output".into()))?;
    let pb = progress(None, "dumping");
    let out = std::fs::File::create(dest)?;
    let mut enc = GzEncoder::new(std::io::BufWriter::new(out), flate2::Compression::default());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stdout.read(&mut buf)?;
        if n == 0 {
            break;
        }
        enc.write_all(&buf[..n])?;
        pb.inc(n as u64);
    }
    let mut w = enc.finish()?;
    w.flush()?;
    w.get_ref().sync_all()?;
    pb.finish_and_clear();
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(DbError::Backup(format!("pg_dump failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(std::fs::metadata(dest)?.len())
}

/// Decompresses a backup to `dest`, failing on a truncated or damaged file.
fn gunzip_to(src: &Path, dest: &Path) -> Result<(), DbError> {
    let len = std::fs::metadata(src).map_err(|e| DbError::Backup(format!("cannot read backup {}: {e}", src.display())))?.len();
    let pb = progress(Some(len), "decompressing");
    let mut dec = GzDecoder::new(pb.wrap_read(std::fs::File::open(src)?));
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest)?);
    std::io::copy(&mut dec, &mut out)
        .map_err(|e| DbError::Backup(format!("backup {} is truncated or damaged ({e}); nothing was changed", src.display())))?;
    out.flush()?;
    pb.finish_and_clear();
    Ok(())
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    pub migration_version: i64,
    pub users: i64,
    pub moved_aside: Option<PathBuf>,
}

/// Restores `backup` into `target`. Refuses to overwrite a database that has tables unless
/// `force`; the backup is decompressed and verified before the target is touched.
pub async fn restore(backup: &Path, target: &DbTarget, force: bool) -> Result<RestoreReport, DbError> {
    let name = backup.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let backend_of_file = parse_name(&name).map(|(_, _, b)| b).or_else(|| {
        if name.ends_with(".sqlite.gz") {
            Some(Backend::Sqlite)
        } else if name.ends_with(".pgsql.gz") || name.ends_with(".sql.gz") {
            Some(Backend::Postgres)
        } else {
            None
        }
    });
    let Some(file_backend) = backend_of_file else {
        return Err(DbError::Backup(format!("{name}: not an LSN backup (expected *.sqlite.gz or *.pgsql.gz)")));
    };
    if file_backend != target.backend() {
        return Err(DbError::Backup(format!(
            "{name} is a {} backup but DATABASE_URL points at {}",
            file_backend.name(),
            target.backend().name()
        )));
    }
    let work = tempfile::tempdir()?;
    let raw = work.path().join("restore.raw");
    {
        let (src, dst) = (backup.to_path_buf(), raw.clone());
        tokio::task::spawn_blocking(move || gunzip_to(&src, &dst)).await.map_err(|e| DbError::Backup(e.to_string()))??;
    }
    match target {
        DbTarget::Sqlite(path) => restore_sqlite(&raw, path, force).await,
        DbTarget::Postgres(url) => restore_postgres(&raw, target, url, force).await,
    }
}

async fn verify(db: &Db) -> Result<(i64, i64), DbError> {
    let applied = db.applied_version().await?;
    if applied == 0 {
        return Err(DbError::Backup("the backup holds no LSN schema".into()));
    }
    let users: i64 = query("SELECT CAST(count(*) AS BIGINT) FROM users").fetch_one(db.read()).await?.try_get(0)?;
    Ok((applied, users))
}

async fn is_live(target: &DbTarget) -> Result<bool, DbError> {
    if let DbTarget::Sqlite(path) = target {
        if std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true) {
            return Ok(false);
        }
    }
    let db = Db::connect_target(target, 2, lsn_core::config::Durability::Full, 1).await?;
    let n: i64 = query(dialect::count_tables(db.backend())).fetch_one(db.read()).await?.try_get(0)?;
    db.close().await;
    Ok(n > 0)
}

async fn restore_sqlite(raw: &Path, path: &Path, force: bool) -> Result<RestoreReport, DbError> {
    crate::check_sqlite_file(raw)
        .map_err(|_| DbError::Backup("the backup does not hold an SQLite database; nothing was changed".into()))?;
    // Verify the snapshot on its own before it goes anywhere near the live path.
    let candidate = DbTarget::Sqlite(raw.to_path_buf());
    let db = Db::connect_target(&candidate, 2, lsn_core::config::Durability::Full, 1).await?;
    let ok: String = query("PRAGMA integrity_check").fetch_one(Slow(db.read())).await?.try_get(0)?;
    if ok != "ok" {
        return Err(DbError::Backup(format!("the backup fails SQLite's integrity check ({ok}); nothing was changed")));
    }
    let (version, users) = verify(&db).await?;
    query("PRAGMA wal_checkpoint(TRUNCATE)").execute(Slow(db.read())).await?;
    db.close().await;
    let target = DbTarget::Sqlite(path.to_path_buf());
    let mut moved_aside = None;
    if is_live(&target).await? {
        if !force {
            return Err(DbError::Backup(format!(
                "{} holds a live shop; pass --force to replace it (it is kept beside as .before-restore)",
                path.display()
            )));
        }
        let aside = path.with_extension(format!("db.before-restore-{}", Utc::now().format("%Y%m%d-%H%M%S")));
        std::fs::rename(path, &aside)?;
        moved_aside = Some(aside);
    }
    for ext in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let staging = path.with_extension("db.restoring");
    std::fs::copy(raw, &staging)?;
    std::fs::File::open(&staging)?.sync_all()?;
    std::fs::rename(&staging, path)?;
    let db = Db::connect_target(&target, 2, lsn_core::config::Durability::Full, 1).await?;
    let (v2, u2) = verify(&db).await?;
    db.close().await;
    if (v2, u2) != (version, users) {
        return Err(DbError::Backup("the restored database differs from the verified backup".into()));
    }
    Ok(RestoreReport { migration_version: version, users, moved_aside })
}

async fn restore_postgres(raw: &Path, target: &DbTarget, url: &str, force: bool) -> Result<RestoreReport, DbError> {
    let mut tail = String::new();
    {
        let mut f = std::fs::File::open(raw)?;
        let len = f.metadata()?.len();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(len.saturating_sub(4096)))?;
        f.read_to_string(&mut tail).map_err(|_| DbError::Backup("the backup is not a PostgreSQL dump; nothing was changed".into()))?;
    }
    if !tail.contains(PG_DUMP_END) {
        return Err(DbError::Backup("the PostgreSQL dump is incomplete (no end marker); nothing was changed".into()));
    }
    if !force && is_live(target).await? {
        return Err(DbError::Backup("the PostgreSQL database holds a live shop; pass --force to replace it".into()));
    }
    // One transaction: the schema is replaced and the dump loaded, or nothing happens.
    let script = work_script(raw)?;
    let out = Command::new("psql")
        .args(["--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1", "--dbname", url, "--file"])
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| DbError::Backup(format!("cannot run psql (install the postgresql-client package): {e}")))?;
    if !out.status.success() {
        return Err(DbError::Backup(format!(
            "psql failed, the database was left as it was: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let db = Db::connect_target(target, 2, lsn_core::config::Durability::Full, 1).await?;
    let (version, users) = verify(&db).await?;
    db.close().await;
    Ok(RestoreReport { migration_version: version, users, moved_aside: None })
}

fn work_script(raw: &Path) -> Result<PathBuf, DbError> {
    let script = raw.with_extension("psql");
    let mut f = std::fs::File::create(&script)?;
    writeln!(f, "DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;")?;
    writeln!(f, "\\i {}", raw.display())?;
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_round_trip_and_prune_by_kind() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).single().expect("time");
        let n = file_name(BackupKind::Daily, Backend::Sqlite, at);
        assert_eq!(n, "lsn-daily-20261124-020000Z.sqlite.gz");
        assert_eq!(parse_name(&n), Some((BackupKind::Daily, at, Backend::Sqlite)));
        assert!(parse_name("notes.txt").is_none());

        let dir = tempfile::tempdir().expect("dir");
        let now = at;
        for (kind, days) in [(BackupKind::Daily, 29), (BackupKind::Daily, 31), (BackupKind::Hourly, 6), (BackupKind::Hourly, 8)] {
            let t = now - chrono::Duration::days(days);
            std::fs::write(dir.path().join(file_name(kind, Backend::Sqlite, t)), b"x").expect("write");
        }
        std::fs::write(dir.path().join("keep-me.txt"), b"x").expect("write");
        let removed = prune(dir.path(), now).expect("prune");
        assert_eq!(removed.len(), 2);
        let left: Vec<_> = list(dir.path()).expect("list").into_iter().map(|b| (b.kind, (now - b.taken_at).num_days())).collect();
        assert_eq!(left, vec![(BackupKind::Daily, 29), (BackupKind::Hourly, 6)]);
        assert!(dir.path().join("keep-me.txt").exists());
    }
}

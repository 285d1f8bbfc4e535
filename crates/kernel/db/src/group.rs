//! Group commit for SQLite's single writer.
//!
//! SQLite writes one transaction at a time, and with `synchronous=FULL` every commit waits for
//! the disk. Write transactions therefore queue for one task on the writer's own thread, which
//! takes every transaction waiting (up to [`GROUP_MAX`]) and runs them inside one database
//! transaction, each within a savepoint of its own, then commits once: one commit, and one
//! wait for the disk, for the whole group.
//!
//! Each transaction stays all-or-nothing: one whose body fails is rolled back to its savepoint
//! and answered with its error, while the others go on. A caller is answered only after the
//! group's commit, so an acknowledged write is as durable as the settings promise. Anything
//! unusual — a busy database, a failed savepoint or commit, a panic — abandons the group (rolled
//! back as a whole) and runs its transactions again one by one with the usual retries, which
//! every transaction body allows (see [`crate::Db::transaction`]).

use crate::lite::LiteConn;
use crate::retry::{is_retryable, TxError};
use crate::sql::{query, Tx};
use crate::tx::{transaction_on, Begin, BoxFuture};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

tokio::task_local! {
    /// Set while the writer's task runs transaction bodies.
    static IN_WRITER: ();
}

/// Whether the caller is a transaction body on the writer's task: a transaction started there
/// would wait for the very task that waits for it.
pub(crate) fn in_writer() -> bool {
    IN_WRITER.try_with(|_| ()).is_ok()
}

/// The most transactions committed together.
pub(crate) const GROUP_MAX: usize = 32;

/// What a caller gets back: its transaction's result, or the panic of its body.
pub(crate) type Answer<T, E> = std::thread::Result<Result<T, E>>;

/// The queue in front of the writer, and what the writer has done.
#[derive(Clone, Debug)]
pub(crate) struct Queue {
    sender: mpsc::UnboundedSender<Box<dyn Pending>>,
    stats: Arc<Stats>,
}

/// Commits and the transactions in them, for `/metrics` (their ratio is the group size).
#[derive(Debug, Default)]
struct Stats {
    commits: AtomicU64,
    transactions: AtomicU64,
}

impl Queue {
    /// Queues a transaction; gives it back if the writer's task is gone.
    pub(crate) fn send(&self, job: Box<dyn Pending>) -> Result<(), Box<dyn Pending>> {
        self.sender.send(job).map_err(|e| e.0)
    }

    /// (commits, transactions committed) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.transactions.load(Ordering::Relaxed))
    }
}

/// How one transaction's body ended inside a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Ok,
    /// Failed for a reason of its own: rolled back to its savepoint, the others go on.
    Failed,
    /// Busy or serialization failure, or a panic: the group is abandoned.
    Abandon,
}

/// A write transaction waiting for the writer, its types erased so that every kind shares one
/// queue.
pub(crate) trait Pending: Send {
    /// Runs the body on `tx`, keeping its result.
    fn run<'t>(&'t mut self, tx: &'t mut Tx) -> BoxFuture<'t, Ended>;
    /// Answers the caller with the kept result (the group committed), or with the panic.
    fn answer(self: Box<Self>);
    /// Whether the body panicked (it is then answered, never run again).
    fn panicked(&self) -> bool;
    /// Runs the transaction again on its own, with retries, and answers the caller.
    fn alone(self: Box<Self>, conn: LiteConn) -> BoxFuture<'static, ()>;
}

pub(crate) struct Job<T, E, F> {
    f: F,
    kept: Option<Answer<T, E>>,
    reply: oneshot::Sender<Answer<T, E>>,
}

impl<T, E, F> Job<T, E, F> {
    pub(crate) fn new(f: F) -> (Box<Self>, oneshot::Receiver<Answer<T, E>>) {
        let (reply, rx) = oneshot::channel();
        (Box::new(Job { f, kept: None, reply }), rx)
    }
}

impl<T, E, F> Pending for Job<T, E, F>
where
    T: Send + 'static,
    E: TxError + Send + 'static,
    F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    fn run<'t>(&'t mut self, tx: &'t mut Tx) -> BoxFuture<'t, Ended> {
        Box::pin(async move {
            let result = AssertUnwindSafe((self.f)(tx)).catch_unwind().await;
            let ended = match &result {
                Ok(Ok(_)) => Ended::Ok,
                Ok(Err(e)) if e.as_db().is_some_and(is_retryable) => Ended::Abandon,
                Ok(Err(_)) => Ended::Failed,
                Err(_) => Ended::Abandon,
            };
            self.kept = Some(result);
            ended
        })
    }

    fn answer(self: Box<Self>) {
        let Job { kept, reply, .. } = *self;
        let answer = kept.unwrap_or_else(|| Ok(Err(E::from(crate::Error::closed()))));
        let _ = reply.send(answer);
    }

    fn panicked(&self) -> bool {
        matches!(self.kept, Some(Err(_)))
    }

    fn alone(self: Box<Self>, conn: LiteConn) -> BoxFuture<'static, ()> {
        let Job { f, reply, .. } = *self;
        Box::pin(async move {
            let answer = AssertUnwindSafe(transaction_on(Begin::Lite(&conn), f)).catch_unwind().await;
            let _ = reply.send(answer);
        })
    }
}

/// Starts the writer's task on `rt` and returns its queue. The task ends when every sender is
/// gone (every clone of the `Db` dropped).
pub(crate) fn start(rt: &tokio::runtime::Handle, conn: LiteConn) -> Queue {
    let (sender, rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    rt.spawn(IN_WRITER.scope((), writer(conn, rx, stats.clone())));
    Queue { sender, stats }
}

async fn writer(conn: LiteConn, mut rx: mpsc::UnboundedReceiver<Box<dyn Pending>>, stats: Arc<Stats>) {
    let mut group: Vec<Box<dyn Pending>> = Vec::with_capacity(GROUP_MAX);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.transactions.fetch_add(group.len() as u64, Ordering::Relaxed);
        // One alone needs no savepoint; a group that did not commit runs again one by one.
        let committed = group.len() > 1 && commit_group(&conn, &mut group).await;
        for job in group.drain(..) {
            if committed || job.panicked() {
                job.answer();
            } else {
                job.alone(conn.clone()).await;
            }
        }
        conn.checkpoint_if_asked();
    }
}

/// Runs `group` in one transaction, each body in a savepoint; true when it committed.
async fn commit_group(conn: &LiteConn, group: &mut [Box<dyn Pending>]) -> bool {
    let _gate = conn.gate().await;
    let Ok(mut tx) = Tx::begin(Begin::Lite(conn)).await else {
        return false;
    };
    for job in group.iter_mut() {
        if exec(&mut tx, "SAVEPOINT lsn_group").await.is_err() {
            let _ = tx.rollback().await;
            return false;
        }
        let kept = match job.run(&mut tx).await {
            Ended::Ok => exec(&mut tx, "RELEASE lsn_group").await.is_ok(),
            Ended::Failed => exec(&mut tx, "ROLLBACK TO lsn_group").await.is_ok() && exec(&mut tx, "RELEASE lsn_group").await.is_ok(),
            Ended::Abandon => false,
        };
        if !kept {
            let _ = tx.rollback().await;
            return false;
        }
    }
    match tx.commit().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("a group commit failed, running its transactions one by one: {e}");
            false
        }
    }
}

async fn exec(tx: &mut Tx, sql: &str) -> Result<(), crate::Error> {
    query(sql).execute(&mut **tx).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use crate::{Db, DbTarget, Tx};
    use lsn_core::config::Durability;
    use std::time::Duration;

    #[derive(Debug)]
    enum Refused {
        Db(crate::Error),
        Mine,
    }
    impl From<crate::Error> for Refused {
        fn from(e: crate::Error) -> Self {
            Refused::Db(e)
        }
    }
    impl crate::TxError for Refused {
        fn as_db(&self) -> Option<&crate::Error> {
            match self {
                Refused::Db(e) => Some(e),
                Refused::Mine => None,
            }
        }
    }

    async fn open(dir: &tempfile::TempDir) -> Db {
        let db = Db::connect_target(&DbTarget::Sqlite(dir.path().join("g.db")), 4, Durability::Full, 1).await.expect("open");
        crate::query("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)").execute(db.write()).await.expect("table");
        db
    }

    async fn insert(tx: &mut Tx, k: String, n: i64) -> Result<(), crate::Error> {
        crate::query("INSERT INTO t (k, n) VALUES ($1, $2)").bind(k).bind(n).execute(&mut **tx).await.map(|_| ())
    }

    async fn keys(db: &Db) -> Vec<String> {
        crate::query("SELECT k FROM t ORDER BY k")
            .fetch_all(db.read())
            .await
            .expect("keys")
            .iter()
            .map(|r| crate::RowExt::get::<String, _>(r, 0))
            .collect()
    }

    /// The writer's task runs a body in the language of the request that asked for it, so the
    /// messages the body makes are in that language.
    #[tokio::test]
    async fn a_body_speaks_the_callers_language() {
        use lsn_core::i18n::{current, scope, Locale};
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        assert!(db.group_commit_stats().is_some(), "a SQLite writer queue");
        let other = Locale::all().last().unwrap_or_default();
        let inside = scope(other, db.transaction(|_tx| Box::pin(async { Ok::<_, Refused>(current()) }))).await;
        assert_eq!(inside.ok(), Some(other));
        let outside = db.transaction(|_tx| Box::pin(async { Ok::<_, Refused>(current()) })).await;
        assert_eq!(outside.ok(), Some(Locale::default()));
    }

    /// The first transaction holds the writer long enough for all the others to queue, so they
    /// are committed in groups; within a group, each is kept or rolled back on its own.
    #[tokio::test]
    async fn grouped_transactions_stay_all_or_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        // Creating the table was a transaction of its own.
        let (commits0, transactions0) = db.group_commit_stats().expect("a SQLite writer queue");
        let first = {
            let db = db.clone();
            tokio::spawn(async move {
                db.transaction(|tx| {
                    Box::pin(async move {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        insert(tx, "first".into(), 0).await?;
                        Ok::<_, Refused>(0)
                    })
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut tasks = Vec::new();
        for i in 1..=100i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.transaction(move |tx| {
                    Box::pin(async move {
                        insert(tx, format!("a{i:03}"), i).await?;
                        // Every third writes a row and then fails: both rows must vanish.
                        // Every seventh collides with "first" on the primary key.
                        insert(tx, format!("b{i:03}"), i).await?;
                        if i % 3 == 0 {
                            return Err(Refused::Mine);
                        }
                        if i % 7 == 0 {
                            insert(tx, "first".into(), i).await?;
                        }
                        Ok(i)
                    })
                })
                .await
            }));
        }
        assert_eq!(first.await.expect("join").expect("first"), 0);
        let mut kept = vec!["first".to_string()];
        for (i, t) in (1..=100i64).zip(tasks) {
            let r = t.await.expect("join");
            match (i % 3 == 0, i % 7 == 0) {
                (true, _) => assert!(matches!(r, Err(Refused::Mine)), "{i}: {r:?}"),
                (false, true) => assert!(matches!(&r, Err(Refused::Db(e)) if crate::is_unique_violation(e, None)), "{i}: {r:?}"),
                (false, false) => {
                    assert_eq!(r.expect("kept"), i);
                    kept.push(format!("a{i:03}"));
                    kept.push(format!("b{i:03}"));
                }
            }
        }
        kept.sort();
        assert_eq!(keys(&db).await, kept);
        let (commits, transactions) =
            db.group_commit_stats().map(|(c, t)| (c - commits0, t - transactions0)).expect("a SQLite writer queue");
        assert_eq!(transactions, 101, "every body, none lost");
        assert!(commits < transactions / 4, "{commits} commits for {transactions} transactions: not grouped");
    }

    /// A transaction started inside another is refused at once instead of waiting forever for
    /// the writer that runs its parent.
    #[tokio::test]
    async fn a_transaction_inside_another_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        let inner_db = db.clone();
        let r = db
            .transaction(move |tx| {
                let inner_db = inner_db.clone();
                Box::pin(async move {
                    insert(tx, "outer".into(), 1).await?;
                    let nested = inner_db.transaction(|tx| Box::pin(async move { insert(tx, "inner".into(), 2).await })).await;
                    Ok::<_, Refused>(nested.map_err(|e| e.to_string()))
                })
            })
            .await
            .expect("outer commits");
        assert!(r.expect_err("nested refused").contains("inside another"));
        assert_eq!(keys(&db).await, vec!["outer".to_string()]);
    }

    /// A body that panics panics its caller; the transactions grouped with it still commit.
    #[tokio::test]
    async fn a_panic_reaches_its_caller_and_spares_the_group() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        let hold = {
            let db = db.clone();
            tokio::spawn(async move {
                db.transaction(|tx| {
                    Box::pin(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        insert(tx, "hold".into(), 0).await?;
                        Ok::<_, Refused>(())
                    })
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut tasks = Vec::new();
        for i in 0..10i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.transaction(move |tx| {
                    Box::pin(async move {
                        insert(tx, format!("p{i}"), i).await?;
                        assert!(i != 4, "body {i} panics");
                        Ok::<_, Refused>(())
                    })
                })
                .await
            }));
        }
        hold.await.expect("join").expect("hold");
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await;
            if i == 4 {
                assert!(r.expect_err("panicked").is_panic());
            } else {
                r.expect("join").expect("committed");
            }
        }
        let k = keys(&db).await;
        assert_eq!(k.len(), 10, "{k:?}");
        assert!(!k.contains(&"p4".to_string()));
    }
}

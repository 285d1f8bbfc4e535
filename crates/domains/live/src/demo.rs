//! The demo shop's past shows (issue 15): shows that went live and ended, the viewers who joined
//! and left them, their chat and the gifts sent, for a history of a few weeks. A show's peak is
//! counted here from its viewers' times, as the room counts it while live.

use crate::gifts::COIN_VALUE_CENTS;
use lsn_db::{Db, Tx};

#[derive(Debug, Clone)]
pub struct Show {
    pub id: String,
    pub title: String,
    pub description: String,
    pub host_id: String,
    pub started_at: i64,
    pub ended_at: i64,
    /// Product ids, in their order.
    pub lineup: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Viewer {
    pub show_id: String,
    pub viewer_key: String,
    pub joined_at: i64,
    pub left_at: i64,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub show_id: String,
    pub user_id: String,
    pub name: String,
    pub text: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct Gift {
    pub show_id: String,
    pub from_user_id: String,
    pub to_user_id: String,
    /// One of [`crate::gifts::GIFTS`].
    pub gift: &'static str,
    pub coins: i64,
    pub at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub shows: Vec<Show>,
    pub viewers: Vec<Viewer>,
    pub chat: Vec<Chat>,
    pub gifts: Vec<Gift>,
}

const ROWS_PER_STATEMENT: usize = 200;

/// The most viewers in the room at once.
fn peak(viewers: &[&Viewer]) -> i64 {
    let mut edges: Vec<(i64, i64)> = viewers.iter().flat_map(|v| [(v.joined_at, 1), (v.left_at, -1)]).collect();
    // A leave before a join at the same millisecond.
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most
}

async fn shows(tx: &mut Tx, h: &History) -> Result<(), lsn_db::Error> {
    for chunk in h.shows.chunks(ROWS_PER_STATEMENT / 4) {
        let sql = format!(
            "INSERT INTO live_shows (id, title, description, host_id, status, scheduled_at, started_at, ended_at, peak_viewers, created_at, updated_at) VALUES {}",
            lsn_ops::jobs::rows(chunk.len(), 11)
        );
        let mut q = lsn_db::query(&sql);
        for s in chunk {
            let mine: Vec<&Viewer> = h.viewers.iter().filter(|v| v.show_id == s.id).collect();
            // Scheduled on the hour it started, announced a week before.
            q = q
                .bind(&s.id)
                .bind(&s.title)
                .bind(&s.description)
                .bind(&s.host_id)
                .bind("ended")
                .bind(s.started_at)
                .bind(s.started_at)
                .bind(s.ended_at)
                .bind(peak(&mine))
                .bind(s.started_at - 7 * 86_400_000)
                .bind(s.ended_at);
        }
        q.execute(&mut **tx).await?;
        let lineup: Vec<(&str, &str, i64)> =
            chunk.iter().flat_map(|s| s.lineup.iter().enumerate().map(|(i, p)| (s.id.as_str(), p.as_str(), i as i64))).collect();
        for part in lineup.chunks(ROWS_PER_STATEMENT) {
            let sql = format!("INSERT INTO live_lineup (show_id, product_id, position) VALUES {}", lsn_ops::jobs::rows(part.len(), 3));
            let mut q = lsn_db::query(&sql);
            for (s, p, i) in part {
                q = q.bind(*s).bind(*p).bind(*i);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

async fn audience(tx: &mut Tx, h: &History) -> Result<(), lsn_db::Error> {
    for chunk in h.viewers.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO live_viewers (id, show_id, viewer_key, joined_at, left_at) VALUES {}",
            lsn_ops::jobs::rows(chunk.len(), 5)
        );
        let mut q = lsn_db::query(&sql);
        for v in chunk {
            q = q.bind(lsn_core::ids::new_id()).bind(&v.show_id).bind(&v.viewer_key).bind(v.joined_at).bind(v.left_at);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in h.chat.chunks(ROWS_PER_STATEMENT) {
        let sql =
            format!("INSERT INTO live_chat_messages (id, show_id, user_id, name, text, at) VALUES {}", lsn_ops::jobs::rows(chunk.len(), 6));
        let mut q = lsn_db::query(&sql);
        for c in chunk {
            q = q.bind(lsn_core::ids::new_id()).bind(&c.show_id).bind(&c.user_id).bind(&c.name).bind(&c.text).bind(c.at);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in h.gifts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO gift_ledger (id, show_id, from_user_id, to_user_id, gift, coins, value_cents, at) VALUES {}",
            lsn_ops::jobs::rows(chunk.len(), 8)
        );
        let mut q = lsn_db::query(&sql);
        for g in chunk {
            q = q
                .bind(lsn_core::ids::new_id())
                .bind(&g.show_id)
                .bind(&g.from_user_id)
                .bind(&g.to_user_id)
                .bind(g.gift)
                .bind(g.coins)
                .bind(g.coins * COIN_VALUE_CENTS)
                .bind(g.at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes the shows and their rooms' history in one transaction.
pub async fn history(db: &Db, h: History) -> Result<(), lsn_db::Error> {
    db.transaction_with(h, |tx, h| {
        Box::pin(async move {
            shows(tx, h).await?;
            audience(tx, h).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_counts_the_most_at_once() {
        let v = |j, l| super::Viewer { show_id: "s".into(), viewer_key: "k".into(), joined_at: j, left_at: l };
        let (a, b, c) = (v(0, 10), v(5, 20), v(10, 30));
        assert_eq!(super::peak(&[&a, &b, &c]), 2);
    }
}

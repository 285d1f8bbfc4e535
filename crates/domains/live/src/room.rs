//! One room per show: sequence numbers, a bounded window of recent events for resuming, a
//! broadcast channel to every connected viewer, chat rules, moderation, and a persister that
//! writes the timeline to the database in batches (for replays and for resuming past a restart).

use crate::shows::LiveError;
use axum::extract::ws::Utf8Bytes;
use lsn_core::i18n;
use lsn_db::{Db, RowExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot};

pub const PROTOCOL_VERSION: i64 = 1;
/// How many recent events a reconnecting viewer can catch up on.
pub const RESUME_WINDOW: usize = 1000;
pub const CHAT_MAX_CHARS: usize = 300;
/// Chat flood limit: this many messages per window per viewer.
pub const CHAT_BURST: usize = 5;
pub const CHAT_WINDOW_MS: i64 = 10_000;
pub const REACTIONS: &[&str] = &["❤️", "🔥", "👏", "😂", "😮", "🛒"];

const BLOCKED_WORDS: &[&str] = &["fuck", "shit", "cunt", "bitch", "bastard", "asshole", "wanker", "slut", "whore", "dickhead"];

/// Masks words of the blocklist (and words that start with one) with asterisks.
pub fn filter_profanity(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let lower = word.to_lowercase();
        if BLOCKED_WORDS.iter().any(|b| lower.starts_with(b)) {
            out.extend(std::iter::repeat_n('*', word.chars().count()));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// An event as sent: its number and its serialised JSON, shared by every viewer (cloning the
/// text for a viewer is a reference count, not a copy).
#[derive(Debug)]
pub struct Frame {
    pub seq: i64,
    pub kind: String,
    pub json: Utf8Bytes,
}

/// How often a room sends protocol-2 viewers what happened since the last tick.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// Protocol 2: every event of one tick in one frame (a JSON array), encoded once for all viewers.
#[derive(Debug)]
pub struct Tick {
    pub frames: Vec<Arc<Frame>>,
    pub json: Utf8Bytes,
}

/// A JSON array of `frames`' texts.
pub fn array_of<'a>(frames: impl Iterator<Item = &'a Arc<Frame>>) -> Utf8Bytes {
    let mut out = String::from("[");
    for (i, f) in frames.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(f.json.as_str());
    }
    out.push(']');
    Utf8Bytes::from(out)
}

enum Persist {
    Event { seq: i64, kind: String, payload: String, at: i64 },
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct State {
    seq: i64,
    window: VecDeque<Arc<Frame>>,
    recent_chat: HashMap<String, VecDeque<i64>>,
    last_chat: HashMap<String, i64>,
    muted: HashSet<String>,
    banned: HashSet<String>,
    slow_mode_secs: i64,
    pinned: Option<Value>,
    /// Events since the last tick, when protocol-2 viewers are watching.
    pending: Vec<Arc<Frame>>,
}

pub struct Room {
    pub show_id: String,
    pub host_id: String,
    bus: Option<crate::bus::Bus>,
    db: Db,
    clock: lsn_core::SharedClock,
    tx: broadcast::Sender<Arc<Frame>>,
    ticks: broadcast::Sender<Arc<Tick>>,
    state: Mutex<State>,
    persist: mpsc::Sender<Persist>,
    viewers: AtomicI64,
    peak: AtomicI64,
}

/// What a reconnecting viewer gets.
pub enum Resume {
    /// The events after the viewer's last one (possibly none).
    Missed(Vec<Arc<Frame>>),
    /// Too far behind for the window: start over from the current state.
    Resync,
    /// A number the room never sent.
    FromTheFuture,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into() }
}

impl Room {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latest_seq(&self) -> i64 {
        self.lock().seq
    }

    pub fn viewers(&self) -> i64 {
        self.viewers.load(Ordering::Relaxed)
    }

    pub fn peak_viewers(&self) -> i64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn pinned(&self) -> Option<Value> {
        self.lock().pinned.clone()
    }

    pub fn slow_mode(&self) -> i64 {
        self.lock().slow_mode_secs
    }

    pub fn is_banned(&self, user_id: &str) -> bool {
        self.lock().banned.contains(user_id)
    }

    /// Sequences, keeps, broadcasts and (when `persist`) records an event. With Redis the number
    /// comes from Redis and the frame reaches this node's viewers through the subscription, like
    /// every other node's.
    pub async fn publish(&self, kind: &str, payload: Value, persist: bool) -> Arc<Frame> {
        let at = self.clock.now_ms();
        if let Some(bus) = &self.bus {
            let mut ev = json!({"v": PROTOCOL_VERSION, "seq": 0, "type": kind, "at": at});
            if let (Some(m), Some(p)) = (ev.as_object_mut(), payload.as_object()) {
                for (k, v) in p {
                    m.insert(k.clone(), v.clone());
                }
            }
            let template = ev.to_string().replacen("\"seq\":0", "\"seq\":__SEQ__", 1);
            match bus.publish(&self.show_id, &template).await {
                Ok(seq) => {
                    let frame = Arc::new(Frame {
                        seq,
                        kind: kind.to_string(),
                        json: Utf8Bytes::from(template.replacen("__SEQ__", &seq.to_string(), 1)),
                    });
                    if persist {
                        let _ = self.persist.send(Persist::Event { seq, kind: kind.to_string(), payload: payload.to_string(), at }).await;
                    }
                    return frame;
                }
                Err(e) => tracing::error!(show = %self.show_id, "Redis publish failed, serving this node only: {e}"),
            }
        }
        let frame = {
            let mut st = self.lock();
            st.seq += 1;
            let mut ev = json!({"v": PROTOCOL_VERSION, "seq": st.seq, "type": kind, "at": at});
            if let (Some(m), Some(p)) = (ev.as_object_mut(), payload.as_object()) {
                for (k, v) in p {
                    m.insert(k.clone(), v.clone());
                }
            }
            let frame = Arc::new(Frame { seq: st.seq, kind: kind.to_string(), json: Utf8Bytes::from(ev.to_string()) });
            st.window.push_back(frame.clone());
            while st.window.len() > RESUME_WINDOW {
                st.window.pop_front();
            }
            // Sent under the lock, so every viewer sees events in sequence order.
            let _ = self.tx.send(frame.clone());
            if self.ticks.receiver_count() > 0 {
                st.pending.push(frame.clone());
            }
            frame
        };
        if persist {
            let _ = self.persist.send(Persist::Event { seq: frame.seq, kind: kind.to_string(), payload: payload.to_string(), at }).await;
        }
        frame
    }

    /// A new viewer's subscription and the sequence number it starts after.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Frame>>, i64) {
        let st = self.lock();
        (self.tx.subscribe(), st.seq)
    }

    pub fn resume(&self, since: i64) -> Resume {
        let st = self.lock();
        if since > st.seq {
            return Resume::FromTheFuture;
        }
        let oldest = st.window.front().map(|f| f.seq).unwrap_or(st.seq + 1);
        if since + 1 < oldest && since < st.seq {
            return Resume::Resync;
        }
        Resume::Missed(st.window.iter().filter(|f| f.seq > since).cloned().collect())
    }

    /// A viewer joined; returns the room's viewer count (over every node with Redis).
    pub async fn joined(&self) -> i64 {
        let local = self.viewers.fetch_add(1, Ordering::Relaxed) + 1;
        let n = match &self.bus {
            Some(bus) => bus.viewers_delta(&self.show_id, 1).await.unwrap_or(local),
            None => local,
        };
        self.peak.fetch_max(n, Ordering::Relaxed);
        n
    }

    pub async fn left(&self) {
        self.viewers.fetch_sub(1, Ordering::Relaxed);
        if let Some(bus) = &self.bus {
            let _ = bus.viewers_delta(&self.show_id, -1).await;
        }
    }

    /// The viewer count, over every node with Redis.
    pub async fn viewer_count(&self) -> i64 {
        match &self.bus {
            Some(bus) => bus.viewers(&self.show_id).await.unwrap_or_else(|_| self.viewers()),
            None => self.viewers(),
        }
    }

    /// A frame from the bus (any node, this one included): keep it, pass it on, and apply what
    /// it changes in the room's state so every node enforces the same moderation.
    pub fn deliver(&self, json: &str) {
        let Ok(v) = serde_json::from_str::<Value>(json) else { return };
        let (Some(seq), Some(kind)) = (v["seq"].as_i64(), v["type"].as_str()) else { return };
        let mut st = self.lock();
        if seq <= st.seq && st.window.iter().any(|f| f.seq == seq) {
            return;
        }
        match kind {
            "user_muted" => {
                st.muted.insert(v["user_id"].as_str().unwrap_or_default().to_string());
            }
            "user_unmuted" => {
                st.muted.remove(v["user_id"].as_str().unwrap_or_default());
            }
            "user_banned" => {
                st.banned.insert(v["user_id"].as_str().unwrap_or_default().to_string());
            }
            "slow_mode" => st.slow_mode_secs = v["seconds"].as_i64().unwrap_or(0),
            "product_pinned" => st.pinned = Some(v["product"].clone()),
            "product_unpinned" => st.pinned = None,
            _ => {}
        }
        st.seq = st.seq.max(seq);
        let frame = Arc::new(Frame { seq, kind: kind.to_string(), json: Utf8Bytes::from(json.to_string()) });
        st.window.push_back(frame.clone());
        while st.window.len() > RESUME_WINDOW {
            st.window.pop_front();
        }
        if self.ticks.receiver_count() > 0 {
            st.pending.push(frame.clone());
        }
        let _ = self.tx.send(frame);
    }

    /// Sends the events since the last tick to protocol-2 viewers as one shared frame.
    pub fn flush_tick(&self) {
        let frames = std::mem::take(&mut self.lock().pending);
        if frames.is_empty() {
            return;
        }
        let json = array_of(frames.iter());
        let _ = self.ticks.send(Arc::new(Tick { frames, json }));
    }

    /// A protocol-2 viewer's subscription (one message per tick) and the number it starts after.
    pub fn subscribe_ticks(&self) -> (broadcast::Receiver<Arc<Tick>>, i64) {
        let st = self.lock();
        (self.ticks.subscribe(), st.seq)
    }

    /// Posts a chat message from `user` after the room's rules.
    pub async fn chat(&self, user: &lsn_identity::User, text: &str) -> Result<Arc<Frame>, Refusal> {
        let text = text.trim();
        if text.is_empty() {
            return Err(refuse("empty_message", i18n::t("live-chat-empty")));
        }
        if text.chars().count() > CHAT_MAX_CHARS {
            return Err(refuse("message_too_long", i18n::t_args("live-chat-too-long", &[("max", &CHAT_MAX_CHARS.to_string())])));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(refuse("invalid_message", i18n::t("live-chat-control")));
        }
        let now = self.clock.now_ms();
        let is_host = user.id == self.host_id || user.role.is_staff();
        {
            let mut st = self.lock();
            if st.banned.contains(user.id.as_str()) {
                return Err(refuse("banned", i18n::t("live-banned")));
            }
            if st.muted.contains(user.id.as_str()) {
                return Err(refuse("muted", i18n::t("live-muted")));
            }
            if !is_host {
                let slow = st.slow_mode_secs;
                if slow > 0 {
                    if let Some(last) = st.last_chat.get(user.id.as_str()) {
                        if now - last < slow * 1000 {
                            return Err(refuse("slow_mode", i18n::t_args("live-slow-mode", &[("seconds", &slow.to_string())])));
                        }
                    }
                }
                let q = st.recent_chat.entry(user.id.to_string()).or_default();
                while q.front().is_some_and(|t| *t <= now - CHAT_WINDOW_MS) {
                    q.pop_front();
                }
                if q.len() >= CHAT_BURST {
                    return Err(refuse("rate_limited", i18n::t("live-chat-too-fast")));
                }
                q.push_back(now);
            }
            st.last_chat.insert(user.id.to_string(), now);
        }
        let id = lsn_core::ids::new_id();
        let clean = filter_profanity(text);
        let name: String = user.name.chars().take(60).collect();
        let r = lsn_db::query("INSERT INTO live_chat_messages (id, show_id, user_id, name, text, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(&self.show_id)
            .bind(&user.id)
            .bind(&name)
            .bind(&clean)
            .bind(now)
            .execute(self.db.write())
            .await;
        if let Err(e) = r {
            tracing::error!("chat message not stored: {e}");
            return Err(refuse("unavailable", i18n::t("live-chat-not-sent")));
        }
        Ok(self.publish("chat", json!({"id": id, "user_id": user.id, "name": name, "text": clean, "host": is_host}), true).await)
    }

    pub async fn react(&self, emoji: &str) -> Result<Arc<Frame>, Refusal> {
        if !REACTIONS.contains(&emoji) {
            return Err(refuse("invalid_reaction", i18n::t_args("live-reaction", &[("reactions", &REACTIONS.join(" "))])));
        }
        Ok(self.publish("reaction", json!({"emoji": emoji}), false).await)
    }

    pub async fn delete_message(&self, actor: &str, message_id: &str) -> Result<(), Refusal> {
        let r = lsn_db::query("UPDATE live_chat_messages SET deleted = 1 WHERE id = $1 AND show_id = $2 AND deleted = 0")
            .bind(message_id)
            .bind(&self.show_id)
            .execute(self.db.write())
            .await;
        match r {
            Ok(r) if r.rows_affected() == 1 => {
                self.publish("chat_deleted", json!({"message_id": message_id, "by": actor}), true).await;
                Ok(())
            }
            Ok(_) => Err(refuse("not_found", i18n::t("live-no-such-message"))),
            Err(e) => {
                tracing::error!("delete message: {e}");
                Err(refuse("unavailable", i18n::t("live-try-again")))
            }
        }
    }

    /// Mutes, unmutes or bans `user_id` for this show; the change reaches every viewer at once.
    pub async fn moderate(&self, actor: &str, action: &str, user_id: &str) -> Result<(), Refusal> {
        if user_id == self.host_id {
            return Err(refuse("forbidden", i18n::t("live-host-not-moderated")));
        }
        let now = self.clock.now_ms();
        let res = match action {
            "mute" | "ban" => {
                {
                    let mut st = self.lock();
                    if action == "mute" {
                        st.muted.insert(user_id.to_string());
                    } else {
                        st.banned.insert(user_id.to_string());
                    }
                }
                lsn_db::query("INSERT INTO live_moderation (show_id, user_id, action, actor_id, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (show_id, user_id, action) DO NOTHING")
                    .bind(&self.show_id)
                    .bind(user_id)
                    .bind(action)
                    .bind(actor)
                    .bind(now)
                    .execute(self.db.write())
                    .await
            }
            "unmute" => {
                self.lock().muted.remove(user_id);
                lsn_db::query("DELETE FROM live_moderation WHERE show_id = $1 AND user_id = $2 AND action = 'mute'")
                    .bind(&self.show_id)
                    .bind(user_id)
                    .execute(self.db.write())
                    .await
            }
            _ => return Err(refuse("unknown_action", i18n::t("live-moderation-action"))),
        };
        if let Err(e) = res {
            tracing::error!("moderation not stored: {e}");
            return Err(refuse("unavailable", i18n::t("live-try-again")));
        }
        let kind = match action {
            "mute" => "user_muted",
            "unmute" => "user_unmuted",
            _ => "user_banned",
        };
        self.publish(kind, json!({"user_id": user_id, "by": actor}), true).await;
        Ok(())
    }

    pub async fn set_slow_mode(&self, actor: &str, seconds: i64) -> Result<(), Refusal> {
        if !(0..=300).contains(&seconds) {
            return Err(refuse("invalid_slow_mode", i18n::t_args("live-seconds", &[("min", "0"), ("max", "300")])));
        }
        self.lock().slow_mode_secs = seconds;
        let _ = lsn_db::query("UPDATE live_shows SET slow_mode_secs = $1 WHERE id = $2")
            .bind(seconds)
            .bind(&self.show_id)
            .execute(self.db.write())
            .await;
        self.publish("slow_mode", json!({"seconds": seconds, "by": actor}), true).await;
        Ok(())
    }

    /// Pins a product (with its live price and remaining stock) or, with `None`, unpins.
    pub async fn pin(&self, product: Option<Value>) {
        let id = product.as_ref().and_then(|p| p["id"].as_str().map(str::to_string));
        self.lock().pinned = product.clone();
        let _ = lsn_db::query("UPDATE live_shows SET pinned_product_id = $1 WHERE id = $2")
            .bind(&id)
            .bind(&self.show_id)
            .execute(self.db.write())
            .await;
        match product {
            Some(p) => self.publish("product_pinned", json!({"product": p}), true).await,
            None => self.publish("product_unpinned", json!({}), true).await,
        };
    }

    /// Waits (up to two seconds) until this node has received event `seq` — with Redis, events
    /// come back through the subscription.
    pub async fn wait_seen(&self, seq: i64) {
        for _ in 0..400 {
            if self.latest_seq() >= seq {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Waits until every event published so far is in the database.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.persist.send(Persist::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn persister(db: Db, show_id: String, mut rx: mpsc::Receiver<Persist>) {
    let mut batch: Vec<(i64, String, String, i64)> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut waiters = Vec::new();
        let take = |m: Persist, batch: &mut Vec<_>, waiters: &mut Vec<oneshot::Sender<()>>| match m {
            Persist::Event { seq, kind, payload, at } => batch.push((seq, kind, payload, at)),
            Persist::Flush(w) => waiters.push(w),
        };
        take(first, &mut batch, &mut waiters);
        while batch.len() < 500 {
            match rx.try_recv() {
                Ok(m) => take(m, &mut batch, &mut waiters),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let rows = std::mem::take(&mut batch);
            let sid = show_id.clone();
            let res = db
                .transaction(move |tx| {
                    let (rows, sid) = (rows.clone(), sid.clone());
                    Box::pin(async move {
                        for (seq, kind, payload, at) in &rows {
                            lsn_db::query("INSERT INTO live_events (show_id, seq, type, payload, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (show_id, seq) DO NOTHING")
                                .bind(&sid)
                                .bind(seq)
                                .bind(kind)
                                .bind(payload)
                                .bind(at)
                                .execute(&mut **tx)
                                .await?;
                        }
                        Ok::<_, lsn_db::Error>(())
                    })
                })
                .await;
            if let Err(e) = res {
                tracing::error!(show = %show_id, "live events not stored: {e}");
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

/// Every open room of this node.
pub struct Hub {
    db: Db,
    clock: lsn_core::SharedClock,
    rooms: tokio::sync::Mutex<HashMap<String, Arc<Room>>>,
    bus: std::sync::OnceLock<crate::bus::Bus>,
}

impl Hub {
    pub fn new(db: Db, clock: lsn_core::SharedClock) -> Self {
        Self { db, clock, rooms: tokio::sync::Mutex::new(HashMap::new()), bus: std::sync::OnceLock::new() }
    }

    /// Connects rooms across nodes through Redis: subscribes (before any publish) and feeds every
    /// room's frames to this node's viewers.
    pub async fn attach_bus(self: &Arc<Self>, bus: crate::bus::Bus) -> Result<(), redis::RedisError> {
        use futures::StreamExt;
        let mut frames = Box::pin(bus.subscribe().await?);
        let _ = self.bus.set(bus);
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some((show, frame)) = frames.next().await {
                let Some(hub) = hub.upgrade() else { break };
                if let Some(room) = hub.existing(&show).await {
                    room.deliver(&frame);
                }
            }
            tracing::error!("the Redis subscription ended; rooms on this node no longer hear other nodes");
        });
        Ok(())
    }

    pub async fn existing(&self, show_id: &str) -> Option<Arc<Room>> {
        self.rooms.lock().await.get(show_id).cloned()
    }

    /// The show's room, opened (state loaded from the database) on first use.
    pub async fn room(&self, show_id: &str) -> Result<Arc<Room>, LiveError> {
        let mut rooms = self.rooms.lock().await;
        if let Some(r) = rooms.get(show_id) {
            return Ok(r.clone());
        }
        let row = lsn_db::query("SELECT host_id, slow_mode_secs, pinned_product_id, peak_viewers FROM live_shows WHERE id = $1")
            .bind(show_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(LiveError::NotFound)?;
        let host_id: String = row.try_get(0)?;
        let slow: i64 = row.try_get(1)?;
        let peak: i64 = row.try_get(3)?;
        let seq: Option<i64> = lsn_db::query("SELECT MAX(seq) FROM live_events WHERE show_id = $1")
            .bind(show_id)
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        let recent = lsn_db::query("SELECT seq, type, payload, at FROM live_events WHERE show_id = $1 ORDER BY seq DESC LIMIT $2")
            .bind(show_id)
            .bind(RESUME_WINDOW as i64)
            .fetch_all(self.db.read())
            .await?;
        let mut window = VecDeque::new();
        for r in recent.iter().rev() {
            let (s, kind, payload, at): (i64, String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            let mut ev = json!({"v": PROTOCOL_VERSION, "seq": s, "type": kind, "at": at});
            if let (Some(m), Ok(Value::Object(p))) = (ev.as_object_mut(), serde_json::from_str::<Value>(&payload)) {
                m.extend(p);
            }
            window.push_back(Arc::new(Frame { seq: s, kind, json: Utf8Bytes::from(ev.to_string()) }));
        }
        let mods =
            lsn_db::query("SELECT user_id, action FROM live_moderation WHERE show_id = $1").bind(show_id).fetch_all(self.db.read()).await?;
        let mut state = State { seq: seq.unwrap_or(0), window, slow_mode_secs: slow, ..State::default() };
        for m in mods {
            let (u, a): (String, String) = (m.try_get(0)?, m.try_get(1)?);
            if a == "mute" {
                state.muted.insert(u);
            } else {
                state.banned.insert(u);
            }
        }
        let (ptx, prx) = mpsc::channel(10_000);
        tokio::spawn(persister(self.db.clone(), show_id.to_string(), prx));
        let (tx, _) = broadcast::channel(1024);
        // About 12 s of ticks; a protocol-2 viewer further behind is let go like a v1 one.
        let (ticks, _) = broadcast::channel(256);
        let bus = self.bus.get().cloned();
        if let Some(b) = &bus {
            if let Err(e) = b.seed_seq(show_id, seq.unwrap_or(0)).await {
                tracing::error!("Redis: {e}");
            }
        }
        let room = Arc::new(Room {
            show_id: show_id.to_string(),
            host_id,
            bus,
            db: self.db.clone(),
            clock: self.clock.clone(),
            tx,
            ticks,
            state: Mutex::new(state),
            persist: ptx,
            viewers: AtomicI64::new(0),
            peak: AtomicI64::new(peak),
        });
        // The room's tick, for as long as the room exists.
        let weak = Arc::downgrade(&room);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match weak.upgrade() {
                    Some(r) => r.flush_tick(),
                    None => break,
                }
            }
        });
        rooms.insert(show_id.to_string(), room.clone());
        Ok(room)
    }

    pub async fn flush_existing(&self, show_id: &str) {
        if let Some(r) = self.existing(show_id).await {
            r.flush().await;
        }
    }

    /// Forgets a room (its viewers' connections end when the broadcast closes).
    pub async fn close(&self, show_id: &str) {
        self.rooms.lock().await.remove(show_id);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn profanity_is_masked() {
        assert_eq!(super::filter_profanity("What the FUCK, that's shitty!"), "What the ****, that's ******!");
        assert_eq!(super::filter_profanity("Scunthorpe classic"), "Scunthorpe classic");
    }

    #[test]
    fn messages_come_from_the_translation_files() {
        use lsn_core::i18n::{t, t_args, Locale};
        assert_eq!(t_args("live-slow-mode", &[("seconds", "30")]), "Slow mode is on: one message every 30 seconds.");
        assert_eq!(t_args("live-seconds", &[("min", "0"), ("max", "300")]), "0 to 300 seconds");
        assert_eq!(t_args("live-field-required", &[("field", "text")]), "\"text\" is required");
        assert_eq!(t_args("live-unknown-type", &[("kind", "\"dance\"")]), "Unknown message type \"dance\".");
        assert_eq!(t("live-malformed"), "Expected a JSON object with a \"type\".");
        assert_eq!(t("live-increment"), "1 cent to $100,000.00");
        let ticker = |key, suburb, title| Locale::default().t_args(key, &[("suburb", suburb), ("title", title)]);
        assert_eq!(
            ticker("live-purchase-ticker", "Hobart", "Mystery Box — Default"),
            "Someone in Hobart just bought Mystery Box — Default"
        );
        assert_eq!(ticker("live-purchase-ticker-nowhere", "", "Mug"), "Someone just bought Mug");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        /// The filter keeps the text's length and everything that is not a blocked word.
        #[test]
        fn profanity_filter_keeps_length(text in ".{0,300}") {
            let out = super::filter_profanity(&text);
            prop_assert_eq!(out.chars().count(), text.chars().count());
        }

        /// Any text frame from a client is parsed into a message or refused, never a panic.
        #[test]
        fn any_frame_is_answered(text in ".{0,500}") {
            let _ = serde_json::from_str::<serde_json::Value>(&text);
            let _ = super::filter_profanity(&text);
        }
    }
}

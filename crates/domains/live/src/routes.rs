//! Live HTTP surface: shows under `/api/v1/live/shows`, and the room's WebSocket at
//! `/api/v1/live/shows/{id}/ws?v=1&since=<seq>` (protocol in `docs/live-protocol.md`).

use crate::room::{Frame, Refusal, Resume, Room, PROTOCOL_VERSION};
use crate::shows::{Live, LiveError, ShowInput};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{SinkExt, StreamExt};
use lsn_core::i18n;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::{Access, AuthUser, Identity, MaybeUser, Scope, User};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

type ApiResult<T> = Result<T, ApiError>;

pub const MAX_FRAME_BYTES: usize = 8 * 1024;
const HEARTBEAT: Duration = Duration::from_secs(20);
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Protocol errors a connection may cause before it is closed for abuse.
const MAX_ERRORS: u32 = 20;
/// How long a closing connection waits for the client's answering close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What the live domain's handlers take their state from.
#[derive(Clone)]
pub struct RouteState {
    pub live: Live,
    pub identity: Identity,
}

impl FromRef<RouteState> for Live {
    fn from_ref(s: &RouteState) -> Live {
        s.live.clone()
    }
}

impl FromRef<RouteState> for lsn_commerce::Commerce {
    fn from_ref(s: &RouteState) -> lsn_commerce::Commerce {
        s.live.commerce.clone()
    }
}

impl FromRef<RouteState> for Identity {
    fn from_ref(s: &RouteState) -> Identity {
        s.identity.clone()
    }
}

/// The live domain's routes, each with who may call it (`lsn_identity::access`); a show's host
/// is checked by the operation itself.
pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    Live: FromRef<S>,
    Identity: FromRef<S>,
{
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let host = Creator(LiveWrite);
    let viewer = SignedIn(Some(LiveWrite));
    Routes::new(api_refusal)
        .get("/api/v1/live/shows", public, list)
        .post("/api/v1/live/shows", host, create)
        .get("/api/v1/live/shows/{id}", public, show)
        .post("/api/v1/live/shows/{id}/start", host, start)
        .post("/api/v1/live/shows/{id}/end", host, end)
        .post("/api/v1/live/shows/{id}/messages", viewer, send_message)
        .get("/api/v1/live/shows/{id}/replay", public, replay)
        // The room checks each frame against the frame's own access (`FRAMES`).
        .get("/api/v1/live/shows/{id}/ws", public, ws)
        .post("/api/v1/live/shows/{id}/deals", host, start_deal)
        .post("/api/v1/live/shows/{id}/deals/{deal}/end", host, end_deal)
        .get("/api/v1/live/deals/{deal}", public, get_deal)
        .post("/api/v1/live/shows/{id}/auctions", host, start_auction)
        .post("/api/v1/live/shows/{id}/gifts", viewer, gift)
        .get("/api/v1/live/coins", SignedIn(None), coins)
        .post("/api/v1/live/coin-packs", Staff(CatalogWrite), coin_pack)
        .get("/api/v1/live/auctions/{auction}", public, get_auction)
        .post("/api/v1/live/auctions/{auction}/bids", viewer, place_bid)
        .post("/api/v1/live/auctions/{auction}/second-chance", host, second_chance)
        .post("/api/v1/live/deals/{deal}/buy", Anyone(Some(OrdersWrite)), buy_deal)
}

fn creator(user: &AuthUser) -> Result<(), ApiError> {
    Ok(user.require(Access::Creator(Scope::LiveWrite))?)
}

#[derive(Deserialize)]
struct ListArgs {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list(State(l): State<Live>, QueryArgs(q): QueryArgs<ListArgs>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "shows": l.list(q.status.as_deref(), q.limit.unwrap_or(50)).await? })))
}

async fn create(State(l): State<Live>, user: AuthUser, JsonBody(input): JsonBody<ShowInput>) -> ApiResult<Response> {
    creator(&user)?;
    Ok((StatusCode::CREATED, Json(json!({ "show": l.create(&user.user, &input).await? }))).into_response())
}

async fn show(State(l): State<Live>, MaybeUser(user): MaybeUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let show = l.get(&id).await?;
    let mut stats = l.stats(&id).await?;
    // Sales figures are the host's and the shop's business only.
    let insider = user.as_ref().is_some_and(|u| u.user.id == show.host_id || u.user.role.is_staff());
    if !insider {
        if let Some(m) = stats.as_object_mut() {
            m.remove("orders");
            m.remove("revenue");
        }
    }
    Ok(Json(json!({ "show": show, "stats": stats })))
}

async fn start(State(l): State<Live>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    creator(&user)?;
    Ok(Json(json!({ "show": l.start(&id, &user.user).await? })))
}

async fn end(State(l): State<Live>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    creator(&user)?;
    Ok(Json(json!({ "show": l.end(&id, &user.user).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    text: String,
}

fn refusal(r: Refusal) -> ApiError {
    let status = match r.code {
        "rate_limited" | "slow_mode" => StatusCode::TOO_MANY_REQUESTS,
        "banned" | "muted" | "forbidden" => StatusCode::FORBIDDEN,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, r.code, r.message)
}

/// Posts a chat message without a WebSocket (the runbook's `streaming.sendMessage`).
pub async fn post_message(l: &Live, user: &User, show_id: &str, text: &str) -> ApiResult<Value> {
    let show = l.get(show_id).await?;
    if show.status == "ended" {
        return Err(ApiError::conflict("show_ended", i18n::t("live-show-ended")));
    }
    let room = l.hub.room(show_id).await?;
    let frame = room.chat(user, text).await.map_err(refusal)?;
    Ok(serde_json::from_str(frame.json.as_str()).unwrap_or(Value::Null))
}

async fn send_message(
    State(l): State<Live>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MessageBody>,
) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(json!({ "message": post_message(&l, &user.user, &id, &b.text).await? }))).into_response())
}

async fn start_deal(
    State(l): State<Live>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<crate::deals::DealInput>,
) -> ApiResult<Response> {
    creator(&user)?;
    Ok((StatusCode::CREATED, Json(json!({ "deal": l.start_deal(&id, &user.user, &d).await? }))).into_response())
}

async fn end_deal(State(l): State<Live>, user: AuthUser, Path((id, deal)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    creator(&user)?;
    Ok(Json(json!({ "deal": l.end_deal(&id, &user.user, &deal).await? })))
}

async fn get_deal(State(l): State<Live>, Path(deal): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "deal": lsn_commerce::offers::get(&l.db, l.clock.now_ms(), &deal).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GiftBody {
    gift: String,
}

async fn gift(State(l): State<Live>, user: AuthUser, Path(id): Path<String>, JsonBody(b): JsonBody<GiftBody>) -> ApiResult<Response> {
    let show = l.get(&id).await?;
    if show.status != "live" {
        return Err(ApiError::conflict("show_not_live", i18n::t("live-gifts-not-live")));
    }
    let sent = l.send_gift(&id, &user.user, &b.gift).await.map_err(|r| {
        if r.code == "insufficient_coins" {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, r.code, r.message)
        } else {
            refusal(r)
        }
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "gift": sent, "balance": l.coin_balance(&user.user.id).await? }))).into_response())
}

async fn coins(State(l): State<Live>, user: AuthUser) -> ApiResult<Json<Value>> {
    let gifts: Vec<Value> = crate::gifts::GIFTS.iter().map(|(n, c)| json!({"gift": n, "coins": c})).collect();
    Ok(Json(
        json!({ "balance": l.coin_balance(&user.user.id).await?, "gifts": gifts, "earnings_cents": l.gift_earnings(&user.user.id).await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoinPackBody {
    sku: String,
    coins: i64,
}

async fn coin_pack(State(l): State<Live>, user: AuthUser, JsonBody(b): JsonBody<CoinPackBody>) -> ApiResult<Json<Value>> {
    user.require(Access::Staff(Scope::CatalogWrite))?;
    let p = l.catalog.get(&b.sku, true).await.ok().flatten();
    let variant = match p {
        Some(p) => p.variants.into_iter().find(|v| v.sku == b.sku).map(|v| v.id.into_string()),
        None => lsn_db::query("SELECT id FROM catalog_variants WHERE sku = $1")
            .bind(&b.sku)
            .fetch_optional(l.db.read())
            .await
            .map_err(ApiError::internal)?
            .map(|r| lsn_db::RowExt::try_get::<String, _>(&r, 0))
            .transpose()
            .map_err(ApiError::internal)?,
    };
    let variant = variant.ok_or_else(|| ApiError::bad_request("unknown_variant", i18n::t("live-unknown-sku")))?;
    l.set_coin_pack(&variant, b.coins).await?;
    Ok(Json(json!({ "sku": b.sku, "coins": b.coins })))
}

async fn start_auction(
    State(l): State<Live>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<crate::auctions::AuctionInput>,
) -> ApiResult<Response> {
    creator(&user)?;
    Ok((StatusCode::CREATED, Json(json!({ "auction": l.start_auction(&id, &user.user, &d).await? }))).into_response())
}

async fn get_auction(State(l): State<Live>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let _ = l.close_auction(&id).await;
    Ok(Json(json!({ "auction": l.auction(&id).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BidBody {
    amount: i64,
}

async fn place_bid(
    State(l): State<Live>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<BidBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "auction": l.bid(&id, &user.user, b.amount).await? })))
}

async fn second_chance(State(l): State<Live>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    creator(&user)?;
    Ok(Json(json!({ "auction": l.second_chance(&id, &user.user).await? })))
}

#[derive(Deserialize)]
struct BuyBody {
    #[serde(default = "one")]
    quantity: i64,
    #[serde(flatten)]
    checkout: lsn_commerce::orders::CheckoutInput,
}

fn one() -> i64 {
    1
}

/// One-tap purchase from the room: claims deal units and reserves stock in one transaction,
/// then answers with the order to pay (like checkout).
async fn buy_deal(
    State(l): State<Live>,
    MaybeUser(user): MaybeUser,
    meta: lsn_identity::ClientMeta,
    jar: axum_extra::extract::CookieJar,
    Path(deal): Path<String>,
    JsonBody(b): JsonBody<BuyBody>,
) -> ApiResult<Response> {
    let device = jar.get(lsn_commerce::cart::CART_COOKIE).map(|c| c.value().to_string());
    let buyer = lsn_commerce::buyers::Buyer::new(user.as_ref().map(|u| &u.user), &meta, device.as_deref())
        .with_visitor(jar.get(lsn_commerce::buyers::VISITOR_COOKIE).map(|c| c.value()));
    let r = l.commerce.buy_offer(&buyer, &deal, b.quantity, &b.checkout).await?;
    let offer = l.deal_sold(&deal).await?;
    Ok((StatusCode::CREATED, Json(json!({ "order": r.order, "payment": r.payment, "order_token": r.order_token, "deal": offer })))
        .into_response())
}

#[derive(Deserialize)]
struct ReplayArgs {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn replay(State(l): State<Live>, Path(id): Path<String>, QueryArgs(q): QueryArgs<ReplayArgs>) -> ApiResult<Json<Value>> {
    let show = l.get(&id).await?;
    let events = l.replay(&id, q.after.unwrap_or(0), q.limit.unwrap_or(500)).await?;
    let next = events.last().and_then(|e| e["seq"].as_i64());
    Ok(Json(json!({ "show": show, "events": events, "next_after": next })))
}

#[derive(Deserialize)]
struct WsArgs {
    v: Option<String>,
    since: Option<String>,
}

async fn ws(
    State(l): State<Live>,
    State(identity): State<Identity>,
    MaybeUser(caller): MaybeUser,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<WsArgs>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    // A browser opens a WebSocket to any site with that site's cookies: a page of another site
    // must not chat, bid or host as the signed-in user.
    if caller.as_ref().is_some_and(|c| c.session_token.is_some()) {
        let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
        let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
        if origin.is_some_and(|o| !lsn_identity::csrf::same_origin(o, host, &l.commerce.cfg.public_url)) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "origin_refused", i18n::t("live-origin-refused")));
        }
    }
    let show = l.get(&id).await?;
    if show.status == "ended" {
        return Err(ApiError::new(StatusCode::GONE, "show_ended", i18n::t("live-show-ended-replay")));
    }
    let room = l.hub.room(&id).await?;
    if caller.as_ref().is_some_and(|u| room.is_banned(&u.user.id)) {
        return Err(ApiError::forbidden());
    }
    let version = q.v.as_deref().map(|v| v.parse::<i64>().unwrap_or(-1)).unwrap_or(PROTOCOL_VERSION);
    let since = q.since.as_deref().map(|s| s.parse::<i64>().unwrap_or(-1));
    // The socket runs in a task of its own: it keeps the request's language, so the viewer's
    // refusals and errors are in it.
    let locale = i18n::current();
    Ok(upgrade
        .read_buffer_size(4096)
        .write_buffer_size(4096)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| i18n::scope(locale, viewer(l, identity, room, caller, version, since, socket))))
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"v": PROTOCOL_VERSION, "type": "error", "code": code, "message": message}).to_string()
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

/// What a viewer's writer waits on: every event (protocol 1) or one message per tick (2).
enum Feed {
    Events(tokio::sync::broadcast::Receiver<Arc<Frame>>),
    Ticks(tokio::sync::broadcast::Receiver<Arc<crate::room::Tick>>),
}

/// What a viewer's feed brings next.
enum Batch {
    /// Protocol 1: the next events (whatever was queued, up to 256), and whether the viewer fell
    /// behind while they were drained.
    Events { frames: Vec<Arc<Frame>>, lagged: bool },
    /// Protocol 2: the next tick, its events and their text encoded once for the room.
    Tick(Arc<crate::room::Tick>),
    /// The viewer fell too far behind: it is let go and resumes with `since`.
    TooSlow,
    /// The room is gone.
    Closed,
}

impl Feed {
    async fn next(&mut self) -> Batch {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        match self {
            Feed::Events(rx) => {
                let first = match rx.recv().await {
                    Ok(f) => f,
                    Err(RecvError::Lagged(_)) => return Batch::TooSlow,
                    Err(RecvError::Closed) => return Batch::Closed,
                };
                // Whatever else is already queued goes out with it in one write.
                let mut frames = vec![first];
                let mut lagged = false;
                while frames.len() < 256 {
                    match rx.try_recv() {
                        Ok(f) => frames.push(f),
                        Err(TryRecvError::Lagged(_)) => {
                            lagged = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                Batch::Events { frames, lagged }
            }
            Feed::Ticks(rx) => match rx.recv().await {
                Ok(t) => Batch::Tick(t),
                Err(RecvError::Lagged(_)) => Batch::TooSlow,
                Err(RecvError::Closed) => Batch::Closed,
            },
        }
    }
}

/// Records the visit and builds the welcome frame; returns it and the visit's id.
async fn greet(live: &Live, room: &Room, user: Option<&User>, start_seq: i64) -> (serde_json::Value, String) {
    let viewers = room.joined().await;
    let viewer_key = user.map(|u| format!("user:{}", u.id)).unwrap_or_else(|| format!("anon:{}", lsn_core::ids::new_id()));
    let visit_id = lsn_core::ids::new_id();
    let _ = lsn_db::query("INSERT INTO live_viewers (id, show_id, viewer_key, joined_at) VALUES ($1, $2, $3, $4)")
        .bind(&visit_id)
        .bind(&room.show_id)
        .bind(&viewer_key)
        .bind(live.clock.now_ms())
        .execute(live.db.write())
        .await;
    let show = live.get(&room.show_id).await.ok();
    let deal = live.current_deal(&room.show_id).await.ok().flatten();
    let auction = live.current_auction(&room.show_id).await.ok().flatten();
    let welcome = json!({
        "v": PROTOCOL_VERSION, "type": "welcome", "seq": start_seq, "viewers": viewers, "show": show,
        "pinned": room.pinned(), "slow_mode": room.slow_mode(), "deal": deal, "auction": auction,
        "you": user.map(|u| json!({"id": u.id, "name": u.name, "host": u.id == room.host_id || u.role.is_staff()})),
    });
    (welcome, visit_id)
}

/// One viewer's connection: a writer loop fed by the room's broadcast and by this connection's
/// own replies, and a reader loop handling what the viewer sends.
async fn viewer(
    live: Live,
    identity: Identity,
    room: Arc<Room>,
    mut caller: Option<AuthUser>,
    version: i64,
    since: Option<i64>,
    mut socket: WebSocket,
) {
    let user = caller.as_ref().map(|c| c.user.clone());
    if !(1..=2).contains(&version) {
        let _ = socket.send(Message::Text(error_frame("unsupported_version", &i18n::t("live-unsupported-version")).into())).await;
        return close(socket, 1002, "unsupported protocol version").await;
    }
    // Subscribe first, then read the window: nothing can fall between the two.
    let (mut feed, start_seq) = if version == 2 {
        let (rx, seq) = room.subscribe_ticks();
        (Feed::Ticks(rx), seq)
    } else {
        let (rx, seq) = room.subscribe();
        (Feed::Events(rx), seq)
    };
    let mut replies: Vec<String> = Vec::new();
    let mut last_sent = start_seq;
    let mut catch_up: Vec<Arc<Frame>> = Vec::new();
    match since {
        None => {}
        Some(s) if s < 0 => replies.push(error_frame("invalid_since", &i18n::t("live-invalid-since"))),
        Some(s) => match room.resume(s) {
            Resume::Missed(frames) => {
                catch_up = frames.into_iter().filter(|f| f.seq <= start_seq).collect();
            }
            Resume::Resync => replies.push(json!({"v": PROTOCOL_VERSION, "type": "resync", "seq": start_seq}).to_string()),
            Resume::FromTheFuture => replies.push(error_frame("sequence_from_future", &i18n::t("live-sequence-future"))),
        },
    }
    // Boxed, like the clean-up below: their database work is large and done once, and the
    // task of each of thousands of idle viewers should not keep room for it.
    let (welcome, visit_id) = Box::pin(greet(&live, &room, user.as_ref(), start_seq)).await;
    let sink = &mut socket;
    let mut ok = sink.send(Message::Text(welcome.to_string().into())).await.is_ok();
    for r in replies.drain(..) {
        ok = ok && sink.send(Message::Text(r.into())).await.is_ok();
    }
    if version == 2 {
        if !catch_up.is_empty() {
            ok = ok && sink.send(Message::Text(crate::room::array_of(catch_up.iter()))).await.is_ok();
        }
    } else {
        for f in catch_up {
            ok = ok && sink.send(Message::Text(f.json.clone())).await.is_ok();
        }
    }
    // One task per viewer: it writes the room's ticks and reads the viewer's own frames.
    let me = user.as_ref().map(|u| u.id.clone());
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let idle = tokio::time::sleep(IDLE_LIMIT);
    tokio::pin!(idle);
    let mut errors = 0u32;
    // `ok` is false when the greeting could not be sent: go straight to clean-up.
    loop {
        if !ok {
            break;
        }
        tokio::select! {
            batch = feed.next() => {
                let (frames, shared, lagged): (&[Arc<Frame>], _, bool) = match &batch {
                    Batch::Tick(t) => (&t.frames, Some(t.json.clone()), false),
                    Batch::Events { frames, lagged } => (frames, None, *lagged),
                    Batch::TooSlow => {
                        // A viewer that cannot keep up is let go instead of slowing the room;
                        // it reconnects with its last sequence number and catches up.
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: 4008, reason: "too slow: reconnect with since".into() }))).await;
                        break;
                    }
                    Batch::Closed => break,
                };
                let fresh: Vec<&Arc<Frame>> = frames.iter().filter(|f| f.seq > last_sent).collect();
                let mut end: Option<CloseFrame> = None;
                let mut failed = false;
                if let Some(whole) = shared {
                    // Protocol 2: the tick's shared text, or (rarely, just after joining)
                    // only the part this viewer has not had yet.
                    if !fresh.is_empty() {
                        let text = if fresh.len() == frames.len() { whole } else { crate::room::array_of(fresh.iter().copied()) };
                        failed = sink.feed(Message::Text(text)).await.is_err();
                    }
                } else {
                    for frame in &fresh {
                        if sink.feed(Message::Text(frame.json.clone())).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                }
                if let Some(f) = fresh.last() {
                    last_sent = f.seq;
                }
                for frame in &fresh {
                    if frame.kind == "user_banned" && me.as_deref().is_some_and(|m| frame.json.as_str().contains(&format!("\"user_id\":\"{m}\""))) {
                        end = Some(CloseFrame { code: 4003, reason: "banned from this show".into() });
                        break;
                    }
                    if frame.kind == "show_ended" {
                        end = Some(CloseFrame { code: 1000, reason: "show ended".into() });
                        break;
                    }
                }
                if failed {
                    break;
                }
                if lagged && end.is_none() {
                    end = Some(CloseFrame { code: 4008, reason: "too slow: reconnect with since".into() });
                }
                if let Some(c) = end {
                    let _ = sink.send(Message::Close(Some(c))).await;
                    break;
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            incoming = sink.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE_LIMIT);
                // Boxed: the handlers' database work is large and rare, and each of thousands of
                // idle viewers' tasks should not keep room for it.
                match Box::pin(take(&live, &identity, &room, &mut caller, incoming, &mut errors)).await {
                    Taken::Nothing => {}
                    Taken::SignedOut(text) => {
                        // The session ended or the key was revoked: the connection does not
                        // outlive the credential it was opened with.
                        let _ = sink.send(Message::Text(text.into())).await;
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: 4001, reason: "signed out".into() }))).await;
                        await_close(sink).await;
                        break;
                    }
                    Taken::Reply(text) => {
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Taken::Abuse(text) => {
                        let _ = sink.send(Message::Text(text.into())).await;
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: 1008, reason: "too many protocol errors".into() }))).await;
                        await_close(sink).await;
                        break;
                    }
                    Taken::Gone => break,
                }
            }
            _ = heartbeat.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            _ = &mut idle => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: 4000, reason: "no heartbeat".into() }))).await;
                await_close(sink).await;
                break;
            }
        }
    }
    Box::pin(async {
        room.left().await;
        let _ = lsn_db::query("UPDATE live_viewers SET left_at = $1 WHERE id = $2")
            .bind(live.clock.now_ms())
            .bind(&visit_id)
            .execute(live.db.write())
            .await;
    })
    .await;
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    emoji: Option<String>,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    seconds: Option<i64>,
    #[serde(default)]
    deal: Option<Value>,
    #[serde(default)]
    auction: Option<Value>,
    #[serde(default)]
    auction_id: Option<String>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    gift: Option<String>,
}

fn live_refusal(e: LiveError) -> Refusal {
    match e {
        LiveError::Validation(v) => Refusal { code: "invalid_message", message: v.to_string() },
        LiveError::Rule { code, message } => Refusal { code: code.as_str(), message },
        LiveError::Forbidden => Refusal { code: "forbidden", message: i18n::t("live-host-only") },
        other => Refusal { code: "unavailable", message: other.to_string() },
    }
}

/// What a frame from the viewer comes to.
enum Taken {
    Nothing,
    /// A reply for this viewer only (a pong, an error).
    Reply(String),
    /// The error that took the viewer past [`MAX_ERRORS`]: send it, then close for abuse.
    Abuse(String),
    /// The viewer closed the connection or it broke.
    Gone,
    /// The credential the connection was opened with is gone: send this, then close.
    SignedOut(String),
}

/// Takes one frame from the viewer: a ping answered, a chat posted, a host control applied, or
/// a refusal (counted in `errors`).
async fn take(
    live: &Live,
    identity: &Identity,
    room: &Room,
    caller: &mut Option<AuthUser>,
    incoming: Option<Result<Message, axum::Error>>,
    errors: &mut u32,
) -> Taken {
    let reply = match incoming {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Taken::Gone,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Taken::Nothing,
        Some(Ok(Message::Binary(_))) => Err(Refusal { code: "binary_not_supported", message: i18n::t("live-binary") }),
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Err(_) => Err(Refusal { code: "malformed", message: i18n::t("live-malformed") }),
            Ok(m) => {
                let access = frame_access(&m.kind);
                // Before acting for someone, ask whether they still are who they were.
                if access.is_some_and(|a| a != Access::PUBLIC) {
                    if let Some(c) = caller.as_ref() {
                        match identity.recheck(c).await {
                            Ok(Some(fresh)) => *caller = Some(fresh),
                            Ok(None) => return Taken::SignedOut(error_frame("signed_out", &i18n::t("live-signed-out"))),
                            Err(_) => return Taken::Reply(error_frame("unavailable", &i18n::t("live-try-again-moment"))),
                        }
                    }
                }
                match access.map(|a| lsn_identity::access::check(caller.as_ref(), a)) {
                    None => Err(Refusal {
                        code: "unknown_type",
                        message: i18n::t_args(
                            "live-unknown-type",
                            &[("kind", &format!("{:?}", m.kind.chars().take(40).collect::<String>()))],
                        ),
                    }),
                    Some(Err(lsn_identity::IdentityError::Unauthenticated)) => {
                        Err(Refusal { code: "sign_in_required", message: i18n::t("live-sign-in") })
                    }
                    Some(Err(_)) => Err(Refusal { code: "forbidden", message: i18n::t("live-not-allowed") }),
                    Some(Ok(())) => handle(live, room, caller.as_ref().map(|c| &c.user), m).await,
                }
            }
        },
    };
    match reply {
        Ok(Some(v)) => Taken::Reply(v.to_string()),
        Ok(None) => Taken::Nothing,
        Err(r) => {
            *errors += 1;
            let frame = error_frame(r.code, &r.message);
            if *errors > MAX_ERRORS {
                Taken::Abuse(frame)
            } else {
                Taken::Reply(frame)
            }
        }
    }
}

/// After the server's close frame: read (and ignore) what the client still sends until its own
/// close frame, for at most [`CLOSE_WAIT`]. Closing the socket with unread input would reset the
/// connection, and the client could lose the close frame and its reason.
async fn await_close(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(m)) = socket.next().await {
            if matches!(m, Message::Close(_)) {
                return;
            }
        }
    })
    .await;
}

/// Who may send each frame type: the same check as every other surface (`lsn_identity::access`).
/// Host controls need a creator's rights with `live:write` (the host of this show, or staff, is
/// checked by the frame itself); taking part needs `live:write` from an API key.
pub const FRAMES: &[(&str, Access)] = {
    use lsn_identity::access::{Access::*, Scope::*};
    &[
        ("ping", Access::PUBLIC),
        ("react", Anyone(Some(LiveWrite))),
        ("chat", SignedIn(Some(LiveWrite))),
        ("gift", SignedIn(Some(LiveWrite))),
        ("bid", SignedIn(Some(LiveWrite))),
        ("pin", Creator(LiveWrite)),
        ("unpin", Creator(LiveWrite)),
        ("delete_message", Creator(LiveWrite)),
        ("mute", Creator(LiveWrite)),
        ("unmute", Creator(LiveWrite)),
        ("ban", Creator(LiveWrite)),
        ("start_deal", Creator(LiveWrite)),
        ("start_auction", Creator(LiveWrite)),
        ("slow_mode", Creator(LiveWrite)),
    ]
};

fn frame_access(kind: &str) -> Option<Access> {
    FRAMES.iter().find(|(k, _)| *k == kind).map(|(_, a)| *a)
}

fn need<T>(v: Option<T>, field: &str) -> Result<T, Refusal> {
    v.ok_or_else(|| Refusal { code: "invalid_message", message: i18n::t_args("live-field-required", &[("field", field)]) })
}

async fn handle(live: &Live, room: &Room, user: Option<&User>, m: ClientMessage) -> Result<Option<Value>, Refusal> {
    let host = user.is_some_and(|u| u.id == room.host_id || u.role.is_staff());
    let signed_in = || user.ok_or_else(|| Refusal { code: "sign_in_required", message: i18n::t("live-sign-in") });
    let host_only = || if host { Ok(()) } else { Err(Refusal { code: "forbidden", message: i18n::t("live-host-only") }) };
    match m.kind.as_str() {
        "ping" => Ok(Some(json!({"v": PROTOCOL_VERSION, "type": "pong", "seq": room.latest_seq(), "viewers": room.viewer_count().await}))),
        "chat" => {
            let u = signed_in()?;
            room.chat(u, &need(m.text, "text")?).await.map(|_| None)
        }
        "react" => room.react(&need(m.emoji, "emoji")?).await.map(|_| None),
        "pin" => {
            host_only()?;
            let pid = need(m.product_id, "product_id")?;
            let p = match live.catalog.get(&pid, false).await {
                Ok(Some(p)) => p,
                _ => return Err(Refusal { code: "unknown_product", message: i18n::t("live-no-product") }),
            };
            let available: i64 = p.variants.iter().map(|v| v.available).sum();
            let product = json!({"id": p.id, "slug": p.slug, "title": p.title, "price": p.min_price, "compare_at_price": p.variants.first().and_then(|v| v.compare_at_price),
                "available": available, "image": p.images.first().map(|i| i.url.clone()),
                "variants": p.variants.iter().map(|v| json!({"id": v.id, "title": v.title, "price": v.price, "available": v.available})).collect::<Vec<_>>()});
            room.pin(Some(product)).await;
            Ok(None)
        }
        "unpin" => {
            host_only()?;
            room.pin(None).await;
            Ok(None)
        }
        "delete_message" => {
            host_only()?;
            let actor = signed_in()?.id.clone();
            room.delete_message(&actor, &need(m.message_id, "message_id")?).await.map(|_| None)
        }
        "mute" | "unmute" | "ban" => {
            host_only()?;
            let actor = signed_in()?.id.clone();
            room.moderate(&actor, &m.kind, &need(m.user_id, "user_id")?).await.map(|_| None)
        }
        "start_deal" => {
            host_only()?;
            let u = signed_in()?;
            let d: crate::deals::DealInput = serde_json::from_value(m.deal.unwrap_or(Value::Null))
                .map_err(|e| Refusal { code: "invalid_message", message: i18n::t_args("live-deal-body", &[("error", &e.to_string())]) })?;
            live.start_deal(&room.show_id, u, &d).await.map(|_| None).map_err(|e| match e {
                LiveError::Validation(v) => Refusal { code: "invalid_deal", message: v.to_string() },
                LiveError::Rule { code, message } => Refusal { code: code.as_str(), message },
                other => Refusal { code: "unavailable", message: other.to_string() },
            })
        }
        "gift" => {
            let u = signed_in()?;
            live.send_gift(&room.show_id, u, &need(m.gift, "gift")?).await.map(|_| None)
        }
        "start_auction" => {
            host_only()?;
            let u = signed_in()?;
            let d: crate::auctions::AuctionInput = serde_json::from_value(m.auction.unwrap_or(Value::Null)).map_err(|e| Refusal {
                code: "invalid_message",
                message: i18n::t_args("live-auction-body", &[("error", &e.to_string())]),
            })?;
            live.start_auction(&room.show_id, u, &d).await.map(|_| None).map_err(live_refusal)
        }
        "bid" => {
            let u = signed_in()?;
            let auction = need(m.auction_id, "auction_id")?;
            let amount = need(m.amount, "amount")?;
            match live.auction(&auction).await {
                Ok(a) if a.show_id == room.show_id => live.bid(&auction, u, amount).await.map(|_| None).map_err(live_refusal),
                _ => Err(Refusal { code: "not_found", message: i18n::t("live-no-auction") }),
            }
        }
        "slow_mode" => {
            host_only()?;
            let actor = signed_in()?.id.clone();
            room.set_slow_mode(&actor, need(m.seconds, "seconds")?).await.map(|_| None)
        }
        other => Err(Refusal {
            code: "unknown_type",
            message: i18n::t_args("live-unknown-type", &[("kind", &format!("{:?}", other.chars().take(40).collect::<String>()))]),
        }),
    }
}

impl From<LiveError> for Refusal {
    fn from(e: LiveError) -> Self {
        Refusal { code: "unavailable", message: e.to_string() }
    }
}

// The live show page: one WebSocket to the show's room (docs/live-protocol.md, version 2).
// Reconnects on its own and resumes from the last event it saw, so a short drop loses nothing.
const root = document.querySelector("[data-live]");
const $ = (sel) => root.querySelector(sel);
// Amounts as the page's language writes them (en-AU "$1,234.50", en-US "A$1,234.50", as the
// server does), and the page's words from the server's translations (data-text).
const moneyFormat = new Intl.NumberFormat(document.documentElement.lang || "en-AU", { style: "currency", currency: "AUD" });
const money = (c) => moneyFormat.format(c / 100);
const TEXT = JSON.parse(root.dataset.text || "{}");
const T = (key, args = {}) => (TEXT[key] ?? key).replace(/\{(\w+)\}/g, (_, n) => String(args[n] ?? ""));
const showId = root.dataset.show;
const isHost = root.dataset.host === "true";
let ws = null;
let lastSeq = null;
let retry = 0;
let stopped = false;
let pinned = null;
let deal = null;
let auction = null;
let me = null;

function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

function say(text, where = "[data-chat-error]") {
  const el = document.querySelector(where);
  if (el) el.textContent = text;
}

// ------------------------------------------------------------------ chat
const log = $("[data-chat-log]");
function addChat(m) {
  if (log.querySelector(`[data-msg="${CSS.escape(m.id)}"]`)) return;
  const li = document.createElement("li");
  li.className = "chat-msg";
  li.dataset.msg = m.id;
  const name = document.createElement("span");
  name.className = "chat-name";
  name.textContent = m.host ? `${m.name} ${T("host")}` : m.name;
  li.append(name, " ", m.text);
  if (isHost && !m.host) {
    for (const [label, action] of [[T("delete"), "delete"], [T("mute"), "mute"], [T("ban"), "ban"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link-button small";
      b.textContent = label;
      b.dataset.moderate = action;
      b.addEventListener("click", () => {
        if (action === "delete") send({ type: "delete_message", message_id: m.id });
        else send({ type: action, user_id: m.user_id });
      });
      li.append(" ", b);
    }
  }
  log.append(li);
  while (log.children.length > 200) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

const chatForm = $("[data-chat-form]");
chatForm?.addEventListener("submit", (e) => {
  if (!ws || ws.readyState !== WebSocket.OPEN) return; // the plain form posts instead
  e.preventDefault();
  const input = chatForm.querySelector("[name=text]");
  const text = input.value.trim();
  if (!text) return;
  send({ type: "chat", text });
  input.value = "";
  say("");
});

// ------------------------------------------------------------------ pinned product
function renderPinned() {
  const box = $("[data-pinned]");
  box.hidden = !pinned;
  if (!pinned) return;
  $("[data-pinned-title]").textContent = pinned.title;
  $("[data-pinned-price]").textContent = money(pinned.price);
  $("[data-pinned-compare]").textContent = pinned.compare_at_price > pinned.price ? money(pinned.compare_at_price) : "";
  $("[data-pinned-stock]").textContent = pinned.available > 0 ? T("left", { count: pinned.available }) : T("sold-out");
  const sel = $("[data-pinned-variants]");
  sel.replaceChildren();
  for (const v of pinned.variants || []) {
    const o = document.createElement("option");
    o.value = v.id;
    o.textContent = `${v.title || v.sku} — ${money(v.price)}${v.available > 0 ? "" : ` ${T("variant-sold-out")}`}`;
    o.disabled = !(v.available > 0);
    sel.append(o);
  }
  const firstOk = [...sel.options].find((o) => !o.disabled);
  if (firstOk) firstOk.selected = true;
  $("[data-buy]").disabled = !firstOk;
}

// ------------------------------------------------------------------ flash deal
function renderDeal() {
  const box = $("[data-deal]");
  box.hidden = !deal;
  if (!deal) return;
  $("[data-deal-title]").textContent = deal.title;
  $("[data-deal-price]").textContent = money(deal.price);
  $("[data-deal-regular]").textContent = money(deal.regular_price);
  $("[data-deal-remaining]").textContent = String(deal.remaining);
  const buy = $("[data-deal-buy]");
  buy.href = `/deals/${encodeURIComponent(deal.id)}/buy`;
  tickDeal();
}

function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function tickDeal() {
  if (!deal) return;
  const now = Date.now();
  const buy = $("[data-deal-buy]");
  let phase;
  let left;
  if (deal.ended || deal.remaining <= 0) {
    phase = deal.remaining <= 0 ? "sold-out" : "deal-over";
    left = 0;
  } else if (now < deal.starts_at) {
    phase = "starts-in";
    left = deal.starts_at - now;
  } else if (now < deal.ends_at) {
    phase = "ends-in";
    left = deal.ends_at - now;
  } else {
    phase = "deal-over";
    left = 0;
  }
  $("[data-deal-phase]").textContent = T(phase);
  $("[data-deal-countdown]").textContent = clock(left);
  const open = phase === "ends-in";
  buy.classList.toggle("disabled", !open);
  buy.setAttribute("aria-disabled", String(!open));
  buy.textContent = open ? T("buy-deal") : T(phase);
}

$("[data-deal-buy]").addEventListener("click", (e) => {
  if ($("[data-deal-buy]").getAttribute("aria-disabled") === "true") e.preventDefault();
});

// ------------------------------------------------------------------ auction
function renderAuction() {
  const box = $("[data-auction]");
  box.hidden = !auction;
  if (!auction) return;
  $("[data-auction-title]").textContent = auction.title || pinned?.title || "";
  $("[data-auction-price]").textContent = money(auction.price);
  $("[data-auction-bids]").textContent = String(auction.bids || 0);
  $("[data-auction-leader]").textContent = auction.leader_id
    ? (me && auction.leader_id === me.id ? T("you-lead") : T("leader", { name: auction.leader_name || T("a-bidder") }))
    : T("no-bids");
  $("[data-bid-min]").textContent = T("bid", { amount: money(auction.minimum_bid) });
  tickAuction();
}

function tickAuction() {
  if (!auction) return;
  const left = auction.closed ? 0 : auction.ends_at - Date.now();
  $("[data-auction-timer]").textContent = clock(left);
  for (const b of root.querySelectorAll("[data-auction-controls] button")) b.disabled = !!auction.closed || !me;
}

$("[data-bid-min]").addEventListener("click", () => auction && send({ type: "bid", auction_id: auction.id, amount: auction.minimum_bid }));
$("[data-bid-proxy]").addEventListener("click", () => {
  const v = Math.round(parseFloat($("[data-bid-max]").value.replace("$", "")) * 100);
  if (auction && v > 0) send({ type: "bid", auction_id: auction.id, amount: v });
});

setInterval(() => { tickDeal(); tickAuction(); }, 250);

// ------------------------------------------------------------------ reactions, gifts, ticker
for (const b of root.querySelectorAll("[data-react]")) b.addEventListener("click", () => send({ type: "react", emoji: b.dataset.react }));
for (const b of root.querySelectorAll("[data-gift]")) b.addEventListener("click", () => send({ type: "gift", gift: b.dataset.gift }));
function ticker(text) {
  const t = $("[data-ticker]");
  t.textContent = text;
  t.classList.remove("fresh");
  void t.offsetWidth;
  t.classList.add("fresh");
}

// ------------------------------------------------------------------ host controls
if (isHost) {
  for (const b of root.querySelectorAll("[data-pin]")) b.addEventListener("click", () => send({ type: "pin", product_id: b.dataset.pin }));
  $("[data-unpin]")?.addEventListener("click", () => send({ type: "unpin" }));
  const dollars = (v) => Math.round(parseFloat(String(v).replace("$", "")) * 100);
  $("[data-deal-form]")?.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const variant = $("[data-pinned-variants]").value;
    if (!variant) return say(T("pin-first"), "[data-host-status]");
    send({ type: "start_deal", deal: { variant_id: variant, price: dollars(f.get("price")), quantity: Number(f.get("quantity")),
      countdown_secs: Number(f.get("countdown_secs")), duration_secs: Number(f.get("duration_secs")) } });
  });
  $("[data-auction-form]")?.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const variant = $("[data-pinned-variants]").value;
    if (!variant) return say(T("pin-first"), "[data-host-status]");
    send({ type: "start_auction", auction: { variant_id: variant, starting_price: dollars(f.get("starting_price")),
      increment: dollars(f.get("increment") || 1), duration_secs: Number(f.get("duration_secs")), soft_close_secs: Number(f.get("soft_close_secs")) } });
  });
}

// The host's figures (viewers, orders and sales from this show), refreshed every 10 seconds.
async function refreshStats() {
  try {
    const r = await fetch(`/api/v1/live/shows/${encodeURIComponent(showId)}`, { credentials: "same-origin" });
    if (!r.ok) return;
    const { stats } = await r.json();
    for (const el of root.querySelectorAll("[data-stat]")) {
      const v = stats?.[el.dataset.stat];
      if (typeof v === "number") el.textContent = "money" in el.dataset ? money(v) : String(v);
    }
  } catch (_) { /* try again next time */ }
}
if (isHost) setInterval(refreshStats, 10000);

// ------------------------------------------------------------------ the connection
function handle(m) {
  if (typeof m.seq === "number" && m.type !== "welcome" && m.type !== "pong" && m.type !== "resync") lastSeq = Math.max(lastSeq ?? 0, m.seq);
  switch (m.type) {
    case "welcome":
      if (lastSeq === null) lastSeq = m.seq;
      me = m.you;
      $("[data-viewers]").textContent = String(m.viewers);
      pinned = m.pinned;
      renderPinned();
      if (m.deal) { deal = m.deal; renderDeal(); }
      if (m.auction) { auction = { ...m.auction, leader_name: null }; renderAuction(); }
      break;
    case "pong": $("[data-viewers]").textContent = String(m.viewers); break;
    case "resync": location.reload(); break;
    case "show_started": case "show_ended": stopped = m.type === "show_ended"; setTimeout(() => location.reload(), 300); break;
    case "chat": addChat(m); break;
    case "chat_deleted": log.querySelector(`[data-msg="${CSS.escape(m.message_id)}"]`)?.remove(); break;
    case "product_pinned": pinned = m.product; renderPinned(); break;
    case "product_unpinned": pinned = null; renderPinned(); break;
    case "deal_started": deal = m.deal; renderDeal(); break;
    case "deal_updated": if (deal && deal.id === m.deal_id) { deal.remaining = m.remaining; renderDeal(); } break;
    case "deal_ended": if (deal && deal.id === m.deal_id) { deal.remaining = m.remaining; deal.ended = true; renderDeal(); } break;
    case "auction_started": auction = { ...m.auction, title: m.title }; renderAuction(); $("[data-auction-result]").textContent = ""; break;
    case "bid": if (auction && auction.id === m.auction_id) { Object.assign(auction, { price: m.price, leader_id: m.leader_id, leader_name: m.leader_name, bids: m.bids, minimum_bid: m.minimum_bid }); renderAuction(); } break;
    case "auction_extended": if (auction && auction.id === m.auction_id) { auction.ends_at = m.ends_at; renderAuction(); } break;
    case "auction_won":
      if (auction && auction.id === m.auction_id) {
        auction.closed = true;
        renderAuction();
        const mine = me && m.winner_id === me.id;
        const res = $("[data-auction-result]");
        res.textContent = mine ? `${T("you-won", { amount: money(m.amount) })} ` : T("won", { name: m.winner_name, amount: money(m.amount) });
        if (mine) {
          const a = document.createElement("a");
          a.href = `/deals/${encodeURIComponent(m.deal_id)}/buy`;
          a.className = "btn btn-primary";
          a.dataset.payWin = "";
          a.textContent = T("pay-now");
          res.append(a);
        }
      }
      break;
    case "auction_ended": if (auction && auction.id === m.auction_id) { auction.closed = true; renderAuction(); $("[data-auction-result]").textContent = m.reason === "no_bids" ? T("not-sold-no-bids") : T("not-sold-reserve"); } break;
    case "gift_sent": ticker(`${T("gift-sent", { name: m.from_name, gift: m.gift })} 🎁`); break;
    case "reaction": ticker(m.emoji); break;
    case "purchase": ticker(m.text); break;
    case "user_banned": if (me && m.user_id === me.id) { stopped = true; say(T("removed")); } break;
    case "user_muted": if (me && m.user_id === me.id) say(T("muted")); break;
    case "error": say(m.message, isHost && /deal|auction|pin|nothing_pinned/.test(m.code) ? "[data-host-status]" : "[data-chat-error]"); break;
    default: break;
  }
}

function connect() {
  if (stopped) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const since = lastSeq !== null ? `&since=${lastSeq}` : "";
  ws = new WebSocket(`${proto}://${location.host}/api/v1/live/shows/${encodeURIComponent(showId)}/ws?v=2${since}`);
  root.dataset.connected = "connecting";
  ws.addEventListener("open", () => { retry = 0; root.dataset.connected = "true"; });
  ws.addEventListener("message", (e) => {
    try {
      // Protocol 2: the events of one tick arrive together as an array.
      const data = JSON.parse(e.data);
      for (const m of Array.isArray(data) ? data : [data]) handle(m);
    } catch (_) { /* a frame we do not understand */ }
  });
  ws.addEventListener("close", (e) => {
    root.dataset.connected = "false";
    if (e.code === 4003 || e.code === 1000 || stopped) return;
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, 500 * 2 ** (retry - 1));
  });
}

if (root.dataset.status !== "ended") {
  connect();
  setInterval(() => send({ type: "ping" }), 15000);
}

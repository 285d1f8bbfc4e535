// Live shopping in real browsers: a host and viewers in the same show.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startShop, shot, logIn, deliverTo, payWith } from "./harness.js";

let shop;
let showUrl;
before(async () => {
  shop = await startShop();
  const r = await fetch(`${shop.base}/api/v1/live/shows?status=scheduled`);
  const { shows } = await r.json();
  showUrl = `${shop.base}/shows/${shows[0].id}`;
});
after(async () => { await shop?.stop(); });

async function signedIn(email, viewport = { width: 1280, height: 900 }) {
  const ctx = await shop.browser.newContext({ viewport });
  return { ctx, page: await logIn(shop, ctx, email) };
}

async function open(page) {
  await page.goto(showUrl);
  await page.waitForSelector("[data-live][data-connected=true]");
}

async function pay(page) {
  await deliverTo(page, { name: "Live Buyer", line1: "5 Elizabeth St", suburb: "Hobart", state: "TAS", postcode: "7000" });
  await payWith(page);
  await page.waitForSelector("[data-confirmed]");
}

let host;
let ann;
let ben;

test("a host starts the show and pins a product; a viewer sees it without reload and buys it", async () => {
  host = await signedIn("creator@lsn.local");
  ann = await signedIn("ann@example.com");
  ben = await signedIn("ben@example.com", { width: 390, height: 844 });
  await open(host.page);
  await host.page.click("[data-start-show]");
  await host.page.waitForSelector("[data-end-show]");
  await host.page.waitForSelector("[data-live][data-connected=true]");
  await open(ann.page);
  await open(ben.page);
  assert.equal(await ann.page.isVisible("[data-pinned]"), false);
  await host.page.click("[data-pin] >> nth=0");
  await ann.page.waitForSelector("[data-pinned]:not([hidden])");
  await ben.page.waitForSelector("[data-pinned]:not([hidden])");
  const title = await ann.page.textContent("[data-pinned-title]");
  assert.ok(title.length > 0);
  await shot(ann.page, "live-desktop");
  await shot(ben.page, "live-phone");
  await shot(host.page, "live-host");
  await ann.page.click("[data-buy]");
  await ann.page.waitForURL(/\/checkout$/);
  await pay(ann.page);
  await open(ann.page);
});

test("two viewers chat and the host deletes a message for both", async () => {
  await ann.page.fill("#chat-text", "Hello from Ann");
  await ann.page.press("#chat-text", "Enter");
  await ben.page.fill("#chat-text", "Ben says hi");
  await ben.page.press("#chat-text", "Enter");
  for (const p of [ann.page, ben.page, host.page]) {
    await p.waitForSelector(".chat-msg:has-text('Hello from Ann')");
    await p.waitForSelector(".chat-msg:has-text('Ben says hi')");
  }
  await host.page.click(".chat-msg:has-text('Ben says hi') [data-moderate=delete]");
  for (const p of [ann.page, ben.page, host.page]) {
    await p.waitForSelector(".chat-msg:has-text('Ben says hi')", { state: "detached" });
    assert.equal(await p.locator(".chat-msg:has-text('Hello from Ann')").count(), 1);
  }
});

test("a flash deal counts down and sells out", async () => {
  await host.page.fill("#deal-price", "5");
  await host.page.fill("#deal-qty", "1");
  await host.page.fill("#deal-countdown", "10");
  await host.page.click("[data-deal-form] button[type=submit]");
  await ann.page.waitForSelector("[data-deal]:not([hidden])");
  await ben.page.waitForSelector("[data-deal]:not([hidden])");
  assert.equal(await ann.page.textContent("[data-deal-phase]"), "Starts in");
  await ann.page.waitForSelector("[data-deal-phase]:text-is('Ends in')", { timeout: 20000 });
  await shot(ann.page, "live-deal");
  await ann.page.click("[data-deal-buy]");
  await ann.page.waitForURL(/\/deals\/.+\/buy$/);
  await pay(ann.page);
  await ben.page.waitForSelector("[data-deal-phase]:text-is('Sold out')", { timeout: 10000 });
  assert.equal(await ben.page.textContent("[data-deal-remaining]"), "0");
});

test("an auction is won and paid", async () => {
  await open(ann.page);
  await host.page.fill("#auc-start", "10");
  await host.page.fill("#auc-inc", "1");
  await host.page.fill("#auc-duration", "10");
  await host.page.fill("#auc-soft", "2");
  await host.page.click("[data-auction-form] button[type=submit]");
  await ann.page.waitForSelector("[data-auction]:not([hidden])");
  await ben.page.waitForSelector("[data-auction]:not([hidden])");
  await ben.page.click("[data-bid-min]");
  await ann.page.waitForSelector("[data-auction-bids]:text-is('1')");
  await ann.page.fill("[data-bid-max]", "20");
  await ann.page.click("[data-bid-proxy]");
  await ann.page.waitForSelector("[data-auction-leader]:text-is('You lead')");
  await shot(ann.page, "live-auction");
  await ann.page.waitForSelector("[data-pay-win]", { timeout: 30000 });
  assert.match(await ben.page.textContent("[data-auction-result]"), /won at \$11\.00/);
  await ann.page.click("[data-pay-win]");
  await pay(ann.page);
  for (const s of [host, ann, ben]) await s.ctx.close();
});

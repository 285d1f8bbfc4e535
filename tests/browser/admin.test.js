// The operator's side in a real browser: the dashboard and a refund.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startShop, shot, logIn, deliverTo, payWith } from "./harness.js";

let shop;
before(async () => { shop = await startShop(); });
after(async () => { await shop?.stop(); });


test("a customer buys; the admin sees it on the dashboard and refunds it", async () => {
  const cctx = await shop.browser.newContext();
  const buyer = await logIn(shop, cctx, "chloe@example.com", "/account");
  await buyer.goto(`${shop.base}/search?q=tote`);
  await buyer.click(".product-card a");
  await buyer.click("button:has-text('Add to cart')");
  await buyer.goto(`${shop.base}/checkout`);
  await deliverTo(buyer, { name: "Chloe Shopper", line1: "9 King William St", suburb: "Adelaide", state: "SA", postcode: "5000" });
  await payWith(buyer);
  await buyer.waitForSelector("[data-confirmed]");
  const number = (await buyer.textContent("h1")).replace("Order ", "").trim();

  const actx = await shop.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await logIn(shop, actx, "admin@lsn.local", "/admin");
  assert.notEqual(await admin.textContent("[data-kpi=orders]"), "0");
  await shot(admin, "admin-desktop");
  await admin.click("a[href='/admin/orders']");
  await admin.click(`a:has-text('${number}')`);
  await admin.waitForSelector("[data-status]:text-is('Paid')");
  await admin.check("input[name=restock]");
  await admin.click("[data-refund-form] button[type=submit]");
  await admin.waitForSelector("[data-admin-notice]");
  assert.equal(await admin.textContent("[data-status]"), "Refunded");
  await shot(admin, "admin-refund");
  await buyer.goto(`${shop.base}/orders/${number}`);
  assert.equal(await buyer.textContent("[data-status]"), "Refunded");

  // A customer is kept out.
  const res = await buyer.goto(`${shop.base}/admin`);
  assert.equal(res.status(), 403);
  await cctx.close();
  await actx.close();
});

test("the dashboard on a phone", async () => {
  const ctx = await shop.browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await logIn(shop, ctx, "admin@lsn.local", "/admin");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `dashboard is ${overflow}px wider than the phone`);
  await shot(page, "admin-phone");
  await ctx.close();
});

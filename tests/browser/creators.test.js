// The creator portal in a real browser: the demo's creator signs in, sees their own figures,
// makes a link and sees its QR code; the other demo creator's data never shows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startShop, shot, logIn } from "./harness.js";

let shop;
before(async () => { shop = await startShop(); });
after(async () => { await shop?.stop(); });

test("a creator opens the portal, makes a link and sees its QR code, and only their own data", async () => {
  const ctx = await shop.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await logIn(shop, ctx, "creator@lsn.local", "/account");
  const res = await page.goto(`${shop.base}/creator`);
  assert.equal(res.status(), 200);
  assert.equal((await page.textContent("[data-creator-handle]")).trim(), "@mia");
  for (const k of ["pending", "available", "held", "paid", "reversed"]) {
    assert.match(await page.textContent(`[data-balance=${k}]`), /\$\d/);
  }
  // The demo attributes some of its orders to Mia's links and shows.
  assert.notEqual((await page.textContent("[data-stat=clicks]")).trim(), "0");
  assert.ok(await page.isVisible("[data-shows] a"), "Mia's scheduled show is listed");
  await shot(page, "creator-overview");

  await page.click("a[href='/creator/links']");
  await page.waitForURL((u) => u.pathname === "/creator/links");
  assert.ok(await page.isVisible("[data-link=mia-linen] svg.qr"), "the demo link has its QR code");
  await page.fill("#f-target", "/search?q=tote");
  await page.fill("#f-label", "Browser test");
  await page.fill("#f-code", "mia-browser");
  await page.click("[data-link-form] button[type=submit]");
  await page.waitForURL((u) => u.pathname === "/creator/links" && u.search.includes("notice="));
  const card = page.locator("[data-link=mia-browser]");
  assert.equal((await card.locator("[data-link-url]").textContent()).trim(), `${shop.base}/r/mia-browser`);
  const qr = card.locator("svg.qr");
  assert.ok(await qr.isVisible(), "the new link's QR code shows");
  const box = await qr.boundingBox();
  assert.ok(box.width >= 100 && box.height >= 100, `QR code is ${box.width}×${box.height}`);
  await shot(page, "creator-links");
  // Only Mia's links: none of Noah's.
  const html = await page.content();
  assert.ok(!html.includes("noah-tech") && !html.includes("Noah Creator"), "another creator's link shows");

  // The link works: a visitor who follows it lands on its page.
  const vctx = await shop.browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${shop.base}/r/mia-browser`);
  assert.equal(new URL(visitor.url()).pathname, "/search");
  await vctx.close();

  // Noah sees his own link, not Mia's.
  const nctx = await shop.browser.newContext();
  const noah = await logIn(shop, nctx, "noah@lsn.local", "/account");
  await noah.goto(`${shop.base}/creator/links`);
  const theirs = await noah.content();
  assert.ok(theirs.includes("noah-tech") && !theirs.includes("mia-browser") && !theirs.includes("mia-linen"));
  // And the admin is not theirs.
  assert.equal((await noah.goto(`${shop.base}/admin/creators`)).status(), 403);
  await nctx.close();
  await ctx.close();
});

// A shopper's whole journey in a real browser, a declined card, and the phone layout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startShop, shot, mailTo, deliverTo, payWith } from "./harness.js";

let shop;
before(async () => { shop = await startShop(); });
after(async () => { await shop?.stop(); });


test("register → search → product → cart → checkout with 4242 → confirmation → order in account", async () => {
  const ctx = await shop.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(shop.base + "/");
  await shot(page, "home-desktop");
  await page.click("text=Register");
  await page.fill("#f-name", "Ann Browser");
  await page.fill("#f-email", "ann.browser@example.com");
  await page.fill("#f-password", "a long enough browser passphrase");
  await page.click("button:has-text('Create account')");
  await page.waitForSelector("[data-registered]");
  const mail = await mailTo(shop, "ann.browser@example.com");
  const link = mail.text.match(/https?:\/\/\S+verify\?token=\S+/)[0];
  await page.goto(link);
  await page.waitForSelector("a[href='/account']");

  await page.fill("#site-q", "linen");
  await page.press("#site-q", "Enter");
  await page.waitForSelector(".product-card");
  await shot(page, "search");
  await page.click(".product-card a");
  await page.waitForSelector("[data-price]");
  await shot(page, "product-desktop");
  await page.click("button:has-text('Add to cart')");
  await page.waitForURL(/\/cart/);
  assert.equal(await page.textContent("[data-cart-count]"), "1");
  await page.click("a[href='/checkout']");
  await page.waitForURL(/\/checkout$/);
  await shot(page, "checkout");
  await deliverTo(page);
  await payWith(page);
  await page.waitForSelector("[data-confirmed]");
  const number = (await page.textContent("h1")).replace("Order ", "").trim();
  await shot(page, "order-confirmation");
  await page.goto(shop.base + "/account");
  await shot(page, "account");
  const rows = await page.textContent("[data-orders]");
  assert.ok(rows.includes(number), `account lists ${number}`);
  await ctx.close();
});

test("a declined card shows a clear message and takes no money", async () => {
  const ctx = await shop.browser.newContext();
  const page = await ctx.newPage();
  await page.goto(shop.base + "/search?q=tee");
  await page.click(".product-card a");
  await page.click("button:has-text('Add to cart')");
  await page.goto(shop.base + "/checkout");
  await page.fill("#f-email", "declined@example.com");
  await deliverTo(page);
  await payWith(page, "4000 0000 0000 0002");
  const msg = await page.textContent("[data-payment-error]");
  assert.match(msg, /declined/i);
  assert.equal(await page.locator("[data-confirmed]").count(), 0);
  await shot(page, "payment-declined");
  await ctx.close();
});

test("the storefront on a 360 px phone", async () => {
  const ctx = await shop.browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await ctx.newPage();
  await page.goto(shop.base + "/");
  // Nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  await shot(page, "home-phone");
  await page.goto(shop.base + "/search?q=linen");
  await page.click(".product-card a");
  await page.waitForSelector("[data-price]");
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow2 <= 0, `product page is ${overflow2}px wider than the phone`);
  await shot(page, "product-phone");
  await ctx.close();
});


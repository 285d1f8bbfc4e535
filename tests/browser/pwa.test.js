// The installable app: manifest, icons, service worker, and the offline page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startShop, shot } from "./harness.js";

let shop;
before(async () => { shop = await startShop(); });
after(async () => { await shop?.stop(); });

test("installable: a manifest with icons, a service worker, an offline page", async () => {
  const ctx = await shop.browser.newContext();
  const page = await ctx.newPage();
  const m = await (await ctx.request.get(`${shop.base}/manifest.webmanifest`)).json();
  assert.equal(m.display, "standalone");
  assert.equal(m.start_url, "/");
  assert.ok(m.icons.some((i) => i.sizes === "512x512"));
  for (const i of m.icons) assert.equal((await ctx.request.get(shop.base + i.src)).status(), 200, i.src);
  await page.goto(shop.base + "/");
  const state = await page.evaluate(async () => {
    const sw = (await navigator.serviceWorker.ready).active;
    if (sw.state !== "activated") await new Promise((r) => sw.addEventListener("statechange", () => sw.state === "activated" && r()));
    return sw.state;
  });
  assert.equal(state, "activated");
  await page.reload();
  assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), true, "the worker controls the page");
  // The network goes away (the server stops): a page visit gets the offline page.
  await shop.stopServer();
  await page.goto(shop.base + "/search?q=anything", { waitUntil: "domcontentloaded" });
  await page.waitForSelector("[data-offline]");
  await shot(page, "offline");
  await ctx.close();
});

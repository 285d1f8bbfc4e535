// Starts a fresh LSN (demo data, its own data directory and port) and headless Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
export const artifacts = process.env.LSN_BROWSER_ARTIFACTS || join(root, "target", "browser-artifacts");
mkdirSync(artifacts, { recursive: true });

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

export async function startShop() {
  const dir = mkdtempSync(join(tmpdir(), "lsn-browser-"));
  const port = await freePort();
  const bin = process.env.LSN_BIN || join(root, "target", "debug", "lsn");
  const env = { ...process.env, LSN_DATA_DIR: dir, PORT: String(port), LSN_LOG: "warn", LSN_DEMO: "true", LSN_PUBLIC_URL: `http://127.0.0.1:${port}` };
  delete env.DATABASE_URL;
  const proc = spawn(bin, ["serve"], { env, stdio: ["ignore", "inherit", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({
    executablePath: process.env.LSN_CHROMIUM || "/usr/bin/chromium",
    // The shoppers here are in Australia: their browsers ask for English (Australia), so pages
    // and the live script write amounts as "$11.00" (a US browser gets "A$11.00").
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--lang=en-AU"],
  });
  // Every context (and page) of these tests is an Australian shopper's unless it says otherwise.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = (options = {}) => newContext({ locale: "en-AU", ...options });
  const exited = new Promise((r) => proc.once("exit", r));
  return {
    base,
    browser,
    /// Stops the server but keeps the browser (to see what a visitor gets when it is gone).
    async stopServer() {
      proc.kill("SIGTERM");
      await exited;
    },
    async stop() {
      await browser.close();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/// The newest mail to `to` in the development mailbox (read as the demo admin).
export async function mailTo(shop, to) {
  const ctx = await shop.browser.newContext();
  try {
    const login = await ctx.request.post(`${shop.base}/api/auth/login`, { data: { email: "admin@lsn.local", password: "lsn-demo-password" } });
    if (!login.ok()) throw new Error(`admin login: ${login.status()}`);
    for (let i = 0; i < 50; i++) {
      const r = await ctx.request.get(`${shop.base}/api/v1/admin/mailbox?to=${encodeURIComponent(to)}`);
      const { messages } = await r.json();
      if (messages.length) return messages[0];
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no mail to ${to}`);
  } finally {
    await ctx.close();
  }
}

/// Signs `email` in (demo password) in a new page of `ctx` and waits to land on `next`.
export async function logIn(shop, ctx, email, next = "/account") {
  const page = await ctx.newPage();
  await page.goto(`${shop.base}/login?next=${encodeURIComponent(next)}`);
  await page.fill("#f-email", email);
  await page.fill("#f-password", "lsn-demo-password");
  await page.click("button:has-text('Log in')");
  await page.waitForURL((u) => u.pathname === next);
  return page;
}

/// On a checkout form: an address, then on to the payment page.
export async function deliverTo(page, { name = "Ann Browser", line1 = "1 George St", suburb = "Sydney", state = "NSW", postcode = "2000" } = {}) {
  await page.fill("#f-name", name);
  await page.fill("#f-line1", line1);
  await page.fill("#f-suburb", suburb);
  await page.selectOption("#f-state", state);
  await page.fill("#f-postcode", postcode);
  await page.click("button:has-text('Continue to payment')");
  await page.waitForURL(/\/pay$/);
}

/// On the payment page: pays with a sandbox test card.
export async function payWith(page, card = "4242 4242 4242 4242") {
  await page.fill("#f-card_number", card);
  await page.click("button:has-text('Pay')");
}

// LSN's small progressive enhancements. Every page works without this file.

// Keep the cart badge true after the cart changes in another tab.
const badge = document.querySelector("[data-cart-count]");
if (badge) {
  window.addEventListener("pageshow", async (e) => {
    if (!e.persisted) return;
    try {
      const r = await fetch("/api/v1/cart", { credentials: "same-origin" });
      if (r.ok) badge.textContent = String((await r.json()).cart.item_count);
    } catch (_) { /* offline: keep what the page says */ }
  });
}

// Countdowns: <time data-countdown="<epoch ms>"> shows m:ss until then.
for (const el of document.querySelectorAll("[data-countdown]")) {
  const until = Number(el.dataset.countdown);
  const tick = () => {
    const left = Math.max(0, Math.round((until - Date.now()) / 1000));
    el.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left > 0) setTimeout(tick, 250);
  };
  tick();
}

// Installable app: the service worker caches static assets and serves an offline page.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => { /* not fatal: the shop works without it */ });
}

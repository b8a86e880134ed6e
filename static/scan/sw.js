/* Service worker of the phone scanner: the page shell and its assets load offline once opened.
 * API calls are never cached: offline, the page itself queues redemptions in IndexedDB. */
const VERSION = "__VERSION__";
const CACHE = `pn-scan-${VERSION}`;
const SHELL = "/scan";
const ASSETS = [
  SHELL,
  `/static/scan/offline-rules.js?v=${VERSION}`,
  `/static/scan/app.js?v=${VERSION}`,
  `/static/scan/scan.css?v=${VERSION}`,
  `/static/vendor/jsqr/jsQR.js?v=${VERSION}`,
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("pn-scan-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === SHELL || url.pathname.startsWith("/v/")) {
    // Network first (fresh shell), the cached shell when offline; /v/{token} is the same shell.
    event.respondWith(
      fetch(event.request).then((response) => {
        if (response.ok && url.pathname === SHELL) {
          const copy = response.clone();
          caches.open(CACHE).then((c) => c.put(SHELL, copy));
        }
        return response;
      }).catch(() => caches.match(SHELL))
    );
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
  }
});

/* Pass numérique – phone scanner.
 * The server decides everything. The rules the phone applies without the network (reading a code,
 * the short code's check character, the QR token's signature, dates, cancelled booklets) are in
 * offline-rules.js, loaded before this file; here are the screens and the offline queue
 * (IndexedDB, synced when online).
 */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const STATIC = document.body.dataset.static || "/static";
  const VERSION = document.body.dataset.version || "1";
  const SESSION_KEY = "pn-scan-session";
  const CONTEXT_KEY = "pn-scan-context";
  const BUNDLE_KEY = "pn-scan-bundle";
  const TIMEOUT_MS = 8000;
  const LOGIN_URL = document.body.dataset.login || "/staff/login?suite=/scan";
  // After a result the same voucher is usually still in front of the camera: its code is ignored
  // this long after the camera reopens, instead of being refused at once (as already used).
  const JUST_REDEEMED_MS = 8000;
  const PROBE_MS = 5000;

  // ---------------------------------------------------------------- codes (rules: offline-rules.js)
  const RULES = window.PNOfflineRules;
  // The scanner's wording of the refusals the phone finds itself (the server words its own).
  const REFUSALS = {
    invalid_code_format: "Le code doit contenir 12 caractères (chiffres et lettres, sans I, L, O ni U).",
    invalid_checksum: "Erreur de frappe : ce code n'existe pas (caractère de contrôle faux). Vérifiez chaque caractère.",
    unknown_code: "Code inconnu : ce QR code n'est pas un chèque Pass numérique authentique.",
    cancelled: "Ce chèque a été annulé (carnet perdu, volé ou remplacé).",
    not_yet_valid: "Ce chèque n'est valable qu'à partir du {date}.",
    expired: "Ce chèque a expiré le {date}.",
  };
  function refusalText(code, date) { return (REFUSALS[code] || "Code refusé.").replace("{date}", frDate(date)); }
  function group(code) { return (code.match(/.{1,4}/g) || []).join("-"); }

  // ---------------------------------------------------------------- state
  const state = {
    session: JSON.parse(localStorage.getItem(SESSION_KEY) || "null"),
    context: JSON.parse(localStorage.getItem(CONTEXT_KEY) || "null"),
    bundle: JSON.parse(localStorage.getItem(BUNDLE_KEY) || "null"),
    basket: [],        // [{code, serial, number, booklet_id, valid_until, remaining, themes}]
    offline: false,    // the current session was checked offline
    unverified: false, // manual entry offline: not checked at all
    adding: false,
    networkDown: false, // a request failed although the browser says it is online
    pendingResult: null, // request id of the queued redemption the result screen shows
    justHandled: { codes: [], until: 0, note: "" }, // the last result's codes, for the camera
    lastCode: null,
  };

  function say(text) { const live = $("live"); live.textContent = ""; setTimeout(() => { live.textContent = text; }, 30); }
  function isOnline() { return navigator.onLine !== false && !state.networkDown; }
  function todayISO() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }
  function frDate(iso) { if (!iso) return ""; const [y, m, d] = iso.slice(0, 10).split("-"); return `${d}/${m}/${y}`; }
  function frTime(iso) { return new Date(iso).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" }); }
  function euros(cents) { return (cents / 100).toLocaleString("fr-FR", { style: "currency", currency: "EUR" }); }
  function themeLabel(code) { return (state.context && state.context.theme_labels[code]) || code; }
  function csrfToken() { const meta = document.querySelector('meta[name="csrf-token"]'); return meta ? meta.content : ""; }
  // Booklet id -> {serial, face_value_cents} from the offline bundle (a QR token carries only the id).
  function bookletFromBundle(id) {
    for (const run of (state.bundle && state.bundle.booklet_runs) || []) {
      if (id >= run.first_id && id < run.first_id + run.count) {
        const n = String(run.first_number + (id - run.first_id)).padStart(run.digits, "0");
        return { serial: run.serial_prefix + (run.digits ? n : ""), face_value_cents: run.face_value_cents };
      }
    }
    return null;
  }
  // One fresh id per redemption the agent confirms (a tap on « Encaisser »), never reused for another
  // body: the server refuses a used id with another body (request_id_reused). Only a retry of the
  // same redemption keeps its id: the offline queue stores it with the item.
  function requestId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------- API
  class NetworkError extends Error {}
  // A gateway's answer means the service was not reached: the same as no network.
  const UNREACHABLE = new Set([502, 503, 504]);
  async function api(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (!path.startsWith("/api/")) headers["X-CSRFToken"] = csrfToken(); // pages' routes: cookie + CSRF
    else if (token || state.session) headers.Authorization = `Bearer ${token || state.session.token}`;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctrl.signal, cache: "no-store" });
    } catch (e) {
      networkState(true);
      throw new NetworkError(String(e));
    } finally {
      clearTimeout(timer);
    }
    if (UNREACHABLE.has(response.status)) { networkState(true); throw new NetworkError(`HTTP ${response.status}`); }
    networkState(false);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && state.session && path.startsWith("/api/")) {
      await forgetSession();
      start(); // the staff session may still be open: it gives a new token, else the sign-in
      throw new Error("not_authenticated");
    }
    return { ok: response.ok, status: response.status, data };
  }

  // ---------------------------------------------------------------- views
  const VIEWS = ["view-loading", "view-login", "view-scan", "view-confirm", "view-result"];
  function show(id) {
    for (const v of VIEWS) $(v).hidden = v !== id;
    $("today").hidden = !(id === "view-scan" || id === "view-result") || !state.session;
    if (id === "view-scan") startCamera(); else stopCamera();
    const heading = $(id).querySelector("h1");
    if (heading && heading.tabIndex === -1) heading.focus();
  }
  function networkState(down) {
    if (state.networkDown === down) return;
    state.networkDown = down;
    setNet();
    if (!down) syncQueue();
  }
  function setNet() {
    const el = $("net-status");
    el.hidden = isOnline();
    el.textContent = "Hors connexion : chèques vérifiés sur le téléphone, envoyés au retour du réseau.";
    document.body.dataset.online = String(isOnline());
  }

  // ---------------------------------------------------------------- session
  // One sign-in: the staff pages' (/staff/login). Signed in there, the page trades the session
  // cookie for the scanner's own 30-day bearer token (POST /scan/session), kept on the phone.
  async function signInFromStaffSession() {
    let answer;
    try { answer = await api("POST", "/scan/session"); } catch (e) {
      showLogin("Pas de réseau : la première connexion demande Internet."); return false;
    }
    if (answer.status === 401) { location.replace(LOGIN_URL); return false; }
    if (answer.status === 403 && answer.data && answer.data.code === "password_change_required") {
      showLogin("Mot de passe temporaire : choisissez le vôtre dans l'espace professionnel (/staff/), puis revenez ici.");
      return false;
    }
    if (!answer.ok) {
      showLogin(answer.status === 403 ? "Cette page est réservée aux agents des lieux de médiation." : "Connexion impossible : réessayez.");
      return false;
    }
    // An answer that is not the token (a sign-in page on the way): the staff sign-in.
    if (!(answer.data && answer.data.token)) { location.replace(LOGIN_URL); return false; }
    state.session = { token: answer.data.token.token, tokenId: answer.data.token.id, user: answer.data.user };
    localStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    return true;
  }
  async function showLogin(message) {
    const pending = (await queueAll()).filter((i) => i.status === "pending").length;
    $("login-error").textContent = [message, pending ? `${pending} encaissement${pending > 1 ? "s" : ""} en attente : reconnectez-vous pour les envoyer.` : ""].filter(Boolean).join(" ");
    show("view-login");
  }
  async function forgetSession() {
    state.session = null; state.context = null;
    localStorage.removeItem(SESSION_KEY); localStorage.removeItem(CONTEXT_KEY);
    $("logout").hidden = true; $("site-name").textContent = "";
  }
  async function revokeToken() {
    if (!state.session) return;
    try { await api("DELETE", `/api/v1/auth/tokens/${state.session.tokenId}`); } catch (e) { /* offline: the token expires anyway */ }
  }
  async function logout() {
    await revokeToken();
    // The staff session too: one sign-in, one sign-out.
    try { await fetch("/staff/logout", { method: "POST", headers: { "X-CSRFToken": csrfToken() }, redirect: "manual" }); } catch (e) { /* offline */ }
    await forgetSession();
    // One sign-in, one sign-out: back to the staff sign-in (which returns here), unless offline.
    if (isOnline()) location.replace(LOGIN_URL); else showLogin("");
  }

  async function refreshContext() {
    try {
      const ctx = await api("GET", "/api/v1/scanner/context");
      if (ctx.ok) { state.context = ctx.data; localStorage.setItem(CONTEXT_KEY, JSON.stringify(ctx.data)); }
      const bundle = await api("GET", "/api/v1/scanner/offline-bundle");
      if (bundle.ok) { state.bundle = bundle.data; localStorage.setItem(BUNDLE_KEY, JSON.stringify(bundle.data)); }
    } catch (e) { /* offline: keep what was synced */ }
    if (state.bundle) document.body.dataset.bundle = "ready";
  }

  async function start() {
    setNet();
    // Someone else signed in on the staff pages of this phone: the scanner becomes theirs.
    const staffUser = document.body.dataset.staffUser;
    if (state.session && staffUser && String(state.session.user.user_id) !== staffUser && isOnline()) {
      await revokeToken();
      await forgetSession();
    }
    if (!state.session && !(await signInFromStaffSession())) return;
    $("logout").hidden = false;
    await refreshContext();
    if (state.context) {
      $("site-name").textContent = state.context.site.name;
    }
    const pendingCode = location.pathname.startsWith("/v/") ? location.href : null;
    if (pendingCode) history.replaceState(null, "", "/scan"); // keep the token out of history
    show("view-scan");
    renderToday();
    syncQueue();
    if (pendingCode) handleCode(pendingCode);
  }

  // ---------------------------------------------------------------- camera
  let stream = null, scanning = false, detector = null, canvas = null, lastTry = 0;
  async function startCamera() {
    if (stream || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      if (!stream) $("camera-status").textContent = "Caméra indisponible : saisissez le code ci-dessous.";
      scanning = !!stream; if (stream) requestAnimationFrame(tick);
      return;
    }
    $("camera-status").textContent = "Ouverture de la caméra…";
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } } });
    } catch (e) {
      $("camera-status").textContent = "Caméra refusée ou absente : saisissez le code ci-dessous.";
      return;
    }
    if ($("view-scan").hidden) { stopCamera(); return; }
    const video = $("video");
    video.srcObject = stream;
    await video.play().catch(() => {});
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { detector = null; }
    }
    if (!detector && !window.jsQR) await loadScript(`${STATIC}/vendor/jsqr/jsQR.js?v=${VERSION}`);
    $("camera-status").textContent = "Placez le QR code du chèque dans le cadre.";
    document.body.dataset.camera = detector ? "barcodedetector" : "jsqr";
    scanning = true;
    requestAnimationFrame(tick);
  }
  function stopCamera() {
    scanning = false;
    if (stream) { for (const t of stream.getTracks()) t.stop(); stream = null; $("video").srcObject = null; }
  }
  function loadScript(src) {
    return new Promise((resolve) => { const s = document.createElement("script"); s.src = src; s.onload = resolve; s.onerror = resolve; document.head.appendChild(s); });
  }
  async function tick(now) {
    if (!scanning) return;
    const video = $("video");
    if (now - lastTry > 150 && video.readyState >= 2 && video.videoWidth) {
      lastTry = now;
      const text = await decodeFrame(video);
      if (text && scanning && justHandled(text)) {
        $("camera-status").textContent = state.justHandled.note;
      } else if (text && scanning) {
        scanning = false;
        if (navigator.vibrate) navigator.vibrate(80);
        handleCode(text);
        return;
      }
    }
    requestAnimationFrame(tick);
  }
  function codeOf(text) { const read = RULES.parse(text); return read.token || read.shortCode || RULES.normalise(text); }
  function justHandled(text) {
    return Date.now() < state.justHandled.until && state.justHandled.codes.includes(codeOf(text));
  }
  async function decodeFrame(video) {
    if (detector) {
      try { const codes = await detector.detect(video); return codes.length ? codes[0].rawValue : null; } catch (e) { return null; }
    }
    if (!window.jsQR) return null;
    const scale = Math.min(1, 640 / video.videoWidth);
    const w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
    canvas = canvas || document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, w, h);
    const found = window.jsQR(g.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  // ---------------------------------------------------------------- manual entry
  function onCodeInput() {
    const input = $("code");
    // A QR URL, pasted or typed by a wedge scanner one character at a time: left as it is typed
    // (grouping "https" as a short code would turn it into "HTTP-S").
    const lower = input.value.toLowerCase();
    const urlStart = lower !== "" && ("https://".startsWith(lower) || "http://".startsWith(lower));
    if (urlStart || RULES.parse(input.value).token || input.value.includes("/")) return;
    const raw = RULES.normalise(input.value).slice(0, 12);
    const grouped = group(raw);
    if (grouped !== input.value) {
      input.value = grouped;
      input.setSelectionRange(grouped.length, grouped.length);
    }
    const refused = raw.length === 12 ? RULES.parse(raw).refusal : null;
    const problem = refused ? refusalText(refused) : null;
    $("code-error").textContent = problem || "";
    input.setAttribute("aria-invalid", problem ? "true" : "false");
  }
  function onCodeSubmit(event) {
    event.preventDefault();
    const value = $("code").value.trim();
    if (!value) { $("code-error").textContent = "Saisissez le code imprimé sous le QR code."; $("code").focus(); return; }
    const refused = RULES.parse(value).refusal;
    if (refused) {
      const problem = refusalText(refused);
      $("code-error").textContent = problem;
      $("code").setAttribute("aria-invalid", "true");
      $("code").focus();
      say(problem);
      return;
    }
    $("code-error").textContent = "";
    handleCode(value);
  }

  // ---------------------------------------------------------------- look-up and confirmation
  async function handleCode(text) {
    stopCamera();
    const token = RULES.parse(text).token || null;
    const code = codeOf(text);
    state.lastCode = code;
    if (state.basket.some((v) => v.code === code)) {
      say("Ce chèque est déjà dans la séance.");
      showConfirm();
      return;
    }
    if (isOnline()) {
      try {
        const answer = await api("POST", "/api/v1/vouchers/lookup", { code: token || text });
        $("code").value = "";
        if (!answer.ok) return showRefusal((answer.data && answer.data.message) || "Code refusé.", answer.data && answer.data.code);
        const r = answer.data;
        if (!r.ok) return showRefusal(r.message, r.code);
        addToBasket({ code, serial: r.booklet_serial, number: r.number, voucher_count: r.voucher_count, remaining: r.remaining, valid_until: r.valid_until, face_value_cents: r.face_value_cents, themes: r.themes });
        return;
      } catch (e) {
        if (!(e instanceof NetworkError)) return; // api() has set the offline banner on a network failure
      }
    }
    await offlineCheck(text);
  }

  function addToBasket(voucher, offline = false, unverified = false) {
    if (!state.basket.length) { state.offline = offline; state.unverified = unverified; }
    else { state.offline = state.offline || offline; state.unverified = state.unverified || unverified; }
    state.basket.push(voucher);
    state.adding = false;
    $("code").value = "";
    showConfirm();
  }

  function showConfirm() {
    const first = state.basket[0], last = state.basket[state.basket.length - 1];
    $("c-serial").textContent = first.serial || (state.unverified ? "non vérifié" : "inconnu (hors connexion)");
    const amount = basketCents();
    $("c-amount").textContent = amount == null ? "inconnu (hors connexion)" : euros(amount);
    $("c-numbers").textContent = state.basket.map((v) => (v.number ? `n° ${v.number}` : group(v.code))).join(", ");
    // Offline the count is unknown: the row goes, so the button stays above the fold.
    $("c-remaining").parentElement.hidden = last.remaining == null;
    $("c-remaining").textContent = last.remaining != null ? `${Math.max(0, last.remaining - (state.basket.length - 1))} sur ${last.voucher_count}` : "";
    $("c-valid").textContent = last.valid_until ? frDate(last.valid_until) : "inconnu";
    $("confirm-title").textContent = state.unverified ? "Code à vérifier" : state.basket.length > 1 ? `${state.basket.length} chèques valables` : "Chèque valable";
    document.querySelector("#view-confirm .verdict").className = state.unverified ? "verdict pending" : "verdict ok";
    document.querySelector("#view-confirm .verdict .icon").textContent = state.unverified ? "!" : "✓";
    const warn = $("confirm-warning");
    warn.hidden = !state.offline;
    warn.textContent = state.unverified
      ? "Hors connexion : ce code saisi n'a pas pu être vérifié. L'encaissement sera contrôlé au retour du réseau ; en cas de refus, il sera signalé au coordinateur."
      : "Vérifié hors connexion (signature et dates), envoyé au retour du réseau.";
    renderThemes(first.themes);
    const what = state.basket.length > 1 ? `les ${state.basket.length} chèques` : "ce chèque";
    $("redeem").textContent = amount == null ? `Encaisser ${what}` : `Encaisser ${euros(amount)}`;
    $("redeem").setAttribute("aria-label", amount == null ? `Encaisser ${what}` : `Encaisser ${what} : ${euros(amount)}`);
    $("theme-error").textContent = "";
    show("view-confirm");
    say(`${$("confirm-title").textContent}. Carnet ${first.serial || ""}. ${amount == null ? "" : euros(amount) + ". "}Choisissez le thème de l'atelier puis encaissez.`);
  }
  function basketCents() {
    if (state.basket.some((v) => v.face_value_cents == null)) return null;
    return state.basket.reduce((sum, v) => sum + v.face_value_cents, 0);
  }

  // The voucher's programme says which themes of the national list it funds (offline: every active
  // programme's). One select: the site's most used themes first, then all of them by label.
  function renderThemes(themes) {
    const select = $("theme");
    const chosen = select.value;
    const list = themes && themes.length ? themes : ((state.context && state.context.themes) || []).map((t) => t.code);
    const frequent = ((state.context && state.context.frequent_themes) || []).filter((c) => list.includes(c));
    const others = list.filter((c) => !frequent.includes(c)).sort((a, b) => themeLabel(a).localeCompare(themeLabel(b), "fr"));
    const option = (code) => { const o = document.createElement("option"); o.value = code; o.textContent = themeLabel(code); return o; };
    const group = (label, codes) => { const g = document.createElement("optgroup"); g.label = label; g.append(...codes.map(option)); return g; };
    const placeholder = document.createElement("option");
    placeholder.value = ""; placeholder.textContent = "Choisissez le thème…";
    select.replaceChildren(placeholder);
    if (frequent.length) select.append(group("Les plus utilisés ici", frequent), group("Tous les thèmes", others));
    else select.append(...others.map(option));
    select.value = list.includes(chosen) ? chosen : list.length === 1 ? list[0] : "";
  }

  function resetSession() { state.basket = []; state.offline = false; state.unverified = false; state.adding = false; state.pendingResult = null; }
  function rememberHandled(codes, note) { state.justHandled = { codes, until: 0, note }; }
  const REDEEMED_NOTE = "Ce chèque vient d'être encaissé : présentez le chèque suivant.";

  async function redeem(event) {
    event.preventDefault();
    const theme = $("theme").value;
    if (!theme) { $("theme-error").textContent = "Choisissez le thème de l'atelier."; $("theme").focus(); say("Choisissez le thème de l'atelier."); return; }
    const body = { codes: state.basket.map((v) => v.code), theme, request_id: requestId() };
    const button = $("redeem");
    button.disabled = true;
    try {
      if (state.offline || !isOnline()) return await enqueue(body);
      let answer;
      try { answer = await api("POST", "/api/v1/redemptions", body); } catch (e) {
        if (e instanceof NetworkError) return await enqueue(body); // same request id: counted once whatever happened
        return;
      }
      if (!answer.ok) return showRefusal((answer.data && answer.data.message) || "Encaissement refusé.", answer.data && answer.data.code);
      const r = answer.data;
      resetSession();
      rememberHandled(body.codes, REDEEMED_NOTE);
      showResult("ok", r.redeemed.length > 1 ? `${r.redeemed.length} chèques encaissés` : "Chèque encaissé",
        `${euros(r.total_cents)} · ${themeLabel(r.theme)}`,
        `Carnet ${r.booklet_serial} : ${r.remaining} chèque(s) restant(s), valable jusqu'au ${frDate(r.valid_until)}.`);
      renderToday();
    } finally {
      button.disabled = false;
    }
  }

  function showRefusal(message, code) {
    resetSession();
    if (code === "too_many_attempts") {
      document.body.dataset.refusal = code;
      return showResult("ko", "Trop de tentatives", message, "Rien n'a été encaissé. Patientez, puis scannez à nouveau.");
    }
    document.body.dataset.refusal = code || "refused";
    showResult("ko", "Chèque refusé", message, "Ne rendez pas le service au titre du Pass numérique avec ce chèque.");
  }
  function showResult(kind, title, message, detail) {
    // A refusal: the voucher last read is likely still in front of the camera.
    if (kind === "ko") rememberHandled([state.lastCode].filter(Boolean), "Ce chèque vient d'être refusé : présentez le chèque suivant.");
    $("result-box").className = `verdict ${kind}`;
    $("result-box").setAttribute("role", kind === "ko" ? "alert" : "status");
    $("result-icon").textContent = kind === "ok" ? "✓" : kind === "ko" ? "✕" : "…";
    $("result-title").textContent = title;
    $("result-message").textContent = message;
    $("result-detail").textContent = detail || "";
    show("view-result");
    say(`${title}. ${message}`);
  }

  // ---------------------------------------------------------------- offline checks
  async function offlineCheck(text) {
    const queued = await queueAll();
    const inQueue = (c) => queued.some((i) => i.status !== "conflict" && i.codes.includes(c));
    const queuedAlready = () => showRefusal("Ce chèque est déjà dans les encaissements en attente d'envoi.", "already_queued");
    if (RULES.parse(text).token && !state.bundle) {
      return showRefusal("Hors connexion et aucune clé de vérification n'a encore été chargée : réessayez avec le réseau.", "offline_no_keys");
    }
    const checked = await RULES.check(text, state.bundle, todayISO());
    if (checked.code !== "ok") return showRefusal(refusalText(checked.code, checked.date), checked.code);
    if (checked.shortCode) {
      if (inQueue(checked.shortCode)) return queuedAlready();
      return addToBasket({ code: checked.shortCode, serial: "", number: 0, remaining: null, valid_until: null, face_value_cents: null, themes: null }, true, true);
    }
    const { claims } = checked;
    const sameBooklet = queued.some((i) => i.status !== "conflict" && i.vouchers && i.vouchers.some((v) => v.booklet_id === claims.booklet_id && v.number === claims.number));
    if (inQueue(checked.token) || sameBooklet) return queuedAlready();
    const booklet = bookletFromBundle(claims.booklet_id);
    addToBasket({ code: checked.token, booklet_id: claims.booklet_id, serial: booklet ? booklet.serial : "", number: claims.number, remaining: null, valid_until: checked.validUntil, face_value_cents: booklet ? booklet.face_value_cents : null, themes: null }, true, false);
  }

  // ---------------------------------------------------------------- offline queue (IndexedDB)
  let dbPromise = null;
  function db() {
    dbPromise = dbPromise || new Promise((resolve, reject) => {
      const open = indexedDB.open("pn-scan", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("queue", { keyPath: "request_id" });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    return dbPromise;
  }
  async function store(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const tx = d.transaction("queue", mode);
      const request = fn(tx.objectStore("queue"));
      tx.oncomplete = () => resolve(request && request.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const queueAll = () => store("readonly", (s) => s.getAll()).then((r) => r || []).catch(() => []);
  const queuePut = (item) => store("readwrite", (s) => s.put(item));
  const queueDelete = (key) => store("readwrite", (s) => s.delete(key));

  async function enqueue(body) {
    const item = {
      ...body,
      occurred_at: new Date().toISOString(),
      status: "pending",
      unverified: state.unverified,
      user_id: state.session.user.user_id,
      vouchers: state.basket.map((v) => ({ booklet_id: v.booklet_id || null, number: v.number, serial: v.serial })),
      label: state.basket.map((v) => (v.number ? `${v.serial || "carnet inconnu"} n° ${v.number}` : group(v.code))).join(", "),
    };
    await queuePut(item);
    resetSession();
    rememberHandled(item.codes, REDEEMED_NOTE);
    state.pendingResult = item.request_id;
    showResult("pending", "En attente d'envoi", `${item.codes.length} chèque(s) · ${themeLabel(item.theme)}`,
      "Enregistré sur ce téléphone. Il sera envoyé automatiquement dès le retour du réseau.");
    renderToday();
  }
  // The result screen of a queued redemption follows its upload: sent, or refused (a conflict).
  function queuedResultSent(item, answer) {
    if (state.pendingResult !== item.request_id || $("view-result").hidden) return;
    state.pendingResult = null;
    if (answer.status === "redeemed") {
      const r = answer.result;
      showResult("ok", r.redeemed.length > 1 ? `${r.redeemed.length} chèques encaissés` : "Chèque encaissé",
        `${euros(r.total_cents)} · ${themeLabel(r.theme)}`,
        `Envoyé au retour du réseau. Carnet ${r.booklet_serial} : ${r.remaining} chèque(s) restant(s).`);
    } else {
      showResult("ko", "Encaissement refusé à l'envoi", answer.message, "Signalé au coordinateur, non payé.");
    }
  }

  // Items queued before version 3 have no user_id (it read a field the session does not have):
  // they belong to whoever is signed in, as they did then.
  function mine(item) { return item.user_id == null || item.user_id === state.session.user.user_id; }

  let syncing = false;
  async function syncQueue() {
    if (syncing || !state.session || !isOnline()) return;
    syncing = true;
    try {
      for (const item of await queueAll()) {
        if (item.status !== "pending" || !mine(item)) continue;
        const body = { codes: item.codes, theme: item.theme, request_id: item.request_id, occurred_at: item.occurred_at };
        let answer;
        try { answer = await api("POST", "/api/v1/scanner/sync", body); } catch (e) { break; }
        if (answer.ok && answer.data.status === "redeemed") {
          await queueDelete(item.request_id);
          queuedResultSent(item, answer.data);
        } else if (answer.ok) {
          await queuePut({ ...item, status: "conflict", message: answer.data.message, conflict_id: answer.data.conflict_id });
          queuedResultSent(item, answer.data);
          say(`Conflit : ${answer.data.message} Signalé au coordinateur.`);
        } else if (answer.status === 429) {
          break; // too many attempts: the item stays pending and goes at the next sync
        } else if (answer.status >= 400 && answer.status < 500) {
          await queuePut({ ...item, status: "conflict", message: (answer.data && answer.data.message) || "Refusé par le serveur." });
        } else break;
      }
    } finally {
      syncing = false;
      document.body.dataset.queue = String((await queueAll()).filter((i) => i.status === "pending").length);
      renderToday();
    }
  }

  // ---------------------------------------------------------------- today's list
  let rendering = null;
  async function renderToday() {
    if (!state.session) return;
    if (rendering) return rendering;
    rendering = (async () => {
      const list = $("today-list");
      const items = [];
      for (const q of (await queueAll()).filter(mine)) {
        items.push(queueItem(q));
      }
      if (isOnline()) {
        try {
          const answer = await api("GET", `/api/v1/redemptions?day=${todayISO()}&limit=200`);
          if (answer.ok) for (const r of answer.data) items.push(redemptionItem(r));
        } catch (e) { /* offline */ }
      }
      list.replaceChildren(...items);
      $("today-empty").hidden = items.length > 0;
    })();
    try { await rendering; } finally { rendering = null; }
  }
  function li(title, tags, detail) {
    const item = document.createElement("li");
    const row = document.createElement("div"); row.className = "row";
    const strong = document.createElement("strong"); strong.textContent = title;
    row.append(strong);
    for (const [cls, text] of tags) { const t = document.createElement("span"); t.className = `tag ${cls}`; t.textContent = text; row.append(t); }
    item.append(row);
    if (detail) { const p = document.createElement("p"); p.className = "muted"; p.textContent = detail; item.append(p); }
    return item;
  }
  function queueItem(q) {
    if (q.status === "conflict") {
      const item = li(`${frTime(q.occurred_at)} · ${q.label}`, [["conflict", "Conflit"]], `${q.message} Signalé au coordinateur, non payé.`);
      const ok = document.createElement("button");
      ok.type = "button"; ok.className = "link-button"; ok.textContent = "J'ai compris";
      ok.addEventListener("click", async () => { await queueDelete(q.request_id); renderToday(); });
      item.append(ok);
      return item;
    }
    return li(`${frTime(q.occurred_at)} · ${q.label}`, [["pending", "En attente"]], `${themeLabel(q.theme)}${q.unverified ? " · code saisi non vérifié" : ""}`);
  }
  function redemptionItem(r) {
    const tags = [];
    if (r.undone_at) tags.push(["undone", "Annulé"]);
    if (r.late) tags.push(["late", "Envoyé en différé"]);
    const item = li(`${frTime(r.redeemed_at)} · ${r.booklet_serial} n° ${r.number}`, tags, `${themeLabel(r.theme)} · ${euros(r.face_value_cents)}`);
    // The server says until when this agent may undo it (agent_undo_until): no window computed here.
    if (!r.undone_at && Date.now() < Date.parse(r.agent_undo_until)) {
      const button = document.createElement("button");
      button.type = "button"; button.className = "link-button"; button.textContent = "Annuler cet encaissement";
      button.setAttribute("aria-label", `Annuler l'encaissement du chèque ${r.booklet_serial} numéro ${r.number}`);
      button.addEventListener("click", () => undoForm(item, r, button));
      item.append(button);
    }
    return item;
  }
  function undoForm(item, r, button) {
    button.hidden = true;
    const form = document.createElement("form"); form.className = "undo-form";
    const id = `undo-${r.id}`;
    const label = document.createElement("label"); label.htmlFor = id; label.textContent = "Motif de l'annulation";
    const input = document.createElement("input"); input.type = "text"; input.id = id; input.value = "Erreur de scan"; input.required = true;
    const submit = document.createElement("button"); submit.type = "submit"; submit.className = "secondary"; submit.textContent = "Confirmer l'annulation";
    form.append(label, input, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const answer = await api("POST", `/api/v1/redemptions/${r.id}/undo`, { reason: input.value });
        say(answer.ok ? "Encaissement annulé : le chèque est de nouveau utilisable." : (answer.data && answer.data.message) || "Annulation refusée.");
      } catch (e) { say("Pas de réseau : l'annulation demande une connexion."); }
      renderToday();
    });
    item.append(form);
    input.focus();
  }

  // ---------------------------------------------------------------- wiring
  function wire() {
    $("logout").addEventListener("click", () => logout());
    $("code").addEventListener("input", onCodeInput);
    $("code-form").addEventListener("submit", onCodeSubmit);
    $("redeem-form").addEventListener("submit", redeem);
    $("add-more").addEventListener("click", () => {
      state.adding = true;
      $("basket-banner").hidden = false;
      $("basket-banner").textContent = `Séance en cours : ${state.basket.length} chèque(s). Scannez ou saisissez le chèque suivant du même carnet.`;
      $("basket-cancel").hidden = false;
      show("view-scan");
    });
    $("basket-cancel").addEventListener("click", () => showConfirm());
    $("confirm-cancel").addEventListener("click", () => { resetSession(); show("view-scan"); });
    $("next").addEventListener("click", () => {
      resetSession();
      if (state.justHandled.codes.length) state.justHandled.until = Date.now() + JUST_REDEEMED_MS;
      show("view-scan");
    });
    const observer = () => { $("basket-banner").hidden = !state.adding; $("basket-cancel").hidden = !state.adding; };
    $("view-scan").addEventListener("focusin", observer);
    new MutationObserver(observer).observe($("view-scan"), { attributes: true, attributeFilter: ["hidden"] });
    window.addEventListener("online", () => { state.networkDown = false; setNet(); refreshContext(); syncQueue(); });
    window.addEventListener("offline", setNet);
    setInterval(probe, PROBE_MS);
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/scan-sw.js", { scope: "/" }).catch(() => {});
  }

  // Every few seconds: after a failed request, ask the server whether it answers again; when
  // online, send the queue.
  async function probe() {
    setNet();
    if (!state.session || navigator.onLine === false) return;
    if (state.networkDown) { try { await api("GET", "/api/v1/scanner/context"); } catch (e) { return; } }
    syncQueue();
  }

  wire();
  start();
  window.pnScanner = { syncQueue, queueAll }; // for support and tests: read-only helpers
})();

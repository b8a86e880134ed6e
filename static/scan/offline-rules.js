/* Pass numérique – the rules the phone scanner applies without the network.
 *
 * The server decides: every redemption queued offline is checked again on upload. Offline, the
 * phone can only mirror what it can check with what it holds (the code itself and the offline
 * bundle: published keys, cancelled booklets, validity extensions). Each mirrored rule and its
 * source of truth:
 *
 *   reading a code        domain/vouchers/codes.py parse_scanned: surrounding whitespace as
 *                         Python's str.strip; over 400 characters is invalid_code_format; a QR URL's
 *                         token after the last "/v/" (before "?" and "#", slashes trimmed) or
 *                         unknown_code; a bare 99-character token; anything else is a short code
 *   short codes           domain/vouchers/short_codes.py normalise: separators " -_." NBSP and tab
 *                         dropped, upper case, O read as 0 and I/L as 1; 12 characters of the
 *                         Crockford alphabet or invalid_code_format; Damm check over GF(32) or
 *                         invalid_checksum
 *   QR tokens             domain/vouchers/voucher_tokens.py verify: base64url of kid(1) booklet(4)
 *                         number(1) valid_from(2) valid_until(2) in days since 2000-01-01 + an
 *                         Ed25519 signature, which the published key of that kid verifies, or
 *                         unknown_code
 *   a voucher on a day    domain/redemption/voucher_state.py refusal: cancelled (the bundle's
 *                         revocation list: offline_sync.offline_bundle), then not_yet_valid, then
 *                         expired (the bundle's extended end of validity, else the token's). A
 *                         cancelled booklet leaves the list once its codes have expired, so a bundle
 *                         fetched after that refuses it as expired where the server says cancelled
 *
 * Not mirrored (the phone cannot know them; the upload may come back as a conflict): a voucher
 * already redeemed elsewhere, stock never issued, the site's accreditation, the programme's themes,
 * a typed short code's voucher. The answers are the server's refusal codes; app.js words them.
 * tests/test_offline_rules.py runs the same cases through the server and this module in Chromium
 * and asserts identical answers.
 */
"use strict";
window.PNOfflineRules = (function () {
  const MAX_INPUT = 400;
  const TOKEN_BYTES = 74;
  const CLAIMS_BYTES = 10;
  const TOKEN_SHAPE = /^[A-Za-z0-9_-]{99}$/;
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const CODE_LENGTH = 12;
  const SEPARATORS = /[ \-_.\u00a0\t]/g;
  // Python's str.isspace() characters, which str.strip() removes (JavaScript's trim() differs).
  const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
  const EPOCH_MS = Date.UTC(2000, 0, 1);

  /** Separators dropped, upper case, O read as 0 and I/L as 1 (no checks: for typing too). */
  function normalise(text) {
    return text.replace(SEPARATORS, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  }

  function timesTwo(value) {
    value <<= 1;
    return value & 32 ? value ^ 0b100101 : value;
  }

  /** null for a well-formed short code (normalised), else its refusal code. */
  function shortCodeRefusal(code) {
    const chars = Array.from(code);
    if (chars.length !== CODE_LENGTH || chars.some((c) => ALPHABET.indexOf(c) < 0)) return "invalid_code_format";
    let interim = 0;
    for (const c of chars) interim = timesTwo(interim) ^ ALPHABET.indexOf(c);
    return interim === 0 ? null : "invalid_checksum";
  }

  /** What a text is before any signature check: {token}, {shortCode} or {refusal}. */
  function parse(text) {
    let value = text.replace(STRIP, "");
    if (Array.from(value).length > MAX_INPUT) return { refusal: "invalid_code_format" };
    if (value.includes("/v/")) {
      value = value.slice(value.lastIndexOf("/v/") + 3).split("?")[0].split("#")[0].replace(/^\/+|\/+$/g, "");
      if (!TOKEN_SHAPE.test(value)) return { refusal: "unknown_code" };
    }
    if (TOKEN_SHAPE.test(value)) return { token: value };
    const code = normalise(value);
    const refusal = shortCodeRefusal(code);
    return refusal ? { refusal } : { shortCode: code };
  }

  function base64urlBytes(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function dayISO(days) {
    return new Date(EPOCH_MS + days * 86400000).toISOString().slice(0, 10);
  }

  const importedKeys = new Map(); // "kid:public key" -> CryptoKey

  /** The claims of a token the published key of its kid verifies, else null. */
  async function verifyToken(token, keys) {
    let raw;
    try { raw = base64urlBytes(token); } catch (e) { return null; }
    if (raw.length !== TOKEN_BYTES) return null;
    const view = new DataView(raw.buffer);
    const claims = {
      kid: raw[0],
      booklet_id: view.getUint32(1),
      number: raw[5],
      valid_from: dayISO(view.getUint16(6)),
      valid_until: dayISO(view.getUint16(8)),
    };
    const published = (keys || []).find((k) => k.kid === claims.kid);
    if (!published) return null;
    const cacheKey = `${published.kid}:${published.public_key}`;
    let key = importedKeys.get(cacheKey);
    try {
      if (!key) {
        key = await crypto.subtle.importKey("raw", base64urlBytes(published.public_key), { name: "Ed25519" }, false, ["verify"]);
        importedKeys.set(cacheKey, key);
      }
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, raw.slice(CLAIMS_BYTES), raw.slice(0, CLAIMS_BYTES));
      return ok ? claims : null;
    } catch (e) {
      return null;
    }
  }

  /** The end of validity: the booklet's extension in the bundle if any, else the token's. */
  function validUntil(claims, bundle) {
    return bundle.valid_until[String(claims.booklet_id)] || claims.valid_until;
  }

  /** Why a verified voucher cannot be redeemed on ``today`` (YYYY-MM-DD): {code, date?} or null. */
  function refusal(claims, bundle, today) {
    if (bundle.cancelled_booklets.includes(claims.booklet_id)) return { code: "cancelled" };
    const until = validUntil(claims, bundle);
    if (today < claims.valid_from) return { code: "not_yet_valid", date: claims.valid_from };
    if (today > until) return { code: "expired", date: until };
    return null;
  }

  /**
   * A scanned or typed text read as the server reads it, signature included:
   * {code: "ok", token, claims}, {code: "ok", shortCode} or {code: refusal}.
   */
  async function read(text, keys) {
    const parsed = parse(text);
    if (parsed.refusal) return { code: parsed.refusal };
    if (parsed.shortCode) return { code: "ok", shortCode: parsed.shortCode };
    const claims = await verifyToken(parsed.token, keys);
    return claims ? { code: "ok", token: parsed.token, claims } : { code: "unknown_code" };
  }

  /**
   * What the phone can tell of a text on ``today`` with the offline bundle (its keys are needed
   * for QR codes only): {code: "ok", token, claims, validUntil} for a QR code, {code: "ok",
   * shortCode} for a typed code (its voucher stays unknown until upload), or {code: refusal, date?}.
   */
  async function check(text, bundle, today) {
    const found = await read(text, bundle && bundle.keys);
    if (found.code !== "ok" || found.shortCode) return found;
    return refusal(found.claims, bundle, today) || { ...found, validUntil: validUntil(found.claims, bundle) };
  }

  return Object.freeze({ normalise, parse, read, refusal, check });
})();

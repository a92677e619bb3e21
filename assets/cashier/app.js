// The cashier page. Plain JavaScript over the agent's native API (see /openapi.json), no build
// step. It signs in with the session cookie the launch link set, and sends the session's CSRF
// value on every call. Money is integer minor units everywhere: amounts typed in rubles are
// parsed as text, never through floating point.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const STRINGS = window.LOYALTY_STRINGS;
  const LANG_KEY = "loyalty.lang";
  const HEALTH_EVERY_MS = 3000;
  const SEARCH_DELAY_MS = 200;

  // ------------------------------------------------------------------------------------------
  // Language

  function preferredLanguage() {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored === "ru" || stored === "en") return stored;
    const first = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return first.toLowerCase().startsWith("ru") ? "ru" : "en";
  }
  let lang = preferredLanguage();

  function t(key, values) {
    let text = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    if (values) {
      for (const [name, value] of Object.entries(values)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    $("lang").textContent = t("other_language");
    $("lang").title = t("language_label");
    $("lang").setAttribute("aria-label", t("language_label"));
    renderBadge();
    renderResults();
    renderLines();
    renderCustomer();
    renderQuote();
    renderCommitted();
    renderRecent();
    renderForm();
    renderNoticeOfPersonalData();
  }

  // ------------------------------------------------------------------------------------------
  // Money and points: integers only.

  // "250", "250,00", "250.5", "1 250,00 ₽" → minor units (25000, 25000, 25050, 125000); null if
  // the text is not an amount. Digits are read as text, so 0.1 + 0.2 never happens here.
  function parseAmount(text) {
    const cleaned = String(text).replace(/[\s\u00a0\u202f]/g, "").replace(/(₽|руб\.?|р\.?)$/i, "");
    const match = /^(\d{1,10})(?:[.,](\d{0,2}))?$/.exec(cleaned);
    if (!match) return null;
    const rubles = parseInt(match[1], 10);
    const kopecks = parseInt((match[2] || "").padEnd(2, "0"), 10);
    return rubles * 100 + kopecks;
  }

  function parsePoints(text) {
    const cleaned = String(text).replace(/[\s\u00a0\u202f]/g, "");
    return /^\d{1,12}$/.test(cleaned) ? parseInt(cleaned, 10) : null;
  }

  function groupDigits(digits, separator) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
  }

  function formatMoney(minor) {
    const negative = minor < 0;
    const abs = Math.abs(minor);
    const whole = String(Math.floor(abs / 100));
    const cents = String(abs % 100).padStart(2, "0");
    const text = lang === "ru"
      ? groupDigits(whole, "\u202f") + "," + cents + "\u00a0₽"
      : groupDigits(whole, ",") + "." + cents + "\u00a0₽";
    return (negative ? "−" : "") + text;
  }

  function formatPoints(points) {
    return (points < 0 ? "−" : "") + groupDigits(String(Math.abs(points)), lang === "ru" ? "\u202f" : ",");
  }

  // The word for a count: Russian has three forms (1 балл, 3 балла, 25 баллов; 11–14 take the
  // third), English two.
  function plural(count, ru, en) {
    const n = Math.abs(count) % 100;
    if (lang !== "ru") return Math.abs(count) === 1 ? en[0] : en[1];
    const last = n % 10;
    return n >= 11 && n <= 14 ? ru[2] : last === 1 ? ru[0] : last >= 2 && last <= 4 ? ru[1] : ru[2];
  }

  // "171 балл", "3 балла", "25 баллов"; "1 point", "3 points".
  function pointsText(points) {
    return formatPoints(points) + "\u00a0" + plural(points, ["балл", "балла", "баллов"], ["point", "points"]);
  }

  function daysText(days) {
    return days + "\u00a0" + plural(days, ["день", "дня", "дней"], ["day", "days"]);
  }

  // +79991234567 → "+7 999 •••-45-67": enough to confirm with the customer, not to copy.
  function maskPhone(phone) {
    const digits = String(phone || "").replace(/\D/g, "");
    if (digits.length === 11 && digits[0] === "7") {
      return "+7 " + digits.slice(1, 4) + " •••-" + digits.slice(7, 9) + "-" + digits.slice(9, 11);
    }
    if (digits.length < 6) return "•••" + digits.slice(-2);
    return "+" + digits.slice(0, digits.length - 7) + " •••" + digits.slice(-4);
  }

  // A receipt id per receipt: a retried or double-clicked commit is the same request.
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ------------------------------------------------------------------------------------------
  // Talking to the agent

  let csrf = null;

  class ApiFailure extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      // The values the message names (`field`, the `customer` holding a phone, …).
      this.details = details || {};
    }
  }

  async function api(method, path, body, contentType) {
    // The agent answers errors in the language the page shows now (after a switch too).
    const headers = { "X-Loyalty-CSRF": csrf || "", "Accept-Language": lang };
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      throw new ApiFailure(0, "agent_down", t("agent_down"));
    }
    const isJson = (response.headers.get("Content-Type") || "").includes("json");
    const data = isJson ? await response.json().catch(() => null) : await response.blob();
    if (!response.ok) {
      const code = (data && data.error && data.error.code) || "error";
      const message = (data && data.error && data.error.message) || response.statusText;
      if (response.status === 401) signedOut();
      throw new ApiFailure(response.status, code, message, data && data.error && data.error.details);
    }
    return data;
  }

  function showNotice(text, kind) {
    const notice = $("notice");
    notice.textContent = text;
    notice.className = "notice" + (kind === "info" ? " info" : "");
    notice.hidden = !text;
  }

  function showError(error) {
    showNotice(error && error.message ? error.message : String(error), "error");
  }

  function signedOut() {
    $("main").hidden = true;
    $("signed-out").hidden = false;
    stopCamera();
  }

  // ------------------------------------------------------------------------------------------
  // Online / offline / pending, at all times

  let health = null;
  let healthFailed = false;

  async function pollHealth() {
    try {
      const response = await fetch("/v1/health", { cache: "no-store", headers: { "Accept-Language": lang } });
      health = await response.json();
      healthFailed = false;
    } catch (e) {
      healthFailed = true;
    }
    renderBadge();
  }

  function renderBadge() {
    const badge = $("badge");
    let state = "unknown";
    let text = t("state_unknown");
    let pending = 0;
    if (healthFailed) {
      state = "down";
      text = t("state_down");
    } else if (health) {
      pending = (health.sync && health.sync.pending) || 0;
      if (health.mode === "standalone") {
        state = "standalone";
        text = t("state_standalone");
      } else {
        state = health.sync.state === "online" ? "online" : health.sync.state === "auth_error" ? "auth_error" : "offline";
        text = t("state_" + state);
        if (pending > 0) text += " · " + t("pending_ops", { n: pending });
      }
      if (health.storage && !health.storage.ok) text += " · " + t("storage_error");
    }
    badge.dataset.state = state;
    badge.dataset.pending = String(pending);
    badge.textContent = text;
    $("sync-now").hidden = !(health && health.mode === "connected");
  }

  async function syncNow() {
    const button = $("sync-now");
    button.disabled = true;
    try {
      const answer = await api("POST", "/v1/sync", {});
      showNotice(answer.message, "info");
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
      pollHealth();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Search: results while typing, Enter picks the first, Esc clears.

  let results = [];
  let searchTimer = null;
  let searchSeq = 0;
  let lastQuery = "";

  function scheduleSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(), SEARCH_DELAY_MS);
  }

  async function runSearch() {
    clearTimeout(searchTimer);
    const q = $("search").value.trim();
    const seq = ++searchSeq;
    if (q.replace(/\D/g, "").length < 4 && !/[@:\/a-z]/i.test(q)) {
      results = [];
      lastQuery = q;
      renderResults();
      return results;
    }
    try {
      const answer = await api("GET", "/v1/customers/search?q=" + encodeURIComponent(q));
      if (seq !== searchSeq) return results; // A newer query is on its way.
      results = answer.customers || [];
      lastQuery = q;
      // Whoever was on the screen is not the one being looked for now: the next shopper is
      // never billed to the last one, nor shown their card.
      if (customer && !results.some((r) => r.id === customer.id)) clearCustomer();
      else if (committed && !customer) clearCustomer();
      renderResults();
    } catch (e) {
      if (seq === searchSeq) showError(e);
    }
    return results;
  }

  function renderResults() {
    const list = $("results");
    list.textContent = "";
    results.forEach((customer, index) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "result" + (index === 0 ? " first" : "");
      const who = document.createElement("span");
      who.textContent = (customer.name || t("no_name")) + " ";
      const phone = document.createElement("small");
      phone.textContent = maskPhone(customer.phone) + " · " + customer.card;
      who.appendChild(document.createElement("br"));
      who.appendChild(phone);
      const points = document.createElement("b");
      points.textContent = formatPoints(customer.points.available);
      button.append(who, points);
      button.addEventListener("click", () => selectCustomer(customer));
      item.appendChild(button);
      list.appendChild(item);
    });
    const q = lastQuery;
    const nothing = results.length === 0 && q.replace(/\D/g, "").length >= 4;
    $("nothing").hidden = !nothing;
    if (nothing) $("nothing-text").textContent = t("nothing_found", { q });
  }

  async function pickFirst() {
    const list = $("search").value.trim() === lastQuery ? results : await runSearch();
    if (list.length > 0) selectCustomer(list[0]);
  }

  function clearSearch() {
    $("search").value = "";
    results = [];
    lastQuery = "";
    renderResults();
    showNotice("");
    $("search").focus();
  }

  // ------------------------------------------------------------------------------------------
  // The customer's card

  let customer = null;
  let qrUrl = null;

  function selectCustomer(chosen) {
    const changed = !customer || customer.id !== chosen.id;
    customer = chosen;
    // Found by the signed QR code of their page: the receipts name them by it, which is what
    // `require_signed_qr` asks for spending.
    const searched = $("search").value.trim();
    customerQr = /^loyalty:v1:/i.test(searched) ? searched : null;
    closeForm();
    if (changed || committed) newReceipt();
    if (changed) loadQr();
    showNotice("");
    renderCustomer();
    renderRecent();
    // The cursor goes to the amount, also when the customer was already on the screen.
    const amount = document.querySelector(".amount");
    if (amount) amount.focus();
  }

  // No customer on the screen: card, receipt and any summary go.
  function clearCustomer() {
    customer = null;
    customerQr = null;
    newReceipt();
    renderCustomer();
    renderRecent();
  }

  // "Next customer": everything of the last shopper leaves the screen, the cursor waits in the
  // search box for the next card or phone.
  function nextCustomer() {
    closeForm();
    clearCustomer();
    $("search").value = "";
    results = [];
    lastQuery = "";
    renderResults();
    showNotice("");
    $("search").focus();
  }

  // The sale or return is done: the shopper's card leaves the screen, the summary of what was
  // done stays (with the receipt, for a return), and the next scan starts the next sale.
  function finishWithCustomer() {
    if (committed && customer) committed.customer = customer;
    customer = null;
    customerQr = null;
    $("search").value = "";
    results = [];
    lastQuery = "";
    renderResults();
    renderCustomer();
    renderRecent();
    $("search").focus();
  }

  async function refreshCustomer() {
    if (!customer) return;
    try {
      customer = await api("GET", "/v1/customers/" + encodeURIComponent(customer.id));
      // The search results show points too: keep them in step with the card.
      const shown = customer;
      results = results.map((r) => (r.id === shown.id ? shown : r));
      renderResults();
      renderCustomer();
    } catch (e) {
      showError(e);
    }
  }

  async function loadQr() {
    // Fetched (with the CSRF header) and shown from a blob: URL, since <img src> cannot send it.
    const id = customer.id;
    try {
      const blob = await api("GET", "/v1/customers/" + encodeURIComponent(id) + "/qr.svg");
      if (!customer || customer.id !== id) return;
      if (qrUrl) URL.revokeObjectURL(qrUrl);
      qrUrl = URL.createObjectURL(blob);
      $("c-qr").src = qrUrl;
    } catch (e) {
      showError(e);
    }
  }

  // Within a week of the customer's birthday (this year's, or across New Year), a line the
  // cashier can congratulate them with; null otherwise. Dates are read as text: no time zones.
  const BIRTHDAY_WINDOW_DAYS = 7;
  function birthdayNotice(birthday, today) {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthday || "");
    if (!match) return null;
    const month = Number(match[2]) - 1;
    const day = Number(match[3]);
    const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate());
    let best = null;
    for (const year of [today.getFullYear() - 1, today.getFullYear(), today.getFullYear() + 1]) {
      // 29 February outside a leap year is celebrated on 28 February.
      const date = new Date(year, month, day);
      if (date.getMonth() !== month) date.setDate(0);
      const days = Math.round((date - midnight) / 86400000);
      if (best === null || Math.abs(days) < Math.abs(best.days)) best = { days, date };
    }
    if (Math.abs(best.days) > BIRTHDAY_WINDOW_DAYS) return null;
    const shown = best.date.toLocaleDateString(lang === "ru" ? "ru-RU" : "en-GB", { day: "numeric", month: "long" });
    if (best.days === 0) return t("birthday_today");
    return best.days > 0
      ? t("birthday_soon", { days: daysText(best.days), date: shown })
      : t("birthday_past", { days: daysText(-best.days), date: shown });
  }

  // Points that expire within a month: worth telling the customer while they can spend them.
  const EXPIRY_WINDOW_DAYS = 30;
  function expiryNotice(expiry, now) {
    if (!expiry || !expiry.points) return null;
    const at = new Date(expiry.at);
    if (isNaN(at) || at - now > EXPIRY_WINDOW_DAYS * 86400000 || at <= now) return null;
    const date = at.toLocaleDateString(lang === "ru" ? "ru-RU" : "en-GB", { day: "numeric", month: "long" });
    const verb = plural(expiry.points, ["сгорит", "сгорят", "сгорят"], ["expires", "expire"]);
    return t("expiring", { points: pointsText(expiry.points), verb, date });
  }

  function consentText(consent) {
    return consent && consent.granted ? t("consent_yes") : t("consent_no");
  }

  function renderCustomer() {
    const formOpen = !$("customer-form").hidden;
    $("welcome").hidden = !!customer || !!committed || formOpen;
    $("card").hidden = !customer || formOpen;
    $("receipt").hidden = (!customer && !committed) || formOpen;
    if (!customer) return;
    $("c-name").textContent = customer.name || t("no_name");
    $("c-phone").textContent = maskPhone(customer.phone);
    $("c-card").textContent = customer.card;
    $("c-tier").textContent = customer.group || t("no_tier");
    if (customer.next_tier) {
      const next = document.createElement("small");
      next.id = "c-next-tier";
      next.textContent = t("next_tier", { name: customer.next_tier.name, remaining: formatMoney(customer.next_tier.remaining) });
      $("c-tier").appendChild(next);
    }
    $("c-tags").textContent = customer.tags && customer.tags.length ? customer.tags.join(", ") : "—";
    $("c-consents").textContent =
      t("consent_sms") + ": " + consentText(customer.consents.sms) + ", " +
      t("consent_email") + ": " + consentText(customer.consents.email) + ", " +
      t("consent_personal_data") + ": " + consentText(customer.consents.personal_data);
    const expiry = expiryNotice(customer.next_expiry, new Date());
    $("c-expiry").hidden = !expiry;
    $("c-expiry").textContent = expiry || "";
    const birthday = birthdayNotice(customer.birthday, new Date());
    $("c-birthday").hidden = !birthday;
    $("c-birthday").textContent = birthday || "";
    $("c-balance").textContent = formatPoints(customer.points.balance);
    $("c-available").textContent = formatPoints(customer.points.available);
    $("c-pending").textContent = formatPoints(customer.points.pending);
  }

  // ------------------------------------------------------------------------------------------
  // The receipt calculator: amounts (lines) → the most points that can be spent → how many to
  // spend → points earned and the amount to pay → commit; then returns.

  let lineTexts = [""];
  let receiptId = null;
  let quote = null; // The last calculation: { request, answer }.
  let committed = null; // The committed receipt: { answer, returns: [] }.
  let returnId = null;
  let calcSeq = 0;

  function newReceipt() {
    lineTexts = [""];
    receiptId = uuid();
    forgetCode();
    quote = null;
    committed = null;
    confirmingReturn = false;
    returnId = null;
    renderLines();
    renderQuote();
    renderCommitted();
  }

  function renderLines() {
    const box = $("lines");
    const focused = document.activeElement && document.activeElement.classList.contains("amount")
      ? Number(document.activeElement.dataset.index) : null;
    box.textContent = "";
    lineTexts.forEach((text, index) => {
      const row = document.createElement("div");
      row.className = "line";
      const label = document.createElement("label");
      const caption = document.createElement("span");
      caption.textContent = lineTexts.length > 1 ? t("line", { n: index + 1 }) : t("amount");
      const input = document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.autocomplete = "off";
      input.className = "amount";
      input.id = "amount-" + index;
      input.dataset.index = String(index);
      input.placeholder = t("amount_placeholder");
      input.value = text;
      input.addEventListener("input", () => {
        lineTexts[index] = input.value;
        quote = null;
        renderQuote();
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          calculate("max");
        }
      });
      label.append(caption, input);
      row.appendChild(label);
      if (lineTexts.length > 1) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "ghost";
        remove.textContent = "×";
        remove.title = t("remove_line");
        remove.setAttribute("aria-label", t("remove_line"));
        remove.addEventListener("click", () => {
          lineTexts.splice(index, 1);
          quote = null;
          renderLines();
          renderQuote();
        });
        row.appendChild(remove);
      }
      box.appendChild(row);
    });
    if (focused !== null && box.querySelector("#amount-" + focused)) box.querySelector("#amount-" + focused).focus();
  }

  function receiptLines() {
    const lines = [];
    for (let i = 0; i < lineTexts.length; i++) {
      if (lineTexts.length > 1 && lineTexts[i].trim() === "") continue;
      const price = parseAmount(lineTexts[i]);
      if (price === null || price <= 0) return null;
      lines.push({ sku: "line-" + (lines.length + 1), name: t("line", { n: lines.length + 1 }), quantity: "1", price });
    }
    return lines.length ? lines : null;
  }

  async function calculate(redeem) {
    if (!customer || committed) return;
    const lines = receiptLines();
    if (!lines) {
      showNotice(t("bad_amount"));
      return;
    }
    const request = { customer: customerQr ? { qr: customerQr } : { id: customer.id }, lines, redeem };
    const promo = $("promo").value.trim().toUpperCase();
    if (promo) request.promo_codes = [promo];
    // The customer's code goes with a spending quote; the commit sends the same request.
    if (spendCode && redeem !== 0) request.verification = { code: spendCode };
    const seq = ++calcSeq;
    setFieldError("promo", null);
    try {
      const answer = await api("POST", "/v1/receipts/calculate", request);
      if (seq !== calcSeq) return;
      quote = { request, answer };
      showNotice("");
      renderQuote();
      if (redeem === "max") {
        // Nothing to spend: the next key is the commit, so the cursor waits on its button.
        const focus = answer.points.max_redeem > 0 ? $("q-redeem") : $("commit");
        focus.focus();
        if (focus === $("q-redeem")) focus.select();
      }
    } catch (e) {
      if (seq !== calcSeq) return;
      // A code the agent refuses is said beside the code, and the old figures go.
      if (e.code === "promo_rejected" || e.code === "unknown_promo") {
        quote = null;
        renderQuote();
        setFieldError("promo", e.message);
        $("promo").focus();
      } else if (CODE_REFUSALS.includes(e.code) && redeem !== 0) {
        // Spending needs the customer's code (or this one was refused): the receipt is priced
        // without spending meanwhile, and the code field asks for it.
        codeNeeded = true;
        spendCode = "";
        renderCode(e.code === "verification_required" ? null : e.message);
        await calculate(0);
        $("code").focus();
      } else {
        showError(e);
      }
    }
  }

  // Spending codes (`verify_spending`): what the agent answers when one is missing or refused.
  const CODE_REFUSALS = [
    "verification_required", "verification_failed", "verification_code_used", "verification_locked", "verification_unavailable",
    "signed_qr_required",
  ];
  // The code the cashier typed for this customer, and whether the program asked for one. Both
  // belong to the shopper at the till: a new receipt or customer forgets them.
  let spendCode = "";
  let codeNeeded = false;
  // The signed QR token the current customer was found by, if any (see selectCustomer).
  let customerQr = null;

  function renderCode(error) {
    $("spend-code").hidden = !codeNeeded || !!committed;
    // Once a code is taken, one line says so and the commit button stays on the screen.
    const accepted = !!spendCode && !error;
    $("code-hint").hidden = $("code-entry").hidden = accepted;
    setFieldError("code", error || null);
    if (!codeNeeded) {
      $("code").value = "";
      $("code-sent").textContent = "";
    }
  }

  function forgetCode() {
    spendCode = "";
    codeNeeded = false;
    renderCode(null);
  }

  async function applyCode() {
    const digits = $("code").value.replace(/[\s-]/g, "");
    if (!/^[0-9]{6}$/.test(digits)) {
      setFieldError("code", t("code_six_digits"));
      $("code").focus();
      return;
    }
    spendCode = digits;
    setFieldError("code", null);
    await calculate("max");
    if (spendCode) {
      $("code-sent").textContent = t("code_accepted");
      renderCode(null);
    }
  }

  async function sendCode() {
    if (!customer) return;
    $("code-send").disabled = true;
    try {
      const sent = await api("POST", "/v1/customers/" + encodeURIComponent(customer.id) + "/verification-codes", {});
      $("code-sent").textContent = t("code_sent", { phone: sent.sent_to });
      setFieldError("code", null);
      $("code").focus();
    } catch (e) {
      setFieldError("code", e.message);
    } finally {
      $("code-send").disabled = false;
    }
  }

  function chosenRedeem() {
    const points = parsePoints($("q-redeem").value);
    const max = quote ? quote.answer.points.max_redeem : 0;
    return points !== null && points <= max ? points : null;
  }

  function onRedeemInput() {
    if (!quote) return;
    const points = chosenRedeem();
    if (points === null) {
      setFieldError("redeem", t("bad_points", { max: quote.answer.points.max_redeem }));
      // The figures of the last valid number must not stay up as if they were this one's.
      for (const id of ["q-discount", "q-earn", "q-balance-after", "q-total"]) $(id).textContent = t("points_na");
      $("commit").disabled = true;
      quoteBlanked = true;
      return;
    }
    calculate(points);
  }

  // The figures on the screen were blanked for points that cannot be spent: until they are
  // priced again, nothing the cashier has not seen may be committed.
  let quoteBlanked = false;

  function renderQuote() {
    quoteBlanked = false;
    setFieldError("redeem", null);
    const box = $("quote");
    box.hidden = !quote || !!committed;
    $("draft").hidden = !!committed;
    if (!quote) return;
    const a = quote.answer;
    $("q-subtotal").textContent = formatMoney(a.subtotal);
    const promoDiscount = (a.promo_codes || []).reduce((sum, p) => sum + p.discount, 0);
    $("q-promo-label").hidden = $("q-promo").hidden = !(a.promo_codes && a.promo_codes.length);
    $("q-promo").textContent = (a.promo_codes || []).map((p) => p.code).join(", ") + " · " + formatMoney(promoDiscount);
    renderCampaigns(a);
    $("q-max").textContent = formatPoints(a.points.max_redeem);
    // Nothing can be spent: no field and no Max/None buttons, just why.
    const nothing = a.points.max_redeem === 0;
    for (const id of ["q-redeem", "q-spend-max", "q-spend-none"]) $(id).hidden = nothing;
    $("q-nothing").hidden = !nothing;
    $("q-nothing").textContent = t("nothing_to_spend");
    if (document.activeElement !== $("q-redeem") || chosenRedeem() !== a.points.redeem) {
      $("q-redeem").value = String(a.points.redeem);
    }
    $("q-earn").textContent = formatPoints(a.points.earn);
    $("q-balance-after").textContent = formatPoints(a.points.balance_after);
    $("q-discount").textContent = formatMoney(a.discount);
    $("q-limits").textContent = limitsText(a);
    $("q-total").textContent = formatMoney(a.total);
    $("commit").disabled = false;
    $("commit").textContent = t("commit");
  }

  // The campaigns that gave something on this receipt (points, a discount, stamps: "4 of 5"),
  // and those the customer might have expected that did not, with why.
  function renderCampaigns(answer) {
    const applied = answer.campaigns || [];
    const missed = (answer.campaigns_not_applied || []).filter(
      (c) => c.reason !== "nothing_to_give" && c.reason !== "exclusive_overridden",
    );
    const shown = applied.length > 0 || missed.length > 0;
    $("q-campaigns-label").hidden = $("q-campaigns-box").hidden = !shown;
    const list = $("q-campaigns");
    list.replaceChildren();
    for (const c of applied) {
      const parts = [];
      if (c.points) parts.push("+" + formatPoints(c.points) + " " + plural(c.points, ["балл", "балла", "баллов"], ["point", "points"]));
      if (c.discount) parts.push("−" + formatMoney(c.discount));
      if (c.stamps) {
        // Every free unit spends a whole card (`for_reward` stamps).
        const free = c.stamps.for_reward > 0 ? Math.floor(c.stamps.used / c.stamps.for_reward) : 0;
        if (free) parts.push(t("stamps_free", { count: free }));
        if (c.stamps.for_reward) parts.push(t("stamps_of", { after: c.stamps.after, of: c.stamps.for_reward }));
      }
      const item = document.createElement("li");
      item.textContent = c.name + (parts.length ? " — " + parts.join(", ") : "");
      list.append(item);
    }
    const not = $("q-campaigns-not");
    not.replaceChildren();
    for (const c of missed) {
      const key = "campaign_" + c.reason;
      const why = STRINGS[lang] && STRINGS[lang][key] ? t(key) : c.reason;
      const item = document.createElement("li");
      item.textContent = t("campaign_not_applied", { name: c.name, why });
      not.append(item);
    }
  }

  // Why the most that can be spent is what it is, from the quote's `limits`.
  function limitsText(answer) {
    const reasons = (answer.limits || []).map((limit) => {
      const key = "limit_" + limit.code;
      if (lang === "en" && limit.message) return limit.message;
      return STRINGS[lang] && STRINGS[lang][key] ? t(key) : limit.message;
    });
    return reasons.length ? "(" + reasons.join("; ") + ")" : "";
  }

  let committing = false;

  async function commit() {
    if (!quote || committing || committed) return;
    // A number of points typed a moment ago may not be priced yet: price it, show it, and let
    // the cashier commit what is on the screen.
    const typed = chosenRedeem();
    if (typed === null) {
      setFieldError("redeem", t("bad_points", { max: quote.answer.points.max_redeem }));
      return;
    }
    if (typed !== quote.answer.points.redeem || quoteBlanked) {
      await calculate(typed);
      return;
    }
    committing = true;
    $("commit").disabled = true;
    $("commit").textContent = t("committing");
    // Exactly the quote the cashier sees: the same lines and the same number of points.
    const request = Object.assign({ id: receiptId }, quote.request, { redeem: quote.answer.points.redeem });
    try {
      const answer = await api("POST", "/v1/receipts", request);
      // `fresh`: committed here and now, so its balance after is today's balance.
      committed = { answer, returns: [], customer, fresh: true };
      returnId = uuid();
      // The code is used up, and it was this shopper's: it leaves with them.
      forgetCode();
      showNotice("");
      renderQuote();
      renderCommitted();
      finishWithCustomer();
      pollHealth();
    } catch (e) {
      if (CODE_REFUSALS.includes(e.code)) {
        // The code was refused at the last moment (used meanwhile, expired): ask again.
        committing = false;
        codeNeeded = true;
        spendCode = "";
        renderCode(e.code === "verification_required" ? null : e.message);
        await calculate(0);
        $("code").focus();
        return;
      }
      showError(e);
      renderQuote();
    } finally {
      committing = false;
    }
  }

  function returnedQuantity(lineIndex) {
    let count = 0;
    for (const ret of committed.returns) {
      for (const line of ret.lines) if (line.line === lineIndex) count += 1;
    }
    return count;
  }

  function renderCommitted() {
    const box = $("committed");
    box.hidden = !committed;
    if (!committed) return;
    const a = committed.answer;
    const card = committed.customer && committed.customer.card ? "•••" + String(committed.customer.card).slice(-4) : "—";
    $("committed-text").textContent = t("committed", {
      card,
      total: formatMoney(a.total),
      discount: formatMoney(a.discount),
      redeem: pointsText(a.points.redeem),
      earn: pointsText(a.points.earn),
      balance: pointsText(a.points.balance_after),
    });
    $("confirm-return").hidden = !confirmingReturn;
    if (confirmingReturn) $("confirm-text").textContent = t("confirm_return_all", { total: formatMoney(openTotal()) });
    $("new-receipt").hidden = !committed.customer && !customer;
    const list = $("committed-lines");
    list.textContent = "";
    const open = [];
    a.lines.forEach((line, index) => {
      if (returnedQuantity(index) > 0) return;
      open.push(index);
      const item = document.createElement("li");
      const label = document.createElement("label");
      const check = document.createElement("input");
      check.type = "checkbox";
      check.checked = true;
      check.dataset.line = String(index);
      const text = document.createElement("span");
      text.textContent = (line.name || line.sku) + " — " + formatMoney(line.paid);
      label.append(check, text);
      item.appendChild(label);
      list.appendChild(item);
    });
    list.hidden = a.lines.length < 2 || open.length === 0;
    $("return-selected").hidden = list.hidden;
    $("return-all").hidden = open.length === 0;
    const last = committed.returns[committed.returns.length - 1];
    $("return-result").hidden = !last;
    if (last) {
      // What went back and what was taken back, each said only when it happened.
      const parts = [t("returned_refund", { refund: formatMoney(last.refund) })];
      if (last.points_given_back) parts.push(t("returned_back", { back: pointsText(last.points_given_back) }));
      if (last.points_taken_back) parts.push(t("returned_taken", { taken: pointsText(last.points_taken_back) }));
      $("return-result").textContent = parts.join(" ");
    }
  }

  let confirmingReturn = false;

  // What is still to refund on the receipt shown: its lines not returned yet.
  function openTotal() {
    const a = committed.answer;
    return a.lines.reduce((sum, line, index) => (returnedQuantity(index) > 0 ? sum : sum + line.paid), 0);
  }

  // "Return all" asks first; the confirming button takes the focus, so Enter confirms and Esc
  // cancels.
  function askReturnAll() {
    if (!committed) return;
    confirmingReturn = true;
    renderCommitted();
    $("return-confirm").focus();
  }

  function cancelReturnAll() {
    confirmingReturn = false;
    renderCommitted();
    $("return-all").focus();
  }

  async function returnReceipt(all) {
    if (!committed) return;
    confirmingReturn = false;
    const a = committed.answer;
    let body = { id: returnId, all: true };
    if (!all) {
      const lines = Array.from($("committed-lines").querySelectorAll("input:checked")).map((check) => {
        const index = Number(check.dataset.line);
        return { sku: a.lines[index].sku, line: index, quantity: a.lines[index].quantity };
      });
      if (lines.length === 0) return;
      body = { id: returnId, lines };
    }
    for (const id of ["return-all", "return-selected"]) $(id).disabled = true;
    try {
      const result = await api("POST", "/v1/receipts/" + encodeURIComponent(a.id) + "/returns", body);
      committed.returns.push(result);
      returnId = uuid();
      showNotice("");
      renderCommitted();
      finishWithCustomer();
      pollHealth();
    } catch (e) {
      showError(e);
    } finally {
      for (const id of ["return-all", "return-selected"]) $(id).disabled = false;
    }
  }

  async function openReceipt(id) {
    try {
      const view = await api("GET", "/v1/receipts/" + encodeURIComponent(id));
      $("receipt-number").value = "";
      if (!customer || customer.id !== view.receipt.customer_id) {
        const owner = view.receipt.customer_id
          ? await api("GET", "/v1/customers/" + encodeURIComponent(view.receipt.customer_id)) : null;
        if (owner) selectCustomer(owner);
      }
      committed = { answer: view.receipt, returns: view.returns, customer };
      returnId = uuid();
      quote = null;
      renderQuote();
      renderCommitted();
      renderCustomer();
      renderRecent();
    } catch (e) {
      showError(e);
    }
  }

  // The receipts of the customer on the screen (or of the receipt shown), else this till's
  // latest: asked from the agent, so receipts made by the till's integration, in another
  // browser or before a cleared cache are there too, and can be returned from here.
  let recentSeq = 0;
  let recent = [];

  function renderRecent() {
    if (!csrf) return; // Not signed in yet: start() asks once it is.
    const seq = ++recentSeq;
    const shown = customer || (committed && committed.customer);
    const path = shown
      ? "/v1/customers/" + encodeURIComponent(shown.id) + "/receipts?limit=8"
      : "/v1/receipts?limit=8";
    $("recent-title").textContent = t(shown ? "recent" : "recent_till");
    api("GET", path)
      .then((answer) => {
        if (seq !== recentSeq) return;
        recent = answer.receipts || [];
        drawRecent();
      })
      .catch(() => {
        if (seq !== recentSeq) return;
        recent = [];
        drawRecent();
      });
  }

  function drawRecent() {
    const list = $("recent");
    list.textContent = "";
    if (recent.length === 0) {
      const item = document.createElement("li");
      item.className = "hint";
      item.textContent = t("recent_none");
      list.appendChild(item);
      return;
    }
    for (const r of recent) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const when = r.committed_at ? new Date(r.committed_at).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB") : "";
      const text = document.createElement("span");
      text.textContent = t("recent_item", { total: formatMoney(r.total), when });
      const mark = document.createElement("small");
      mark.textContent = r.returned === "all" ? t("returned_mark") : r.returned === "partly" ? t("partly_returned_mark") : t("open_receipt");
      button.append(text, mark);
      button.addEventListener("click", () => openReceipt(r.id));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  // A receipt by its number (the till's receipt id, as printed or as the integration sent it).
  async function findReceipt() {
    const number = $("receipt-number").value.trim();
    if (!number) return;
    await openReceipt(number);
  }

  // ------------------------------------------------------------------------------------------
  // Enroll and edit

  let formMode = null; // "enroll" | "edit"

  function openForm(mode, phone) {
    // A new customer is someone else: the last one's card and receipts leave the screen.
    if (mode === "enroll") clearCustomer();
    formMode = mode;
    clearFieldErrors();
    $("customer-form").hidden = false;
    $("f-phone-row").hidden = mode !== "enroll";
    // A friend's code is given when the customer joins, not later.
    $("f-referral-row").hidden = mode !== "enroll";
    $("f-referral").value = "";
    const c = mode === "edit" ? customer : null;
    $("f-phone").value = mode === "enroll" ? phone || "" : "";
    $("f-name").value = (c && c.name) || "";
    $("f-email").value = (c && c.email) || "";
    $("f-birthday").value = (c && c.birthday) || "";
    $("f-sms").checked = !!(c && c.consents.sms && c.consents.sms.granted);
    $("f-email-consent").checked = !!(c && c.consents.email && c.consents.email.granted);
    $("f-personal-data").checked = !!(c && c.consents.personal_data && c.consents.personal_data.granted);
    renderForm();
    renderCustomer();
    (mode === "enroll" ? $("f-phone") : $("f-name")).focus();
  }

  function closeForm() {
    formMode = null;
    $("customer-form").hidden = true;
    renderCustomer();
  }

  function renderForm() {
    if (!formMode) return;
    $("form-title").textContent = t(formMode === "enroll" ? "form_enroll" : "form_edit");
  }

  // Who processes the data and the policy's address, beside the consent (config.toml's
  // personal_data_operator and privacy_policy_url, from the session).
  let personalData = { operator: null, policy_url: null };
  function renderNoticeOfPersonalData() {
    $("f-operator").textContent = personalData.operator ? t("operator_named", { name: personalData.operator }) : "";
    const policy = $("f-policy");
    policy.hidden = !personalData.policy_url;
    if (personalData.policy_url) policy.href = personalData.policy_url;
  }

  // An error the agent names a field for is said under that field (and the field marked);
  // anything else goes to the notice at the top.
  const FIELD_OF_CODE = {
    invalid_phone: "phone", phone_taken: "phone", invalid_email: "email", email_taken: "email",
    invalid_birthday: "birthday", personal_data_consent_required: "personal_data",
    invalid_referral_code: "referral",
  };
  const FORM_FIELDS = ["phone", "name", "email", "birthday", "referral", "personal_data"];
  const INPUT_OF_FIELD = { personal_data: "f-personal-data", promo: "promo", redeem: "q-redeem", code: "code" };

  function setFieldError(field, message) {
    const note = $("e-" + field);
    if (!note) return false;
    note.hidden = !message;
    note.textContent = message || "";
    const input = $(INPUT_OF_FIELD[field] || "f-" + field);
    if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
    return true;
  }

  function clearFieldErrors() {
    for (const field of FORM_FIELDS) setFieldError(field, null);
    $("open-holder").hidden = true;
  }

  function showFormError(error) {
    const field = FIELD_OF_CODE[error.code] || (error.details && error.details.field);
    if (!field || !FORM_FIELDS.includes(field) || !setFieldError(field, error.message)) {
      showError(error);
      return;
    }
    showNotice("");
    const input = $(INPUT_OF_FIELD[field] || "f-" + field);
    if (input && !input.closest("[hidden]")) input.focus();
    // The phone belongs to someone already: offer to open them instead of a raw id.
    const holder = error.details && error.details.customer;
    if (error.code === "phone_taken" && holder) {
      const button = $("open-holder");
      const who = [error.details.name, error.details.card ? "•••" + String(error.details.card).slice(-4) : null]
        .filter(Boolean).join(", ");
      button.textContent = t("open_holder", { who: who || holder });
      button.dataset.customer = holder;
      button.hidden = false;
    }
  }

  async function openHolder() {
    const id = $("open-holder").dataset.customer;
    if (!id) return;
    try {
      const holder = await api("GET", "/v1/customers/" + encodeURIComponent(id));
      closeForm();
      customer = null;
      selectCustomer(holder);
    } catch (e) {
      showError(e);
    }
  }

  async function saveForm(event) {
    event.preventDefault();
    const name = $("f-name").value.trim();
    const email = $("f-email").value.trim();
    const birthday = $("f-birthday").value;
    const consents = {
      sms: $("f-sms").checked,
      email: $("f-email-consent").checked,
      personal_data: $("f-personal-data").checked,
    };
    clearFieldErrors();
    // 152-ФЗ: nobody is enrolled without their consent to the processing of their data.
    if (formMode === "enroll" && !consents.personal_data) {
      setFieldError("personal_data", t("need_personal_data"));
      $("f-personal-data").focus();
      return;
    }
    $("f-save").disabled = true;
    try {
      if (formMode === "enroll") {
        const body = { phone: $("f-phone").value.trim(), consents };
        if (name) body.name = name;
        if (email) body.email = email;
        if (birthday) body.birthday = birthday;
        const referral = $("f-referral").value.trim();
        if (referral) body.referral_code = referral;
        const created = await api("POST", "/v1/customers", body);
        // The search that found no one is over: its "nothing found" goes with it.
        $("search").value = "";
        results = [];
        lastQuery = "";
        renderResults();
        customer = null;
        selectCustomer(created);
        showNotice(t("enrolled"), "info");
      } else if (formMode === "edit" && customer) {
        // Only what changed, so consents keep their time and source when untouched.
        const patch = {};
        if (name !== (customer.name || "")) patch.name = name || null;
        if (email !== (customer.email || "")) patch.email = email || null;
        if (birthday !== (customer.birthday || "")) patch.birthday = birthday || null;
        const granted = (consent) => !!(consent && consent.granted);
        const changedConsents = {};
        for (const kind of ["sms", "email", "personal_data"]) {
          if (consents[kind] !== granted(customer.consents[kind])) changedConsents[kind] = consents[kind];
        }
        if (Object.keys(changedConsents).length > 0) patch.consents = changedConsents;
        if (Object.keys(patch).length > 0) {
          customer = await api("PATCH", "/v1/customers/" + encodeURIComponent(customer.id), patch);
        }
        closeForm();
        renderCustomer();
        showNotice(t("saved"), "info");
      }
    } catch (e) {
      showFormError(e);
    } finally {
      $("f-save").disabled = false;
    }
  }

  // ------------------------------------------------------------------------------------------
  // QR: a webcam frame or an uploaded picture, decoded by the agent (rqrr).

  let stream = null;
  let scanTimer = null;
  let decoding = false;

  async function decodeAndSearch(blob) {
    const type = blob.type === "image/jpeg" ? "image/jpeg" : "image/png";
    const answer = await api("POST", "/v1/qr/decode", blob, type);
    $("search").value = answer.text;
    const found = await runSearch();
    if (found.length > 0) selectCustomer(found[0]);
    showNotice(t("decoded", { text: answer.text }), "info");
    return answer;
  }

  async function uploadPicture() {
    const file = $("upload").files[0];
    $("upload").value = "";
    if (!file) return;
    try {
      showNotice(t("decoding"), "info");
      // PNG and JPEG go as they are; anything else the browser can show is redrawn as PNG.
      const blob = file.type === "image/png" || file.type === "image/jpeg" ? file : await redrawAsPng(file);
      await decodeAndSearch(blob);
    } catch (e) {
      showError(e);
    }
  }

  function redrawAsPng(file) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      const url = URL.createObjectURL(file);
      image.onload = () => {
        const canvas = document.createElement("canvas");
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        canvas.getContext("2d").drawImage(image, 0, 0);
        URL.revokeObjectURL(url);
        canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("image"))), "image/png");
      };
      image.onerror = () => {
        URL.revokeObjectURL(url);
        reject(new Error(t("bad_picture")));
      };
      image.src = url;
    });
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showNotice(t("camera_unavailable", { why: "getUserMedia" }));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      showNotice(t("camera_unavailable", { why: e.name || e.message }));
      return;
    }
    $("scanner").hidden = false;
    $("video").srcObject = stream;
    scanTimer = setInterval(captureFrame, 600);
  }

  function stopCamera() {
    clearInterval(scanTimer);
    scanTimer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("scanner").hidden = true;
  }

  function captureFrame() {
    const video = $("video");
    if (decoding || !stream || !video.videoWidth) return;
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    decoding = true;
    canvas.toBlob(async (blob) => {
      try {
        if (!blob) return;
        const answer = await api("POST", "/v1/qr/decode", blob, "image/jpeg");
        stopCamera();
        $("search").value = answer.text;
        const found = await runSearch();
        if (found.length > 0) selectCustomer(found[0]);
      } catch (e) {
        // No QR in this frame yet: keep looking. Anything else is worth saying.
        if (e.code !== "no_qr_found" && e.code !== "not_an_image") {
          stopCamera();
          showError(e);
        }
      } finally {
        decoding = false;
      }
    }, "image/jpeg", 0.85);
  }

  // ------------------------------------------------------------------------------------------
  // Paper: the sign-up QR code for a shopper who would rather join on their phone, and a slip
  // of what the sale or return did to their points. Both go through the browser's print
  // dialog; the print style sheet puts only #slip on paper.

  let signupQrUrl = null;

  async function showSignupQr() {
    try {
      const blob = await api("GET", "/v1/signup-qr.svg");
      if (signupQrUrl) URL.revokeObjectURL(signupQrUrl);
      signupQrUrl = URL.createObjectURL(blob);
      $("signup-qr-img").src = signupQrUrl;
      $("signup-box").hidden = false;
      $("signup-print").focus();
    } catch (e) {
      showError(e);
    }
  }

  function closeSignupQr() {
    $("signup-box").hidden = true;
    $("search").focus();
  }

  function printSignupQr() {
    const slip = $("slip");
    slip.textContent = "";
    const title = document.createElement("h2");
    title.textContent = t("signup_qr_title");
    const text = document.createElement("p");
    text.textContent = t("signup_qr_text");
    const image = document.createElement("img");
    image.src = signupQrUrl;
    image.style.width = "60mm";
    slip.append(title, text, image);
    window.print();
  }

  function slipRow(list, label, value) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }

  // The receipt shown, as the shopper keeps it: what was paid, what points did, the balance.
  function printSlip() {
    if (!committed) return;
    const a = committed.answer;
    const slip = $("slip");
    slip.textContent = "";
    const title = document.createElement("h2");
    title.textContent = t("slip_title");
    const list = document.createElement("dl");
    const card = committed.customer && committed.customer.card;
    if (card) slipRow(list, t("slip_card"), "•••" + String(card).slice(-4));
    slipRow(list, t("receipt"), a.id || "");
    if (a.committed_at) slipRow(list, "", new Date(a.committed_at).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB"));
    slipRow(list, t("slip_paid"), formatMoney(a.total));
    if (a.discount) slipRow(list, t("slip_discount"), formatMoney(a.discount));
    slipRow(list, t("slip_spent"), pointsText(a.points.redeem));
    slipRow(list, t("slip_earned"), pointsText(a.points.earn));
    for (const ret of committed.returns) {
      slipRow(list, t("slip_return"), "");
      slipRow(list, t("slip_refund"), formatMoney(ret.refund));
      if (ret.points_given_back) slipRow(list, t("slip_spent"), "−" + pointsText(ret.points_given_back));
      if (ret.points_taken_back) slipRow(list, t("slip_earned"), "−" + pointsText(ret.points_taken_back));
    }
    if (committed.fresh && committed.returns.length === 0) {
      slipRow(list, t("slip_balance"), pointsText(a.points.balance_after));
    }
    slip.append(title, list);
    window.print();
  }

  // ------------------------------------------------------------------------------------------
  // Wiring

  function wire() {
    const search = $("search");
    search.addEventListener("input", scheduleSearch);
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        pickFirst();
      }
    });
    document.addEventListener("keydown", onScannerKey, true);
    document.addEventListener("keydown", onHotkey);
    $("lang").addEventListener("click", () => {
      lang = lang === "ru" ? "en" : "ru";
      localStorage.setItem(LANG_KEY, lang);
      applyLanguage();
    });
    $("sync-now").addEventListener("click", syncNow);
    $("scan").addEventListener("click", startCamera);
    $("scan-cancel").addEventListener("click", stopCamera);
    $("upload").addEventListener("change", uploadPicture);
    $("new-customer").addEventListener("click", () => openForm("enroll", ""));
    $("find-receipt").addEventListener("click", findReceipt);
    $("receipt-number").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        findReceipt();
      }
    });
    $("enroll-this").addEventListener("click", () => openForm("enroll", lastQuery));
    $("edit").addEventListener("click", () => openForm("edit"));
    $("customer-form").addEventListener("submit", saveForm);
    $("f-cancel").addEventListener("click", closeForm);
    $("add-line").addEventListener("click", () => {
      lineTexts.push("");
      quote = null;
      renderLines();
      renderQuote();
      const inputs = document.querySelectorAll(".amount");
      inputs[inputs.length - 1].focus();
    });
    $("calculate").addEventListener("click", () => calculate("max"));
    const redeem = $("q-redeem");
    let redeemTimer = null;
    redeem.addEventListener("input", () => {
      clearTimeout(redeemTimer);
      redeemTimer = setTimeout(onRedeemInput, 250);
    });
    redeem.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(redeemTimer);
        // Enter on the points the quote already shows commits; on new points it re-prices.
        if (quote && !quoteBlanked && chosenRedeem() === quote.answer.points.redeem) commit();
        else onRedeemInput();
      }
    });
    $("q-spend-max").addEventListener("click", () => calculate("max"));
    $("code-apply").addEventListener("click", applyCode);
    $("code-send").addEventListener("click", sendCode);
    $("code").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        applyCode();
      }
    });
    $("q-spend-none").addEventListener("click", () => calculate(0));
    $("commit").addEventListener("click", commit);
    $("return-all").addEventListener("click", askReturnAll);
    $("return-confirm").addEventListener("click", () => returnReceipt(true));
    $("return-cancel").addEventListener("click", cancelReturnAll);
    $("next-customer").addEventListener("click", nextCustomer);
    $("open-holder").addEventListener("click", openHolder);
    $("promo").addEventListener("input", () => {
      setFieldError("promo", null);
      quote = null;
      renderQuote();
    });
    $("promo").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        calculate("max");
      }
    });
    $("signup-qr").addEventListener("click", showSignupQr);
    $("signup-close").addEventListener("click", closeSignupQr);
    $("signup-print").addEventListener("click", printSignupQr);
    $("print-slip").addEventListener("click", printSlip);
    $("return-selected").addEventListener("click", () => returnReceipt(false));
    // Another sale to the customer of the receipt shown: chosen again on purpose, with fresh points.
    $("new-receipt").addEventListener("click", async () => {
      const who = customer || (committed && committed.customer);
      if (!who) return;
      try {
        const fresh = await api("GET", "/v1/customers/" + encodeURIComponent(who.id));
        customer = null;
        selectCustomer(fresh);
      } catch (e) {
        showError(e);
      }
    });
  }

  // ------------------------------------------------------------------------------------------
  // The keyboard: a few hotkeys, and a barcode scanner wherever the focus is.

  function onHotkey(event) {
    if (event.key === "Escape") {
      if (!$("signup-box").hidden) closeSignupQr();
      else if (!$("scanner").hidden) stopCamera();
      else if (confirmingReturn) cancelReturnAll();
      else if (!$("customer-form").hidden) closeForm();
      else clearSearch();
    } else if (event.key === "F2") {
      event.preventDefault();
      nextCustomer();
    } else if (event.key === "F3") {
      event.preventDefault();
      $("search").focus();
      $("search").select();
    } else if (event.key === "F9" || (event.key === "Enter" && (event.ctrlKey || event.metaKey))) {
      event.preventDefault();
      if (quote && !committed) commit();
      else if (customer && !committed) calculate("max");
    }
  }

  // A scanner types a card number or a QR payload in one fast burst ended by Enter. Such a
  // burst finds the customer wherever it was typed (the amount, the points, nothing focused),
  // and the field it landed in gets its text back. The search box and the customer form handle
  // their own Enter.
  const SCAN_GAP_MS = 100;
  let burst = { text: "", at: 0, target: null, before: null };

  function looksScanned(text) {
    if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(text)) return true; // a QR payload: loyalty:…, https://…
    return /^[\d\s()+-]+$/.test(text) && text.replace(/\D/g, "").length >= 10; // a card or a phone
  }

  function onScannerKey(event) {
    const now = performance.now();
    if (now - burst.at > SCAN_GAP_MS) {
      const target = event.target;
      burst = { text: "", at: now, target, before: target && "value" in target ? target.value : null };
    }
    burst.at = now;
    if (event.key !== "Enter") {
      if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) burst.text += event.key;
      return;
    }
    const { text, target, before } = burst;
    burst = { text: "", at: 0, target: null, before: null };
    const own = target === $("search") || (target && target.closest && target.closest("#customer-form"));
    if (own || !looksScanned(text.trim())) return;
    event.preventDefault();
    event.stopPropagation();
    if (target && before !== null) {
      target.value = before;
      if (target.classList.contains("amount")) lineTexts[Number(target.dataset.index)] = before;
    }
    scanned(text.trim());
  }

  async function scanned(text) {
    closeForm();
    $("search").value = text;
    const found = await runSearch();
    if (found.length > 0) selectCustomer(found[0]);
    else $("search").focus();
  }

  async function start() {
    wire();
    receiptId = uuid();
    applyLanguage();
    pollHealth();
    setInterval(pollHealth, HEALTH_EVERY_MS);
    try {
      const session = await api("GET", "/v1/session");
      csrf = session.csrf;
      personalData = session.personal_data || personalData;
      $("signup-qr").hidden = !session.signup_qr;
      renderNoticeOfPersonalData();
    } catch (e) {
      if (e.status !== 401) showError(e);
      signedOut();
      return;
    }
    $("main").hidden = false;
    renderRecent();
    $("search").focus();
    document.body.dataset.ready = "true";
  }

  start();
})();

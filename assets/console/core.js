// The console's shared pieces: language, formatting (money in integer kopecks, Russian plurals,
// dates), the API client (session cookie + CSRF header + Accept-Language), DOM building without
// markup, and the widgets every page uses (tables with "Next page", fields with their error
// under them, dialogs, loading and empty states). Pages live in pages_*.js and register
// themselves in LC.pages; main.js routes between them.
"use strict";

(function () {
  const LC = (window.LC = { pages: {} });
  const STRINGS = window.CONSOLE_STRINGS;
  const LANG_KEY = "loyalty.console.lang";

  // ------------------------------------------------------------------------------------------
  // Language: the stored choice, else the browser's first language; Russian or English.

  function preferredLanguage() {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored === "ru" || stored === "en") return stored;
    const list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "ru"];
    for (const tag of list) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (base === "ru" || base === "en") return base;
    }
    return "ru";
  }
  LC.lang = preferredLanguage();

  LC.setLanguage = function (lang) {
    LC.lang = lang;
    localStorage.setItem(LANG_KEY, lang);
  };

  // t("key", {name: value}): the string in the page's language; `{name}` filled in.
  LC.t = function (key, values) {
    let text = (STRINGS[LC.lang] && STRINGS[LC.lang][key]);
    if (text === undefined) text = STRINGS.en[key];
    if (text === undefined) text = key;
    if (values) {
      for (const [name, value] of Object.entries(values)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  };
  const t = LC.t;

  // Static words in index.html carry data-i18n.
  LC.translateStatic = function () {
    document.documentElement.lang = LC.lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  };

  // ------------------------------------------------------------------------------------------
  // Numbers, money and dates. Money is integer minor units: never a float.

  function groupDigits(digits, separator) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
  }

  // 123456 → "1 234,56 ₽" (ru) or "₽1,234.56" (en). Integer division only.
  LC.money = function (minor) {
    if (minor === null || minor === undefined || minor === "") return "—";
    const value = Number(minor);
    if (!Number.isSafeInteger(value)) return String(minor);
    const abs = Math.abs(value);
    const whole = String(Math.floor(abs / 100));
    const cents = String(abs % 100).padStart(2, "0");
    const sign = value < 0 ? "−" : "";
    return LC.lang === "ru"
      ? sign + groupDigits(whole, "\u00a0") + "," + cents + "\u00a0₽"
      : sign + "₽" + groupDigits(whole, ",") + "." + cents;
  };

  // "1 250,50", "1250.5", "1 250 ₽" → 125050; null when the text is no amount. Parsed as text.
  LC.parseMoney = function (text) {
    const cleaned = String(text).replace(/[\s\u00a0\u202f]/g, "").replace(/^₽/, "").replace(/(₽|руб\.?|р\.?)$/i, "");
    const match = /^(-?)(\d{1,13})(?:[.,](\d{0,2}))?$/.exec(cleaned);
    if (!match) return null;
    const minor = parseInt(match[2], 10) * 100 + parseInt((match[3] || "").padEnd(2, "0"), 10);
    return match[1] ? -minor : minor;
  };

  // Kopecks → the text an input shows for editing ("1250.50" / "1250,50").
  LC.moneyInput = function (minor) {
    if (minor === null || minor === undefined) return "";
    const abs = Math.abs(minor);
    const text = Math.floor(abs / 100) + (abs % 100 ? (LC.lang === "ru" ? "," : ".") + String(abs % 100).padStart(2, "0") : "");
    return (minor < 0 ? "-" : "") + text;
  };

  // +79991234567 → "+7 999 123-45-67"; other numbers as stored (E.164).
  LC.phone = function (e164) {
    const m = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(e164 || "");
    return m ? "+7 " + m[1] + " " + m[2] + "-" + m[3] + "-" + m[4] : e164 || "";
  };

  LC.number = function (n) {
    if (n === null || n === undefined) return "—";
    const value = Number(n);
    if (!Number.isFinite(value)) return String(n);
    const sign = value < 0 ? "−" : "";
    return sign + groupDigits(String(Math.abs(Math.trunc(value))), LC.lang === "ru" ? "\u00a0" : ",");
  };

  // The word for a count: Russian has three forms (1 балл, 3 балла, 25 баллов; 11–14 take
  // the third), English two.
  LC.plural = function (count, ru, en) {
    const abs = Math.abs(count);
    if (LC.lang !== "ru") return abs === 1 ? en[0] : en[1];
    const n = abs % 100;
    const last = n % 10;
    return n >= 11 && n <= 14 ? ru[2] : last === 1 ? ru[0] : last >= 2 && last <= 4 ? ru[1] : ru[2];
  };
  LC.pointsText = function (points) {
    return LC.number(points) + "\u00a0" + LC.plural(points, ["балл", "балла", "баллов"], ["point", "points"]);
  };
  LC.signedPoints = function (points) {
    return (points > 0 ? "+" : "") + LC.number(points);
  };
  LC.countText = function (n, ru, en) {
    return LC.number(n) + "\u00a0" + LC.plural(n, ru, en);
  };

  // "2026-12-07T07:50:33Z" → the browser's way of writing a date (and time) in the page's language.
  function locale() {
    return LC.lang === "ru" ? "ru-RU" : "en-GB";
  }
  LC.dateTime = function (iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (isNaN(date)) return String(iso);
    return date.toLocaleString(locale(), { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  };
  LC.date = function (iso) {
    if (!iso) return "—";
    // A bare YYYY-MM-DD is a calendar day: shown as is, not shifted by the time zone.
    const plain = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
    const date = plain ? new Date(+plain[1], +plain[2] - 1, +plain[3]) : new Date(iso);
    if (isNaN(date)) return String(iso);
    return date.toLocaleDateString(locale(), { year: "numeric", month: "short", day: "numeric" });
  };
  // "3 мин назад" / "3 min ago": for last contact.
  LC.ago = function (iso) {
    if (!iso) return t("never");
    const ms = Date.now() - new Date(iso).getTime();
    if (!Number.isFinite(ms)) return String(iso);
    const minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 1) return t("just_now");
    if (minutes < 60) return t("ago", { what: LC.countText(minutes, ["минуту", "минуты", "минут"], ["minute", "minutes"]) });
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return t("ago", { what: LC.countText(hours, ["час", "часа", "часов"], ["hour", "hours"]) });
    return LC.dateTime(iso);
  };
  // Today as YYYY-MM-DD in the chain's zone (the session's day_offset_s; the reports count days
  // from the chain's midnight, so a browser in another zone must not ask for "its" today).
  LC.today = function (offsetDays) {
    const offset = LC.session && typeof LC.session.day_offset_s === "number" ? LC.session.day_offset_s : -new Date().getTimezoneOffset() * 60;
    const d = new Date(Date.now() + offset * 1000);
    d.setUTCDate(d.getUTCDate() + (offsetDays || 0));
    return d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0") + "-" + String(d.getUTCDate()).padStart(2, "0");
  };

  // An idempotency key per operation: a retried or double-clicked adjustment is the same one.
  LC.uuid = function () {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  };

  // ------------------------------------------------------------------------------------------
  // The API. Same-origin fetch carries the HttpOnly session cookie; state-changing calls also
  // carry the CSRF value the sign-in answered; every call asks for errors in the page's language.

  LC.session = null; // {user, csrf, day_offset_s}

  class ApiFailure extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || {};
    }
  }
  LC.ApiFailure = ApiFailure;

  // Called by main.js: 401 not_signed_in anywhere returns to the sign-in form.
  LC.onSignedOut = function () {};

  LC.api = async function (method, path, body, options) {
    options = options || {};
    const headers = { "Accept-Language": LC.lang, Accept: options.accept || "application/json" };
    if (method !== "GET" && method !== "HEAD" && LC.session && LC.session.csrf) headers["X-CSRF-Token"] = LC.session.csrf;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = options.contentType || "application/json";
      payload = options.contentType ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      throw new ApiFailure(0, "network", t("network_error"));
    }
    if (response.status === 204) return null;
    const isJson = (response.headers.get("Content-Type") || "").includes("json");
    let data = null;
    if (options.blob && response.ok) data = await response.blob();
    else if (isJson) data = await response.json().catch(() => null);
    else data = await response.text().catch(() => "");
    if (!response.ok) {
      const error = (data && data.error) || {};
      const code = error.code || "http_" + response.status;
      let message = error.message || t("http_error", { status: response.status });
      // The API's sentence says it already; ours is for an answer without one.
      if (response.status === 403 && code === "role_forbidden" && !error.message) message = t("role_forbidden");
      const failure = new ApiFailure(response.status, code, message.trim(), error.details);
      if (response.status === 401 && code === "not_signed_in" && !options.noRedirect) LC.onSignedOut();
      throw failure;
    }
    return data;
  };

  // Query strings from an object, leaving out empty values.
  LC.query = function (params) {
    const parts = [];
    for (const [key, value] of Object.entries(params || {})) {
      if (value === undefined || value === null || value === "") continue;
      parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
    }
    return parts.length ? "?" + parts.join("&") : "";
  };

  // ------------------------------------------------------------------------------------------
  // Roles: what each may open. The server checks every call anyway; this only hides what
  // would be refused.

  const AREAS = {
    owner: ["dashboard", "customers", "program", "tills", "conflicts", "reports", "webhooks", "gift_cards", "moysklad", "import", "audit", "users", "edit"],
    manager: ["dashboard", "customers", "tills", "conflicts", "reports", "edit"],
    analyst: ["dashboard", "reports"],
  };
  LC.can = function (area) {
    const role = LC.session && LC.session.user && LC.session.user.role;
    return !!(AREAS[role] && AREAS[role].includes(area));
  };
  LC.isOwner = function () {
    return !!(LC.session && LC.session.user && LC.session.user.role === "owner");
  };
  // The stores a manager is limited to (empty: all).
  LC.myStores = function () {
    return (LC.session && LC.session.user && LC.session.user.stores) || [];
  };

  // ------------------------------------------------------------------------------------------
  // DOM building. h("td", {class: "num"}, "text", child): strings become text nodes; attributes
  // are set one by one. There is no way to pass markup.

  LC.h = function (tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "on") for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "value") el.value = value;
      else if (key === "checked") el.checked = !!value;
      else if (key === "disabled") el.disabled = !!value;
      else if (key === "hidden") el.hidden = !!value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    LC.append(el, children);
    return el;
  };
  LC.append = function (el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };
  LC.clear = function (el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  };
  const h = LC.h;

  // SVG elements (charts) must be made in the SVG namespace.
  LC.svg = function (tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") el.textContent = value;
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) if (child) el.appendChild(child);
    return el;
  };

  // An SVG document the API answered as text (a QR code) shown as an image through a blob: URL:
  // the browser renders it as an image, so nothing in it can run or reach the page.
  LC.svgImage = function (svgText, alt) {
    const url = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
    const img = h("img", { class: "qr", alt: alt || "", src: url });
    img.addEventListener("load", () => setTimeout(() => URL.revokeObjectURL(url), 1000), { once: true });
    return img;
  };
  LC.blobImage = function (blob, alt) {
    const url = URL.createObjectURL(blob);
    return h("img", { class: "qr", alt: alt || "", src: url });
  };

  // ------------------------------------------------------------------------------------------
  // Notices: one line at the top of the view for what just happened.

  LC.notice = function (text, kind) {
    const notice = document.getElementById("notice");
    notice.textContent = text || "";
    notice.className = "notice " + (kind || "error");
    notice.hidden = !text;
    if (text) notice.scrollIntoView({ block: "nearest" });
  };
  LC.showError = function (error) {
    LC.notice(error && error.message ? error.message : String(error), "error");
  };
  LC.clearNotice = function () {
    LC.notice("");
  };

  LC.loading = function () {
    return h("div", { class: "loading", role: "status" }, t("loading"));
  };
  LC.empty = function (text) {
    return h("div", { class: "empty" }, text || t("nothing_here"));
  };

  LC.pageHead = function (title, ...extra) {
    return h("div", { class: "page-head" }, h("h1", {}, title), extra);
  };

  LC.status = function (text, tone) {
    return h("span", { class: "status" + (tone ? " " + tone : "") }, text);
  };

  // ------------------------------------------------------------------------------------------
  // Forms. field() makes a labelled input with a place for its error; a form collects them by
  // name so an API error's details.field lands under the right one.

  // spec: {name, label, type, value, hint, options: [[value, label]], placeholder, required, attrs}
  LC.field = function (spec) {
    let input;
    const type = spec.type || "text";
    if (type === "select") {
      input = h("select", { name: spec.name });
      for (const [value, label] of spec.options || []) input.appendChild(h("option", { value }, label));
      if (spec.value !== undefined && spec.value !== null) input.value = String(spec.value);
    } else if (type === "textarea") {
      input = h("textarea", { name: spec.name, placeholder: spec.placeholder, rows: spec.rows || 3 });
      input.value = spec.value === undefined || spec.value === null ? "" : String(spec.value);
    } else if (type === "checkbox") {
      input = h("input", { type: "checkbox", name: spec.name, checked: !!spec.value });
    } else {
      input = h("input", { type, name: spec.name, placeholder: spec.placeholder, autocomplete: spec.autocomplete || "off" });
      input.value = spec.value === undefined || spec.value === null ? "" : String(spec.value);
    }
    for (const [key, value] of Object.entries(spec.attrs || {})) input.setAttribute(key, value);
    if (spec.required) input.required = true;
    const error = h("span", { class: "error", role: "alert", hidden: true });
    const hint = spec.hint ? h("span", { class: "hint" }, spec.hint) : null;
    // A checkbox stands before its words; other inputs stand under theirs.
    const wrap = type === "checkbox"
      ? h("label", { class: "field check" + (spec.class ? " " + spec.class : "") }, input, h("span", { class: "check-label" }, spec.label), hint, error)
      : h("label", { class: "field" + (spec.class ? " " + spec.class : "") }, h("span", {}, spec.label), input, hint, error);
    wrap.dataset.field = spec.name;
    input.addEventListener("input", () => LC.fieldError(wrap, null));
    return { wrap, input, error, name: spec.name };
  };

  LC.fieldError = function (wrap, text) {
    const input = wrap.querySelector("input, select, textarea");
    const error = wrap.querySelector(".error");
    if (!error) return;
    error.textContent = text || "";
    error.hidden = !text;
    if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  };

  // Puts an API failure under the field it names (details.field, as the API spells it, or the
  // last part of a path like "tiers[1].threshold"), else into the form's own notice.
  LC.formError = function (form, failure) {
    const field = failure && failure.details && (failure.details.field || failure.details.path);
    // A phone, card or email another customer holds: offer that customer's card.
    const holder = failure && failure.details && typeof failure.details.customer === "string" ? failure.details.customer : null;
    const holderLink = () => (holder ? h("a", { href: "#/customers/" + encodeURIComponent(holder), class: "holder-link",
      on: { click: () => { for (const d of document.querySelectorAll(".overlay")) d.remove(); } } }, " " + t("open_holder")) : null);
    if (field) {
      const names = [String(field), String(field).split(/[.[\]]/).filter(Boolean).pop()];
      for (const name of names) {
        const wrap = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
        if (wrap) {
          LC.fieldError(wrap, failure.message);
          if (holder) wrap.querySelector(".error").append(holderLink());
          const input = wrap.querySelector("input, select, textarea");
          if (input) input.focus();
          return;
        }
      }
    }
    const box = form.querySelector(".form-notice");
    if (box) {
      box.textContent = failure.message;
      if (holder) box.append(holderLink());
      box.hidden = false;
    } else LC.showError(failure);
  };
  LC.clearFormErrors = function (form) {
    for (const wrap of form.querySelectorAll("[data-field]")) LC.fieldError(wrap, null);
    const box = form.querySelector(".form-notice");
    if (box) box.hidden = true;
  };
  LC.formNotice = function () {
    return h("div", { class: "notice error form-notice", role: "alert", hidden: true });
  };

  // Runs `work` with the button disabled and a busy label, so a double click sends once.
  LC.busy = async function (button, work) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = t("working");
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  };

  // ------------------------------------------------------------------------------------------
  // A modal dialog: content and buttons; Escape and the backdrop close it.

  LC.dialog = function (title, content, buttons) {
    const overlay = h("div", { class: "overlay" });
    const close = () => {
      overlay.remove();
      document.removeEventListener("keydown", onKey);
    };
    const onKey = (event) => {
      if (event.key === "Escape") close();
    };
    const box = h("div", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": title },
      h("h2", {}, title), content,
      h("div", { class: "actions" }, (buttons || []).map((b) => h("button", {
        type: "button", class: b.class || "",
        on: { click: async (event) => {
          const button = event.currentTarget;
          if (b.onClick) {
            // Disabled while the handler runs: a double click, or Enter then a click, sends once.
            button.disabled = true;
            let keep;
            try {
              keep = await b.onClick(event, close);
            } finally {
              button.disabled = false;
            }
            if (keep === true) return;
          }
          close();
        } },
      }, b.label))));
    overlay.appendChild(box);
    // Enter in a field submits the dialog's form: that is the primary button, never a native
    // submit (which would put the fields, a password among them, into the address).
    const pressPrimary = () => {
      const primary = box.querySelector(".actions button.primary");
      if (primary && !primary.disabled) primary.click();
    };
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      pressPrimary();
    });
    // A form of several fields has no implicit submission: Enter in any one-line field saves.
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      const field = event.target;
      if (field.tagName !== "INPUT" || ["checkbox", "radio", "file", "button", "submit"].includes(field.type)) return;
      event.preventDefault();
      pressPrimary();
    });
    overlay.addEventListener("click", (event) => { if (event.target === overlay) close(); });
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
    const first = box.querySelector("input, select, textarea, button.primary");
    if (first) first.focus();
    return { close, box };
  };

  // "Are you sure?" → resolves true or false.
  LC.confirm = function (title, text, yesLabel) {
    return new Promise((resolve) => {
      let answered = false;
      const d = LC.dialog(title, h("p", {}, text), [
        { label: yesLabel || t("yes"), class: "danger", onClick: () => { answered = true; resolve(true); } },
        { label: t("cancel"), onClick: () => { answered = true; resolve(false); } },
      ]);
      const observer = new MutationObserver(() => {
        if (!d.box.isConnected) {
          observer.disconnect();
          if (!answered) resolve(false);
        }
      });
      observer.observe(document.body, { childList: true });
    });
  };

  // ------------------------------------------------------------------------------------------
  // Tables. columns: [{label, value(row) → text or Node, class}]; rows clickable with onRow.

  LC.table = function (columns, rows, options) {
    options = options || {};
    const body = h("tbody");
    const table = h("table", { class: "data" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class || "" }, c.label)))), body);
    LC.addRows(table, columns, rows, options);
    return table;
  };
  LC.addRows = function (table, columns, rows, options) {
    options = options || {};
    const body = table.tBodies[0];
    for (const row of rows) {
      const tr = h("tr", { class: options.onRow ? "clickable" : "", dataset: options.rowData ? options.rowData(row) : {} },
        columns.map((c) => {
          const value = c.value(row);
          return h("td", { class: c.class || "" }, value === undefined || value === null || value === "" ? "—" : value);
        }));
      if (options.onRow) {
        tr.tabIndex = 0;
        tr.addEventListener("click", (event) => {
          if (event.target.closest("button, a, input, select")) return;
          options.onRow(row);
        });
        tr.addEventListener("keydown", (event) => { if (event.key === "Enter") options.onRow(row); });
      }
      body.appendChild(tr);
    }
  };

  // A paged list: `load(cursor)` answers {items, next}; the first page is shown at once and
  // "Next page" appends the following one (the API's next_cursor), so nothing is skipped.
  LC.pagedTable = function (columns, load, options) {
    options = options || {};
    const wrap = h("div", { class: "table-wrap" });
    const table = LC.table(columns, [], options);
    const more = h("button", { type: "button", class: "next-page" }, t("next_page"));
    const count = h("span", { class: "muted small" });
    const pager = h("div", { class: "pager", hidden: true }, more, count);
    let cursor = null;
    let shown = 0;
    async function page(first) {
      const status = LC.loading();
      wrap.insertBefore(status, pager);
      more.disabled = true;
      try {
        const answer = await load(first ? null : cursor);
        const items = answer.items || [];
        if (first && items.length === 0) {
          table.replaceWith(LC.empty(options.empty));
          pager.hidden = true;
          return;
        }
        LC.addRows(table, columns, items, options);
        shown += items.length;
        cursor = answer.next || null;
        count.textContent = t("shown_n", { n: LC.number(shown) });
        pager.hidden = false;
        more.hidden = !cursor;
      } catch (error) {
        wrap.insertBefore(h("div", { class: "notice error" }, error.message), pager);
      } finally {
        status.remove();
        more.disabled = false;
      }
    }
    more.addEventListener("click", () => page(false));
    wrap.append(table, pager);
    page(true);
    return wrap;
  };

  // A key–value list: pairs of [label, value].
  LC.kv = function (pairs) {
    return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === undefined || v === null || v === "" ? "—" : v)]));
  };

  // A compact before → after of two JSON values: changed leaves by path.
  LC.diffLines = function (before, after) {
    const out = [];
    const isRecordValue = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    function walk(path, a, b) {
      const isObj = (v) => v !== null && typeof v === "object";
      // A record added (a new tier) or removed shows as its fields, not one line of JSON.
      if (isRecordValue(b) && (a === undefined || a === null)) a = {};
      if (isRecordValue(a) && (b === undefined || b === null)) b = {};
      if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        for (const key of keys) walk(path ? (Array.isArray(a) ? path + "[" + key + "]" : path + "." + key) : key, a[key], b[key]);
        return;
      }
      // Nothing against null (a created record's empty field) is no change worth a line.
      if ((a === undefined || a === null) && (b === undefined || b === null)) return;
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: path || "·", before: a, after: b });
    }
    // A record created (or deleted) shows as its fields, not as one blob against nothing.
    const isRecord = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    const from = before === undefined || before === null ? (isRecord(after) ? {} : null) : before;
    const to = after === undefined || after === null ? (isRecord(before) ? {} : null) : after;
    walk("", from, to);
    return out;
  };
  // A changed field's path in the page's words where it has them ("tiers[0].accrual_percent"
  // → "Уровни › 1 › Начисление, %"); a key the page has no word for stays as it is, and the
  // raw path stays in the tooltip.
  LC.pathLabel = function (path) {
    const parts = String(path).split(/\.|\[|\]/).filter((part) => part !== "");
    // Inside a program the editor's words come first (a tier's `name` is its "Название").
    const inProgram = parts[0] === "program";
    return parts
      .map((part) => {
        if (/^\d+$/.test(part)) return String(Number(part) + 1);
        const keys = inProgram ? ["prog_" + part, "f_" + part, part] : ["f_" + part, part, "prog_" + part];
        for (const key of keys) {
          const word = t(key);
          if (word !== key) return word;
        }
        return part;
      })
      .join(" › ");
  };

  // Fields that hold money in minor units wherever they appear in a change. `balance` is one
  // only where the caller says so (a gift card's is money, an adjustment's is points).
  const MONEY_FIELDS = new Set(["threshold", "min_receipt", "point_value", "min_payable", "initial", "paid_total", "amount", "discount_amount"]);
  function isMoney(path, extra) {
    const last = String(path).split(/\.|\[|\]/).filter((p) => p !== "").pop();
    return MONEY_FIELDS.has(last) || (extra || []).includes(last);
  }

  // A changed value as a reader says it: text without JSON's quotes, yes/no, lists joined,
  // money as money.
  function changedValue(v, path, moneyKeys) {
    if (typeof v === "number" && path !== undefined && isMoney(path, moneyKeys)) return LC.money(v);
    if (v === undefined || v === null) return "∅";
    if (typeof v === "boolean") return t(v ? "yes" : "no");
    if (typeof v === "string") return v === "" ? "«»" : v;
    if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.length ? v.join(", ") : "[]";
    return JSON.stringify(v);
  }

  // `moneyKeys`: more fields that hold money in this change (a gift card's `balance`).
  LC.diffView = function (before, after, moneyKeys) {
    const shortJson = (v, path) => changedValue(v, path, moneyKeys);
    if (before === null && after === null) return "—";
    const lines = LC.diffLines(before, after);
    if (lines.length === 0) return h("span", { class: "muted" }, t("no_changes"));
    return h("div", { class: "diff" }, lines.slice(0, 12).map((line) => h("div", {},
      h("span", { class: "diff-path", title: line.path }, LC.pathLabel(line.path)), ": ",
      line.before !== undefined && line.before !== null ? h("span", { class: "diff-old" }, shortJson(line.before, line.path)) : null,
      line.before !== undefined && line.before !== null ? " → " : null,
      h("span", { class: "diff-new" }, shortJson(line.after, line.path)))),
      lines.length > 12 ? h("div", { class: "muted" }, t("and_more", { n: lines.length - 12 })) : null);
  };

  // The role's name in the page's language.
  LC.roleName = function (role) {
    return t("role_" + role);
  };
})();

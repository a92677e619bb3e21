// The day-to-day pages: the dashboard (tiles and SVG charts drawn with createElementNS), stores
// and tills (create, enrollment code as text and QR, new code, revoke), conflicts (filters, mark
// handled with a note), the finance reports (liability, daily with its CSV, shift) and the
// customers import/export. The report endpoints are young: their answers are read defensively
// (several names tried, unknown fields shown as they come) so a renamed field shows as "—"
// rather than breaking the page.
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;

  // The first of several paths ("receipts.loyalty", "loyalty_receipts") that has a value.
  function pick(obj, ...paths) {
    for (const path of paths) {
      let v = obj;
      for (const part of path.split(".")) v = v === null || v === undefined ? undefined : v[part];
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }

  // Every till (of one store, when given), all pages (a chain has at most a few hundred), for
  // the tills page and the store lists.
  async function allTills(store) {
    const tills = [];
    let cursor = null;
    for (let i = 0; i < 50; i++) {
      const answer = await LC.api("GET", "/v1/admin/tills" + LC.query({ store: store || "", limit: 1000, cursor }));
      tills.push(...(answer.tills || []));
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    return tills;
  }
  LC.allTills = allTills;

  // The stores to offer in filters: a manager's own, else those the tills name.
  let storesCache = null;
  LC.stores = async function () {
    if (LC.myStores().length) return LC.myStores();
    if (!storesCache) {
      storesCache = allTills().then((tills) => [...new Set(tills.map((x) => x.store).filter((s) => s && s !== ""))].sort())
        .catch(() => []);
    }
    return storesCache;
  };
  LC.forgetStores = () => { storesCache = null; tillNames = null; };

  // Tills by id, to show "Арбат · Касса 2" instead of an id wherever a till is named. A role
  // that may not list tills sees the ids.
  let tillNames = null;
  LC.loadTillNames = async function () {
    if (!tillNames) tillNames = allTills().then((tills) => new Map(tills.map((x) => [x.till_id, x]))).catch(() => new Map());
    return tillNames;
  };
  // A cell for a till id: its store and name (the id as a tooltip), once loadTillNames answered.
  LC.tillCell = function (names, id) {
    if (!id) return null;
    const till = names && names.get(id);
    return till
      ? h("span", { class: "till-cell", title: id }, h("span", { class: "nowrap" }, till.name), h("span", { class: "muted small" }, till.store))
      : h("span", { class: "mono small", title: id }, id.slice(0, 8) + "…");
  };

  async function storeSelect(name, value, allLabel) {
    const stores = await LC.stores();
    const options = LC.myStores().length === 1 ? [] : [["", allLabel || t("all_stores")]];
    return LC.field({ name, label: t("store"), type: "select", options: [...options, ...stores.map((s) => [s, s])], value });
  }

  // ------------------------------------------------------------------------------------------
  // Dashboard

  LC.pages.dashboard = {
    area: "dashboard",
    title: "nav_dashboard",
    async render(view, params, query) {
      const period = ["today", "7d", "30d"].includes(query.period) ? query.period : "7d";
      const store = await storeSelect("store", query.store || "");
      if (!LC.current()) return;
      const periods = h("div", { class: "segmented", role: "group", "aria-label": t("period") },
        [["today", t("period_today")], ["7d", t("period_7d")], ["30d", t("period_30d")]].map(([value, label]) =>
          h("button", { type: "button", "aria-pressed": String(value === period), dataset: { period: value },
            on: { click: () => LC.go("dashboard", [], { period: value, store: store.input.value }) } }, label)));
      store.input.addEventListener("change", () => LC.go("dashboard", [], { period, store: store.input.value }));
      store.wrap.querySelector("span").hidden = true;
      view.append(LC.pageHead(t("nav_dashboard"), periods, store.wrap));
      const body = h("div", { id: "dashboard" }, LC.loading());
      view.append(body);
      let d;
      try {
        d = await LC.api("GET", "/v1/admin/dashboard" + LC.query({ period, store: store.input.value }));
      } catch (error) {
        LC.clear(body).append(h("div", { class: "notice error" }, error.message));
        return;
      }
      if (!LC.current()) return;
      drawDashboard(LC.clear(body), d);
    },
  };

  function drawDashboard(body, d) {
    const receipts = pick(d, "receipts.total", "receipts.all", "receipts_total", "receipts") ;
    const total = typeof receipts === "number" ? receipts : 0;
    const loyalty = pick(d, "receipts.loyalty", "loyalty_receipts", "receipts.with_loyalty") || 0;
    const earned = pick(d, "points.earned", "points_earned");
    const spent = pick(d, "points.spent", "points.redeemed", "points_spent");
    const expired = pick(d, "points.expired", "points_expired");
    const fresh = pick(d, "new_customers") || {};
    const freshTotal = typeof fresh === "number" ? fresh : pick(fresh, "total") ?? Object.values(fresh).reduce((a, b) => a + (Number(b) || 0), 0);
    const active = pick(d, "tills.active", "active_tills");
    const tillsTotal = pick(d, "tills.total");
    const silent = pick(d, "tills.not_seen_1h", "tills.silent", "silent_tills");
    const conflicts = pick(d, "conflicts.pending", "pending_conflicts", "conflicts");

    // Share of receipts with a loyalty card, in tenths of a percent by integer arithmetic (the
    // API's basis points when it sends them).
    const bp = pick(d, "loyalty_share_bp");
    const permille = typeof bp === "number" ? Math.floor(bp / 10) : total > 0 ? Math.floor((loyalty * 1000) / total) : 0;
    const share = Math.floor(permille / 10) + (LC.lang === "ru" ? "," : ".") + (permille % 10) + "\u00a0%";

    const tile = (label, value, sub, alert, id) => h("div", { class: "tile" + (alert ? " alert" : ""), dataset: { tile: id } },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
    const freshSub = typeof fresh === "object"
      ? SOURCES.filter((s) => fresh[s]).map((s) => t("source_" + s) + ": " + LC.number(fresh[s])).join(" · ") : null;
    body.append(h("div", { class: "tiles" },
      tile(t("dash_loyalty_receipts"), LC.number(loyalty), t("dash_of_all", { n: LC.number(total) }), false, "loyalty"),
      tile(t("dash_share"), share, null, false, "share"),
      tile(t("dash_earned"), LC.number(earned), null, false, "earned"),
      tile(t("dash_spent"), LC.number(spent), null, false, "spent"),
      tile(t("dash_expired"), LC.number(expired), null, false, "expired"),
      tile(t("dash_new_customers"), LC.number(freshTotal), freshSub, false, "new"),
      tile(t("dash_tills"), tillsTotal !== undefined ? t("n_of_m", { n: LC.number(active), m: LC.number(tillsTotal) }) : LC.number(active), silent ? t("dash_silent", { n: LC.number(silent) }) : t("dash_none_silent"), silent > 0, "tills"),
      tile(t("dash_conflicts"), LC.number(conflicts), conflicts ? h("a", { href: "#/conflicts?handled=false" }, t("dash_open_conflicts")) : null, conflicts > 0, "conflicts")));

    const series = pick(d, "series", "days", "per_day") || [];
    body.append(h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, t("dash_receipts_by_day")),
        legend([["#c9d3e6", t("dash_all_receipts")], ["#2f5fd0", t("dash_loyalty_receipts")]]),
        barChart(series, [(s) => pick(s, "receipts", "receipts_total") || 0, (s) => pick(s, "loyalty_receipts", "loyalty") || 0], ["#c9d3e6", "#2f5fd0"], true)),
      h("div", { class: "panel" }, h("h2", {}, t("dash_points_by_day")),
        legend([["#1b8a4b", t("dash_earned")], ["#e08a1e", t("dash_spent")]]),
        barChart(series, [(s) => pick(s, "earned", "points_earned") || 0, (s) => pick(s, "spent", "points_spent", "redeemed") || 0], ["#1b8a4b", "#e08a1e"], false))));
    body.append(h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, t("dash_share")), ring(permille, share)),
      h("div", { class: "panel" }, h("h2", {}, t("dash_new_by_source")), sourceBars(fresh))));
  }

  // Where new customers come from, as the dashboard counts them.
  const SOURCES = ["till", "web", "import", "admin", "moysklad", "unknown"];

  function legend(items) {
    return h("div", { class: "legend" }, items.map(([color, label]) => {
      const swatch = h("i");
      swatch.style.background = color;
      return h("span", {}, swatch, label);
    }));
  }

  // Bars per day. `overlay`: the second value is drawn over the first (a part of it); else the
  // two stand side by side. Heights are scaled to the largest value of the chart.
  function barChart(series, values, colors, overlay) {
    const W = 560, H = 196, left = 40, bottom = 22, top = 14;
    const svg = LC.svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img" });
    if (!series.length) {
      svg.append(LC.svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: t("no_data") }));
      return svg;
    }
    const highest = Math.max(0, ...series.flatMap((s) => values.map((f) => Number(f(s)) || 0)));
    if (highest === 0) {
      svg.append(LC.svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: t("no_data") }));
      return svg;
    }
    // The scale's top: the next 1, 2 or 5 × 10ⁿ, so the gridlines carry round numbers.
    const max = niceCeiling(highest);
    const plotH = H - bottom - top;
    const step = (W - left - 6) / series.length;
    const barW = Math.max(2, Math.min(28, step * (overlay ? 0.7 : 0.38)));
    for (const fraction of max % 2 === 0 ? [0, 0.5, 1] : [0, 1]) {
      const y = top + plotH - plotH * fraction;
      svg.append(LC.svg("line", { x1: left, x2: W - 4, y1: y, y2: y, stroke: "#e6e9ef" }),
        LC.svg("text", { x: left - 4, y: y + 4, "text-anchor": "end", text: LC.number(Math.round(max * fraction)) }));
    }
    const labelEvery = Math.ceil(series.length / 10);
    series.forEach((s, i) => {
      const x0 = left + i * step + (step - (overlay ? barW : barW * 2 + 2)) / 2;
      values.forEach((f, k) => {
        const v = Number(f(s)) || 0;
        const bh = (plotH * v) / max;
        const x = overlay ? x0 : x0 + k * (barW + 2);
        const rect = LC.svg("rect", { x, y: top + plotH - bh, width: barW, height: Math.max(0, bh), fill: colors[k], rx: 2 });
        rect.append(LC.svg("title", { text: dayLabel(s) + ": " + LC.number(v) }));
        svg.append(rect);
      });
      if (i % labelEvery === 0) svg.append(LC.svg("text", { x: left + i * step + step / 2, y: H - 6, "text-anchor": "middle", text: dayLabel(s, true) }));
    });
    return svg;
  }

  // The least 1, 2 or 5 × 10ⁿ not below `value`.
  function niceCeiling(value) {
    for (let step = 1; ; step *= 10) {
      for (const k of [1, 2, 5]) if (k * step >= value) return k * step;
    }
  }

  function dayLabel(s, short) {
    const day = pick(s, "day", "date", "at");
    if (!day) return "";
    if (!short) return LC.date(day);
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
    return m ? m[3] + "." + m[2] : String(day);
  }

  // The loyalty share as a ring: a full circle and an arc of permille/1000 of it.
  function ring(permille, label) {
    const R = 54, C = 2 * Math.PI * R;
    const svg = LC.svg("svg", { viewBox: "0 0 160 140", class: "chart ring", role: "img", "aria-label": label });
    svg.append(LC.svg("circle", { cx: 80, cy: 70, r: R, fill: "none", stroke: "#e6e9ef", "stroke-width": 16 }));
    svg.append(LC.svg("circle", { cx: 80, cy: 70, r: R, fill: "none", stroke: "#2f5fd0", "stroke-width": 16,
      "stroke-dasharray": (C * permille) / 1000 + " " + C, transform: "rotate(-90 80 70)" }));
    svg.append(LC.svg("text", { x: 80, y: 77, "text-anchor": "middle", class: "ring-label", text: label }));
    const box = h("div", { class: "row" }, svg, h("p", { class: "muted" }, t("dash_share_text")));
    svg.style.width = "180px";
    return box;
  }

  function sourceBars(fresh) {
    if (typeof fresh !== "object") return LC.empty(t("no_data"));
    // The usual three always; the rarer sources when they brought someone.
    const rows = SOURCES.filter((s) => ["till", "web", "import"].includes(s) || fresh[s]).map((s) => [t("source_" + s), Number(fresh[s]) || 0]);
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const svg = LC.svg("svg", { viewBox: "0 0 420 " + (rows.length * 34 + 4), class: "chart", role: "img" });
    rows.forEach(([label, value], i) => {
      const y = i * 34 + 6;
      svg.append(LC.svg("text", { x: 0, y: y + 15, text: label }),
        LC.svg("rect", { x: 90, y, width: Math.max(1, (280 * value) / max), height: 20, fill: "#5b7fd6", rx: 3 }),
        LC.svg("text", { x: 96 + (280 * value) / max, y: y + 15, text: LC.number(value) }));
    });
    return svg;
  }

  // ------------------------------------------------------------------------------------------
  // Stores and tills

  LC.pages.tills = {
    area: "tills",
    title: "nav_tills",
    async render(view, params, query) {
      // This page lists the tills anyway: the store list is read afresh with them, so a store
      // another user or a script just gave its first till is there to pick.
      LC.forgetStores();
      const store = await storeSelect("store", query.store || "");
      if (!LC.current()) return;
      store.input.addEventListener("change", () => LC.go("tills", [], { store: store.input.value }));
      store.wrap.querySelector("span").hidden = true;
      const create = LC.isOwner() ? h("button", { type: "button", id: "new-till", class: "primary", on: { click: () => createTillDialog(view) } }, t("new_till")) : null;
      view.append(LC.pageHead(t("nav_tills"), store.wrap, create));
      const body = h("div", { id: "tills" }, LC.loading());
      view.append(body);
      let tills;
      try {
        tills = await allTills(store.input.value);
      } catch (error) {
        LC.clear(body).append(h("div", { class: "notice error" }, error.message));
        return;
      }
      if (!LC.current()) return;
      drawTills(LC.clear(body), tills, view);
    },
  };

  // "2 ч", "15 мин", "3 дн.": how long a till has been silent, in whole units.
  function silentFor(iso) {
    const minutes = Math.max(1, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
    if (!Number.isFinite(minutes)) return "";
    if (minutes < 60) return t("for_minutes", { n: minutes });
    if (minutes < 48 * 60) return t("for_hours", { n: Math.floor(minutes / 60) });
    return t("for_days", { n: Math.floor(minutes / 1440) });
  }

  // The state of a till as a coloured dot and a few words: online (seen within the cloud's
  // window, 5 minutes), offline and for how long, never enrolled, or revoked.
  function tillState(till) {
    const dot = (tone, text, title) => h("span", { class: "till-state " + tone, title: title || "" }, h("span", { class: "dot", "aria-hidden": "true" }), text);
    if (till.revoked) return dot("off", t("till_revoked"));
    if (!till.enrolled && till.name === "MoySklad") return dot("off", t("till_moysklad"));
    if (!till.enrolled) return dot("warn", t("till_not_enrolled"));
    if (till.online) return dot("ok", t("till_online"));
    if (!till.last_seen_at) return dot("bad", t("till_offline"));
    return dot("bad", t("till_offline_for", { for: silentFor(till.last_seen_at) }), t("last_contact") + ": " + LC.dateTime(till.last_seen_at));
  }

  // Events the till still holds. Offline, they are sales and returns the reports do not have
  // yet: highlighted, with a word on why.
  function pendingCell(till) {
    const n = till.pending_events;
    if (n === undefined || n === null) return null;
    const reported = till.pending_reported_at ? t("pending_reported", { date: LC.dateTime(till.pending_reported_at) }) : "";
    if (n > 0 && !till.online) {
      return h("span", { class: "pending-late", title: t("pending_not_in_reports") + (reported ? " " + reported : "") }, LC.number(n));
    }
    return h("span", { title: reported }, LC.number(n));
  }

  function drawTills(body, tills, view) {
    if (!tills.length) {
      body.append(LC.empty(LC.isOwner() ? t("no_tills_owner") : t("no_tills")));
      return;
    }
    const sorted = [...tills].sort((a, b) => String(a.store).localeCompare(String(b.store)) || String(a.name).localeCompare(String(b.name)));
    const late = tills.some((x) => x.pending_events > 0 && !x.online);
    body.append(h("div", { class: "panel" },
      h("div", { class: "table-wrap" }, LC.table([
        { label: t("till"), value: (x) => h("span", { class: "till-cell", title: x.till_id }, h("strong", { class: "nowrap" }, x.name), h("span", { class: "muted small" }, x.store)) },
        { label: t("state"), value: tillState, class: "nowrap" },
        { label: t("last_contact"), value: (x) => (x.last_seen_at ? LC.dateTime(x.last_seen_at) : t("never")), class: "nowrap" },
        { label: t("agent_version"), value: (x) => x.agent_version, class: "nowrap" },
        { label: t("pending_events"), value: pendingCell, class: "num" },
        { label: t("events_received"), value: (x) => LC.number(x.last_seq), class: "num" },
        { label: "", class: "actions-cell", value: (x) => tillActions(x, view) },
      ], sorted, { rowData: (x) => ({ till: x.till_id }) })),
      h("p", { class: "muted small" }, t("tills_online_note"), late ? [" ", h("span", { class: "pending-late" }, t("pending_late_note"))] : null)));
  }

  function tillActions(till, view) {
    // A revoked till keeps "New code": a new code is how it comes back.
    if (!LC.isOwner() || till.name === "MoySklad") return h("span");
    const code = h("button", { type: "button", class: "small", on: { click: async () => {
      try {
        const answer = await LC.busy(code, () => LC.api("POST", "/v1/admin/tills/" + encodeURIComponent(till.till_id) + "/enrollment-code", {}));
        showCode(answer);
      } catch (error) {
        LC.showError(error);
      }
    } } }, t("new_code"));
    // A till not enrolled (new, or revoked already) has no token to revoke: a new code is all it needs.
    const revoke = !till.enrolled ? null : h("button", { type: "button", class: "small danger", on: { click: async () => {
      if (!(await LC.confirm(t("revoke_till"), t("revoke_confirm", { name: till.name, store: till.store }), t("revoke_till")))) return;
      try {
        await LC.api("POST", "/v1/admin/tills/" + encodeURIComponent(till.till_id) + "/revoke", {});
        LC.go("tills");
        setTimeout(() => LC.notice(t("till_revoked_done", { name: till.name }), "info"), 0);
      } catch (error) {
        LC.showError(error);
      }
    } } }, t("revoke_till"));
    return h("span", { class: "row" }, code, revoke);
  }

  async function createTillDialog() {
    const stores = await LC.stores();
    const store = LC.field({ name: "store", label: t("store"), hint: t("store_hint"), attrs: { list: "store-list" } });
    const name = LC.field({ name: "name", label: t("till_name"), placeholder: t("till_name_placeholder") });
    const list = h("datalist", { id: "store-list" }, stores.map((s) => h("option", { value: s })));
    const form = h("form", { novalidate: true, id: "till-form" }, LC.formNotice(), store.wrap, name.wrap, list);
    LC.dialog(t("new_till"), form, [
      {
        label: t("create"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          try {
            const answer = await LC.api("POST", "/v1/admin/tills", { store: store.input.value.trim(), name: name.input.value.trim() });
            LC.forgetStores();
            LC.go("tills");
            showCode(answer);
            return false;
          } catch (failure) {
            LC.formError(form, failure);
            return true;
          }
        },
      },
      { label: t("cancel") },
    ]);
  }

  // The one-time enrollment code, as text to type and as a QR code to scan.
  function showCode(answer) {
    const content = h("div", { id: "enrollment" },
      h("p", {}, t("code_for", { name: answer.name, store: answer.store })),
      h("div", { class: "row" },
        answer.enrollment_qr_svg ? LC.svgImage(answer.enrollment_qr_svg, t("code_qr")) : null,
        h("div", {},
          h("div", { class: "code-box", id: "enrollment-code" }, answer.enrollment_code),
          h("p", { class: "muted small" }, t("code_expires", { date: LC.dateTime(answer.code_expires_at) })),
          h("p", { class: "small" }, t("code_how")),
          h("div", { class: "secret small" }, "loyalty-agent enroll --cloud " + location.origin + " --code " + answer.enrollment_code))));
    LC.dialog(t("enrollment_code"), content, [{ label: t("done"), class: "primary" }]);
  }

  // ------------------------------------------------------------------------------------------
  // Conflicts

  const CONFLICT_KINDS = ["overdraft", "promo_code_overused", "campaign_budget_exceeded", "rejected_event", "customer_merged", "card_reassigned", "email_taken", "phone_taken"];

  LC.pages.conflicts = {
    area: "conflicts",
    title: "nav_conflicts",
    async render(view, params, query) {
      const kind = LC.field({ name: "kind", label: t("conflict_kind"), type: "select", value: query.kind || "",
        options: [["", t("all_kinds")], ...CONFLICT_KINDS.map((k) => [k, t("conflict_" + k)])] });
      const store = await storeSelect("store", query.store || "");
      if (!LC.current()) return;
      const from = LC.field({ name: "from", label: t("from"), type: "date", value: query.from || "" });
      const to = LC.field({ name: "to", label: t("to"), type: "date", value: query.to || "" });
      const handled = LC.field({ name: "handled", label: t("state"), type: "select", value: query.handled === undefined ? "false" : query.handled,
        options: [["false", t("not_handled")], ["true", t("handled")], ["", t("all")]] });
      const apply = h("button", { type: "submit", class: "primary" }, t("apply"));
      const form = h("form", { class: "toolbar" }, kind.wrap, store.wrap, from.wrap, to.wrap, handled.wrap, apply);
      const list = h("div", { id: "conflicts" });
      const names = await LC.loadTillNames();
      if (!LC.current()) return;
      view.append(LC.pageHead(t("nav_conflicts")), form, list);
      const show = () => {
        const filters = { kind: kind.input.value, store: store.input.value, from: from.input.value, to: to.input.value, handled: handled.input.value };
        LC.setQuery({ ...filters, handled: filters.handled === "" ? "all" : filters.handled });
        if (filters.handled === "all") filters.handled = "";
        LC.clear(list).append(conflictTable(filters, names));
      };
      if (query.handled === "all") handled.input.value = "";
      form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
      show();
    },
  };

  function conflictTable(filters, names) {
    return LC.pagedTable([
      { label: t("when"), value: (c) => LC.dateTime(c.created_at) },
      { label: t("conflict_kind"), value: (c) => t("conflict_" + c.kind) },
      { label: t("what_happened"), value: (c) => h("div", {}, c.what_happened, c.what_was_done ? h("div", { class: "muted small" }, c.what_was_done) : null) },
      { label: t("till"), value: (c) => LC.tillCell(names, c.till_id) },
      { label: t("customer"), value: (c) => (c.customer_id ? h("a", { href: "#/customers/" + encodeURIComponent(c.customer_id) }, t("open")) : null) },
      { label: t("state"), value: (c) => handledCell(c) },
    ], async (cursor) => {
      const answer = await LC.api("GET", "/v1/admin/conflicts" + LC.query({ ...filters, limit: 50, cursor }));
      return { items: answer.conflicts || [], next: answer.next_cursor };
    }, { empty: t("no_conflicts") });
  }

  function handledCell(c) {
    const at = pick(c, "handled_at", "handled.at");
    if (at) {
      return h("div", { class: "handled" }, LC.status(t("handled"), "ok"),
        h("div", { class: "muted small" }, LC.dateTime(at) + (pick(c, "handled_by", "handled.by") ? " · " + pick(c, "handled_by", "handled.by") : "")),
        pick(c, "note", "handled_note", "handled.note") ? h("div", { class: "small" }, pick(c, "note", "handled_note", "handled.note")) : null);
    }
    if (!LC.can("edit")) return LC.status(t("not_handled"), "warn");
    const cell = h("div");
    const button = h("button", { type: "button", class: "small mark-handled", on: { click: () => {
      const note = LC.field({ name: "note", label: t("note"), type: "textarea", hint: t("note_hint") });
      const form = h("form", { novalidate: true }, LC.formNotice(), h("p", {}, c.what_happened), note.wrap);
      LC.dialog(t("mark_handled"), form, [
        {
          label: t("mark_handled"), class: "primary", onClick: async () => {
            try {
              const answer = await LC.api("POST", "/v1/admin/conflicts/" + encodeURIComponent(c.id) + "/handled", { note: note.input.value.trim() });
              const updated = answer && typeof answer === "object" && answer.id !== undefined ? answer
                : { ...c, handled_at: new Date().toISOString(), handled_by: LC.session.user.email, note: note.input.value.trim() };
              LC.clear(cell).append(handledCell(updated));
              LC.notice(t("conflict_handled"), "info");
              return false;
            } catch (failure) {
              LC.formError(form, failure);
              return true;
            }
          },
        },
        { label: t("cancel") },
      ]);
    } } }, t("mark_handled"));
    cell.append(button);
    return cell;
  }

  // ------------------------------------------------------------------------------------------
  // Reports

  LC.pages.reports = {
    area: "reports",
    title: "nav_reports",
    async render(view) {
      view.append(LC.pageHead(t("nav_reports")));
      const stores = await LC.stores();
      if (!LC.current()) return;
      view.append(liabilityPanel(stores), dailyPanel(stores), shiftPanel());
    },
  };

  function storeField(stores, name) {
    const options = LC.myStores().length === 1 ? [] : [["", t("all_stores")]];
    return LC.field({ name: name || "store", label: t("store"), type: "select", options: [...options, ...stores.map((s) => [s, s])] });
  }

  function liabilityPanel(stores) {
    const at = LC.field({ name: "at", label: t("at_date"), type: "date", value: LC.today() });
    const store = storeField(stores);
    const run = h("button", { type: "submit", class: "primary" }, t("run_report"));
    const out = h("div", { id: "liability-out" });
    const form = h("form", { class: "toolbar", id: "liability-form" }, at.wrap, store.wrap, run);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      LC.clear(out).append(LC.loading());
      try {
        const r = await LC.busy(run, () => LC.api("GET", "/v1/admin/reports/liability" + LC.query({ at: at.input.value, store: store.input.value })));
        const points = r.points || {};
        const money = r.money || {};
        const keys = ["active", "pending", "expiring_30d", "debt"];
        LC.clear(out).append(
          h("p", { class: "muted" }, t("liability_at", { date: LC.date(r.at || at.input.value), n: LC.countText(r.customers || 0, ["клиент", "клиента", "клиентов"], ["customer", "customers"]) })),
          h("div", { class: "table-wrap" }, LC.table([
            { label: "", value: (k) => t("liab_" + k) },
            { label: t("points"), value: (k) => LC.number(points[k]), class: "num" },
            { label: t("money"), value: (k) => LC.money(money[k]), class: "num" },
          ], keys)));
      } catch (error) {
        LC.clear(out).append(h("div", { class: "notice error" }, error.message));
      }
    });
    return h("div", { class: "panel", id: "report-liability" }, h("h2", {}, t("report_liability")), h("p", { class: "muted small" }, t("report_liability_text")), form, out);
  }

  // Columns of the daily report whose values are kopecks.
  const MONEY_COLUMNS = /(amount|sales|discount|revenue|money|total_paid)$/;
  // The daily report's columns that are no sums to show.
  const DAILY_HIDDEN = ["till_id"];

  function dailyPanel(stores) {
    const from = LC.field({ name: "from", label: t("from"), type: "date", value: LC.today(-6) });
    const to = LC.field({ name: "to", label: t("to"), type: "date", value: LC.today() });
    const store = storeField(stores);
    const run = h("button", { type: "submit", class: "primary" }, t("run_report"));
    const csv = h("a", { class: "button", id: "daily-csv", download: "daily.csv" }, t("download_csv"));
    const out = h("div", { id: "daily-out" });
    const link = () => "/v1/admin/reports/daily" + LC.query({ from: from.input.value, to: to.input.value, store: store.input.value, format: "csv" });
    const sync = () => { csv.href = link(); csv.setAttribute("download", "daily-" + from.input.value + "-" + to.input.value + ".csv"); };
    for (const f of [from, to, store]) f.input.addEventListener("change", sync);
    sync();
    const form = h("form", { class: "toolbar", id: "daily-form" }, from.wrap, to.wrap, store.wrap, run, csv);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      sync();
      LC.clear(out).append(LC.loading());
      try {
        const r = await LC.busy(run, () => LC.api("GET", "/v1/admin/reports/daily" + LC.query({ from: from.input.value, to: to.input.value, store: store.input.value })));
        const rows = Array.isArray(r) ? r : pick(r, "rows", "days", "report") || Object.values(r).find(Array.isArray) || [];
        if (!rows.length) {
          LC.clear(out).append(LC.empty(t("no_data")));
          return;
        }
        const keys = Object.keys(rows[0]).filter((k) => !DAILY_HIDDEN.includes(k));
        LC.clear(out).append(h("div", { class: "table-wrap" }, LC.table(keys.map((key) => ({
          label: t("col_" + key),
          class: key === "day" || key === "date" || key === "store" ? "" : "num",
          value: (row) => {
            const v = row[key];
            if (key === "day" || key === "date") return LC.date(v);
            if (typeof v === "number") return MONEY_COLUMNS.test(key) ? LC.money(v) : LC.number(v);
            return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
          },
        })), rows)));
      } catch (error) {
        LC.clear(out).append(h("div", { class: "notice error" }, error.message));
      }
    });
    return h("div", { class: "panel", id: "report-daily" }, h("h2", {}, t("report_daily")), h("p", { class: "muted small" }, t("report_daily_text")), form, out);
  }

  function shiftPanel() {
    const till = LC.field({ name: "till", label: t("till"), type: "select", options: [["", t("loading")]] });
    const date = LC.field({ name: "date", label: t("date"), type: "date", value: LC.today() });
    const run = h("button", { type: "submit", class: "primary" }, t("run_report"));
    const out = h("div", { id: "shift-out" });
    allTills().then((tills) => {
      LC.clear(till.input);
      for (const x of tills) till.input.append(h("option", { value: x.till_id }, x.store + " · " + x.name));
      if (!tills.length) till.input.append(h("option", { value: "" }, t("no_tills")));
    }).catch(() => {
      // A role that may read reports but not list tills (an analyst) types the till's id.
      const typed = h("input", { type: "text", name: "till", placeholder: t("till_id_placeholder"), autocomplete: "off" });
      till.input.replaceWith(typed);
      till.input = typed;
    });
    const form = h("form", { class: "toolbar", id: "shift-form" }, till.wrap, date.wrap, run);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      LC.clear(out).append(LC.loading());
      try {
        const r = await LC.busy(run, () => LC.api("GET", "/v1/admin/reports/shift" + LC.query({ till: till.input.value, date: date.input.value })));
        // Flattened one level: {receipts: 12, points: {earned: 5}} → "receipts", "points · earned".
        const pairs = [];
        for (const [key, value] of Object.entries(r || {})) {
          if (key === "till_id") continue;
          if (value && typeof value === "object" && !Array.isArray(value)) {
            for (const [k2, v2] of Object.entries(value)) pairs.push([t("col_" + key) + " · " + t("col_" + k2), shiftValue(k2, v2)]);
          } else pairs.push([t("col_" + key), shiftValue(key, value)]);
        }
        LC.clear(out).append(LC.kv(pairs));
      } catch (error) {
        LC.clear(out).append(h("div", { class: "notice error" }, error.message));
      }
    });
    return h("div", { class: "panel", id: "report-shift" }, h("h2", {}, t("report_shift")), h("p", { class: "muted small" }, t("report_shift_text")), form, out);
  }

  function shiftValue(key, v) {
    // Times: Unix seconds or RFC 3339.
    if (/_at$/.test(key)) return v === null || v === undefined ? "—" : LC.dateTime(typeof v === "number" ? new Date(v * 1000).toISOString() : v);
    if (key === "date" || key === "day") return LC.date(v);
    if (typeof v === "number") return MONEY_COLUMNS.test(key) ? LC.money(v) : LC.number(v);
    if (Array.isArray(v)) return LC.number(v.length);
    return v === null || v === undefined ? "—" : String(v);
  }

  // ------------------------------------------------------------------------------------------
  // Import and export

  LC.pages.import = {
    area: "import",
    title: "nav_import",
    render(view) {
      view.append(LC.pageHead(t("nav_import")));
      view.append(h("div", { class: "panel", id: "export" }, h("h2", {}, t("export_title")), h("p", { class: "muted" }, t("export_text")),
        h("div", { class: "actions" },
          h("a", { class: "button primary", href: "/v1/admin/customers.csv", download: "customers.csv", id: "export-customers" }, t("export_customers")),
          h("a", { class: "button", href: "#/reports" }, t("export_reports")))));

      // The browser's own file button speaks the browser's language; ours speaks the page's.
      const file = h("input", { type: "file", accept: ".csv,text/csv", id: "import-file", class: "visually-hidden" });
      const chosen = h("span", { class: "muted", id: "import-file-name" }, t("no_file"));
      file.addEventListener("change", () => { chosen.textContent = file.files && file.files[0] ? file.files[0].name : t("no_file"); });
      const start = h("button", { type: "button", class: "primary", id: "import-start" }, t("import_start"));
      const bar = h("div", { class: "progress", hidden: true }, h("div"));
      const status = h("p", { class: "muted", role: "status" });
      const out = h("div", { id: "import-out" });
      start.addEventListener("click", () => {
        const chosen = file.files && file.files[0];
        if (!chosen) {
          status.textContent = t("import_choose");
          return;
        }
        upload(chosen, start, bar, status, out);
      });
      view.append(h("div", { class: "panel", id: "import" }, h("h2", {}, t("import_title")), h("p", { class: "muted" }, t("import_text")),
        h("p", { class: "muted small mono" }, "phone,name,email,card,points"),
        h("div", { class: "row" }, h("label", { class: "button", for: "import-file" }, t("choose_file")), file, chosen, start), bar, status, out));
    },
  };

  // XMLHttpRequest, not fetch: only it reports upload progress. Same headers as LC.api.
  function upload(file, button, bar, status, out) {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/admin/customers/import");
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.setRequestHeader("Accept-Language", LC.lang);
    xhr.setRequestHeader("X-CSRF-Token", (LC.session && LC.session.csrf) || "");
    button.disabled = true;
    bar.hidden = false;
    bar.firstChild.style.width = "0%";
    LC.clear(out);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.floor((event.loaded * 100) / event.total);
      bar.firstChild.style.width = percent + "%";
      status.textContent = t("import_sending", { percent });
    };
    xhr.upload.onload = () => { status.textContent = t("import_processing"); };
    xhr.onerror = () => {
      button.disabled = false;
      status.textContent = t("network_error");
    };
    xhr.onload = () => {
      button.disabled = false;
      bar.firstChild.style.width = "100%";
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (e) {
        data = null;
      }
      if (xhr.status === 401) {
        LC.onSignedOut();
        return;
      }
      if (xhr.status < 200 || xhr.status >= 300) {
        status.textContent = (data && data.error && data.error.message) || t("http_error", { status: xhr.status });
        return;
      }
      showImport(data || {}, status, out);
    };
    xhr.send(file);
  }

  function showImport(report, status, out) {
    const rejected = pick(report, "rejected", "rejected_lines", "errors") || [];
    const count = (key) => pick(report, key, "counts." + key);
    status.textContent = t("import_done");
    // The counts the answer has: `imported` always; `updated` and `read` when the cloud tells them apart.
    out.append(LC.kv([
      count("read") !== undefined ? [t("import_read"), LC.number(count("read"))] : null,
      [t("import_created"), LC.number(count("imported") ?? count("created") ?? 0)],
      count("updated") !== undefined ? [t("import_updated"), LC.number(count("updated"))] : null,
      [t("import_rejected"), LC.number(Array.isArray(rejected) ? rejected.length : rejected)],
    ]));
    if (Array.isArray(rejected) && rejected.length) {
      // The line's own text, when the answer carries it.
      const content = rejected.some((r) => pick(r, "text", "content", "raw") !== undefined);
      out.append(h("h3", {}, t("import_rejected_lines")), h("div", { class: "table-wrap", id: "import-rejected" }, LC.table([
        { label: t("line"), value: (r) => LC.number(pick(r, "line", "line_number", "row")), class: "num" },
        { label: t("reason"), value: (r) => pick(r, "message", "reason", "error.message", "error", "code") },
        content ? { label: t("content"), value: (r) => pick(r, "text", "content", "raw"), class: "mono small" } : null,
      ].filter(Boolean), rejected)));
    }
  }
})();

// Program: an editor for every setting, tier and promo code (form fields; a JSON view beside),
// a preview that prices a sample receipt under the current version and under the draft side by
// side, a diff against the current version before publishing, and every earlier version.
// Validation is the server's (PUT /v1/admin/program): its errors land under the named field.
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;

  // A value a field could not read: shown under the field, and the draft is not sent.
  class Problem extends Error {}

  // Inputs → values. Each reader throws Problem with the sentence to show.
  const read = {
    int(text, min, max) {
      const s = String(text).replace(/[\s\u00a0]/g, "");
      if (!/^-?\d{1,15}$/.test(s)) throw new Problem(t("need_whole_number"));
      const n = parseInt(s, 10);
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) throw new Problem(t("need_between", { min, max }));
      return n;
    },
    optInt(text, min, max) {
      return String(text).trim() === "" ? null : read.int(text, min, max);
    },
    money(text) {
      const n = LC.parseMoney(text);
      if (n === null || n < 0) throw new Problem(t("need_amount"));
      return n;
    },
    list(text) {
      return String(text).split(/[\n,;]/).map((s) => s.trim()).filter(Boolean);
    },
    // A datetime-local value → Unix seconds in the browser's zone; "" → none.
    time(text) {
      if (!text) return null;
      const ms = new Date(text).getTime();
      if (!Number.isFinite(ms)) throw new Problem(t("need_date"));
      return Math.floor(ms / 1000);
    },
  };
  function timeInput(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const d = new Date(seconds * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  // Why at most so many points can be spent, in the page's language: the limit's code names it
  // (the server's English `message` for a code the page does not know).
  function limitsText(side) {
    return (side.limits || []).map((l) => {
      const key = "limit_" + l.code;
      return t(key) !== key ? t(key) : l.message;
    }).join("; ") || "—";
  }

  // The human name of a program path for the diff ("tiers[1].threshold" → "Уровни № 2 · Порог").
  function pathLabel(path) {
    // "tiers[1].name" → "Уровни № 2 · Название"; a part without a label stays as it is.
    return path.split(".").map((part) => {
      const m = /^([a-z_]+)(?:\[(\d+)\])?$/.exec(part);
      if (!m) return part;
      const label = t("prog_" + m[1]);
      const name = label === "prog_" + m[1] ? m[1] : label;
      return m[2] === undefined ? name : name + " № " + (Number(m[2]) + 1);
    }).join(" · ");
  }

  LC.pages.program = {
    area: "program",
    title: "nav_program",
    async render(view) {
      view.append(LC.pageHead(t("nav_program")), LC.loading());
      let current;
      try {
        current = await LC.api("GET", "/v1/admin/program");
      } catch (error) {
        LC.clear(view).append(LC.pageHead(t("nav_program")), h("div", { class: "notice error" }, error.message));
        return;
      }
      if (!LC.current()) return;
      draw(view, current, JSON.parse(JSON.stringify(current.program)));
    },
  };

  // The program's campaigns, read only (they are kept as they are when the rest is edited and
  // published): what each gives, on what, when, how often and within what budget.
  function campaignsPanel(draft) {
    const list = draft.campaigns || [];
    const panel = h("div", { class: "panel", id: "campaigns" }, h("h2", {}, t("prog_campaigns")),
      h("p", { class: "muted small" }, t(list.length ? "hint_campaigns" : "no_campaigns", { zone: draft.time_zone || "Europe/Moscow" })));
    if (!list.length) return panel;
    const effect = (e) => {
      if (!e) return "—";
      if (e.points_multiplier !== undefined) return t("effect_multiplier", { m: e.points_multiplier });
      if (e.extra_points) return t("effect_extra_" + e.extra_points.per, { points: e.extra_points.points });
      if (e.discount_percent !== undefined) return t("effect_discount_percent", { percent: e.discount_percent });
      if (e.discount_amount !== undefined) return t("effect_discount_amount", { amount: LC.money(e.discount_amount) });
      if (e.stamp_card) return t("effect_stamp_card", { n: e.stamp_card.stamps_for_reward });
      return JSON.stringify(e);
    };
    const when = (c) => {
      const parts = [];
      if (c.valid_from || c.valid_until) parts.push((c.valid_from || "…") + " — " + (c.valid_until || "…"));
      if (c.schedule) {
        const days = (c.schedule.days || []).map((d) => t("day_" + d)).join(", ");
        const hours = c.schedule.from || c.schedule.to ? (c.schedule.from || "00:00") + "–" + (c.schedule.to || "24:00") : "";
        parts.push([days, hours].filter(Boolean).join(" "));
      }
      return parts.length ? parts.join("; ") : t("always");
    };
    const on = (c) => {
      const k = c.conditions || {};
      const parts = [];
      if (k.categories && k.categories.length) parts.push(t("cond_categories", { list: k.categories.join(", ") }));
      if (k.skus && k.skus.length) parts.push(t("cond_skus", { list: k.skus.join(", ") }));
      if (k.tiers && k.tiers.length) parts.push(t("cond_tiers", { list: k.tiers.join(", ") }));
      if (k.tags && k.tags.length) parts.push(t("cond_tags", { list: k.tags.join(", ") }));
      if (k.stores && k.stores.length) parts.push(t("cond_stores", { list: k.stores.join(", ") }));
      if (k.min_receipt) parts.push(t("cond_min_receipt", { amount: LC.money(k.min_receipt) }));
      if (k.first_purchase) parts.push(t("cond_first_purchase"));
      return parts.length ? parts.join("; ") : t("cond_any");
    };
    const limits = (c) => {
      const parts = [];
      if (c.limit_per_customer) parts.push(t("limit_per_customer_" + c.limit_per_customer.period, { count: c.limit_per_customer.count }));
      if (c.budget_points) parts.push(t("campaign_budget", { points: LC.pointsText(c.budget_points) }));
      if (c.till_allowance_points) parts.push(t("campaign_allowance", { points: LC.pointsText(c.till_allowance_points) }));
      return parts.length ? parts.join("; ") : "—";
    };
    panel.append(h("div", { class: "table-wrap" }, LC.table([
      { label: t("campaign"), value: (c) => h("div", {}, c.name || c.id, h("div", { class: "muted small mono" }, c.id)) },
      { label: t("campaign_effect"), value: (c) => h("div", {}, effect(c.effect), h("div", { class: "muted small" },
        t(c.stacking === "exclusive" ? "stacking_exclusive" : "stacking_stack") + " · " + t("campaign_priority", { n: c.priority || 0 }))) },
      { label: t("campaign_on"), value: on },
      { label: t("campaign_when"), value: when },
      { label: t("campaign_limits"), value: limits },
    ], list)));
    return panel;
  }

  // Draws the editor for `draft` (a program object) against `current` ({version, program, created_at}).
  function draw(view, current, draft) {
    LC.clear(view);
    const controls = []; // {path, wrap, get()}
    const tierRows = [];
    const promoRows = [];

    function control(path, spec, get) {
      const f = LC.field({ ...spec, name: path });
      controls.push({ path, wrap: f.wrap, get: () => get(f.input) });
      return f.wrap;
    }
    const intField = (key, min, max, hint) => control(key, { label: t("prog_" + key), value: draft[key], hint, attrs: { inputmode: "numeric" } }, (i) => read.int(i.value, min, max));
    const moneyField = (key, hint) => control(key, { label: t("prog_" + key), value: LC.moneyInput(draft[key]), hint, attrs: { inputmode: "decimal" } }, (i) => read.money(i.value));
    const checkField = (key, hint) => control(key, { label: t("prog_" + key), type: "checkbox", value: draft[key], hint }, (i) => i.checked);
    const kindOptions = [["bonus", t("kind_points")], ["discount", t("kind_discount")]];

    const head = LC.pageHead(t("nav_program"),
      h("span", { class: "muted", id: "program-version" }, t("program_current", { version: current.version, date: LC.dateTime(current.created_at) })));

    const basics = h("div", { class: "panel" }, h("h2", {}, t("prog_basics")), h("div", { class: "form-grid" },
      control("kind", { label: t("prog_kind"), type: "select", options: kindOptions, value: draft.kind }, (i) => i.value),
      intField("accrual_percent", 0, 100, t("hint_accrual")),
      intField("discount_percent", 0, 100, t("hint_discount")),
      intField("redeem_cap_percent", 0, 100, t("hint_redeem_cap")),
      moneyField("point_value", t("hint_point_value")),
      moneyField("min_payable", t("hint_min_payable")),
      intField("welcome_points", 0, undefined, t("hint_welcome")),
      checkField("accrue_on_redeemed", t("hint_accrue_on_redeemed"))));

    const timing = h("div", { class: "panel" }, h("h2", {}, t("prog_timing")), h("div", { class: "form-grid" },
      intField("activation_days", 0, 3650, t("hint_activation")),
      intField("expiry_days", 0, 36500, t("hint_expiry"))));

    const exclusions = h("div", { class: "panel" }, h("h2", {}, t("prog_exclusions")), h("div", { class: "grid2" },
      control("excluded_categories", { label: t("prog_excluded_categories"), type: "textarea", value: (draft.excluded_categories || []).join("\n"), hint: t("hint_list") }, (i) => read.list(i.value)),
      control("excluded_skus", { label: t("prog_excluded_skus"), type: "textarea", value: (draft.excluded_skus || []).join("\n"), hint: t("hint_list") }, (i) => read.list(i.value))));

    // Tiers: one row of fields each; empty overrides inherit the base settings.
    const tiersBody = h("div", { id: "tiers" });
    function addTier(tier) {
      const index = tierRows.length;
      const p = "tiers[" + index + "].";
      const f = {
        name: LC.field({ name: p + "name", label: t("prog_name"), value: tier.name }),
        threshold: LC.field({ name: p + "threshold", label: t("tier_threshold"), value: LC.moneyInput(tier.threshold), attrs: { inputmode: "decimal" } }),
        kind: LC.field({ name: p + "kind", label: t("prog_kind"), type: "select", options: [["", t("inherit")], ...kindOptions], value: tier.kind || "" }),
        accrual_percent: LC.field({ name: p + "accrual_percent", label: t("prog_accrual_percent"), value: tier.accrual_percent, placeholder: "—" }),
        discount_percent: LC.field({ name: p + "discount_percent", label: t("prog_discount_percent"), value: tier.discount_percent, placeholder: "—" }),
        redeem_cap_percent: LC.field({ name: p + "redeem_cap_percent", label: t("tier_redeem_cap"), value: tier.redeem_cap_percent, placeholder: "—" }),
      };
      const row = { removed: false, fields: f };
      const remove = h("button", { type: "button", class: "danger small", on: { click: () => { row.removed = true; box.remove(); } } }, t("remove"));
      const box = h("div", { class: "panel tier-row" }, h("div", { class: "form-grid" }, Object.values(f).map((x) => x.wrap)), h("div", { class: "actions" }, remove),
        h("div", { class: "row-error error", role: "alert", hidden: true }));
      row.read = () => ({
        name: f.name.input.value.trim(),
        threshold: guard(f.threshold.wrap, () => read.money(f.threshold.input.value)),
        kind: f.kind.input.value || null,
        accrual_percent: guard(f.accrual_percent.wrap, () => read.optInt(f.accrual_percent.input.value, 0, 100)),
        discount_percent: guard(f.discount_percent.wrap, () => read.optInt(f.discount_percent.input.value, 0, 100)),
        redeem_cap_percent: guard(f.redeem_cap_percent.wrap, () => read.optInt(f.redeem_cap_percent.input.value, 0, 100)),
      });
      tierRows.push(row);
      tiersBody.append(box);
    }
    (draft.tiers || []).forEach(addTier);
    const tiers = h("div", { class: "panel" }, h("h2", {}, t("prog_tiers")), h("p", { class: "muted small" }, t("hint_tiers")), tiersBody,
      h("button", { type: "button", id: "add-tier", on: { click: () => addTier({ name: "", threshold: 0 }) } }, t("add_tier")));

    const promosBody = h("div", { id: "promo-codes" });
    function addPromo(promo) {
      const index = promoRows.length;
      const p = "promo_codes[" + index + "].";
      const f = {
        code: LC.field({ name: p + "code", label: t("prog_code"), value: promo.code }),
        kind: LC.field({ name: p + "kind", label: t("prog_promo_kind"), type: "select", options: [["percent", t("promo_percent")], ["amount", t("promo_amount")]], value: promo.kind || "percent" }),
        value: LC.field({ name: p + "value", label: t("prog_value"), value: promo.kind === "amount" ? LC.moneyInput(promo.value) : promo.value, hint: t("hint_promo_value") }),
        min_receipt: LC.field({ name: p + "min_receipt", label: t("prog_min_receipt"), value: LC.moneyInput(promo.min_receipt || 0) }),
        valid_from: LC.field({ name: p + "valid_from", label: t("prog_valid_from"), type: "datetime-local", value: timeInput(promo.valid_from) }),
        valid_until: LC.field({ name: p + "valid_until", label: t("prog_valid_until"), type: "datetime-local", value: timeInput(promo.valid_until) }),
        usage_limit: LC.field({ name: p + "usage_limit", label: t("prog_usage_limit"), value: promo.usage_limit, placeholder: t("unlimited") }),
        per_customer_limit: LC.field({ name: p + "per_customer_limit", label: t("prog_per_customer_limit"), value: promo.per_customer_limit, placeholder: t("unlimited") }),
      };
      const row = { removed: false };
      const remove = h("button", { type: "button", class: "danger small", on: { click: () => { row.removed = true; box.remove(); } } }, t("remove"));
      const box = h("div", { class: "panel promo-row" }, h("div", { class: "form-grid" }, Object.values(f).map((x) => x.wrap)), h("div", { class: "actions" }, remove),
        h("div", { class: "row-error error", role: "alert", hidden: true }));
      row.read = () => {
        const kind = f.kind.input.value;
        return {
          code: f.code.input.value.trim(),
          kind,
          // A percent is a whole number; an amount is money typed in rubles, sent in kopecks.
          value: guard(f.value.wrap, () => (kind === "amount" ? read.money(f.value.input.value) : read.int(f.value.input.value, 0, 100))),
          min_receipt: guard(f.min_receipt.wrap, () => read.money(f.min_receipt.input.value || "0")),
          valid_from: guard(f.valid_from.wrap, () => read.time(f.valid_from.input.value)),
          valid_until: guard(f.valid_until.wrap, () => read.time(f.valid_until.input.value)),
          usage_limit: guard(f.usage_limit.wrap, () => read.optInt(f.usage_limit.input.value, 1)),
          per_customer_limit: guard(f.per_customer_limit.wrap, () => read.optInt(f.per_customer_limit.input.value, 1)),
        };
      };
      promoRows.push(row);
      promosBody.append(box);
    }
    (draft.promo_codes || []).forEach(addPromo);
    const promos = h("div", { class: "panel" }, h("h2", {}, t("prog_promo_codes")), promosBody,
      h("button", { type: "button", id: "add-promo", on: { click: () => addPromo({ code: "", kind: "percent", value: 10 }) } }, t("add_promo")));

    const campaigns = campaignsPanel(draft);

    const offline = h("div", { class: "panel" }, h("h2", {}, t("prog_offline")), h("p", { class: "muted small" }, t("hint_offline")), h("div", { class: "form-grid" },
      intField("offline_redeem_limit", 0),
      intField("offline_max_redemptions", 0),
      intField("offline_max_age_hours", 0)));
    const verify = h("div", { class: "panel" }, h("h2", {}, t("prog_verify")), h("div", { class: "form-grid" },
      checkField("verify_registration"), checkField("verify_spending")));

    let failed = false;
    function guard(wrap, get) {
      try {
        return get();
      } catch (problem) {
        if (!(problem instanceof Problem)) throw problem;
        LC.fieldError(wrap, problem.message);
        failed = true;
        return null;
      }
    }

    // The draft as the form says now; null (and the problems shown) when a field cannot be read.
    function collect() {
      LC.clearFormErrors(editor);
      for (const box of editor.querySelectorAll(".row-error")) box.hidden = true;
      failed = false;
      const program = JSON.parse(JSON.stringify(draft));
      for (const c of controls) {
        const value = guard(c.wrap, () => c.get(c.wrap.querySelector("input, select, textarea")));
        program[c.path] = value;
      }
      program.tiers = tierRows.filter((r) => !r.removed).map((r) => r.read());
      program.promo_codes = promoRows.filter((r) => !r.removed).map((r) => r.read());
      if (failed) {
        LC.notice(t("fix_fields"), "error");
        const first = editor.querySelector("[aria-invalid=true]");
        if (first) first.focus();
        return null;
      }
      return program;
    }

    const formNotice = LC.formNotice();
    const editor = h("form", { id: "program-editor", novalidate: true }, formNotice, basics, timing, exclusions, tiers, promos, campaigns, offline, verify);
    editor.addEventListener("submit", (event) => event.preventDefault());

    // Review and publish.
    const review = h("div", { class: "panel", id: "program-review" }, h("h2", {}, t("review_title")), h("p", { class: "muted" }, t("review_hint")));
    const reviewButton = h("button", { type: "button", id: "review-changes", class: "primary" }, t("review_changes"));
    const jsonButton = h("button", { type: "button", id: "show-json" }, t("show_json"));
    review.append(h("div", { class: "actions" }, reviewButton, jsonButton));
    const reviewOut = h("div", { id: "review-out" });
    review.append(reviewOut);

    reviewButton.addEventListener("click", () => {
      const program = collect();
      if (!program) return;
      LC.clearNotice();
      const before = { ...current.program, version: undefined };
      const after = { ...program, version: undefined };
      const lines = LC.diffLines(before, after);
      LC.clear(reviewOut);
      if (lines.length === 0) {
        reviewOut.append(LC.empty(t("no_changes")));
        return;
      }
      // Amounts in rubles, as the fields show them (the program keeps kopecks).
      const money = /(^|\.)(point_value|min_payable|threshold|min_receipt)$/;
      const show = (path, v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v)
        : typeof v === "number" && money.test(path) ? LC.money(v) : String(v));
      const cell = (kind, path, v) => {
        const text = show(path, v);
        return h("span", { class: kind + " mono" + (text.length <= 24 ? " nowrap" : "") }, text);
      };
      reviewOut.append(h("div", { class: "table-wrap" }, LC.table([
        { label: t("setting"), value: (l) => pathLabel(l.path) },
        { label: t("was"), value: (l) => cell("diff-old", l.path, l.before) },
        { label: t("becomes"), value: (l) => cell("diff-new", l.path, l.after) },
      ], lines)));
      const publish = h("button", { type: "button", id: "publish", class: "primary" }, t("publish", { version: current.version + 1 }));
      const refusal = h("div", { class: "notice error", role: "alert", hidden: true });
      publish.addEventListener("click", async () => {
        refusal.hidden = true;
        try {
          const stored = await LC.busy(publish, () => LC.api("PUT", "/v1/admin/program", program));
          LC.go("program");
          setTimeout(() => LC.notice(t("published", { version: stored.version }), "info"), 0);
        } catch (failure) {
          // The refusal beside the button, and under the field its check names when we can tell.
          refusal.textContent = failure.message;
          refusal.hidden = false;
          const wrap = fieldOfRefusal(failure);
          if (wrap) {
            // A narrow field of a tier or promo code row: the sentence goes under the whole row.
            const rowError = wrap.closest(".tier-row, .promo-row") && wrap.closest(".tier-row, .promo-row").querySelector(".row-error");
            if (rowError) {
              wrap.querySelector("input, select").setAttribute("aria-invalid", "true");
              rowError.textContent = failure.message;
              rowError.hidden = false;
            } else LC.fieldError(wrap, failure.message);
            wrap.scrollIntoView({ block: "center" });
          }
        }
      });
      reviewOut.append(h("p", { class: "muted small" }, t("publish_hint")), refusal, h("div", { class: "actions" }, publish));
    });
    jsonButton.addEventListener("click", () => {
      const program = collect();
      if (!program) return;
      LC.dialog(t("show_json"), h("pre", { class: "json" }, JSON.stringify(program, null, 2)), [{ label: t("close") }]);
    });

    // The field a refused program's check names: details.field, as the program's JSON names it
    // ("accrual_percent", "tiers[1].name"). A list's index counts the rows sent, so it is
    // mapped to the row on the page (removed rows are skipped when sending).
    function fieldOfRefusal(failure) {
      const byName = (name) => editor.querySelector('[data-field="' + CSS.escape(name) + '"]');
      const field = String((failure.details && failure.details.field) || "");
      const list = /^(tiers|promo_codes)\[(\d+)\]\.([a-z_]+)$/.exec(field);
      if (!list) return field ? byName(field) : null;
      const rows = list[1] === "tiers" ? tierRows : promoRows;
      let sent = -1;
      const index = rows.findIndex((r) => !r.removed && ++sent === Number(list[2]));
      return index >= 0 ? byName(list[1] + "[" + index + "]." + list[3]) : null;
    }

    const preview = previewPanel(collect);
    const versions = h("div", { class: "panel" }, h("h2", {}, t("versions")));
    loadVersions(versions, current, (program) => draw(view, current, JSON.parse(JSON.stringify(program))));

    const side = h("div", { class: "program-side" }, preview, review);
    view.append(head, h("div", { class: "cols" }, h("div", {}, editor), side), versions);
  }

  // A sample receipt priced under the current version and under the draft.
  function previewPanel(collect) {
    const rows = h("tbody");
    const lines = [];
    function addLine(line) {
      const name = h("input", { type: "text", value: line.name || "", placeholder: t("line_name"), "aria-label": t("line_name") });
      const category = h("input", { type: "text", value: line.category || "", placeholder: t("line_category"), "aria-label": t("line_category") });
      const price = h("input", { type: "text", value: line.price || "", inputmode: "decimal", placeholder: "0,00", "aria-label": t("line_price"), class: "line-price" });
      const qty = h("input", { type: "text", value: line.quantity || "1", inputmode: "decimal", "aria-label": t("line_quantity") });
      const row = { name, category, price, qty, removed: false };
      const tr = h("tr", {}, h("td", {}, name), h("td", {}, category), h("td", {}, price), h("td", {}, qty),
        h("td", {}, h("button", { type: "button", class: "link", title: t("remove"), on: { click: () => { row.removed = true; tr.remove(); } } }, "×")));
      lines.push(row);
      rows.append(tr);
    }
    addLine({ name: t("sample_item"), price: "1000", quantity: "1" });
    const balance = LC.field({ name: "balance", label: t("preview_balance"), value: "0", attrs: { inputmode: "numeric" } });
    const redeem = LC.field({ name: "redeem", label: t("preview_redeem"), value: "0", hint: t("preview_redeem_hint") });
    const run = h("button", { type: "button", id: "run-preview", class: "primary" }, t("preview"));
    const out = h("div", { id: "preview-out" });
    const table = h("table", { class: "data lines" },
      h("thead", {}, h("tr", {}, h("th", {}, t("line_name")), h("th", {}, t("line_category")), h("th", {}, t("line_price")), h("th", {}, t("line_quantity")), h("th"))), rows);

    run.addEventListener("click", async () => {
      const program = collect();
      if (!program) return;
      const receipt = { lines: [] };
      let bad = false;
      lines.filter((l) => !l.removed).forEach((l, i) => {
        const price = LC.parseMoney(l.price.value);
        const quantity = l.qty.value.trim().replace(",", ".");
        l.price.setAttribute("aria-invalid", price === null ? "true" : "false");
        l.qty.setAttribute("aria-invalid", /^\d+(\.\d{1,3})?$/.test(quantity) ? "false" : "true");
        if (price === null || !/^\d+(\.\d{1,3})?$/.test(quantity)) bad = true;
        receipt.lines.push({ sku: "preview-" + (i + 1), name: l.name.value.trim() || undefined, category: l.category.value.trim() || undefined, quantity, price });
      });
      const balanceValue = balance.input.value.trim();
      if (balanceValue && !/^\d+$/.test(balanceValue)) {
        LC.fieldError(balance.wrap, t("need_whole_number"));
        bad = true;
      } else receipt.balance = balanceValue ? parseInt(balanceValue, 10) : 0;
      const redeemValue = redeem.input.value.trim().toLowerCase();
      if (redeemValue === "max" || redeemValue === "макс") receipt.redeem = "max";
      else if (/^\d+$/.test(redeemValue)) receipt.redeem = parseInt(redeemValue, 10);
      else if (redeemValue) {
        LC.fieldError(redeem.wrap, t("preview_redeem_hint"));
        bad = true;
      }
      if (bad || receipt.lines.length === 0) {
        LC.clear(out).append(h("div", { class: "notice error" }, t("preview_fix")));
        return;
      }
      LC.clear(out).append(LC.loading());
      try {
        const answer = await LC.busy(run, () => LC.api("POST", "/v1/admin/program/preview", { program, receipt }));
        LC.clear(out).append(comparison(answer));
      } catch (error) {
        LC.clear(out).append(h("div", { class: "notice error" }, error.message));
      }
    });

    return h("div", { class: "panel", id: "program-preview" }, h("h2", {}, t("preview_title")), h("p", { class: "muted small" }, t("preview_hint")),
      h("div", { class: "table-wrap" }, table),
      h("div", { class: "actions" }, h("button", { type: "button", on: { click: () => addLine({}) } }, t("add_line"))),
      h("div", { class: "grid2" }, balance.wrap, redeem.wrap), h("div", { class: "actions" }, run), out);
  }

  // Two calculations as one table: the figures a till would print, current | draft.
  function comparison(answer) {
    const now = (answer.current && answer.current.calculation) || {};
    const draft = (answer.draft && answer.draft.calculation) || {};
    // A side the rules refused (the draft's settings cannot price this receipt) says why.
    const refusal = (side) => (side && side.error ? side.error.message || side.error.code : null);
    const refused = [refusal(answer.current), refusal(answer.draft)];
    if (refused[0] || refused[1]) {
      return h("div", {}, refused.map((text, i) => (text ? h("div", { class: "notice error" }, (i ? t("preview_draft") : t("preview_current", { version: (answer.current && answer.current.version) || "" })) + ": " + text) : null)),
        refused[0] && refused[1] ? null : comparisonTable(answer, now, draft));
    }
    return comparisonTable(answer, now, draft);
  }

  function comparisonTable(answer, now, draft) {
    const pts = (c, key) => (c.points ? c.points[key] : undefined);
    const rows = [
      [t("subtotal"), LC.money(now.subtotal), LC.money(draft.subtotal)],
      [t("discount"), LC.money(now.discount), LC.money(draft.discount)],
      [t("to_pay"), LC.money(now.total), LC.money(draft.total)],
      [t("can_spend"), LC.number(pts(now, "max_redeem")), LC.number(pts(draft, "max_redeem"))],
      [t("spent"), LC.number(pts(now, "redeem")), LC.number(pts(draft, "redeem"))],
      [t("earned"), LC.number(pts(now, "earn")), LC.number(pts(draft, "earn"))],
      [t("tier"), now.tier || "—", draft.tier || "—"],
      [t("limits"), limitsText(now), limitsText(draft)],
    ];
    const version = answer.current && answer.current.version;
    return h("div", { class: "table-wrap" }, LC.table([
      { label: "", value: (r) => r[0] },
      { label: t("preview_current", { version: version === undefined ? "" : version }), value: (r) => r[1], class: "num cmp" },
      { label: t("preview_draft"), value: (r) => (r[1] !== r[2] ? h("b", { class: "diff-new" }, r[2]) : r[2]), class: "num cmp preview-draft" },
    ], rows));
  }

  async function loadVersions(box, current, loadIntoEditor) {
    box.append(LC.loading());
    let answer;
    try {
      answer = await LC.api("GET", "/v1/admin/program/versions");
    } catch (error) {
      box.lastChild.replaceWith(h("p", { class: "muted" }, error.message));
      return;
    }
    const versions = (answer.versions || []).slice().sort((a, b) => b.version - a.version);
    box.lastChild.replaceWith(versions.length ? h("div", { class: "table-wrap" }, LC.table([
      { label: t("version"), value: (v) => (v.version === current.version ? h("b", {}, "v" + v.version + " · " + t("in_force")) : "v" + v.version) },
      { label: t("when"), value: (v) => LC.dateTime(v.created_at) },
      { label: t("prog_accrual_percent"), value: (v) => (v.program ? v.program.accrual_percent + "\u00a0%" : ""), class: "num" },
      { label: t("prog_tiers"), value: (v) => LC.number(((v.program && v.program.tiers) || []).length), class: "num" },
      { label: t("prog_promo_codes"), value: (v) => LC.number(((v.program && v.program.promo_codes) || []).length), class: "num" },
      {
        label: "", class: "actions-cell", value: (v) => h("span", {},
          h("button", { type: "button", class: "small", on: { click: () => LC.dialog("v" + v.version, h("div", {},
            h("h3", {}, t("against_current")), LC.diffView(current.program, v.program),
            h("h3", {}, "JSON"), h("pre", { class: "json" }, JSON.stringify(v.program, null, 2))), [{ label: t("close") }]) } }, t("show")),
          " ",
          v.version !== current.version ? h("button", { type: "button", class: "small", on: { click: () => loadIntoEditor(v.program) } }, t("load_into_editor")) : null),
      },
    ], versions)) : LC.empty(t("no_versions")));
  }
})();

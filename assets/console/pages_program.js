// Program: an editor for every setting, tier, promo code and campaign (form fields; a JSON view
// beside; the campaigns' cards are program_campaigns.js), a preview that prices a sample receipt
// under the current version and under the draft side by side — at a chosen moment, for a sample
// customer, with what each campaign gave and why another did not —, a diff against the current
// version before publishing, and every earlier version. Validation is the server's
// (PUT /v1/admin/program): its errors land under the named field, a campaign's opened.
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

  // The human name of a program path for the diff ("tiers[1].threshold" → "Уровни № 2 · Порог";
  // inside a campaign, "schedule.to" → "Расписание · До").
  function pathLabel(path) {
    return path.split(".").map((part, i) => {
      const m = /^([a-z_]+)(?:\[(\d+)\])?$/.exec(part);
      if (!m) return part;
      const label = t("prog_" + m[1]);
      const name = label === "prog_" + m[1] ? m[1] : label;
      // Inside a record, `days[2]` or `categories[0]` is one item of a list, not "the 3rd".
      return m[2] === undefined || i > 0 ? name : name + " № " + (Number(m[2]) + 1);
    }).join(" · ");
  }

  // A value of the diff as a person reads it: money as money, yes/no, days and choices in words.
  function diffValue(path, v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "boolean") return t(v ? "yes" : "no");
    if (typeof v === "number" && /(^|\.)(point_value|min_payable|threshold|min_receipt|discount_amount)$/.test(path)) return LC.money(v);
    // A promo code's window is Unix seconds; a campaign's days are calendar days.
    if (typeof v === "number" && /^promo_codes\[\d+\]\.valid_(from|until)$/.test(path)) return LC.dateTime(new Date(v * 1000).toISOString());
    if (typeof v === "string" && /\.valid_(from|until)$/.test(path)) return LC.date(v);
    const word = (key) => (t(key) !== key ? t(key) : String(v));
    if (typeof v === "string") {
      if (/(^|\.)days\[\d+\]$/.test(path)) return word("day_" + v.toLowerCase());
      if (/(^|\.)stacking$/.test(path)) return word("stacking_" + v);
      if (/(^|\.)extra_points\.per$/.test(path)) return word("per_" + v);
      if (/(^|\.)limit_per_customer\.period$/.test(path)) return word("period_" + v);
      if (/^kind$|^tiers\[\d+\]\.kind$/.test(path)) return word(v === "bonus" ? "kind_points" : "kind_" + v);
      return v;
    }
    if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.length ? v.map((x, i) => diffValue(path + "[" + i + "]", x)).join(", ") : "—";
    return JSON.stringify(v);
  }

  // A draft's campaigns against the version in force's, matched by code (an index would pair a
  // campaign with its neighbour once one is deleted): [{name, state: new | deleted | changed,
  // lines}], lines as LC.diffLines gives them, paths inside the campaign.
  function campaignChanges(before, after) {
    const old = new Map(before.map((c) => [c.id, c]));
    const kept = new Set(after.map((c) => c.id));
    const groups = [];
    for (const c of after) {
      const was = old.get(c.id);
      const lines = LC.diffLines(was || {}, c).filter((l) => !(blank(l.before) && blank(l.after)));
      if (lines.length) groups.push({ name: c.name || c.id, state: was ? "changed" : "new", lines });
    }
    for (const c of before) if (!kept.has(c.id)) groups.push({ name: c.name || c.id, state: "deleted", lines: [] });
    return groups;
  }

  // Nothing against an empty list, "no" or 0 is no change worth a line (a campaign's unused
  // conditions).
  const blank = (v) => v === undefined || v === null || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0);

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

    let preview = null; // the side panel's sample receipt, made below; it follows the campaigns
    const tierNames = () => tierRows.filter((r) => !r.removed).map((r) => r.fields.name.input.value.trim()).filter(Boolean);
    const campaignEditor = LC.campaigns.editor(draft, { guard, read, tierNames, onChange: () => preview && preview.update() });
    const lifecycle = LC.campaigns.lifecycle(draft, { guard, read });

    const offline = h("div", { class: "panel" }, h("h2", {}, t("prog_offline")), h("p", { class: "muted small" }, t("hint_offline")), h("div", { class: "form-grid" },
      intField("offline_redeem_limit", 0),
      intField("offline_max_redemptions", 0),
      intField("offline_max_age_hours", 0)));
    const verify = h("div", { class: "panel" }, h("h2", {}, t("prog_verify")), h("div", { class: "form-grid" },
      checkField("verify_registration"), checkField("verify_spending"), checkField("redeem_requires_scan"), checkField("require_signed_qr")));

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
      program.time_zone = campaignEditor.zone();
      program.campaigns = campaignEditor.collect();
      const rewards = lifecycle.collect();
      // Switched off is absent from the program (as the server writes it), not null.
      for (const key of ["birthday", "referral"]) {
        if (rewards[key]) program[key] = rewards[key];
        else delete program[key];
      }
      if (failed) {
        LC.notice(t("fix_fields"), "error");
        const first = editor.querySelector("[aria-invalid=true]");
        if (first) first.focus();
        return null;
      }
      return program;
    }

    const formNotice = LC.formNotice();
    const editor = h("form", { id: "program-editor", novalidate: true }, formNotice, basics, timing, exclusions, tiers, promos, campaignEditor.panel,
      lifecycle.panel, offline, verify);
    editor.addEventListener("submit", (event) => event.preventDefault());
    // A tier renamed, added or removed: the campaigns' tier choices and the preview's follow.
    const tiersChanged = () => {
      campaignEditor.refreshTiers();
      if (preview) preview.update();
    };
    tiersBody.addEventListener("input", tiersChanged);
    tiersBody.addEventListener("click", (event) => { if (event.target.closest("button")) setTimeout(tiersChanged, 0); });

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
      // The server leaves out a default time zone; compared as it means.
      const plain = (p) => ({ ...p, version: undefined, time_zone: p.time_zone || "Europe/Moscow", campaigns: undefined });
      const lines = LC.diffLines(plain(current.program), plain(program));
      const groups = campaignChanges(current.program.campaigns || [], program.campaigns || []);
      LC.clear(reviewOut);
      if (lines.length === 0 && groups.length === 0) {
        reviewOut.append(LC.empty(t("no_changes")));
        return;
      }
      // Amounts in rubles, as the fields show them (the program keeps kopecks); choices in words.
      const cell = (kind, path, v) => {
        const text = diffValue(path, v);
        return h("td", {}, h("span", { class: kind + (text.length <= 24 ? " nowrap" : "") }, text));
      };
      const row = (label, path, l) => h("tr", {}, h("td", {}, label), cell("diff-old", path, l.before), cell("diff-new", path, l.after));
      const body = h("tbody", {}, lines.map((l) => row(pathLabel(l.path), l.path, l)));
      // Each campaign changed under its own heading, matched by its code: new, deleted or changed.
      for (const g of groups) {
        body.append(h("tr", { class: "diff-group" }, h("th", { colspan: "3" }, t("campaign_named", { name: g.name }) + " — " + t("campaign_" + g.state))));
        for (const l of g.lines) body.append(row(pathLabel(l.path), "campaigns[0]." + l.path, l));
      }
      reviewOut.append(h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, h("th", {}, t("setting")), h("th", {}, t("was")), h("th", {}, t("becomes")))), body)));
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
          refusal.textContent = showRefusal(failure);
          refusal.hidden = false;
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

    // Shows a refused program where it is wrong: a campaign's problem under its input (the
    // campaign opened and scrolled to), in the page's words; a tier's or promo code's under its
    // row; any other under its field. Answers the sentence for the notice beside the button.
    function showRefusal(failure) {
      const details = failure.details || {};
      const field = String(details.field || "");
      if (failure.code !== "invalid_program" || !field) return failure.message;
      const found = campaignEditor.locate(field);
      if (found) {
        const said = LC.campaigns.problemText(details);
        const text = said || failure.message;
        if (found.wrap) LC.fieldError(found.wrap, text);
        else {
          found.row.rowError.textContent = text;
          found.row.rowError.hidden = false;
        }
        (found.wrap || found.row.box).scrollIntoView({ block: "center" });
        const input = found.wrap && found.wrap.querySelector("input, select, textarea");
        if (input) input.focus({ preventScroll: true });
        return said ? t("refused_campaign", { name: found.row.name(), problem: said }) : failure.message;
      }
      const wrap = fieldOfRefusal(failure);
      if (!wrap) return failure.message;
      const said = field === "time_zone" ? LC.campaigns.problemText(details) : null;
      // A narrow field of a tier or promo code row: the sentence goes under the whole row.
      const rowError = wrap.closest(".tier-row, .promo-row") && wrap.closest(".tier-row, .promo-row").querySelector(".row-error");
      if (rowError) {
        wrap.querySelector("input, select").setAttribute("aria-invalid", "true");
        rowError.textContent = failure.message;
        rowError.hidden = false;
      } else LC.fieldError(wrap, said || failure.message);
      wrap.scrollIntoView({ block: "center" });
      return said ? t("refused_program", { problem: said }) : failure.message;
    }

    preview = previewPanel(collect, { tierNames, stampCards: campaignEditor.stampCards, zone: campaignEditor.zone, showRefusal });
    editor.addEventListener("change", (event) => { if (event.target.name === "time_zone") preview.update(); });
    const versions = h("div", { class: "panel" }, h("h2", {}, t("versions")));
    loadVersions(versions, current, (program) => draw(view, current, JSON.parse(JSON.stringify(program))));

    const side = h("div", { class: "program-side" }, preview.panel, review);
    view.append(head, h("div", { class: "cols" }, h("div", {}, editor), side), versions);
  }

  // A sample receipt priced under the current version and under the draft: its lines, a sample
  // customer (points, tier, tags, stamps held, first purchase), and when and where it is rung up,
  // for the campaigns. `hooks`: {tierNames(), stampCards(), zone(), showRefusal(failure)}.
  // Answers {panel, update()}; update() follows the draft's tiers, stamp cards and time zone.
  function previewPanel(collect, hooks) {
    const rows = h("tbody");
    const lines = [];
    function addLine(line) {
      const name = h("input", { type: "text", value: line.name || "", placeholder: t("line_name"), "aria-label": t("line_name") });
      const category = h("input", { type: "text", value: line.category || "", placeholder: t("line_category"), "aria-label": t("line_category"), class: "line-category" });
      const price = h("input", { type: "text", value: line.price || "", inputmode: "decimal", placeholder: "0,00", "aria-label": t("line_price"), class: "line-price" });
      const qty = h("input", { type: "text", value: line.quantity || "1", inputmode: "decimal", "aria-label": t("line_quantity"), class: "line-quantity" });
      const sku = h("input", { type: "text", value: line.sku || "", placeholder: t("line_sku"), "aria-label": t("line_sku"), class: "line-sku" });
      const row = { name, category, price, qty, sku, removed: false };
      const tr = h("tr", {}, h("td", {}, name, sku), h("td", {}, category), h("td", {}, price), h("td", {}, qty),
        h("td", {}, h("button", { type: "button", class: "link", title: t("remove"), "aria-label": t("remove"), on: { click: () => { row.removed = true; tr.remove(); } } }, "×")));
      lines.push(row);
      rows.append(tr);
    }
    addLine({ name: t("sample_item"), price: "1000", quantity: "1" });
    const balance = LC.field({ name: "balance", label: t("preview_balance"), value: "0", hint: t("preview_balance_hint"), attrs: { inputmode: "numeric" } });
    const redeem = LC.field({ name: "redeem", label: t("preview_redeem"), value: "0", hint: t("preview_redeem_hint") });
    const at = LC.field({ name: "preview_at", label: t("preview_at"), type: "datetime-local", hint: t("preview_at_hint", { zone: hooks.zone() }) });
    const tier = LC.field({ name: "preview_tier", label: t("preview_tier"), type: "select", options: [["", t("preview_no_tier")]] });
    const tags = LC.field({ name: "preview_tags", label: t("preview_tags"), hint: t("hint_comma_list") });
    const store = LC.field({ name: "preview_store", label: t("preview_store") });
    const first = LC.field({ name: "preview_first_purchase", label: t("preview_first_purchase"), type: "checkbox" });
    const stampsBox = h("div", { class: "form-grid", id: "preview-stamps" });
    const stampInputs = new Map(); // campaign row → its field, kept while the card exists
    const run = h("button", { type: "button", id: "run-preview", class: "primary" }, t("preview"));
    const out = h("div", { id: "preview-out" });
    const table = h("table", { class: "data lines" },
      h("thead", {}, h("tr", {}, h("th", {}, t("line_name")), h("th", {}, t("line_category")), h("th", {}, t("line_price")), h("th", {}, t("line_quantity")), h("th"))), rows);

    function update() {
      // Tiers: the draft's, as its form says now; a choice the draft lost falls back to none.
      const chosen = tier.input.value;
      const names = hooks.tierNames();
      LC.append(LC.clear(tier.input), [h("option", { value: "" }, t("preview_no_tier")), names.map((n) => h("option", { value: n }, n))]);
      tier.input.value = names.includes(chosen) ? chosen : "";
      at.wrap.querySelector(".hint").textContent = t("preview_at_hint", { zone: hooks.zone() || "Europe/Moscow" });
      // One "stamps held" field per stamp card of the draft.
      const cards = hooks.stampCards();
      for (const key of [...stampInputs.keys()]) if (!cards.some((c) => c.key === key)) stampInputs.delete(key);
      LC.clear(stampsBox);
      for (const card of cards) {
        let field = stampInputs.get(card.key);
        if (!field) {
          field = LC.field({ name: "preview_stamps[" + card.key + "]", label: "", placeholder: "0", attrs: { inputmode: "numeric" } });
          stampInputs.set(card.key, field);
        }
        field.wrap.firstChild.textContent = t("preview_stamps", { name: card.name });
        field.campaign = card.id;
        stampsBox.append(field.wrap);
      }
    }
    update();

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
        receipt.lines.push({ sku: l.sku.value.trim() || "preview-" + (i + 1), name: l.name.value.trim() || undefined,
          category: l.category.value.trim() || undefined, quantity, price });
      });
      const whole = (field, target, key) => {
        const text = field.input.value.trim();
        if (!text) return;
        if (!/^\d{1,12}$/.test(text)) {
          LC.fieldError(field.wrap, t("need_whole_number"));
          bad = true;
        } else target[key] = parseInt(text, 10);
      };
      whole(balance, receipt, "balance");
      const redeemValue = redeem.input.value.trim().toLowerCase();
      if (redeemValue === "max" || redeemValue === "макс") receipt.redeem = "max";
      else if (/^\d+$/.test(redeemValue)) receipt.redeem = parseInt(redeemValue, 10);
      else if (redeemValue) {
        LC.fieldError(redeem.wrap, t("preview_redeem_hint"));
        bad = true;
      }
      // When and who, for the campaigns: a local time of the draft's zone, as the tills read it.
      if (at.input.value) receipt.at = at.input.value;
      if (tier.input.value) receipt.tier = tier.input.value;
      const tagList = read.list(tags.input.value);
      if (tagList.length) receipt.tags = tagList;
      if (store.input.value.trim()) receipt.store = store.input.value.trim();
      if (first.input.checked) receipt.first_purchase = true;
      const stamps = {};
      for (const field of stampInputs.values()) if (field.campaign) whole(field, stamps, field.campaign);
      if (Object.keys(stamps).length) receipt.stamps = stamps;
      if (bad || receipt.lines.length === 0) {
        LC.clear(out).append(h("div", { class: "notice error" }, t("preview_fix")));
        return;
      }
      LC.clear(out).append(LC.loading());
      try {
        const answer = await LC.busy(run, () => LC.api("POST", "/v1/admin/program/preview", { program, receipt }));
        LC.clear(out).append(h("p", { class: "muted small", id: "preview-moment" }, pricedAt(at.input.value, program.time_zone)), comparison(answer, program));
      } catch (error) {
        // A draft the server refuses is marked where it is wrong, as publishing would.
        LC.clear(out).append(h("div", { class: "notice error" }, error.code === "invalid_program" ? hooks.showRefusal(error) : error.message));
      }
    });

    const panel = h("div", { class: "panel", id: "program-preview" }, h("h2", {}, t("preview_title")), h("p", { class: "muted small" }, t("preview_hint")),
      h("div", { class: "table-wrap" }, table),
      h("div", { class: "actions" }, h("button", { type: "button", id: "add-line", on: { click: () => addLine({}) } }, t("add_line"))),
      h("div", { class: "grid2" }, balance.wrap, redeem.wrap),
      h("h3", {}, t("preview_when_who")),
      h("div", { class: "grid2" }, at.wrap, store.wrap, tier.wrap, tags.wrap), first.wrap, stampsBox,
      h("div", { class: "actions" }, run), out);
    return { panel, update };
  }

  // "Рассчитано на пн, 30 нояб. 2026 г., 16:30 по времени Europe/Moscow": the moment as typed
  // (a local date-time of the program's zone, shown as such, never shifted to the browser's).
  function pricedAt(local, zone) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || "");
    if (!m) return t("preview_priced_now");
    const when = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]).toLocaleString(LC.lang === "ru" ? "ru-RU" : "en-GB",
      { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
    return t("preview_priced_at", { when, zone: zone || "Europe/Moscow" });
  }

  // Two calculations as one table: the figures a till would print, current | draft; then the
  // campaigns each gave and why the others did not.
  function comparison(answer, draftProgram) {
    const now = (answer.current && answer.current.calculation) || {};
    const draft = (answer.draft && answer.draft.calculation) || {};
    // A side the rules refused (the draft's settings cannot price this receipt) says why.
    const refusal = (side) => (side && side.error ? side.error.message || side.error.code : null);
    const refused = [refusal(answer.current), refusal(answer.draft)];
    const tables = () => [comparisonTable(answer, now, draft), campaignsTable(answer, now, draft, draftProgram)];
    if (refused[0] || refused[1]) {
      return h("div", {}, refused.map((text, i) => (text ? h("div", { class: "notice error" }, (i ? t("preview_draft") : t("preview_current", { version: (answer.current && answer.current.version) || "" })) + ": " + text) : null)),
        refused[0] && refused[1] ? null : tables());
    }
    return h("div", {}, tables());
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

  // The campaigns of each side: those that gave something and what (points, a discount, a
  // stamp card's "4 из 5"), and those with lines on the receipt that gave nothing, and why.
  function campaignsTable(answer, now, draft, draftProgram) {
    const sides = [now, draft];
    if (!sides.some((c) => (c.campaigns || []).length || (c.campaigns_not_applied || []).length)) {
      const none = (draftProgram.campaigns || []).length ? t("preview_no_campaign_lines") : t("preview_no_campaigns");
      return h("p", { class: "muted small", id: "preview-campaigns" }, none);
    }
    // Names by id, for "gave way to «…»": the side's own campaigns first.
    const names = (c) => {
      const map = {};
      for (const x of [...(c.campaigns || []), ...(c.campaigns_not_applied || [])]) map[x.id] = x.name;
      for (const x of draftProgram.campaigns || []) if (!(x.id in map)) map[x.id] = x.name || x.id;
      return map;
    };
    const applied = (c) => ((c.campaigns || []).length
      ? h("ul", { class: "campaign-list" }, c.campaigns.map((g) => h("li", { dataset: { campaign: g.id } }, h("b", {}, g.name), ": ", LC.campaigns.gainText(g))))
      : h("span", { class: "muted" }, t("preview_none")));
    const skipped = (c) => ((c.campaigns_not_applied || []).length
      ? h("ul", { class: "campaign-list" }, c.campaigns_not_applied.map((x) => h("li", { dataset: { campaign: x.id, reason: x.reason } },
        h("b", {}, x.name), ": ", LC.campaigns.reasonText(x, names(c)))))
      : h("span", { class: "muted" }, t("preview_none")));
    // Two columns, current | draft, as the figures above; a heading row before each list.
    const version = answer.current && answer.current.version;
    const heading = (text) => h("tr", { class: "cmp-heading" }, h("th", { colspan: "2" }, text));
    return h("div", { class: "table-wrap" }, h("table", { class: "data campaigns-cmp", id: "preview-campaigns" },
      h("caption", {}, t("prog_campaigns")),
      h("thead", {}, h("tr", {}, h("th", {}, t("preview_current", { version: version === undefined ? "" : version })), h("th", {}, t("preview_draft")))),
      h("tbody", {},
        heading(t("preview_applied")),
        h("tr", { dataset: { row: "applied" } }, h("td", { class: "cmp-current" }, applied(now)), h("td", { class: "cmp-draft" }, applied(draft))),
        heading(t("preview_not_applied")),
        h("tr", { dataset: { row: "skipped" } }, h("td", { class: "cmp-current" }, skipped(now)), h("td", { class: "cmp-draft" }, skipped(draft))))));
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
      { label: t("prog_campaigns"), value: (v) => LC.number(((v.program && v.program.campaigns) || []).length), class: "num" },
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

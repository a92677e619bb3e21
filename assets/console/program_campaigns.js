// The program page's campaigns (CONTRACTS.md §campaigns) and lifecycle rewards: an editor for
// each campaign of the draft — add, edit, duplicate, delete — with every field of the contract,
// the program's time zone, the birthday and bring-a-friend settings, and the words the preview
// says campaigns in (what each gave, why another did not). pages_program.js builds the page
// around it and publishes through PUT /v1/admin/program. Checking stays the server's: this file
// only reads what the inputs say, and a refusal naming `campaigns[i].…` is shown under that
// campaign's input (`locate`), in the page's words (`problemText`).
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const EFFECTS = ["points_multiplier", "extra_points", "discount_percent", "discount_amount", "stamp_card"];
  const PERIODS = ["day", "week", "month", "year", "ever"];
  // Russia's zones first (the chains are Russian); any IANA name may be typed.
  const ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk",
    "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka", "Asia/Almaty",
    "Asia/Tashkent", "Europe/Minsk", "UTC"];

  // ------------------------------------------------------------------------------------------
  // A campaign in words: what it gives, on what, when, how often.

  const has = (v) => v !== undefined && v !== null;

  function effectText(e) {
    if (!e) return t("effect_none");
    if (has(e.points_multiplier)) return t("effect_multiplier", { m: e.points_multiplier });
    if (e.extra_points) return t("effect_extra_" + (e.extra_points.per || "receipt"), { points: pointsOrText(e.extra_points.points) });
    if (has(e.discount_percent)) return t("effect_discount_percent", { percent: e.discount_percent });
    if (has(e.discount_amount)) return t("effect_discount_amount", { amount: typeof e.discount_amount === "number" ? LC.money(e.discount_amount) : "…" });
    if (e.stamp_card) return t("effect_stamp_card", { n: e.stamp_card.stamps_for_reward });
    return t("effect_none");
  }
  const pointsOrText = (n) => (typeof n === "number" ? LC.pointsText(n) : String(n));

  function onText(c) {
    const k = c.conditions || {};
    const parts = [];
    const list = (key, values) => { if (values && values.length) parts.push(t(key, { list: values.join(", ") })); };
    list("cond_categories", k.categories);
    list("cond_skus", k.skus);
    list("cond_tiers", k.tiers);
    list("cond_tags", k.tags);
    list("cond_stores", k.stores);
    if (typeof k.min_receipt === "number" && k.min_receipt > 0) parts.push(t("cond_min_receipt", { amount: LC.money(k.min_receipt) }));
    if (k.first_purchase) parts.push(t("cond_first_purchase"));
    return parts.length ? parts.join("; ") : t("cond_any");
  }

  function whenText(c) {
    const parts = [];
    if (c.valid_from || c.valid_until) parts.push((c.valid_from ? LC.date(c.valid_from) : "…") + " — " + (c.valid_until ? LC.date(c.valid_until) : "…"));
    if (c.schedule) {
      const days = (c.schedule.days || []).map((d) => t("day_" + String(d).toLowerCase())).join(", ");
      const hours = c.schedule.from || c.schedule.to ? (c.schedule.from || "00:00") + "–" + (c.schedule.to || "24:00") : "";
      parts.push([days, hours].filter(Boolean).join(" "));
    }
    return parts.filter(Boolean).length ? parts.filter(Boolean).join("; ") : t("always");
  }

  function limitsText(c) {
    const parts = [];
    if (c.limit_per_customer) parts.push(t("limit_per_customer_" + (c.limit_per_customer.period || "ever"), { count: c.limit_per_customer.count }));
    if (has(c.budget_points)) parts.push(t("campaign_budget", { points: pointsOrText(c.budget_points) }));
    if (has(c.till_allowance_points)) parts.push(t("campaign_allowance", { points: pointsOrText(c.till_allowance_points) }));
    return parts.join("; ");
  }

  // ------------------------------------------------------------------------------------------
  // The preview's words: what a campaign gave, why another gave nothing.

  // {points, discount, stamps: {earned, used, after, for_reward}} → "+10 баллов", "−150,00 ₽,
  // 1 шт. бесплатно, 0 из 5".
  function gainText(gain) {
    const parts = [];
    if (gain.points) parts.push(LC.signedPoints(gain.points) + "\u00a0" + LC.plural(gain.points, ["балл", "балла", "баллов"], ["point", "points"]));
    if (gain.discount) parts.push("−" + LC.money(gain.discount));
    const s = gain.stamps;
    if (s) {
      const free = s.for_reward > 0 ? Math.floor(s.used / s.for_reward) : 0;
      if (free) parts.push(t("stamps_free", { n: LC.number(free) }));
      if (s.earned) parts.push("+" + LC.countText(s.earned, ["штамп", "штампа", "штампов"], ["stamp", "stamps"]));
      if (s.for_reward) {
        const card = t("stamps_of", { after: LC.number(s.after), of: LC.number(s.for_reward) });
        parts.push(s.after >= s.for_reward ? card + " — " + t("stamps_next_free") : card);
      }
    }
    return parts.length ? parts.join(", ") : t("gave_nothing");
  }

  // {reason, detail} → "вне расписания: не тот день или час"; `names` maps ids to names (the
  // winner of an exclusive campaign). A reason the page does not know reads as "did not apply".
  function reasonText(skipped, names) {
    const detail = skipped.detail;
    switch (skipped.reason) {
      case "not_yet_valid": return detail ? t("why_not_yet_valid_from", { date: LC.date(detail) }) : t("why_not_yet_valid");
      case "expired": return detail ? t("why_expired_on", { date: LC.date(detail) }) : t("why_expired");
      case "condition_not_met": {
        const key = "why_condition_" + detail;
        return t(key) !== key ? t(key) : t("why_condition_not_met");
      }
      case "exclusive_overridden": return detail ? t("why_exclusive_overridden_by", { name: (names && names[detail]) || detail }) : t("why_exclusive_overridden");
      case "limit_reached": return t("why_limit_reached");
      default: {
        const key = "why_" + skipped.reason;
        return t(key) !== key ? t(key) : t("why_other");
      }
    }
  }

  // A refused program's problem (details: problem and its values) at the field, in the page's
  // words; null for a problem the page has no words for (the server's sentence stands then).
  function problemText(details) {
    const d = details || {};
    const key = "problem_" + d.problem;
    if (t(key) === key) return null;
    return t(key, { max: d.max, value: d.value, from: d.from, to: d.to, count: d.count });
  }

  // ------------------------------------------------------------------------------------------
  // The editor.

  // A group of checkboxes as one field: its label, the boxes, and one place for its error.
  function group(name, label, content, hint) {
    const wrap = h("div", { class: "field group", dataset: { field: name } }, h("span", {}, label), h("div", { class: "checks" }, content),
      hint ? h("span", { class: "hint" }, hint) : null, h("span", { class: "error", role: "alert", hidden: true }));
    wrap.addEventListener("change", () => LC.fieldError(wrap, null));
    return wrap;
  }
  // "9:00", "16.00", "1600" → "09:00", "16:00"; anything else as typed (the server names it).
  function clock(text) {
    const value = String(text).trim();
    const m = /^(\d{1,2})[:.\s-]?(\d{2})$/.exec(value);
    return m ? m[1].padStart(2, "0") + ":" + m[2] : value;
  }
  const chip = (input, label) => h("label", { class: "check-chip" }, input, h("span", {}, label));

  // options: {guard(wrap, read), read (the page's readers), tierNames() (the draft's tiers as the
  // form says now), onChange() (a campaign's effect, id or name changed, or one was added or
  // removed)}. Answers {panel, collect(), locate(path), stampCards(), names(), refreshTiers(), zone()}.
  function editor(draft, options) {
    const { guard, read } = options;
    const soft = (wrap, get) => { try { return get(); } catch (problem) { return "…"; } };
    const rows = [];
    const list = h("div", { id: "campaign-list" });
    const zone = LC.field({ name: "time_zone", label: t("prog_time_zone"), value: draft.time_zone || "Europe/Moscow", hint: t("hint_time_zone"),
      attrs: { list: "time-zones", spellcheck: "false" } });
    const none = h("div", { class: "empty", id: "no-campaigns" }, t("no_campaigns"));
    const add = h("button", { type: "button", id: "add-campaign", class: "primary" }, t("add_campaign"));
    const panel = h("div", { class: "panel", id: "campaigns" }, h("h2", {}, t("prog_campaigns")),
      h("p", { class: "muted small" }, t("hint_campaigns")),
      h("div", { class: "grid2" }, zone.wrap), h("datalist", { id: "time-zones" }, ZONES.map((z) => h("option", { value: z }))),
      list, none, h("div", { class: "actions" }, add));

    // What each published campaign has given so far (GET /v1/admin/campaigns), shown on its card.
    let figures = new Map();
    LC.api("GET", "/v1/admin/campaigns").then((answer) => {
      figures = new Map((answer.campaigns || []).map((f) => [f.id, f]));
      for (const r of rows) if (!r.removed && r.redraw) r.redraw();
    }).catch(() => {});
    const figuresText = (id) => {
      const f = figures.get(id);
      if (!f) return null;
      const parts = [t("campaign_state_" + f.state)];
      const receipts = LC.countText(f.receipts, ["чеке", "чеках", "чеках"], ["receipt", "receipts"]);
      if (f.given_points > 0) parts.push(t("campaign_given", { points: LC.pointsText(f.given_points), receipts }));
      else if (f.receipts > 0) parts.push(t("campaign_used_on", { receipts }));
      if (f.discount > 0) parts.push(t("campaign_discount_given", { money: LC.money(f.discount) }));
      if (f.budget_points !== null && f.budget_points !== undefined) {
        parts.push(t("campaign_budget_left", { left: LC.number(f.budget_left), budget: LC.number(f.budget_points) }));
      }
      return parts.join(" · ");
    };

    const alive = () => rows.filter((r) => !r.removed);
    const changed = () => {
      none.hidden = alive().length > 0;
      if (options.onChange) options.onChange();
    };
    // `base`, or `base-2`, `base-3`… : a code no campaign of the draft has (in any case).
    function uniqueId(base) {
      const taken = new Set(alive().map((r) => r.fields.id.input.value.trim().toLowerCase()));
      const stem = String(base).slice(0, 60);
      if (!taken.has(stem.toLowerCase())) return stem;
      for (let n = 2; ; n++) if (!taken.has((stem + "-" + n).toLowerCase())) return stem + "-" + n;
    }

    function addRow(c, open) {
      const index = rows.length;
      const p = "campaigns[" + index + "].";
      const k = c.conditions || {};
      const e = c.effect || {};
      const s = c.schedule || null;
      const kind = EFFECTS.find((key) => has(e[key])) || "points_multiplier";
      const money = (v) => (typeof v === "number" && v ? LC.moneyInput(v) : "");
      const f = {
        name: LC.field({ name: p + "name", label: t("campaign_name"), value: c.name || "", placeholder: t("campaign_name_placeholder") }),
        id: LC.field({ name: p + "id", label: t("campaign_id"), value: c.id, hint: t("hint_campaign_id"), attrs: { spellcheck: "false" } }),
        priority: LC.field({ name: p + "priority", label: t("campaign_priority_label"), value: c.priority || 0, hint: t("hint_campaign_priority"), attrs: { inputmode: "numeric" } }),
        stacking: LC.field({ name: p + "stacking", label: t("campaign_stacking"), type: "select",
          options: [["stack", t("stacking_stack_long")], ["exclusive", t("stacking_exclusive_long")]], value: c.stacking || "stack" }),
        effect: LC.field({ name: p + "effect", label: t("campaign_effect_kind"), type: "select", options: EFFECTS.map((x) => [x, t("effect_kind_" + x)]), value: kind }),
        multiplier: LC.field({ name: p + "effect.points_multiplier", label: t("effect_multiplier_label"), value: has(e.points_multiplier) ? e.points_multiplier : 2,
          hint: t("hint_multiplier"), attrs: { inputmode: "numeric" } }),
        extraPoints: LC.field({ name: p + "effect.extra_points.points", label: t("effect_extra_label"), value: e.extra_points ? e.extra_points.points : 50, attrs: { inputmode: "numeric" } }),
        extraPer: LC.field({ name: p + "effect.extra_points.per", label: t("effect_per_label"), type: "select",
          options: [["receipt", t("per_receipt")], ["line", t("per_line")], ["unit", t("per_unit")]], value: e.extra_points ? e.extra_points.per || "receipt" : "receipt" }),
        percent: LC.field({ name: p + "effect.discount_percent", label: t("effect_percent_label"), value: has(e.discount_percent) ? e.discount_percent : 10,
          hint: t("hint_campaign_percent"), attrs: { inputmode: "numeric" } }),
        amount: LC.field({ name: p + "effect.discount_amount", label: t("effect_amount_label"), value: has(e.discount_amount) ? LC.moneyInput(e.discount_amount) : "100",
          hint: t("hint_discount_amount"), attrs: { inputmode: "decimal" } }),
        stamps: LC.field({ name: p + "effect.stamp_card.stamps_for_reward", label: t("effect_stamps_label"), value: e.stamp_card ? e.stamp_card.stamps_for_reward : 5,
          hint: t("hint_stamps"), attrs: { inputmode: "numeric" } }),
        validFrom: LC.field({ name: p + "valid_from", label: t("campaign_valid_from"), type: "date", value: c.valid_from || "", hint: t("hint_valid_from") }),
        validUntil: LC.field({ name: p + "valid_until", label: t("campaign_valid_until"), type: "date", value: c.valid_until || "", hint: t("hint_valid_until") }),
        // Times as text (16:00, in any browser's locale, and 24:00 for "until midnight").
        from: LC.field({ name: p + "schedule.from", label: t("schedule_from"), value: s && s.from ? s.from : "", placeholder: "00:00", hint: t("hint_schedule_from"),
          attrs: { inputmode: "numeric", maxlength: "5" } }),
        to: LC.field({ name: p + "schedule.to", label: t("schedule_to"), value: s && s.to ? s.to : "", placeholder: "24:00", hint: t("hint_schedule_to"),
          attrs: { inputmode: "numeric", maxlength: "5" } }),
        categories: LC.field({ name: p + "conditions.categories", label: t("cond_categories_label"), value: (k.categories || []).join(", "), hint: t("hint_comma_list") }),
        skus: LC.field({ name: p + "conditions.skus", label: t("cond_skus_label"), value: (k.skus || []).join(", "), hint: t("hint_lines_either") }),
        tags: LC.field({ name: p + "conditions.tags", label: t("cond_tags_label"), value: (k.tags || []).join(", "), hint: t("hint_tags") }),
        stores: LC.field({ name: p + "conditions.stores", label: t("cond_stores_label"), value: (k.stores || []).join(", "), hint: t("hint_stores") }),
        minReceipt: LC.field({ name: p + "conditions.min_receipt", label: t("cond_min_receipt_label"), value: money(k.min_receipt), placeholder: t("any_amount"),
          attrs: { inputmode: "decimal" } }),
        firstPurchase: LC.field({ name: p + "conditions.first_purchase", label: t("cond_first_purchase_label"), type: "checkbox", value: !!k.first_purchase }),
        count: LC.field({ name: p + "limit_per_customer.count", label: t("limit_count_label"), value: c.limit_per_customer ? c.limit_per_customer.count : "",
          placeholder: t("unlimited"), attrs: { inputmode: "numeric" } }),
        period: LC.field({ name: p + "limit_per_customer.period", label: t("limit_period_label"), type: "select", options: PERIODS.map((x) => [x, t("period_" + x)]),
          value: c.limit_per_customer ? c.limit_per_customer.period || "ever" : "day" }),
        budget: LC.field({ name: p + "budget_points", label: t("budget_points_label"), value: has(c.budget_points) ? c.budget_points : "", placeholder: t("no_budget"),
          hint: t("hint_budget"), attrs: { inputmode: "numeric" } }),
        allowance: LC.field({ name: p + "till_allowance_points", label: t("till_allowance_label"), value: has(c.till_allowance_points) ? c.till_allowance_points : "",
          placeholder: t("whole_budget"), hint: t("hint_till_allowance"), attrs: { inputmode: "numeric" } }),
      };
      const dayBoxes = DAYS.map((d) => h("input", { type: "checkbox", value: d,
        checked: !!(s && (s.days || []).some((x) => String(x).toLowerCase() === d)) }));
      const days = group(p + "schedule.days", t("schedule_days"), DAYS.map((d, i) => chip(dayBoxes[i], t("day_" + d))), t("hint_days"));
      // Tiers to pick from: the draft's as its form says now, plus any chosen that it lacks.
      const chosenTiers = new Set(k.tiers || []);
      const tiers = group(p + "conditions.tiers", t("cond_tiers_label"), [], t("hint_cond_tiers"));
      const tierBox = tiers.querySelector(".checks");
      function drawTiers() {
        for (const box of tierBox.querySelectorAll("input")) (box.checked ? chosenTiers.add(box.value) : chosenTiers.delete(box.value));
        const names = options.tierNames();
        const known = new Set(names.map((n) => n.toLowerCase()));
        const missing = [...chosenTiers].filter((n) => !known.has(n.toLowerCase()));
        LC.clear(tierBox);
        if (!names.length && !missing.length) tierBox.append(h("span", { class: "muted small" }, t("no_tiers_to_pick")));
        for (const name of names) {
          const checked = [...chosenTiers].some((n) => n.toLowerCase() === name.toLowerCase());
          tierBox.append(chip(h("input", { type: "checkbox", value: name, checked }), name));
        }
        for (const name of missing) tierBox.append(chip(h("input", { type: "checkbox", value: name, checked: true }), t("tier_not_in_program", { name })));
      }
      drawTiers();

      // Only the chosen effect's inputs are shown.
      const effectFields = {
        points_multiplier: [f.multiplier.wrap],
        extra_points: [f.extraPoints.wrap, f.extraPer.wrap],
        discount_percent: [f.percent.wrap],
        discount_amount: [f.amount.wrap],
        stamp_card: [f.stamps.wrap],
      };
      const showEffect = () => {
        for (const [key, wraps] of Object.entries(effectFields)) for (const w of wraps) w.hidden = key !== f.effect.input.value;
      };
      showEffect();

      const row = { index, removed: false, fields: f };
      const title = h("strong", { class: "campaign-title" });
      const idLine = h("span", { class: "muted small mono campaign-id" });
      const summary = h("div", { class: "campaign-summary" });
      const edit = h("button", { type: "button", class: "small campaign-edit" });
      const copy = h("button", { type: "button", class: "small campaign-copy" }, t("duplicate"));
      const remove = h("button", { type: "button", class: "small danger campaign-delete" }, t("delete"));
      const section = (label, ...fields) => h("div", { class: "campaign-section" }, h("h3", {}, label), h("div", { class: "form-grid" }, fields));
      const body = h("div", { class: "campaign-body" },
        section(t("campaign_section_what"), f.name.wrap, f.id.wrap, f.effect.wrap, Object.values(effectFields).flat(), f.stacking.wrap, f.priority.wrap),
        section(t("campaign_section_when"), f.validFrom.wrap, f.validUntil.wrap, f.from.wrap, f.to.wrap),
        h("div", { class: "campaign-days" }, days),
        section(t("campaign_section_on"), f.categories.wrap, f.skus.wrap, f.minReceipt.wrap, f.stores.wrap, f.tags.wrap, f.firstPurchase.wrap),
        h("div", { class: "campaign-days" }, tiers),
        section(t("campaign_section_limits"), f.count.wrap, f.period.wrap, f.budget.wrap, f.allowance.wrap));
      const rowError = h("div", { class: "row-error error", role: "alert", hidden: true });
      const box = h("div", { class: "panel campaign-row", dataset: { row: String(index) } },
        h("div", { class: "campaign-head" },
          h("div", { class: "campaign-name" }, title, idLine),
          h("div", { class: "actions" }, edit, copy, remove)),
        summary, rowError, body);
      row.box = box;
      row.rowError = rowError;
      row.drawTiers = drawTiers;

      row.setOpen = (open) => {
        row.open = open;
        body.hidden = !open;
        box.classList.toggle("open", open);
        edit.textContent = t(open ? "collapse" : "edit");
        edit.setAttribute("aria-expanded", open ? "true" : "false");
      };
      row.name = () => f.name.input.value.trim() || f.id.input.value.trim();

      // The campaign as its inputs say now. `strict`: a field that cannot be read is marked and
      // stops the draft (the page's guard); otherwise it reads as "…" (for the summary).
      row.read = (strict) => {
        const g = strict ? guard : soft;
        const int = (field, fallback) => g(field.wrap, () => read.int(field.input.value.trim() || fallback));
        const optInt = (field) => (field.input.value.trim() ? int(field) : undefined);
        const out = { id: f.id.input.value.trim() };
        const name = f.name.input.value.trim();
        if (name) out.name = name;
        out.priority = int(f.priority, "0");
        if (f.validFrom.input.value) out.valid_from = f.validFrom.input.value;
        if (f.validUntil.input.value) out.valid_until = f.validUntil.input.value;
        const chosenDays = DAYS.filter((d, i) => dayBoxes[i].checked);
        const from = clock(f.from.input.value);
        const to = clock(f.to.input.value);
        if (chosenDays.length || from || to) {
          out.schedule = { days: chosenDays };
          if (from) out.schedule.from = from;
          if (to) out.schedule.to = to;
        }
        for (const box of tierBox.querySelectorAll("input")) (box.checked ? chosenTiers.add(box.value) : chosenTiers.delete(box.value));
        out.conditions = {
          categories: read.list(f.categories.input.value),
          skus: read.list(f.skus.input.value),
          tiers: [...chosenTiers],
          tags: read.list(f.tags.input.value),
          stores: read.list(f.stores.input.value),
          min_receipt: g(f.minReceipt.wrap, () => read.money(f.minReceipt.input.value.trim() || "0")),
          first_purchase: f.firstPurchase.input.checked,
        };
        const effect = f.effect.input.value;
        if (effect === "points_multiplier") out.effect = { points_multiplier: int(f.multiplier) };
        else if (effect === "extra_points") out.effect = { extra_points: { points: int(f.extraPoints), per: f.extraPer.input.value } };
        else if (effect === "discount_percent") out.effect = { discount_percent: int(f.percent) };
        else if (effect === "discount_amount") out.effect = { discount_amount: g(f.amount.wrap, () => read.money(f.amount.input.value)) };
        else out.effect = { stamp_card: { stamps_for_reward: int(f.stamps) } };
        out.stacking = f.stacking.input.value;
        const count = optInt(f.count);
        if (count !== undefined) out.limit_per_customer = { count, period: f.period.input.value };
        const budget = optInt(f.budget);
        if (budget !== undefined) out.budget_points = budget;
        const allowance = optInt(f.allowance);
        if (allowance !== undefined) out.till_allowance_points = allowance;
        return out;
      };

      const redraw = () => {
        const c = row.read(false);
        title.textContent = c.name || t("campaign_unnamed");
        idLine.textContent = c.id;
        // LC.append, not Element.append: it skips the absent limits line instead of writing "null".
        LC.append(LC.clear(summary), [
          h("span", { class: "campaign-effect" }, effectText(c.effect)),
          h("span", { class: "muted" }, " · " + t(c.stacking === "exclusive" ? "stacking_exclusive" : "stacking_stack") + " · " + t("campaign_priority", { n: c.priority })),
          h("div", { class: "small" }, h("span", { class: "muted" }, t("campaign_on") + ": "), onText(c)),
          h("div", { class: "small" }, h("span", { class: "muted" }, t("campaign_when") + ": "), whenText(c)),
          limitsText(c) ? h("div", { class: "small" }, h("span", { class: "muted" }, t("campaign_limits") + ": "), limitsText(c)) : null,
          figuresText(c.id) ? h("div", { class: "small campaign-figures" }, h("span", { class: "muted" }, t("campaign_so_far") + ": "), figuresText(c.id)) : null]);
      };
      row.redraw = redraw;
      f.effect.input.addEventListener("change", () => { showEffect(); changed(); });
      f.id.input.addEventListener("input", changed);
      f.name.input.addEventListener("input", changed);
      body.addEventListener("input", redraw);
      body.addEventListener("change", redraw);
      edit.addEventListener("click", () => row.setOpen(!row.open));
      copy.addEventListener("click", () => {
        const source = row.read(false);
        source.id = uniqueId(source.id || "campaign");
        source.name = (source.name || row.name()) + t("copy_suffix");
        const made = addRow(source, true);
        made.box.scrollIntoView({ block: "start" });
        made.fields.name.input.focus();
      });
      remove.addEventListener("click", async () => {
        if (!(await LC.confirm(t("delete_campaign_title"), t("delete_campaign_text", { name: row.name() }), t("delete")))) return;
        row.removed = true;
        box.remove();
        changed();
      });

      rows.push(row);
      list.append(box);
      row.setOpen(!!open);
      redraw();
      changed();
      return row;
    }

    (draft.campaigns || []).forEach((c) => addRow(c, false));
    none.hidden = rows.length > 0;
    add.addEventListener("click", () => {
      let n = alive().length + 1;
      while (alive().some((r) => r.fields.id.input.value.trim() === "campaign-" + n)) n++;
      const made = addRow({ id: "campaign-" + n, priority: 0, conditions: {}, effect: { points_multiplier: 2 }, stacking: "stack" }, true);
      made.box.scrollIntoView({ block: "start" });
      made.fields.name.input.focus();
    });

    return {
      panel,
      zone: () => zone.input.value.trim(),
      // The campaigns to send, in the page's order; a row with a field it cannot read is opened.
      collect() {
        return alive().map((row) => {
          const campaign = row.read(true);
          if (row.box.querySelector("[aria-invalid=true]")) row.setOpen(true);
          return campaign;
        });
      },
      // The input a refused program's `campaigns[i].…` names (i counts the campaigns sent), its
      // campaign opened: {row, wrap}; wrap is null when no one input holds the problem.
      locate(path) {
        const m = /^campaigns\[(\d+)\](?:\.(.+))?$/.exec(String(path));
        if (!m) return null;
        let sent = -1;
        const row = rows.find((r) => !r.removed && ++sent === Number(m[1]));
        if (!row) return null;
        row.setOpen(true);
        let rest = (m[2] || "").replace(/\[\d+\]$/, "");
        // A stamp card without lines to stamp: its categories; a schedule as a whole: its end.
        if (rest === "conditions") rest = "conditions.categories";
        if (rest === "schedule") rest = "schedule.to";
        const wrap = rest ? row.box.querySelector('[data-field="' + CSS.escape("campaigns[" + row.index + "]." + rest) + '"]') : null;
        return { row, wrap };
      },
      // The draft's stamp cards, for the preview's "stamps held": {key, id, name}.
      stampCards: () => alive().filter((r) => r.fields.effect.input.value === "stamp_card")
        .map((r) => ({ key: r.index, id: r.fields.id.input.value.trim(), name: r.name() })),
      refreshTiers() {
        for (const row of alive()) {
          row.drawTiers();
          row.redraw();
        }
      },
    };
  }

  // ------------------------------------------------------------------------------------------
  // Birthday and bring-a-friend: carried in the program and checked; the cloud does not grant
  // them yet (the hint says so).

  function lifecycle(draft, options) {
    const { guard, read } = options;
    const b = draft.birthday || {};
    const r = draft.referral || {};
    const number = (name, label, value, hint, placeholder) => LC.field({ name, label, value, hint, placeholder, attrs: { inputmode: "numeric" } });
    const birthdayOn = LC.field({ name: "birthday", label: t("birthday_on"), type: "checkbox", value: !!draft.birthday });
    const bf = {
      points: number("birthday.points", t("birthday_points"), has(b.points) ? b.points : 100),
      days_before: number("birthday.days_before", t("birthday_days_before"), b.days_before || 0),
      days_after: number("birthday.days_after", t("birthday_days_after"), b.days_after || 0),
      expiry_days: number("birthday.expiry_days", t("birthday_expiry_days"), b.expiry_days || 0, t("hint_birthday_expiry")),
    };
    const referralOn = LC.field({ name: "referral", label: t("referral_on"), type: "checkbox", value: !!draft.referral });
    const rf = {
      referrer_points: number("referral.referrer_points", t("referral_referrer_points"), r.referrer_points || 0),
      friend_points: number("referral.friend_points", t("referral_friend_points"), r.friend_points || 0),
      min_receipt: LC.field({ name: "referral.min_receipt", label: t("referral_min_receipt"), value: r.min_receipt ? LC.moneyInput(r.min_receipt) : "",
        placeholder: t("any_amount"), attrs: { inputmode: "decimal" } }),
      max_per_referrer: number("referral.max_per_referrer", t("referral_max_per_referrer"), has(r.max_per_referrer) ? r.max_per_referrer : "", undefined, t("unlimited")),
    };
    const birthdayGrid = h("div", { class: "form-grid" }, Object.values(bf).map((x) => x.wrap));
    const referralGrid = h("div", { class: "form-grid" }, Object.values(rf).map((x) => x.wrap));
    const sync = () => {
      birthdayGrid.hidden = !birthdayOn.input.checked;
      referralGrid.hidden = !referralOn.input.checked;
    };
    birthdayOn.input.addEventListener("change", sync);
    referralOn.input.addEventListener("change", sync);
    sync();
    const panel = h("div", { class: "panel", id: "lifecycle" }, h("h2", {}, t("prog_lifecycle")), h("p", { class: "muted small" }, t("hint_lifecycle")),
      birthdayOn.wrap, birthdayGrid, referralOn.wrap, referralGrid);
    const int = (field) => guard(field.wrap, () => read.int(field.input.value.trim() || "0"));
    return {
      panel,
      // {birthday, referral}: each an object, or undefined when switched off.
      collect() {
        const out = { birthday: undefined, referral: undefined };
        if (birthdayOn.input.checked) out.birthday = { points: int(bf.points), days_before: int(bf.days_before), days_after: int(bf.days_after), expiry_days: int(bf.expiry_days) };
        if (referralOn.input.checked) {
          out.referral = {
            referrer_points: int(rf.referrer_points),
            friend_points: int(rf.friend_points),
            min_receipt: guard(rf.min_receipt.wrap, () => read.money(rf.min_receipt.input.value.trim() || "0")),
          };
          if (rf.max_per_referrer.input.value.trim()) out.referral.max_per_referrer = int(rf.max_per_referrer);
        }
        return out;
      },
    };
  }

  LC.campaigns = { editor, lifecycle, effectText, onText, whenText, limitsText, gainText, reasonText, problemText };
})();

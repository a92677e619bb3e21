// Customers: the search (any text: a phone in any format or its last digits, a card, an email, a
// name), paged; and the customer card: balance, pending and expiring lots, tier progress, the
// activity with till and store, receipts, consents, tags, edit, a points adjustment with a
// reason, and the card's QR.
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;

  function customerName(c) {
    return c.name || t("no_name");
  }

  // ------------------------------------------------------------------------------------------
  // The list

  LC.pages.customers = {
    area: "customers",
    title: "nav_customers",
    render(view, params, query) {
      if (params[0]) return renderCard(view, params[0]);
      const search = h("input", { type: "search", id: "customer-search", placeholder: t("customer_search_placeholder"), value: query.q || "", autocomplete: "off", spellcheck: "false" });
      const go = h("button", { type: "submit", class: "primary" }, t("search"));
      const form = h("form", { class: "toolbar", role: "search" }, h("label", { class: "field", style: null }, h("span", {}, t("customer_search")), search), go);
      form.querySelector(".field").classList.add("grow");
      search.style.width = "420px";
      const results = h("div", { id: "customer-results" });
      const create = LC.can("edit")
        ? h("button", { type: "button", id: "new-customer", class: "primary", on: { click: () => newCustomerDialog() } }, t("new_customer"))
        : null;
      view.append(LC.pageHead(t("nav_customers"), create), form, h("p", { class: "muted small" }, t("customer_search_hint")), results);

      function show(q) {
        LC.clear(results);
        const columns = [
          { label: t("name"), value: (c) => customerName(c) },
          { label: t("phone"), value: (c) => LC.phone(c.phone), class: "mono" },
          { label: t("card"), value: (c) => c.card, class: "mono" },
          { label: t("tier"), value: (c) => c.group },
          { label: t("available"), value: (c) => LC.number(c.points && c.points.available), class: "num" },
          { label: t("balance"), value: (c) => LC.number(c.points && c.points.balance), class: "num" },
          { label: t("joined"), value: (c) => LC.date(c.created_at) },
        ];
        results.append(LC.pagedTable(columns, async (cursor) => {
          const answer = await LC.api("GET", "/v1/admin/customers" + LC.query({ q, limit: 50, cursor }));
          return { items: answer.customers || [], next: answer.next_cursor };
        }, { onRow: (c) => LC.go("customers", [c.id]), empty: q ? t("customer_none_for", { q }) : t("customer_none") }));
      }
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const q = search.value.trim();
        LC.setQuery(q ? { q } : {});
        show(q);
      });
      show(query.q || "");
      search.focus();
    },
  };

  // A new customer: the fields a till asks at enrolment, their tags and consents, and — for the
  // whole chain, or a manager of several stores — the store they join at. The server checks
  // everything again (a manager's store among theirs); its errors land under their field, and
  // a phone, card or email someone holds offers that customer's card.
  async function newCustomerDialog() {
    const mine = LC.myStores();
    let store = null;
    if (mine.length > 1) {
      store = LC.field({ name: "store", label: t("joins_at_store"), type: "select", options: [["", t("choose_store")], ...mine.map((s) => [s, s])] });
    } else if (mine.length === 0) {
      const stores = await LC.stores();
      store = LC.field({ name: "store", label: t("joins_at_store"), type: "select", options: [["", t("no_store")], ...stores.map((s) => [s, s])] });
    }
    const phone = LC.field({ name: "phone", label: t("phone"), type: "tel", hint: t("phone_any_format"), required: true });
    const fields = [
      phone,
      LC.field({ name: "name", label: t("name") }),
      LC.field({ name: "email", label: t("email"), type: "email" }),
      LC.field({ name: "birthday", label: t("birthday"), type: "date" }),
      LC.field({ name: "tags", label: t("tags"), hint: t("tags_hint") }),
      store,
      LC.field({ name: "sms", label: t("consent_sms_label"), type: "checkbox" }),
      LC.field({ name: "email_consent", label: t("consent_email_label"), type: "checkbox" }),
      LC.field({ name: "personal_data", label: t("consent_personal_data_label"), type: "checkbox" }),
    ].filter(Boolean);
    const byName = Object.fromEntries(fields.map((f) => [f.name, f.input]));
    // The API calls the email consent `consents.email`: its errors go to the consents, not the address.
    fields.find((f) => f.name === "email_consent").wrap.dataset.field = "consents";
    const single = mine.length === 1 ? h("p", { class: "muted" }, t("joins_your_store", { store: mine[0] })) : null;
    const form = h("form", { novalidate: true, id: "new-customer-form" }, LC.formNotice(), single, fields.map((f) => f.wrap));
    LC.dialog(t("new_customer"), form, [
      {
        label: t("create"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          if (!byName.phone.value.trim()) {
            LC.fieldError(phone.wrap, t("phone_required"));
            byName.phone.focus();
            return true;
          }
          const body = { phone: byName.phone.value.trim() };
          for (const name of ["name", "email", "birthday"]) {
            const value = byName[name].value.trim();
            if (value) body[name] = value;
          }
          const tags = byName.tags.value.split(",").map((x) => x.trim()).filter(Boolean);
          if (tags.length) body.tags = tags;
          if (store && store.input.value) body.store = store.input.value;
          // Only what was ticked: an unticked box is "not asked", not a refusal.
          const consents = {};
          if (byName.sms.checked) consents.sms = true;
          if (byName.email_consent.checked) consents.email = true;
          if (byName.personal_data.checked) consents.personal_data = true;
          if (Object.keys(consents).length) body.consents = consents;
          try {
            const created = await LC.api("POST", "/v1/admin/customers", body);
            LC.go("customers", [created.id]);
            LC.notice(t("customer_created"), "info");
            return false;
          } catch (failure) {
            LC.formError(form, failure);
            return true;
          }
        },
      },
      { label: t("cancel") },
    ]);
    byName.phone.focus();
  }

  // ------------------------------------------------------------------------------------------
  // The card

  async function renderCard(view, id) {
    view.append(LC.loading());
    let customer;
    try {
      customer = await LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(id));
    } catch (error) {
      LC.clear(view).append(LC.pageHead(t("customer")), h("div", { class: "notice error" }, error.message),
        h("a", { href: "#/customers" }, t("back_to_customers")));
      return;
    }
    if (!LC.current()) return;
    drawCard(view, customer);
  }

  async function drawCard(view, c) {
    const names = await LC.loadTillNames();
    LC.clear(view);
    const canEdit = LC.can("edit");
    const back = h("a", { href: "#/customers", class: "small" }, "← " + t("back_to_customers"));
    const head = LC.pageHead(customerName(c),
      canEdit ? h("button", { type: "button", id: "edit-customer", on: { click: () => editDialog(view, c) } }, t("edit")) : null,
      canEdit ? h("button", { type: "button", id: "adjust-points", class: "primary", on: { click: () => adjustDialog(view, c) } }, t("adjust_points")) : null);
    const left = h("div");
    const right = h("div");
    view.append(back, head, h("div", { class: "cols" }, left, right));

    // Points and tier.
    const p = c.points || {};
    const balance = h("div", { class: "panel", id: "customer-balance" }, h("h2", {}, t("points")),
      h("div", { class: "grid3" },
        h("div", {}, h("div", { class: "muted small" }, t("balance")), h("div", { class: "big" + (p.balance < 0 ? " neg" : "") }, LC.number(p.balance))),
        h("div", {}, h("div", { class: "muted small" }, t("available")), h("div", { class: "big" }, LC.number(p.available))),
        h("div", {}, h("div", { class: "muted small" }, t("pending")), h("div", { class: "big" }, LC.number(p.pending)))),
      c.next_expiry ? h("p", { class: "muted" }, t("next_expiry", { points: LC.pointsText(c.next_expiry.points), date: LC.date(c.next_expiry.at) })) : null);
    left.append(balance);

    const tier = h("div", { class: "panel" }, h("h2", {}, t("tier")),
      LC.kv([[t("tier_now"), c.group || t("no_tier")], [t("paid_total"), LC.money(c.paid_total)]]));
    if (c.next_tier) {
      // Progress toward the next threshold, in whole percent by integer arithmetic.
      const threshold = c.next_tier.threshold;
      const done = Math.max(0, threshold - c.next_tier.remaining);
      const percent = threshold > 0 ? Math.min(100, Math.floor((done * 100) / threshold)) : 100;
      const bar = h("div", { class: "progress" }, h("div"));
      bar.firstChild.style.width = percent + "%";
      tier.append(bar, h("div", { class: "muted small" }, t("to_next_tier", { money: LC.money(c.next_tier.remaining), tier: c.next_tier.name })));
    }
    left.append(tier);

    // Lots and the activity come from one call.
    const lots = h("div", { class: "panel" }, h("h2", {}, t("lots")), LC.loading());
    const activity = h("div", { class: "panel" }, h("h2", {}, t("activity")), LC.loading());
    left.append(lots, activity);
    loadActivity(c.id, lots, activity, names);

    const receipts = h("div", { class: "panel", id: "customer-receipts" }, h("h2", {}, t("receipts")));
    left.append(receipts);
    receipts.append(LC.pagedTable([
      { label: t("when"), value: (r) => LC.dateTime(r.applied_at || (r.receipt && r.receipt.committed_at)), class: "nowrap" },
      { label: t("till"), value: (r) => LC.tillCell(names, r.till_id) },
      { label: t("receipt_total"), value: (r) => LC.money(r.receipt && r.receipt.total), class: "num" },
      { label: t("spent"), value: (r) => LC.number(r.receipt && r.receipt.points && r.receipt.points.redeem), class: "num" },
      { label: t("earned"), value: (r) => LC.number(r.receipt && r.receipt.points && r.receipt.points.earn), class: "num" },
      { label: t("returns"), value: (r) => (r.returns && r.returns.length ? LC.status(t("returned_n", { n: r.returns.length }), "warn") : "") },
    ], async (cursor) => {
      const answer = await LC.api("GET", "/v1/admin/receipts" + LC.query({ customer: c.id, limit: 20, cursor }));
      return { items: answer.receipts || [], next: answer.next_cursor };
    }, { empty: t("no_receipts"), onRow: (r) => receiptDialog(r, names) }));

    // Contact details, consents, tags, QR.
    right.append(h("div", { class: "panel", id: "customer-details" }, h("h2", {}, t("details")), LC.kv([
      [t("phone"), h("span", { class: "mono" }, LC.phone(c.phone))],
      [t("card"), h("span", { class: "mono" }, c.card)],
      [t("email"), c.email],
      [t("birthday"), c.birthday ? LC.date(c.birthday) : null],
      [t("joined"), LC.dateTime(c.created_at)],
      [t("updated"), LC.dateTime(c.updated_at)],
    ])));

    right.append(consentsPanel(c));
    // The consents' history is a table of six columns: it takes the wide column, under the receipts.
    left.append(consentHistory(c, names));

    right.append(tagsPanel(view, c, canEdit));
    right.append(campaignsPanel(c, names));

    const qr = h("div", { class: "panel" }, h("h2", {}, t("card_qr")));
    right.append(qr);
    LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(c.id) + "/qr.svg", undefined, { blob: true, accept: "image/svg+xml" })
      .then((blob) => qr.append(LC.blobImage(blob, t("card_qr"))))
      .catch((error) => qr.append(h("p", { class: "muted" }, error.message)));
  }

  // Consents: each channel's state now, when and where it was given or withdrawn; and their
  // history, newest first — when, which, given or withdrawn, from where (a till and its store,
  // the website, the back office) and who.
  function consentsPanel(c) {
    const consents = c.consents || {};
    return h("div", { class: "panel", id: "customer-consents" }, h("h2", {}, t("consents")),
      h("ul", { class: "consents" }, [["consent_sms", consents.sms], ["consent_email", consents.email], ["consent_personal_data", consents.personal_data]].map(([key, consent]) =>
        h("li", {}, h("div", { class: "row" }, h("span", { class: "spacer" }, t(key)),
          consent ? LC.status(consent.granted ? t("granted") : t("withdrawn"), consent.granted ? "ok" : "bad") : LC.status(t("not_asked"))),
        consent ? h("div", { class: "muted small" }, LC.dateTime(consent.at) + " · " + sourceName(consent.source)) : null))));
  }

  function consentHistory(c, names) {
    const panel = h("div", { class: "panel", id: "consent-history" }, h("h2", {}, t("consent_history")));
    panel.append(LC.pagedTable([
      { label: t("when"), value: (x) => (x.at ? LC.dateTime(x.at) : LC.dateTime(x.recorded_at)), class: "nowrap" },
      { label: t("consent"), value: (x) => t("consent_" + x.channel) },
      { label: t("state"), value: (x) => LC.status(x.granted ? t("granted") : t("withdrawn"), x.granted ? "ok" : "bad") },
      // Where from and by whom in one cell: the source, then the till (and its store), the
      // sign-up's store, or the back-office user.
      { label: t("source"), value: (x) => h("div", {}, h("div", {}, sourceName(x.source)),
        x.till_id ? LC.tillCell(names, x.till_id) : null,
        !x.till_id && x.store ? h("div", { class: "muted small" }, x.store) : null,
        x.who ? h("div", { class: "muted small" }, x.who) : null) },
    ], async (cursor) => {
      const answer = await LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(c.id) + "/consents" + LC.query({ limit: 20, cursor }));
      return { items: answer.changes || [], next: answer.next_cursor };
    }, { empty: t("no_consent_history") }));
    return panel;
  }

  // A consent's source in words; one this console does not know, as the server spelled it.
  function sourceName(source) {
    const key = "source_" + (source || "unknown");
    const text = t(key);
    return text === key ? source : text;
  }

  // One receipt as the till priced it: its lines, and its returns.
  function receiptDialog(r, names) {
    const calc = r.receipt || {};
    const content = h("div", { id: "receipt-dialog" },
      LC.kv([
        [t("when"), LC.dateTime(r.applied_at)],
        [t("till"), LC.tillCell(names, r.till_id)],
        [t("receipt"), h("span", { class: "mono small" }, r.receipt_id)],
        [t("program_version"), "v" + r.program_version],
      ]),
      h("h3", {}, t("lines")),
      h("div", { class: "table-wrap" }, LC.table([
        { label: t("line_name"), value: (l) => l.name || l.sku },
        { label: t("line_quantity"), value: (l) => l.quantity, class: "num" },
        { label: t("line_price"), value: (l) => LC.money(l.price), class: "num" },
        { label: t("discount"), value: (l) => LC.money(l.discount), class: "num" },
        { label: t("receipt_total"), value: (l) => LC.money(l.paid), class: "num" },
        { label: t("earned"), value: (l) => LC.number(l.earn), class: "num" },
      ], calc.lines || [])),
      LC.kv([
        [t("subtotal"), LC.money(calc.subtotal)],
        [t("discount"), LC.money(calc.discount)],
        [t("to_pay"), LC.money(calc.total)],
        [t("spent"), LC.pointsText((calc.points && calc.points.redeem) || 0)],
        [t("earned"), LC.pointsText((calc.points && calc.points.earn) || 0)],
      ]),
      (r.returns || []).length ? [h("h3", {}, t("returns")), h("div", { class: "table-wrap" }, LC.table([
        { label: t("when"), value: (x) => LC.dateTime(x.created_at) },
        { label: t("refund"), value: (x) => LC.money(x.refund), class: "num" },
        { label: t("points_taken_back"), value: (x) => LC.number(x.points_taken_back), class: "num" },
        { label: t("points_given_back"), value: (x) => LC.number(x.points_given_back), class: "num" },
      ], r.returns))] : null);
    const d = LC.dialog(t("receipt"), content, [{ label: t("close") }]);
    d.box.classList.add("wide");
  }

  // The customer's stamp cards ("4 of 5", drawn as the card a shopper knows) and the latest
  // receipts campaigns gave something on.
  function campaignsPanel(c, names) {
    const panel = h("div", { class: "panel", id: "customer-campaigns" }, h("h2", {}, t("customer_campaigns")), LC.loading());
    LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(c.id) + "/campaigns").then((answer) => {
      const cards = answer.stamps || [];
      const uses = answer.uses || [];
      const body = h("div");
      if (!cards.length && !uses.length) {
        body.append(LC.empty(t("no_customer_campaigns")));
      }
      for (const card of cards) {
        const of = card.for_reward || 0;
        const dots = h("div", { class: "stamps", "aria-hidden": "true" });
        for (let i = 0; i < Math.min(of, 20); i++) {
          dots.append(h("span", { class: i < card.stamps ? "stamp on" : "stamp" }));
        }
        const full = of > 0 && card.stamps >= of;
        body.append(h("div", { class: "stamp-card" },
          h("div", {}, h("b", {}, card.name)),
          of > 0 ? dots : null,
          h("div", { class: "muted small" }, (of > 0 ? t("card_stamps_of", { n: card.stamps, of }) : t("stamps_held", { n: card.stamps })) +
            (full ? " — " + t("stamps_reward_next") : ""))));
      }
      if (uses.length) {
        // A list, not a table: the right-hand column is narrow.
        const gave = (u) => [
          u.points ? "+" + LC.pointsText(u.points) : null,
          u.discount ? "−" + LC.money(u.discount) : null,
          u.stamps_earned ? "+" + LC.countText(u.stamps_earned, ["штамп", "штампа", "штампов"], ["stamp", "stamps"]) : null,
        ].filter(Boolean).join(", ");
        body.append(h("h3", {}, t("campaign_uses")), h("ul", { class: "campaign-uses" }, uses.slice(0, 10).map((u) =>
          h("li", {},
            h("div", { class: "use-line" }, h("span", {}, u.name), h("b", { class: "num" }, gave(u))),
            h("div", { class: "muted small" }, LC.dateTime(u.used_at) + " · " + tillLabel(names, u.till_id) + " · " + t("receipt") + " " + u.receipt_id)))));
      }
      panel.lastChild.replaceWith(body);
    }).catch((error) => panel.lastChild.replaceWith(h("p", { class: "muted" }, error.message)));
    return panel;
  }

  // A till as plain text: "Main street · till-b", or its id's start.
  function tillLabel(names, id) {
    const till = names && names.get(id);
    return till ? till.store + " · " + till.name : id.slice(0, 8) + "…";
  }

  async function loadActivity(id, lotsBox, activityBox, names) {
    let answer;
    try {
      answer = await LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(id) + "/activity");
    } catch (error) {
      for (const box of [lotsBox, activityBox]) {
        box.lastChild.replaceWith(h("p", { class: "muted" }, error.message));
      }
      return;
    }
    const lots = answer.lots || [];
    lotsBox.lastChild.replaceWith(lots.length ? h("div", { class: "table-wrap" }, LC.table([
      { label: t("source"), value: (l) => t("lot_" + l.source) },
      { label: t("points"), value: (l) => LC.number(l.points), class: "num" },
      { label: t("remaining"), value: (l) => LC.number(l.remaining), class: "num" },
      { label: t("activates"), value: (l) => lotDate(l.activates_at) },
      { label: t("expires"), value: (l) => (l.expires_at ? LC.date(l.expires_at) : t("never")) },
    ], lots)) : LC.empty(t("no_lots")));
    const entries = answer.entries || [];
    activityBox.lastChild.replaceWith(entries.length ? h("div", { class: "table-wrap" }, LC.table([
      { label: t("when"), value: (e) => LC.dateTime(e.at), class: "nowrap" },
      { label: t("what"), value: (e) => t("entry_" + e.kind) },
      { label: t("points"), value: (e) => h("span", { class: e.points < 0 ? "neg" : "pos" }, LC.signedPoints(e.points)), class: "num" },
      { label: t("till"), value: (e) => (e.till_id ? LC.tillCell(names, e.till_id) : e.store || t("source_admin")) },
      { label: t("reference"), value: (e) => reference(e), class: "small reference" },
    ], entries)) : LC.empty(t("no_activity")));
  }

  // A sale's reference is "till/receipt": the till has its own column, so the receipt is enough.
  function reference(entry) {
    const text = entry.reference || "";
    return entry.till_id && text.startsWith(entry.till_id + "/") ? text.slice(entry.till_id.length + 1) : text;
  }

  function lotDate(iso) {
    if (!iso) return t("at_once");
    return new Date(iso).getTime() > Date.now() ? h("span", { class: "status warn" }, LC.date(iso)) : LC.date(iso);
  }

  // Tags: shown as chips; added and removed through PATCH {tags}.
  function tagsPanel(view, c, canEdit) {
    const box = h("div", { class: "panel", id: "customer-tags" }, h("h2", {}, t("tags")));
    const chips = h("div");
    const save = async (tags) => {
      try {
        const updated = await LC.api("PATCH", "/v1/admin/customers/" + encodeURIComponent(c.id), { tags });
        drawCard(view, updated);
        LC.notice(t("saved"), "info");
      } catch (error) {
        LC.showError(error);
      }
    };
    for (const tag of c.tags || []) {
      chips.append(h("span", { class: "chip" }, tag, canEdit ? h("button", {
        type: "button", title: t("remove_tag"), "aria-label": t("remove_tag") + " " + tag,
        on: { click: () => save((c.tags || []).filter((x) => x !== tag)) },
      }, "×") : null));
    }
    if (!(c.tags || []).length) chips.append(h("span", { class: "muted" }, t("no_tags")));
    box.append(chips);
    if (canEdit) {
      const input = h("input", { type: "text", placeholder: t("new_tag"), id: "new-tag" });
      const add = h("button", { type: "submit" }, t("add_tag"));
      const form = h("form", { class: "row" }, input, add);
      input.style.width = "200px";
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const tag = input.value.trim();
        if (!tag || (c.tags || []).includes(tag)) return;
        save([...(c.tags || []), tag]);
      });
      box.append(h("div", { class: "actions" }, form));
    }
    return box;
  }

  function editDialog(view, c) {
    const fields = [
      LC.field({ name: "name", label: t("name"), value: c.name }),
      LC.field({ name: "phone", label: t("phone"), value: c.phone, type: "tel" }),
      LC.field({ name: "email", label: t("email"), value: c.email, type: "email" }),
      LC.field({ name: "birthday", label: t("birthday"), value: c.birthday, type: "date" }),
      LC.field({ name: "sms", label: t("consent_sms_label"), type: "checkbox", value: c.consents && c.consents.sms && c.consents.sms.granted }),
      LC.field({ name: "email_consent", label: t("consent_email_label"), type: "checkbox", value: c.consents && c.consents.email && c.consents.email.granted }),
    ];
    const byName = Object.fromEntries(fields.map((f) => [f.name, f.input]));
    // The consents field of the API is `consents.email`; the form keeps the two apart.
    fields[5].wrap.dataset.field = "consents";
    const form = h("form", { novalidate: true }, LC.formNotice(), fields.map((f) => f.wrap));
    LC.dialog(t("edit_customer"), form, [
      {
        label: t("save"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          const patch = {};
          const text = (name, old) => {
            const value = byName[name].value.trim();
            if (value !== (old || "")) patch[name] = value === "" ? null : value;
          };
          text("name", c.name);
          text("email", c.email);
          text("birthday", c.birthday);
          if (byName.phone.value.trim() !== c.phone) patch.phone = byName.phone.value.trim();
          const sms = byName.sms.checked;
          const email = byName.email_consent.checked;
          const wasSms = !!(c.consents && c.consents.sms && c.consents.sms.granted);
          const wasEmail = !!(c.consents && c.consents.email && c.consents.email.granted);
          if (sms !== wasSms || email !== wasEmail) {
            patch.consents = {};
            if (sms !== wasSms) patch.consents.sms = sms;
            if (email !== wasEmail) patch.consents.email = email;
          }
          if (Object.keys(patch).length === 0) return false;
          try {
            const updated = await LC.api("PATCH", "/v1/admin/customers/" + encodeURIComponent(c.id), patch);
            drawCard(view, updated);
            LC.notice(t("saved"), "info");
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

  function adjustDialog(view, c) {
    const points = LC.field({ name: "points", label: t("adjust_points_field"), hint: t("adjust_points_hint"), attrs: { inputmode: "numeric" } });
    const reason = LC.field({ name: "reason", label: t("reason"), hint: t("reason_hint") });
    const form = h("form", { novalidate: true, id: "adjust-form" }, LC.formNotice(),
      h("p", { class: "muted" }, t("adjust_now", { points: LC.pointsText((c.points && c.points.balance) || 0) })), points.wrap, reason.wrap);
    // One id per dialog: pressing Save twice, or again after a lost answer, is one adjustment.
    const id = LC.uuid();
    LC.dialog(t("adjust_points"), form, [
      {
        label: t("save"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          const text = points.input.value.replace(/[\s\u00a0]/g, "").replace("−", "-");
          if (!/^[+-]?\d{1,9}$/.test(text) || Number(text) === 0) {
            LC.fieldError(points.wrap, t("adjust_points_bad"));
            return true;
          }
          if (!reason.input.value.trim()) {
            LC.fieldError(reason.wrap, t("reason_required"));
            return true;
          }
          try {
            const result = await LC.api("POST", "/v1/admin/customers/" + encodeURIComponent(c.id) + "/adjustments",
              { id, points: parseInt(text, 10), reason: reason.input.value.trim() });
            const updated = await LC.api("GET", "/v1/admin/customers/" + encodeURIComponent(c.id));
            drawCard(view, updated);
            LC.notice(t("adjusted", { points: LC.signedPoints(result.points), balance: LC.pointsText(result.balance_after) }), "info");
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
})();

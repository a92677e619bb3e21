// The owner's pages: webhooks (subscribe, deliveries, retry), gift cards (issue, list, read,
// void), MoySklad keys (the stores that have one; create or replace, revoke), the audit log (who, when, from where, what
// changed), and the back-office users (create, role, stores, disable, set a password). Secrets
// the API shows once (a webhook's signing secret, a MoySklad key) are shown once, in a dialog.
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;

  function showSecret(title, text, lines) {
    LC.dialog(title, h("div", {}, h("p", {}, text), lines.map(([label, value]) => h("div", {},
      h("div", { class: "muted small" }, label), h("div", { class: "secret" }, value)))), [{ label: t("done"), class: "primary" }]);
  }

  // ------------------------------------------------------------------------------------------
  // Webhooks

  const EVENTS = ["balance_changed", "customer_created", "customer_updated", "consent_changed", "tier_changed", "points_expiring", "points_expired"];

  LC.pages.webhooks = {
    area: "webhooks",
    title: "nav_webhooks",
    async render(view, params) {
      if (params[0]) return deliveries(view, params[0]);
      view.append(LC.pageHead(t("nav_webhooks"), h("button", { type: "button", class: "primary", id: "new-webhook", on: { click: () => createWebhook() } }, t("new_webhook"))),
        h("p", { class: "muted" }, t("webhooks_text")));
      const body = h("div", {}, LC.loading());
      view.append(body);
      let answer;
      try {
        answer = await LC.api("GET", "/v1/admin/webhooks");
      } catch (error) {
        LC.clear(body).append(h("div", { class: "notice error" }, error.message));
        return;
      }
      const list = answer.webhooks || [];
      LC.clear(body).append(list.length ? h("div", { class: "table-wrap" }, LC.table([
        { label: t("url"), value: (w) => h("span", { class: "mono small" }, w.url) },
        { label: t("events"), value: (w) => (w.events || []).map((e) => h("span", { class: "chip" }, t("event_" + e))) },
        { label: t("pending"), value: (w) => LC.number(w.pending), class: "num" },
        { label: t("delivered"), value: (w) => LC.number(w.delivered), class: "num" },
        { label: t("failed"), value: (w) => (w.failed ? h("span", { class: "neg" }, LC.number(w.failed)) : "0"), class: "num" },
        { label: t("created"), value: (w) => LC.dateTime(w.created_at) },
        { label: "", class: "actions-cell", value: (w) => h("span", { class: "row" },
          h("a", { class: "button small", href: "#/webhooks/" + encodeURIComponent(w.id) }, t("deliveries")),
          h("button", { type: "button", class: "small danger", on: { click: async () => {
            if (!(await LC.confirm(t("delete_webhook"), t("delete_webhook_confirm", { url: w.url }), t("delete")))) return;
            try {
              await LC.api("DELETE", "/v1/admin/webhooks/" + encodeURIComponent(w.id));
              LC.go("webhooks");
            } catch (error) {
              LC.showError(error);
            }
          } } }, t("delete"))) },
      ], list)) : LC.empty(t("no_webhooks")));
    },
  };

  function createWebhook() {
    const url = LC.field({ name: "url", label: t("url"), type: "url", placeholder: "https://crm.example.com/loyalty" });
    const boxes = EVENTS.map((e) => LC.field({ name: "event_" + e, label: t("event_" + e), type: "checkbox", value: true }));
    const events = h("div", { "data-field": "events" }, h("span", { class: "muted small" }, t("events")), boxes.map((b) => b.wrap), h("span", { class: "error", hidden: true }));
    events.classList.add("field");
    const form = h("form", { novalidate: true }, LC.formNotice(), url.wrap, events);
    LC.dialog(t("new_webhook"), form, [
      {
        label: t("create"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          try {
            const chosen = EVENTS.filter((e, i) => boxes[i].input.checked);
            const created = await LC.api("POST", "/v1/admin/webhooks", { url: url.input.value.trim(), events: chosen });
            LC.go("webhooks");
            showSecret(t("webhook_created"), t("webhook_secret_text"), [[t("secret"), created.secret]]);
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

  function deliveries(view, id) {
    const status = LC.field({ name: "status", label: t("state"), type: "select", options: [["", t("all")], ["pending", t("pending")], ["delivered", t("delivered")], ["failed", t("failed")]] });
    const list = h("div");
    view.append(h("a", { href: "#/webhooks", class: "small" }, "← " + t("nav_webhooks")), LC.pageHead(t("deliveries")), h("div", { class: "toolbar" }, status.wrap), list);
    const show = () => LC.clear(list).append(LC.pagedTable([
      { label: t("created"), value: (d) => LC.dateTime(d.created_at) },
      { label: t("event"), value: (d) => t("event_" + d.type) },
      { label: t("state"), value: (d) => LC.status(t(d.status), d.status === "delivered" ? "ok" : d.status === "failed" ? "bad" : "warn") },
      { label: t("attempts"), value: (d) => LC.number(d.attempts), class: "num" },
      { label: t("last_answer"), value: (d) => [d.last_status ? "HTTP " + d.last_status : null, d.last_error].filter(Boolean).join(" · ") },
      { label: t("next_attempt"), value: (d) => (d.next_attempt_at ? LC.dateTime(d.next_attempt_at) : null) },
      { label: "", class: "actions-cell", value: (d) => (d.status === "failed" ? h("button", { type: "button", class: "small", on: { click: async (event) => {
        try {
          await LC.api("POST", "/v1/admin/webhooks/" + encodeURIComponent(id) + "/deliveries/" + encodeURIComponent(d.id) + "/retry", {});
          event.target.replaceWith(LC.status(t("queued"), "warn"));
        } catch (error) {
          LC.showError(error);
        }
      } } }, t("retry")) : "") },
    ], async (cursor) => {
      const answer = await LC.api("GET", "/v1/admin/webhooks/" + encodeURIComponent(id) + "/deliveries" + LC.query({ status: status.input.value, limit: 50, cursor }));
      return { items: answer.deliveries || [], next: answer.next_cursor };
    }, { empty: t("no_deliveries") }));
    status.input.addEventListener("change", show);
    show();
  }

  // ------------------------------------------------------------------------------------------
  // Gift cards

  const CARD_TONE = { active: "ok", partially_redeemed: "ok", redeemed: "", expired: "warn", void: "bad" };

  LC.pages.gift_cards = {
    area: "gift_cards",
    title: "nav_gift_cards",
    render(view) {
      view.append(LC.pageHead(t("nav_gift_cards"), h("button", { type: "button", class: "primary", id: "issue-card", on: { click: issueCard } }, t("issue_card"))));
      view.append(LC.pagedTable([
        { label: t("card_number"), value: (c) => h("span", { class: "mono" }, c.number) },
        { label: t("state"), value: (c) => LC.status(t("card_" + c.status), CARD_TONE[c.status]) },
        { label: t("issued_amount"), value: (c) => LC.money(c.initial), class: "num" },
        { label: t("card_balance"), value: (c) => LC.money(c.balance), class: "num" },
        { label: t("expires"), value: (c) => (c.expires_at ? LC.date(c.expires_at) : t("never")) },
        { label: t("created"), value: (c) => LC.dateTime(c.created_at) },
      ], async (cursor) => {
        const answer = await LC.api("GET", "/v1/admin/gift-cards" + LC.query({ limit: 50, cursor }));
        return { items: answer.gift_cards || [], next: answer.next_cursor };
      }, { onRow: (c) => cardDialog(c.id), empty: t("no_cards") }));
    },
  };

  function issueCard() {
    const amount = LC.field({ name: "amount", label: t("issued_amount"), placeholder: "1000", attrs: { inputmode: "decimal" } });
    const number = LC.field({ name: "number", label: t("card_number"), hint: t("card_number_hint") });
    const expires = LC.field({ name: "expires_at", label: t("expires"), type: "date", hint: t("card_expires_hint") });
    const form = h("form", { novalidate: true }, LC.formNotice(), amount.wrap, number.wrap, expires.wrap);
    LC.dialog(t("issue_card"), form, [
      {
        label: t("issue"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          const kopecks = LC.parseMoney(amount.input.value);
          if (kopecks === null || kopecks <= 0) {
            LC.fieldError(amount.wrap, t("need_amount"));
            return true;
          }
          const body = { amount: kopecks };
          if (number.input.value.trim()) body.number = number.input.value.trim();
          // The card works through the whole chosen day, in the browser's zone.
          if (expires.input.value) body.expires_at = new Date(expires.input.value + "T23:59:59").toISOString();
          try {
            const card = await LC.api("POST", "/v1/admin/gift-cards", body);
            LC.go("gift_cards");
            setTimeout(() => LC.notice(t("card_issued", { number: card.number, amount: LC.money(card.initial) }), "info"), 0);
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

  async function cardDialog(id) {
    let card;
    const names = await LC.loadTillNames();
    try {
      card = await LC.api("GET", "/v1/admin/gift-cards/" + encodeURIComponent(id));
    } catch (error) {
      LC.showError(error);
      return;
    }
    const content = h("div", {}, LC.kv([
      [t("card_number"), h("span", { class: "mono" }, card.number)],
      [t("state"), LC.status(t("card_" + card.status), CARD_TONE[card.status])],
      [t("issued_amount"), LC.money(card.initial)],
      [t("card_balance"), LC.money(card.balance)],
      [t("expires"), card.expires_at ? LC.dateTime(card.expires_at) : t("never")],
      card.voided_at ? [t("voided"), LC.dateTime(card.voided_at)] : null,
    ]), h("h3", {}, t("card_payments")), (card.payments || []).length ? LC.table([
      { label: t("when"), value: (p) => LC.dateTime(p.at) },
      { label: t("till"), value: (p) => LC.tillCell(names, p.till_id) },
      { label: t("receipt"), value: (p) => p.receipt_id, class: "mono small" },
      { label: t("amount"), value: (p) => LC.money(p.amount), class: "num" },
    ], card.payments) : LC.empty(t("no_payments")));
    const buttons = [{ label: t("close") }];
    if (card.status !== "void") {
      buttons.unshift({
        label: t("void_card"), class: "danger", onClick: async () => {
          if (!(await LC.confirm(t("void_card"), t("void_confirm", { number: card.number }), t("void_card")))) return true;
          try {
            await LC.api("POST", "/v1/admin/gift-cards/" + encodeURIComponent(card.id) + "/void", {});
            LC.go("gift_cards");
            setTimeout(() => LC.notice(t("card_voided", { number: card.number }), "info"), 0);
          } catch (error) {
            LC.showError(error);
          }
          return false;
        },
      });
    }
    LC.dialog(t("gift_card"), content, buttons);
  }

  // ------------------------------------------------------------------------------------------
  // MoySklad keys: the stores that have or had one (when made, when revoked), a new key or a
  // revocation per store, and a form to connect another store.

  LC.pages.moysklad = {
    area: "moysklad",
    title: "nav_moysklad",
    async render(view) {
      view.append(LC.pageHead(t("nav_moysklad")), h("p", { class: "muted" }, t("moysklad_text")));
      const listBox = h("div", { class: "panel", id: "moysklad-list" }, h("h2", {}, t("moysklad_stores")), LC.loading());
      let connected = [];

      async function newKey(name, button) {
        const key = await LC.busy(button, () => LC.api("POST", "/v1/admin/stores/" + encodeURIComponent(name) + "/moysklad-key", {}));
        showSecret(t("moysklad_key_for", { store: key.store }), t("moysklad_key_text"), [
          [t("moysklad_address"), location.origin + (key.base_path || "/moysklad/v1/")],
          [t("moysklad_key"), key.key],
        ]);
        await drawList();
      }
      async function revokeKey(name) {
        if (!(await LC.confirm(t("moysklad_revoke"), t("moysklad_revoke_confirm", { store: name }), t("moysklad_revoke")))) return;
        try {
          await LC.api("DELETE", "/v1/admin/stores/" + encodeURIComponent(name) + "/moysklad-key");
          LC.notice(t("moysklad_revoked", { store: name }), "info");
        } catch (error) {
          LC.showError(error);
        }
        await drawList();
      }
      async function drawList() {
        let answer;
        try {
          answer = await LC.api("GET", "/v1/admin/stores/moysklad-keys");
        } catch (error) {
          LC.clear(listBox).append(h("h2", {}, t("moysklad_stores")), h("div", { class: "notice error" }, error.message));
          return;
        }
        connected = answer.stores || [];
        LC.clear(listBox).append(h("h2", {}, t("moysklad_stores")), connected.length ? h("div", { class: "table-wrap" }, LC.table([
          { label: t("store"), value: (s) => s.store },
          { label: t("state"), value: (s) => (s.active ? LC.status(t("moysklad_key_works"), "ok") : LC.status(t("moysklad_key_revoked"), "bad")) },
          { label: t("moysklad_connected"), value: (s) => LC.dateTime(s.connected_at) },
          { label: t("moysklad_key_since"), value: (s) => (s.active ? LC.dateTime(s.key_created_at) : t("moysklad_revoked_at", { at: LC.dateTime(s.revoked_at) })) },
          { label: "", class: "actions-cell", value: (s) => {
            const again = h("button", { type: "button", class: "small", on: { click: async () => {
              try {
                await newKey(s.store, again);
              } catch (error) {
                LC.showError(error);
              }
            } } }, s.active ? t("moysklad_replace") : t("moysklad_new_key"));
            return h("span", { class: "row" }, again, s.active
              ? h("button", { type: "button", class: "small danger", on: { click: () => revokeKey(s.store) } }, t("moysklad_revoke"))
              : null);
          } },
        ], connected)) : LC.empty(t("moysklad_none")));
      }

      // Another store: its name as its tills carry it.
      const stores = await LC.stores();
      const store = LC.field({ name: "store", label: t("store"), attrs: { list: "moysklad-stores" } });
      const list = h("datalist", { id: "moysklad-stores" }, stores.map((s) => h("option", { value: s })));
      const create = h("button", { type: "submit", class: "primary", id: "moysklad-create" }, t("moysklad_create"));
      const form = h("form", { class: "panel", novalidate: true }, h("h2", {}, t("moysklad_connect")), LC.formNotice(),
        h("div", { class: "toolbar" }, store.wrap, create), list, h("p", { class: "muted small" }, t("moysklad_hint")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        LC.clearFormErrors(form);
        const name = store.input.value.trim();
        if (!name) {
          LC.fieldError(store.wrap, t("store_required"));
          return;
        }
        if (connected.some((s) => s.store === name && s.active)
          && !(await LC.confirm(t("moysklad_replace"), t("moysklad_replace_confirm", { store: name }), t("moysklad_replace")))) return;
        try {
          await newKey(name, create);
          store.input.value = "";
        } catch (failure) {
          LC.formError(form, failure);
        }
      });
      view.append(listBox, form);
      await drawList();
    },
  };

  // ------------------------------------------------------------------------------------------
  // Audit log

  // Who made a change that no account made: the admin API's token, the `loyalty-cloud` command.
  const WHO = { "admin-token": "who_admin_token", cli: "who_cli" };

  // The actions the cloud records, for the filter (its codes; their names are in strings.js).
  const ACTIONS = ["program.publish", "customer.create", "customer.update", "customer.adjust", "customers.import", "conflict.handled",
    "till.create", "till.new_code", "till.revoke", "user.create", "user.update", "user.reset_password", "user.change_password",
    "user.totp_on", "user.totp_off", "webhook.create", "webhook.delete", "webhook.retry", "gift_card.issue", "gift_card.void",
    "moysklad.key_create", "moysklad.key_revoke"];

  LC.pages.audit = {
    area: "audit",
    title: "nav_audit",
    render(view, params, query) {
      const action = LC.field({ name: "action", label: t("action"), type: "select", value: query.action || "",
        options: [["", t("all")], ...ACTIONS.map((a) => [a, actionName(a)])] });
      const target = LC.field({ name: "target", label: t("target"), value: query.target || "", placeholder: t("audit_target_hint") });
      const apply = h("button", { type: "submit", class: "primary" }, t("apply"));
      const form = h("form", { class: "toolbar", id: "audit-filter" }, action.wrap, target.wrap, apply);
      const list = h("div", { id: "audit" });
      view.append(LC.pageHead(t("nav_audit")), h("p", { class: "muted" }, t("audit_text")), form, list);
      const show = () => {
        const filters = { action: action.input.value, target: target.input.value.trim() };
        LC.setQuery(filters);
        LC.clear(list).append(auditTable(filters));
      };
      form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
      show();
    },
  };

  function auditTable(filters) {
    return LC.pagedTable([
      { label: t("when"), value: (e) => LC.dateTime(e.at) },
      { label: t("who"), value: (e) => h("div", {}, WHO[e.who] ? t(WHO[e.who]) : e.who, e.address ? h("div", { class: "muted small mono" }, e.address) : null) },
      { label: t("action"), value: (e) => actionName(e.action) },
      { label: t("target"), value: (e) => h("span", { class: "mono small" }, typeof e.target === "object" ? JSON.stringify(e.target) : e.target) },
      { label: t("change"), value: (e) => LC.diffView(e.before === undefined ? null : e.before, e.after === undefined ? null : e.after,
        String(e.action).startsWith("gift_card.") ? ["balance"] : []) },
      ], async (cursor) => {
      const answer = await LC.api("GET", "/v1/admin/audit" + LC.query({ ...filters, limit: 50, cursor }));
      return { items: answer.entries || [], next: answer.next_cursor };
      }, { empty: t("no_audit") });
  }

  // "program.put" → its name when strings.js knows it, else the code as is.
  function actionName(action) {
    const key = "action_" + String(action).replace(/[^a-z0-9]+/gi, "_");
    const name = t(key);
    return name === key ? String(action) : name;
  }

  // ------------------------------------------------------------------------------------------
  // Users

  const ROLES = ["owner", "manager", "analyst"];

  LC.pages.users = {
    area: "users",
    title: "nav_users",
    async render(view) {
      view.append(LC.pageHead(t("nav_users"), h("button", { type: "button", class: "primary", id: "new-user", on: { click: () => userDialog(null) } }, t("new_user"))));
      const body = h("div", {}, LC.loading());
      view.append(body);
      let answer;
      try {
        answer = await LC.api("GET", "/v1/admin/users");
      } catch (error) {
        LC.clear(body).append(h("div", { class: "notice error" }, error.message));
        return;
      }
      const users = answer.users || [];
      LC.clear(body).append(users.length ? h("div", { class: "table-wrap" }, LC.table([
        { label: t("email"), value: (u) => u.email },
        { label: t("role"), value: (u) => LC.roleName(u.role) },
        { label: t("stores"), value: (u) => (u.stores && u.stores.length ? u.stores.join(", ") : t("all_stores")) },
        { label: t("totp_short"), value: (u) => (u.totp_enabled ? LC.status(t("on"), "ok") : LC.status(t("off"))) },
        { label: t("state"), value: (u) => (u.disabled ? LC.status(t("disabled"), "bad") : LC.status(t("active"), "ok")) },
        { label: t("created"), value: (u) => LC.dateTime(u.created_at) },
        { label: "", class: "actions-cell", value: (u) => h("span", { class: "row" },
          h("button", { type: "button", class: "small", on: { click: () => userDialog(u) } }, t("edit")),
          h("button", { type: "button", class: "small", on: { click: () => passwordDialog(u) } }, t("set_password"))) },
      ], users)) : LC.empty());
    },
  };

  function userDialog(user) {
    const email = user ? null : LC.field({ name: "email", label: t("email"), type: "email" });
    const role = LC.field({ name: "role", label: t("role"), type: "select", options: ROLES.map((r) => [r, LC.roleName(r)]), value: user ? user.role : "manager" });
    const stores = LC.field({ name: "stores", label: t("stores"), value: user ? (user.stores || []).join(", ") : "", hint: t("stores_hint") });
    const password = user ? null : LC.field({ name: "password", label: t("password"), type: "password", autocomplete: "new-password", hint: t("password_hint") });
    const disabled = user ? LC.field({ name: "disabled", label: t("user_disabled"), type: "checkbox", value: user.disabled }) : null;
    const form = h("form", { novalidate: true }, LC.formNotice(), email && email.wrap, role.wrap, stores.wrap, password && password.wrap, disabled && disabled.wrap,
      h("p", { class: "muted small" }, t("roles_text")));
    LC.dialog(user ? t("edit_user", { email: user.email }) : t("new_user"), form, [
      {
        label: user ? t("save") : t("create"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          const storeList = stores.input.value.split(",").map((s) => s.trim()).filter(Boolean);
          try {
            if (user) {
              await LC.api("PATCH", "/v1/admin/users/" + encodeURIComponent(user.id), { role: role.input.value, stores: storeList, disabled: disabled.input.checked });
            } else {
              await LC.api("POST", "/v1/admin/users", { email: email.input.value.trim(), role: role.input.value, stores: storeList, password: password.input.value });
            }
            LC.go("users");
            setTimeout(() => LC.notice(t("saved"), "info"), 0);
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

  function passwordDialog(user) {
    const password = LC.field({ name: "password", label: t("new_password"), type: "password", autocomplete: "new-password", hint: t("password_hint") });
    const form = h("form", { novalidate: true }, LC.formNotice(), password.wrap);
    LC.dialog(t("set_password_for", { email: user.email }), form, [
      {
        label: t("save"), class: "primary", onClick: async () => {
          LC.clearFormErrors(form);
          try {
            await LC.api("POST", "/v1/admin/users/" + encodeURIComponent(user.id) + "/password", { password: password.input.value });
            LC.notice(t("password_set", { email: user.email }), "info");
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

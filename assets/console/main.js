// The console's entry point: the session (sign-in with an optional TOTP step, sign-out), the
// left navigation filtered by role, and the hash router (#/customers/ID?…) that hands the view
// to a page from LC.pages. Loaded last, after every pages_*.js has registered its pages.
"use strict";

(function () {
  const LC = window.LC;
  const { h, t } = LC;
  const $ = (id) => document.getElementById(id);

  // The navigation, in the order an owner works through it; `area` is the role check (core.js).
  const NAV = [
    ["dashboard", "nav_dashboard"],
    ["customers", "nav_customers"],
    ["program", "nav_program"],
    ["tills", "nav_tills"],
    ["conflicts", "nav_conflicts"],
    ["reports", "nav_reports"],
    ["webhooks", "nav_webhooks"],
    ["gift_cards", "nav_gift_cards"],
    ["moysklad", "nav_moysklad"],
    ["import", "nav_import"],
    ["audit", "nav_audit"],
    ["users", "nav_users"],
  ];

  // ------------------------------------------------------------------------------------------
  // Signing in

  let pendingLogin = null; // {email, password} while the TOTP code is asked for

  function showSignIn(message) {
    LC.session = null;
    $("booting").hidden = true;
    $("app").hidden = true;
    $("signin").hidden = false;
    for (const d of document.querySelectorAll(".overlay")) d.remove();
    pendingLogin = null;
    $("signin-password-step").hidden = false;
    $("signin-totp-step").hidden = true;
    $("signin-password").value = "";
    $("signin-totp").value = "";
    // Signing out is news, not a failure; an ended session is a warning.
    signInError(message || "", message === t("signed_out") ? "info" : "warn");
    document.title = t("signin_title");
    $("signin-email").focus();
  }

  function signInError(text, kind) {
    $("signin-error").textContent = text;
    $("signin-error").className = "notice " + (kind || "error");
    $("signin-error").hidden = !text;
  }

  // From the code step back to the password: another account, or a mistyped email.
  function backToPassword() {
    pendingLogin = null;
    $("signin-password-step").hidden = false;
    $("signin-totp-step").hidden = true;
    $("signin-password").value = "";
    signInError("");
    $("signin-password").focus();
  }

  async function submitSignIn(event) {
    event.preventDefault();
    const body = pendingLogin
      ? { ...pendingLogin, totp: $("signin-totp").value.replace(/\s/g, "") }
      : { email: $("signin-email").value.trim(), password: $("signin-password").value };
    if (!body.email || !body.password) {
      signInError(t("signin_fill"));
      return;
    }
    signInError("");
    try {
      const answer = await LC.busy($("signin-submit"), () => LC.api("POST", "/admin/login", body, { noRedirect: true }));
      pendingLogin = null;
      startSession(answer);
    } catch (failure) {
      if (failure.code === "totp_required") {
        // The password was right: keep it in memory only for the second request.
        pendingLogin = { email: body.email, password: body.password };
        $("signin-password-step").hidden = true;
        $("signin-totp-step").hidden = false;
        $("signin-totp").focus();
        return;
      }
      if (failure.code === "totp_failed") {
        $("signin-totp").value = "";
        $("signin-totp").focus();
      } else {
        // A wrong password, a lock-out or a disabled account starts over from the password.
        pendingLogin = null;
        $("signin-password-step").hidden = false;
        $("signin-totp-step").hidden = true;
        $("signin-password").value = "";
      }
      // The API's sentence names the wait of a lock-out (details.retry_after_s) itself.
      signInError(failure.message);
    }
  }

  function startSession(answer) {
    LC.session = { user: answer.user, csrf: answer.csrf, day_offset_s: answer.day_offset_s };
    $("signin").hidden = true;
    $("booting").hidden = true;
    $("app").hidden = false;
    renderChrome();
    route();
  }

  async function signOut() {
    try {
      await LC.api("POST", "/admin/logout", {}, { noRedirect: true });
    } catch (e) {
      // Signed out already, or the cloud is away: the form is the right place either way.
    }
    location.hash = "";
    showSignIn(t("signed_out"));
  }

  // ------------------------------------------------------------------------------------------
  // Navigation and language

  function renderChrome() {
    LC.translateStatic();
    $("nav").setAttribute("aria-label", t("nav_label"));
    const list = LC.clear($("nav-list"));
    for (const [area, label] of NAV) {
      if (!LC.can(area)) continue;
      list.appendChild(h("li", {}, h("a", { href: "#/" + area, dataset: { area } }, t(label))));
    }
    const user = LC.session && LC.session.user;
    if (user) {
      // A break allowed after "@", so a long address wraps at its domain, not mid-word.
      const at = user.email.indexOf("@");
      const email = at > 0 ? [user.email.slice(0, at + 1), h("wbr"), user.email.slice(at + 1)] : [user.email];
      LC.clear($("me")).append(h("span", { class: "me-email" }, email), h("small", {}, LC.roleName(user.role) +
        (user.stores && user.stores.length ? " · " + user.stores.join(", ") : "")));
      $("me").title = t("my_account");
    }
    for (const el of document.querySelectorAll(".lang-switch")) {
      el.textContent = LC.lang === "ru" ? "English" : "Русский";
      el.setAttribute("aria-label", t("language_label"));
    }
    markCurrent();
  }

  function markCurrent() {
    const { name } = parseHash();
    for (const a of document.querySelectorAll("#nav-list a")) {
      if (a.dataset.area === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function switchLanguage() {
    LC.setLanguage(LC.lang === "ru" ? "en" : "ru");
    LC.translateStatic();
    if (LC.session) {
      renderChrome();
      route();
    } else {
      document.title = t("signin_title");
      for (const el of document.querySelectorAll(".lang-switch")) el.textContent = LC.lang === "ru" ? "English" : "Русский";
    }
  }

  // ------------------------------------------------------------------------------------------
  // Routing: #/page/param?key=value. A page the role cannot open falls back to the first it can.

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [path, search] = raw.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const query = {};
    for (const [k, v] of new URLSearchParams(search || "")) query[k] = v;
    return { name: parts[0] || "", params: parts.slice(1), query };
  }

  LC.go = function (name, params, query) {
    const path = "#/" + [name, ...(params || [])].map(encodeURIComponent).join("/") + LC.query(query || {});
    if (location.hash === path) route();
    else location.hash = path;
  };
  // Changes the address's query without drawing the view again (filters, searches).
  LC.setQuery = function (query) {
    const { name, params } = parseHash();
    const path = "#/" + [name, ...params].map(encodeURIComponent).join("/") + LC.query(query);
    history.replaceState(null, "", path);
  };

  let routeCount = 0;
  function route() {
    if (!LC.session) return;
    const { name, params, query } = parseHash();
    let page = LC.pages[name];
    if (!page || (page.area && !LC.can(page.area))) {
      const first = NAV.find(([area]) => LC.can(area));
      if (first && first[0] !== name) {
        location.hash = "#/" + first[0];
        return;
      }
      page = LC.pages.account;
    }
    routeCount += 1;
    const mine = routeCount;
    LC.clearNotice();
    markCurrent();
    const view = LC.clear($("view"));
    document.title = t(page.title) + " · " + t("brand");
    // A page whose answers come after the user moved on must not draw over the new page.
    LC.current = () => mine === routeCount;
    try {
      const done = page.render(view, params, query);
      if (done && done.catch) done.catch((error) => { if (mine === routeCount) LC.showError(error); });
    } catch (error) {
      LC.showError(error);
    }
    window.scrollTo(0, 0);
  }

  // ------------------------------------------------------------------------------------------
  // My account: password and the TOTP second factor. Every role has it.

  LC.pages.account = {
    title: "my_account",
    render(view) {
      const user = LC.session.user;
      view.append(LC.pageHead(t("my_account")));
      view.append(h("div", { class: "panel" }, LC.kv([
        [t("email"), user.email],
        [t("role"), LC.roleName(user.role)],
        [t("stores"), user.stores && user.stores.length ? user.stores.join(", ") : t("all_stores")],
      ])));

      const current = LC.field({ name: "current", label: t("current_password"), type: "password", autocomplete: "current-password" });
      const fresh = LC.field({ name: "new", label: t("new_password"), type: "password", autocomplete: "new-password", hint: t("password_hint") });
      const save = h("button", { type: "submit", class: "primary" }, t("change_password"));
      const form = h("form", { class: "panel", novalidate: true }, h("h2", {}, t("change_password")), LC.formNotice(),
        h("div", { class: "form-grid" }, current.wrap, fresh.wrap), h("div", { class: "actions" }, save));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        LC.clearFormErrors(form);
        try {
          await LC.busy(save, () => LC.api("POST", "/v1/admin/me/password", { current: current.input.value, new: fresh.input.value }));
          current.input.value = "";
          fresh.input.value = "";
          LC.notice(t("password_changed"), "info");
        } catch (failure) {
          LC.formError(form, failure);
        }
      });
      view.append(form);

      const totp = h("div", { class: "panel" });
      view.append(totp);
      renderTotp(totp);
    },
  };

  function renderTotp(box) {
    const user = LC.session.user;
    LC.clear(box).append(h("h2", {}, t("totp_title")));
    if (user.totp_enabled) {
      box.append(h("p", {}, LC.status(t("totp_on"), "ok"), " ", t("totp_on_text")));
      const off = h("button", { type: "button", class: "danger" }, t("totp_disable"));
      off.addEventListener("click", async () => {
        if (!(await LC.confirm(t("totp_disable"), t("totp_disable_confirm"), t("totp_disable")))) return;
        try {
          await LC.api("DELETE", "/v1/admin/me/totp");
          user.totp_enabled = false;
          LC.notice(t("totp_disabled"), "info");
          renderTotp(box);
        } catch (error) {
          LC.showError(error);
        }
      });
      box.append(off);
      return;
    }
    box.append(h("p", { class: "muted" }, t("totp_off_text")));
    const start = h("button", { type: "button", class: "primary", id: "totp-enable" }, t("totp_enable"));
    start.addEventListener("click", async () => {
      let answer;
      try {
        answer = await LC.busy(start, () => LC.api("POST", "/v1/admin/me/totp", {}));
      } catch (error) {
        LC.showError(error);
        return;
      }
      const code = LC.field({ name: "code", label: t("totp_code"), attrs: { inputmode: "numeric", maxlength: "6" } });
      const confirm = h("button", { type: "submit", class: "primary", id: "totp-confirm" }, t("totp_confirm"));
      const form = h("form", { novalidate: true, id: "totp-form" }, LC.formNotice(),
        h("p", {}, t("totp_scan")),
        h("div", { class: "row" }, answer.qr_svg ? LC.svgImage(answer.qr_svg, t("totp_qr")) : null,
          h("div", {}, h("div", { class: "muted small" }, t("totp_secret")), h("div", { class: "secret" }, answer.secret || ""))),
        h("div", { class: "form-grid" }, code.wrap), h("div", { class: "actions" }, confirm));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        LC.clearFormErrors(form);
        try {
          await LC.busy(confirm, () => LC.api("POST", "/v1/admin/me/totp/confirm", { code: code.input.value.replace(/\s/g, "") }));
          user.totp_enabled = true;
          LC.notice(t("totp_enabled"), "info");
          renderTotp(box);
        } catch (failure) {
          if (!failure.details.field) failure.details.field = "code";
          LC.formError(form, failure);
        }
      });
      start.replaceWith(form);
      code.input.focus();
    });
    box.append(start);
  }

  // ------------------------------------------------------------------------------------------
  // Start

  LC.onSignedOut = () => showSignIn(t("session_ended"));

  async function boot() {
    LC.translateStatic();
    for (const el of document.querySelectorAll(".lang-switch")) {
      el.textContent = LC.lang === "ru" ? "English" : "Русский";
      el.addEventListener("click", switchLanguage);
    }
    $("signin-form").addEventListener("submit", submitSignIn);
    $("signin-back").addEventListener("click", backToPassword);
    $("signout").addEventListener("click", signOut);
    $("me").addEventListener("click", () => LC.go("account"));
    window.addEventListener("hashchange", route);
    try {
      const answer = await LC.api("GET", "/admin/session", undefined, { noRedirect: true });
      startSession(answer);
    } catch (failure) {
      // Not signed in (401), or a cloud without the back office yet: the form either way.
      showSignIn(failure.status === 401 || failure.status === 404 ? "" : failure.message);
    }
  }

  boot();
})();

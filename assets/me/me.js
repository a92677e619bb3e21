// The shopper's self-service page (loyalty-cloud GET /me). A file of its own: the page's
// Content-Security-Policy allows no inline script. It asks for an SMS code (POST
// /v1/me/login), signs in with it (POST /v1/me/verify: the cloud sets an HttpOnly cookie this
// script never sees), then shows GET /v1/me: the card's QR code, points, expiring points,
// purchases and consents, which can be withdrawn. Everything the server sends is shown with
// textContent, never as markup. Russian or English, switched in place.
'use strict';

(function () {
  var language = (navigator.language || 'ru').toLowerCase().indexOf('ru') === 0 ? 'ru' : 'en';
  var phone = '';
  var shown = null;
  var $ = function (id) { return document.getElementById(id); };

  var texts = {
    ru: { network: 'Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.',
          phone: 'Укажите номер телефона.', code: 'Введите 6 цифр из SMS.',
          hello: 'Здравствуйте, ', on: 'да', off: 'отозвано',
          earned: 'начислено', spent: 'списано', nextTier: function (name, money) { return 'До уровня «' + name + '» осталось купить на ' + money + '.'; },
          withdrawn: 'Согласие отозвано. Кассы узнают об этом при следующей синхронизации.' },
    en: { network: 'Cannot reach the server. Check your connection and try again.',
          phone: 'Please enter your phone number.', code: 'Enter the 6 digits of the text message.',
          hello: 'Hello, ', on: 'yes', off: 'withdrawn',
          earned: 'earned', spent: 'spent', nextTier: function (name, money) { return money + ' more to reach ' + name + '.'; },
          withdrawn: 'Consent withdrawn. The tills learn of it at their next sync.' }
  };

  function locale() { return language === 'ru' ? 'ru-RU' : 'en-GB'; }
  function number(n) { return Number(n).toLocaleString(locale()); }
  function money(minor) {
    var digits = minor % 100 === 0 ? 0 : 2;
    return (minor / 100).toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }) + '\u00a0₽';
  }
  function date(at) {
    var d = new Date(at);
    return isNaN(d) ? at : d.toLocaleDateString(locale(), { day: 'numeric', month: 'long', year: 'numeric' });
  }

  function setLanguage(lang) {
    language = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-' + lang + ']').forEach(function (element) {
      element.textContent = element.getAttribute('data-' + lang);
    });
    if (shown) { render(shown); }
  }

  function show(message, kind) {
    var answer = $('answer');
    answer.textContent = message;
    answer.className = kind;
    answer.hidden = !message;
  }

  function call(method, path, body) {
    var options = { method: method, credentials: 'same-origin', headers: { 'Accept-Language': language } };
    if (body) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function errorOf(result) {
    return result.data && result.data.error ? result.data.error.message : 'HTTP ' + result.status;
  }

  function item(parts) {
    var li = document.createElement('li');
    parts.forEach(function (part) {
      var span = document.createElement('span');
      span.textContent = part[0];
      if (part[1]) { span.className = part[1]; }
      li.appendChild(span);
    });
    return li;
  }

  function render(me) {
    var t = texts[language];
    var wallet = me.wallet || {};
    $('wallet-apple').hidden = !wallet.apple;
    $('wallet-google').hidden = !wallet.google;
    $('wallet').hidden = !wallet.apple && !wallet.google;
    shown = me;
    $('hello').textContent = me.name ? t.hello + me.name + '!' : me.phone_hint;
    $('card-number').textContent = me.card;
    $('qr').alt = me.card;
    $('balance').textContent = number(me.points.balance);
    $('available').textContent = number(me.points.available);
    $('pending').textContent = number(me.points.pending);
    $('pending-line').hidden = !me.points.pending;
    $('tier').textContent = me.tier || '';
    $('tier-line').hidden = !me.tier;
    $('next-tier-line').textContent = me.next_tier ? t.nextTier(me.next_tier.name, money(me.next_tier.remaining)) : '';
    $('next-tier-line').hidden = !me.next_tier;
    var expiring = $('expiring');
    expiring.textContent = '';
    me.expiring.forEach(function (e) {
      expiring.appendChild(item([[date(e.at), 'what'], [number(e.points), 'minus']]));
    });
    $('expiring-title').hidden = me.expiring.length === 0;
    var receipts = $('receipts');
    receipts.textContent = '';
    me.receipts.forEach(function (r) {
      var what = money(r.total) + ' · ' + date(r.at) + (r.store ? ' · ' + r.store : '');
      var points = [];
      if (r.earned) { points.push(['+' + number(r.earned), 'plus']); }
      if (r.spent) { points.push(['−' + number(r.spent), 'minus']); }
      receipts.appendChild(item([[what, 'what']].concat(points)));
    });
    $('no-receipts').hidden = me.receipts.length > 0;
    ['sms', 'email'].forEach(function (channel) {
      var on = me.consents[channel];
      $(channel + '-state').textContent = on ? t.on : t.off;
      $(channel + '-state').className = on ? 'state-on' : 'state-off';
      $('withdraw-' + channel).hidden = !on;
    });
  }

  // The spending code: fetched when its 30-second step ends (the cloud computes it; the
  // secret never reaches the page), the seconds counted down in between.
  var spendTimer = null;
  var qrTimer = null;
  var spendLeft = 0;
  function showSpendCode() {
    if (!shown || !shown.spending_code) { return; }
    call('GET', shown.spending_code).then(function (result) {
      if (!result.ok || !result.data) { return; }
      $('spend-code').textContent = result.data.code.slice(0, 3) + '\u2009' + result.data.code.slice(3);
      $('spend-qr').src = '/v1/me/code.svg?step=' + result.data.step;
      $('spend-qr').alt = result.data.code;
      spendLeft = result.data.expires_in_s;
      $('spend-left').textContent = spendLeft;
    }).catch(function () { /* the next tick tries again */ });
  }
  function startSpendCode() {
    $('spend').hidden = !(shown && shown.spending_code);
    if (spendTimer || $('spend').hidden) { return; }
    showSpendCode();
    spendTimer = setInterval(function () {
      spendLeft -= 1;
      if (spendLeft <= 0) { showSpendCode(); } else { $('spend-left').textContent = spendLeft; }
    }, 1000);
  }
  function stopSpendCode() {
    if (spendTimer) { clearInterval(spendTimer); spendTimer = null; }
  }

  function step(name) {
    $('login').hidden = name !== 'login';
    $('verify').hidden = name !== 'verify';
    $('card').hidden = name !== 'card';
  }

  function load() {
    return call('GET', '/v1/me').then(function (result) {
      if (result.ok && result.data) {
        // A fresh address each time: the QR is never served from a cache of someone else's.
        // It holds a signed token that expires, so it is drawn again every minute.
        $('qr').src = '/v1/me/qr.svg?t=' + Date.now();
        if (!qrTimer) {
          qrTimer = setInterval(function () {
            if (shown) { $('qr').src = '/v1/me/qr.svg?t=' + Date.now(); }
          }, 60000);
        }
        render(result.data);
        step('card');
        startSpendCode();
      } else {
        step('login');
      }
    });
  }

  $('lang').addEventListener('click', function () { setLanguage(language === 'ru' ? 'en' : 'ru'); });

  $('login').addEventListener('submit', function (event) {
    event.preventDefault();
    phone = $('phone').value.trim();
    if (!phone) { show(texts[language].phone, 'error'); return; }
    $('send').disabled = true;
    call('POST', '/v1/me/login', { phone: phone }).then(function (result) {
      if (result.ok) {
        $('sent').textContent = result.data.message;
        show('', '');
        step('verify');
        $('code').focus();
      } else {
        show(errorOf(result), 'error');
      }
    }).catch(function () { show(texts[language].network, 'error'); })
      .finally(function () { $('send').disabled = false; });
  });

  $('verify').addEventListener('submit', function (event) {
    event.preventDefault();
    var code = $('code').value.replace(/\D/g, '');
    if (code.length !== 6) { show(texts[language].code, 'error'); return; }
    $('enter').disabled = true;
    call('POST', '/v1/me/verify', { phone: phone, code: code }).then(function (result) {
      if (result.ok) {
        show('', '');
        $('code').value = '';
        return load();
      }
      show(errorOf(result), 'error');
    }).catch(function () { show(texts[language].network, 'error'); })
      .finally(function () { $('enter').disabled = false; });
  });

  $('other').addEventListener('click', function () { show('', ''); step('login'); });

  ['sms', 'email'].forEach(function (channel) {
    $('withdraw-' + channel).addEventListener('click', function () {
      call('POST', '/v1/me/consents/withdraw', { channel: channel }).then(function (result) {
        if (result.ok) {
          shown.consents = result.data;
          render(shown);
          show(texts[language].withdrawn, 'ok');
        } else if (result.status === 401) {
          step('login');
          show(errorOf(result), 'error');
        } else {
          show(errorOf(result), 'error');
        }
      }).catch(function () { show(texts[language].network, 'error'); });
    });
  });

  $('logout').addEventListener('click', function () {
    call('POST', '/v1/me/logout').finally(function () {
      stopSpendCode();
      shown = null;
      show('', '');
      step('login');
    });
  });

  setLanguage(language);
  load().catch(function () { step('login'); show(texts[language].network, 'error'); });
}());

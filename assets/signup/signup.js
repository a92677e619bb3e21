// The public sign-up page's behaviour (loyalty-cloud GET /signup). Served as a file of its
// own: the page's Content-Security-Policy allows no inline script. It switches the texts
// between Russian and English, shows the store named in the link (?store=…, from a receipt's
// QR code), fills in the friend's code a friend's link carries (?ref=…), and POSTs the form as
// JSON to /v1/signup on the same origin, asking for the answer in the page's current language
// (Accept-Language).
'use strict';

(function () {
  var form = document.getElementById('signup');
  var answer = document.getElementById('answer');
  var submit = document.getElementById('submit');
  var params = new URLSearchParams(window.location.search);
  var store = params.get('store');
  var friendCode = params.get('ref');
  var language = (navigator.language || 'ru').toLowerCase().indexOf('ru') === 0 ? 'ru' : 'en';

  var texts = {
    ru: { network: 'Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.',
          phone: 'Укажите номер телефона.', agree: 'Отметьте согласие на обработку персональных данных.' },
    en: { network: 'Cannot reach the server. Check your connection and try again.',
          phone: 'Please enter your phone number.', agree: 'Please agree to the processing of your personal data.' }
  };

  function setLanguage(lang) {
    language = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-' + lang + ']').forEach(function (element) {
      element.textContent = element.getAttribute('data-' + lang);
    });
  }

  function field(name) {
    return form.elements.namedItem(name);
  }

  // The answer is where the person looks: scrolled into view and focused (for a screen
  // reader too), whether it is the thanks or what to fix.
  function show(message, kind) {
    answer.textContent = message;
    answer.className = kind;
    answer.hidden = false;
    answer.setAttribute('tabindex', '-1');
    answer.scrollIntoView({ block: 'center' });
    answer.focus();
  }

  // Who processes the data and the policy (the cloud's --personal-data-operator and
  // --privacy-policy-url), beside the consent.
  fetch('/v1/signup/notice', { credentials: 'omit' }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (notice) {
    if (!notice) { return; }
    if (notice.operator) {
      document.getElementById('operator-name').textContent = notice.operator;
      document.getElementById('operator-line').hidden = false;
    }
    if (notice.policy_url && /^https?:\/\//.test(notice.policy_url)) {
      var link = document.getElementById('policy-link');
      link.href = notice.policy_url;
      link.hidden = false;
    }
  }).catch(function () { /* the form works without the notice */ });

  if (store) {
    // textContent, never innerHTML: the store comes from the link, which anyone can write.
    document.getElementById('store-name').textContent = store;
    document.getElementById('store-line').hidden = false;
  }
  if (friendCode) {
    // A value, never markup; the cloud checks it when the form is sent.
    field('referral_code').value = friendCode.slice(0, 32);
  }
  document.getElementById('lang').addEventListener('click', function () {
    setLanguage(language === 'ru' ? 'en' : 'ru');
  });
  setLanguage(language);

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var phone = field('phone').value.trim();
    if (!phone) { show(texts[language].phone, 'error'); return; }
    if (!field('personal_data').checked) { show(texts[language].agree, 'error'); return; }
    var body = {
      phone: phone,
      consents: { sms: field('sms').checked, email: field('email_consent').checked, personal_data: true }
    };
    var name = field('name').value.trim();
    var email = field('email').value.trim();
    var birthday = field('birthday').value;
    if (name) { body.name = name; }
    if (email) { body.email = email; }
    var referralCode = field('referral_code').value.trim();
    if (birthday) { body.birthday = birthday; }
    if (referralCode) { body.referral_code = referralCode; }
    if (store) { body.store = store; }
    submit.disabled = true;
    var accepted = false;
    fetch('/v1/signup', {
      method: 'POST',
      // The answer and any error come back in the language the page shows now.
      headers: { 'Content-Type': 'application/json', 'Accept-Language': language },
      credentials: 'omit',
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok && data) {
          accepted = true;
          form.hidden = true;
          show(data.message, 'ok');
          // The self-service page (GET /me) signs in with an SMS code to the same phone.
          document.getElementById('me-link').hidden = false;
          // The wallet cards are handed out after the SMS sign-in: the form proves nothing
          // about who holds the phone, and must not tell a known phone from a new one.
          document.getElementById('wallet-link').hidden = !data.wallet;
        } else {
          var message = data && data.error ? data.error.message : 'HTTP ' + response.status;
          show(message, 'error');
        }
      });
    }).catch(function () {
      show(texts[language].network, 'error');
    }).finally(function () {
      // Once accepted the form is gone and stays so: no second press sends it again.
      submit.disabled = accepted;
    });
  });
}());

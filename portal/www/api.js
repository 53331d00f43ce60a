/* api.js: calls to the JSON API (docs/api.md), errors as sentences, small DOM helpers. */
(function () {
  'use strict';
  var I = window.I18N;
  var A = window.API = {};

  /* Resolves with the JSON body; rejects with {status, code, field, message, retry}. */
  A.call = function (method, path, body, key) {
    var h = { Accept: 'application/json' }, ctl = new AbortController();
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (key) h['Idempotency-Key'] = key;
    var timer = setTimeout(function () { ctl.abort(); }, 30000);
    return fetch(path, {
      method: method, headers: h, cache: 'no-store', signal: ctl.signal,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (txt) {
        var d = null;
        try { d = txt ? JSON.parse(txt) : null; } catch (e) { d = null; }
        if (r.ok && d) return d;
        var e = (d && d.error) || {}, ra = parseInt(r.headers.get('Retry-After'), 10);
        throw { status: r.status, code: e.code || 'http', field: e.field || '', message: e.message || '',
                retry: ra >= 0 ? ra : 5 };
      });
    }, function () {
      throw { status: 0, code: 'network', field: '', message: '', retry: 5 };
    }).finally(function () { clearTimeout(timer); });
  };
  A.get = function (path) { return A.call('GET', path); };
  /* GET that waits out 429/503/network errors (Retry-After) a few times, saying so */
  A.load = function (path, tries) {
    tries = tries === undefined ? 5 : tries;
    return A.get(path).catch(function (e) {
      if (tries <= 0 || !(e.status === 0 || e.status === 429 || e.status === 503)) throw e;
      A.fail(e);
      return new Promise(function (ok) { setTimeout(ok, e.retry * 1000); }).then(function () {
        return A.load(path, tries - 1);
      }).then(function (d) {
        if (last && last[0] === e) A.clearErrors();
        return d;
      });
    });
  };
  A.post = function (path, body, key) { return A.call('POST', path, body, key); };
  A.enc = encodeURIComponent;

  /* A random Idempotency-Key (32 hex digits). */
  A.key = function () {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  };

  /* An API error as one sentence in the current language: the first of
     e.<code>.<field>.<extra>, e.<code>.<field>, (in English) the server's message,
     e.<code>, e.other. 429 and 503 say when to try again (Retry-After). */
  A.say = function (err, extra) {
    if (err.status === 429 || err.status === 503) return I.t('e.busy', { n: I.num(err.retry) });
    var k1 = 'e.' + err.code + '.' + err.field, k2 = 'e.' + err.code;
    if (I.has(k1 + '.' + extra)) return I.t(k1 + '.' + extra);
    if (I.has(k1)) return I.t(k1);
    /* English: the server's own sentence is more precise than the code's */
    if (I.lang === 'en' && err.message) return err.message.charAt(0).toUpperCase() + err.message.slice(1).replace(/\.?$/, '.');
    return I.t(I.has(k2) ? k2 : 'e.other', { status: err.status });
  };

  /* A booking reference as people type it (any case, dashes and spaces anywhere):
     the canonical 11 symbols, or '' when it cannot be one (libfoleni/ids.h). */
  A.ref = function (s) {
    s = s.replace(/[\s-]/g, '').toUpperCase();
    return /^[2-9A-HJKMNP-TV-Z]{11}$/.test(s) ? s : '';
  };

  /* DOM helpers */
  A.$ = function (id) { return document.getElementById(id); };
  A.el = function (tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'class') e.className = attrs[k];
      else if (attrs[k] !== false && attrs[k] != null) e.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    }
    if (text != null) e.textContent = text;
    return e;
  };
  A.show = function (id, on) { A.$(id).hidden = !on; };

  var last = null;
  A.clearErrors = function () {
    last = null;
    A.$('error').textContent = '';
    document.querySelectorAll('.field-error').forEach(function (p) { p.textContent = ''; });
    document.querySelectorAll('[aria-invalid]').forEach(function (f) { f.removeAttribute('aria-invalid'); });
  };
  /* Show err in #error and next to its field (map: API field -> element id). */
  A.fail = function (err, map, extra, quiet) {
    var msg = A.say(err, extra);
    var id = err.field && ((map && map[err.field]) || err.field);
    var f = id && A.$(id), p = id && A.$(id + '-error');
    last = [err, map, extra];
    A.$('error').textContent = msg;
    if (p) p.textContent = msg;
    if (f && f.focus && !quiet) {
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(f.tagName)) f.setAttribute('aria-invalid', 'true');
      f.focus();
    }
    return msg;
  };
  /* the error shown follows the language */
  I.onChange(function () {
    if (last && A.$('error').textContent) A.fail(last[0], last[1], last[2], true);
  });

  /* Disable btn for the Retry-After seconds of a 429/503 */
  A.hold = function (err, btn) {
    if (err.status !== 429 && err.status !== 503) return;
    btn.disabled = true;
    setTimeout(function () { btn.disabled = false; }, err.retry * 1000);
  };
})();

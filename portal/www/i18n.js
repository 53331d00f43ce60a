/* i18n.js: English and Kiswahili for every Foleni page (docs/pages.md).
   Elements carry data-i18n="key" (text) or data-i18n-attr="attr:key;attr:key";
   strings live in i18n/en.json and i18n/sw.json. The language comes from ?lang=,
   then localStorage, then navigator.language; #lang-toggle switches it. */
(function () {
  'use strict';
  var LANGS = ['en', 'sw'], STORE = 'foleni.lang';
  var cache = {}, dict = {}, subs = [], fmts = {};
  var I = window.I18N = { lang: pick() };

  function pick() {
    var q = new URLSearchParams(location.search).get('lang');
    if (LANGS.indexOf(q) >= 0) return q;
    try { q = localStorage.getItem(STORE); } catch (e) { q = null; }
    if (LANGS.indexOf(q) >= 0) return q;
    return /^sw\b/i.test(navigator.language || '') ? 'sw' : 'en';
  }

  I.has = function (k) { return dict[k] !== undefined; };
  I.t = function (k, p) {
    var s = dict[k];
    if (s === undefined) return k;
    return p ? s.replace(/\{(\w+)\}/g, function (m, n) { return p[n] !== undefined ? p[n] : m; }) : s;
  };
  /* plural: key_one for 1, key_other otherwise; {n} is the count */
  I.tn = function (k, n, p) {
    p = Object.assign({}, p, { n: I.num(n) });
    return I.t(k + (n === 1 ? '_one' : '_other'), p);
  };
  I.locale = function () { return I.lang === 'sw' ? 'sw-KE' : 'en-KE'; };
  I.num = function (n) { return new Intl.NumberFormat(I.locale()).format(n); };
  /* name of an office or service in the current language (name_sw may be empty) */
  I.name = function (o, f) {
    f = f || 'name';
    return (I.lang === 'sw' && o[f + '_sw']) || o[f] || '';
  };

  function fmt(tz, opts, loc) {
    var k = (loc || I.locale()) + tz + JSON.stringify(opts);
    if (!fmts[k]) {
      try { fmts[k] = new Intl.DateTimeFormat(loc || I.locale(), Object.assign({ timeZone: tz }, opts)); }
      catch (e) { fmts[k] = new Intl.DateTimeFormat(loc || I.locale(), Object.assign({ timeZone: 'Africa/Nairobi' }, opts)); }
    }
    return fmts[k];
  }
  /* t: UTC seconds; tz: the office's IANA zone */
  I.time = function (t, tz) { return fmt(tz, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(t * 1000); };
  I.day = function (t, tz) { return fmt(tz, { weekday: 'long', day: 'numeric', month: 'long' }).format(t * 1000); };
  I.when = function (t, tz) { return I.day(t, tz) + ', ' + I.time(t, tz); };
  /* YYYY-MM-DD of t in tz */
  I.dayKey = function (t, tz) {
    var p = {};
    fmt(tz, { year: 'numeric', month: '2-digit', day: '2-digit' }, 'en-US').formatToParts(t * 1000)
      .forEach(function (x) { p[x.type] = x.value; });
    return p.year + '-' + p.month + '-' + p.day;
  };
  /* a wait in seconds, as words */
  I.wait = function (s) {
    var m = Math.ceil((s || 0) / 60), h = Math.floor(m / 60);
    if (m < 1) return I.t('wait.none');
    if (m < 60) return I.tn('wait.min', m);
    return m % 60 ? I.t('wait.hmin', { h: I.num(h), m: I.num(m % 60) }) : I.tn('wait.h', h);
  };
  I.money = function (n) { return I.t('fee.amount', { n: I.num(n) }); };

  I.apply = function (root) {
    (root || document).querySelectorAll('[data-i18n]').forEach(function (el) {
      el.textContent = I.t(el.getAttribute('data-i18n'));
    });
    (root || document).querySelectorAll('[data-i18n-attr]').forEach(function (el) {
      el.getAttribute('data-i18n-attr').split(';').forEach(function (pair) {
        var kv = pair.split(':');
        el.setAttribute(kv[0], I.t(kv[1]));
      });
    });
  };
  /* fn() runs after every language change (and the first load) */
  I.onChange = function (fn) { subs.push(fn); };

  function get(lang) {
    if (cache[lang]) return Promise.resolve(cache[lang]);
    return fetch('i18n/' + lang + '.json').then(function (r) {
      if (!r.ok) throw new Error('i18n ' + r.status);
      return r.json();
    }).then(function (d) { cache[lang] = d; return d; });
  }

  I.set = function (lang) {
    return get(lang).then(function (d) {
      dict = d;
      I.lang = lang;
      document.documentElement.lang = lang;
      try { localStorage.setItem(STORE, lang); } catch (e) { /* private mode */ }
      var u = new URL(location.href);
      if (u.searchParams.has('lang')) { u.searchParams.set('lang', lang); history.replaceState(null, '', u); }
      I.apply();
      var b = document.getElementById('lang-toggle');
      if (b) b.setAttribute('lang', lang === 'sw' ? 'en' : 'sw');
      subs.forEach(function (fn) { fn(); });
    });
  };

  I.ready = I.set(I.lang).catch(function () { return I.set('en'); });

  document.addEventListener('DOMContentLoaded', function () {
    var b = document.getElementById('lang-toggle');
    if (b) b.addEventListener('click', function () { I.set(I.lang === 'sw' ? 'en' : 'sw'); });
  });
})();

/* slots.js: choose a day (#day) and a free slot (#slot-list) of one service.
   Used by the booking flow (book.js) and by reschedule (my.js). */
(function () {
  'use strict';
  var I = window.I18N, A = window.API, $ = A.$;
  var S = window.Slots = {}, st = null, WEEK = 7;

  function addDays(ymd, n) {
    var d = new Date(ymd + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function url(from, days) {
    return '/api/offices/' + A.enc(st.office) + '/services/' + A.enc(st.service) +
      '/slots?from=' + from + '&days=' + days;
  }
  function add(list) {
    var soon = Date.now() / 1000 + 60;
    list.forEach(function (x) {
      if (x.start < soon) return;
      var k = I.dayKey(x.start, st.tz);
      if (!st.byDay[k]) { st.byDay[k] = []; st.days.push(k); }
      st.byDay[k].push(x);
    });
  }
  function free(k) { return st.byDay[k].some(function (x) { return x.free > 0; }); }

  /* office, service codes; tz of the office; onPick(start) when a slot is chosen;
     current: the start of the booking being moved (shown, not offered) */
  S.load = function (office, service, tz, onPick, current) {
    st = { office: office, service: service, tz: tz, onPick: onPick, byDay: {}, days: [], current: current || 0,
           next: I.dayKey(Date.now() / 1000, tz), day: '', start: 0 };
    $('day').textContent = '';
    $('slot-list').textContent = '';
    return S.more();
  };

  /* fetch the next week and choose its first day with a free place */
  S.more = function () {
    var s = st, from = s.next, btn = $('more-days'), before = s.days.length;
    s.next = addDays(from, WEEK);
    btn.disabled = true;
    $('slot-list').setAttribute('aria-busy', 'true');
    return A.load(url(from, WEEK)).then(function (d) {
      if (s !== st) return;
      add(d.slots || []);
      btn.hidden = !(d.slots || []).length;
      var fresh = s.days.slice(before).filter(free);
      if (fresh.length) s.day = fresh[0];
      else if (!s.day && s.days.length) s.day = s.days[0];
      S.render();
    }, function (e) {
      if (s !== st) return;
      s.next = from;
      A.fail(e, { from: 'day' });
    }).finally(function () { btn.disabled = false; $('slot-list').removeAttribute('aria-busy'); });
  };

  /* re-read the chosen day (after "that slot is full") */
  S.refresh = function () {
    var s = st;
    if (!s || !s.day) return;
    A.get(url(s.day, 1)).then(function (d) {
      if (s !== st) return;
      s.byDay[s.day] = [];
      add(d.slots || []);
      S.render();
    }, function () { /* keep what is shown */ });
  };

  S.render = function () {
    if (!st) return;
    var sel = $('day'), list = $('slot-list');
    sel.textContent = '';
    st.days.forEach(function (k) {
      var first = st.byDay[k][0], open = free(k);
      var o = A.el('option', { value: k, disabled: !open },
        I.day(first.start, st.tz) + (open ? '' : ' (' + I.t('slot.full') + ')'));
      sel.appendChild(o);
    });
    sel.value = st.day;
    list.textContent = '';
    if (!st.days.length) { list.appendChild(A.el('p', null, I.t('slot.none'))); return; }
    (st.byDay[st.day] || []).forEach(function (x) {
      var now = x.start === st.current;
      var b = A.el('button', { type: 'button', class: 'slot', 'data-start': x.start,
                               'aria-pressed': String(x.start === st.start), disabled: x.free <= 0 || now });
      b.appendChild(A.el('span', { class: 'slot-time' }, I.time(x.start, st.tz)));
      b.appendChild(A.el('span', { class: 'slot-free' },
        now ? I.t('slot.current') : x.free > 0 ? I.tn('slot.free', x.free) : I.t('slot.full')));
      list.appendChild(b);
    });
  };

  S.clear = function () { st = null; };

  document.addEventListener('DOMContentLoaded', function () {
    $('day').addEventListener('change', function () {
      st.day = this.value;
      S.render();
    });
    $('more-days').addEventListener('click', function () { S.more().then(function () { $('day').focus(); }); });
    $('slot-list').addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-start]');
      if (!b || b.disabled) return;
      st.start = +b.getAttribute('data-start');
      list(b);
      st.onPick(st.start);
    });
  });
  function list(b) {
    $('slot-list').querySelectorAll('button').forEach(function (x) { x.setAttribute('aria-pressed', String(x === b)); });
  }
})();

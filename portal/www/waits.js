/* waits.js: waiting times of one office (waits.html?office=CODE), refreshed every 15 s. */
(function () {
  'use strict';
  var I = window.I18N, A = window.API, $ = A.$;
  var q = new URLSearchParams(location.search);
  var st = { offices: [], office: null, services: [], status: null, timer: 0, gen: 0, busy: false };
  var EVERY = 15000;

  function find(list, k, v) { return list.filter(function (x) { return x[k] === v; })[0]; }

  function start() {
    A.load('/api/offices', 1e9).then(function (d) {
      st.offices = d.offices || [];
      var o = find(st.offices, 'office', (q.get('office') || '').toUpperCase()) || (st.offices.length === 1 && st.offices[0]);
      fill();
      A.show('pick', !o || st.offices.length > 1);
      if (o) { $('office').value = o.office; pick(); }
    }, function (e) { A.fail(e); });
  }

  function fill() {
    var sel = $('office'), v = sel.value;
    sel.textContent = '';
    sel.appendChild(A.el('option', { value: '' }, I.t('book.office_pick')));
    st.offices.forEach(function (o) { sel.appendChild(A.el('option', { value: o.office }, I.name(o))); });
    sel.value = v;
  }

  function pick() {
    st.office = find(st.offices, 'office', $('office').value) || null;
    st.status = null;
    st.gen++;
    clearTimeout(st.timer);
    A.show('waits', false);
    $('updated').textContent = '';
    if (!st.office) return;
    var gen = st.gen;
    A.load('/api/offices/' + A.enc(st.office.office) + '/services', 1e9).then(function (d) {
      if (gen !== st.gen) return;
      st.services = d.services || [];
      poll(gen);
    }, function (e) { A.fail(e); });
  }

  function poll(gen) {
    if (gen !== st.gen) return;
    if (document.hidden || st.busy) { st.timer = setTimeout(poll, EVERY, gen); return; }
    st.busy = true;
    A.get('/api/offices/' + A.enc(st.office.office) + '/status').then(function (d) {
      st.busy = false;
      if (gen !== st.gen) return;
      st.status = d;
      $('error').textContent = '';
      render();
      st.timer = setTimeout(poll, EVERY, gen);
    }, function (e) {
      st.busy = false;
      if (gen !== st.gen) return;
      A.fail(e);
      st.timer = setTimeout(poll, Math.max(EVERY, e.retry * 1000), gen);
    });
  }

  function render() {
    var d = st.status;
    if (!d) return;
    var tz = st.office.tz, list = $('waits-list');
    $('waits-caption').textContent = I.t('waits.caption', { office: I.name(st.office) });
    list.textContent = '';
    (d.services || []).forEach(function (x) {
      var s = find(st.services, 'service', x.service) || { name: x.service };
      var li = A.el('li', { 'data-service': x.service }), dl = A.el('dl');
      var now = (d.serving || []).filter(function (c) { return c.service === x.service; }).map(function (c) {
        return I.t('waits.at', { ticket: c.ticket, counter: c.counter });
      });
      var wait = !x.open_counters ? (x.waiting ? I.wait(x.wait_s) + '. ' : '') + I.t('waits.closed')
        : x.waiting ? I.wait(x.wait_s) : I.t('wait.none');
      li.appendChild(A.el('h3', null, I.name(s)));
      [['waits.waiting', I.num(x.waiting || 0), 'n'], ['waits.wait', wait, 'w'],
       ['waits.serving', now.length ? now.join(', ') : I.t('waits.none'), 's']].forEach(function (r) {
        dl.appendChild(A.el('dt', null, I.t(r[0])));
        dl.appendChild(A.el('dd', { class: r[2] }, r[1]));
      });
      li.appendChild(dl);
      list.appendChild(li);
    });
    A.show('waits', true);
    $('updated').textContent = I.t('waits.updated', { time: I.time(d.at || Date.now() / 1000, tz) });
  }

  I.onChange(function () { fill(); render(); });
  I.ready.then(start);
  $('office').addEventListener('change', pick);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && st.office && !st.busy) { clearTimeout(st.timer); poll(st.gen); }
  });
})();

/* kiosk.js: the touch screen at the entrance (kiosk.html?office=CODE[&autoprint=1]).
   Walk-in tickets by service and priority; check-in by a typed or scanned reference;
   back to the start after 20 s without a touch. */
(function () {
  'use strict';
  var I = window.I18N, A = window.API, $ = A.$;
  var q = new URLSearchParams(location.search), code = (q.get('office') || '').toUpperCase();
  var st = { office: null, services: [], queues: {}, keys: {}, busy: false, ticket: null, last: Date.now() };
  var IDLE = 20000, REFRESH = 30000;
  var base = '/api/offices/' + A.enc(code);

  function find(list, k, v) { return list.filter(function (x) { return x[k] === v; })[0]; }

  function start() {
    if (!code) { A.fail({ code: 'no_office' }); return; }
    Promise.all([A.load('/api/offices', 1e9), A.load(base + '/services', 1e9)]).then(function (r) {
      st.office = find(r[0].offices, 'office', code);
      if (!st.office) { A.fail({ code: 'no_office' }); return; }
      st.services = r[1].services || [];
      render();
      queues();
    }, function (e) { A.fail(e); });
  }

  function queues() {
    A.get(base + '/status').then(function (d) {
      st.queues = {};
      (d.services || []).forEach(function (x) { st.queues[x.service] = x; });
      renderQueues();
    }, function () { /* the buttons work without it */ });
    setTimeout(queues, REFRESH);
  }

  function render() {
    if (!st.office) return;
    $('office-name').textContent = I.name(st.office);
    var list = $('service-list');
    list.textContent = '';
    st.services.forEach(function (s) {
      var b = A.el('button', { type: 'button', class: 'service-button', 'data-service': s.service }, I.name(s));
      b.appendChild(A.el('span', { class: 'queue' }));
      list.appendChild(b);
    });
    renderQueues();
    renderTicket();
  }

  function renderQueues() {
    document.querySelectorAll('.service-button').forEach(function (b) {
      var x = st.queues[b.getAttribute('data-service')];
      b.lastChild.textContent = !x ? '' : x.waiting ? I.tn('kiosk.queue', x.waiting, { wait: I.wait(x.wait_s) }) : I.t('kiosk.noqueue');
    });
  }

  function priority() { return document.querySelector('input[name=priority]:checked').value; }

  /* POST; one Idempotency-Key per (what, who) until it gives a ticket, so a double tap issues one */
  function issue(path, body, id, extra) {
    if (st.busy) return;
    A.clearErrors();
    st.busy = true;
    st.keys[id] = st.keys[id] || A.key();
    $('status').textContent = I.t('kiosk.busy');
    A.post(base + path, body, st.keys[id]).then(function (t) {
      delete st.keys[id];
      show(t);
    }, function (e) {
      A.fail(e, { ref: 'checkin-ref', service: 'service-list' }, extra);
    }).then(function () {
      st.busy = false;
      $('status').textContent = '';
    });
  }

  function show(t) {
    st.ticket = t;
    A.show('screen-start', false);
    A.show('screen-ticket', true);
    renderTicket();
    $('ticket').focus();
    if (q.get('autoprint') === '1') setTimeout(function () { window.print(); }, 100);
  }

  function renderTicket() {
    var t = st.ticket;
    if (!t) return;
    var s = find(st.services, 'service', t.service) || { name: t.service }, tz = st.office.tz;
    $('ticket-office').textContent = I.name(st.office);
    $('ticket-number').textContent = t.ticket;
    $('ticket-service').textContent = I.name(s);
    $('ticket-kind').textContent = t.ref ? I.t('kiosk.appointment') :
      t.priority && t.priority !== 'none' ? I.t('kiosk.priority', { p: I.t('prio.' + t.priority) }) : '';
    $('ticket-wait').textContent = I.t('kiosk.wait', { wait: I.wait(t.wait_s) });
    $('ticket-position').textContent = t.position ? I.t('kiosk.position', { n: I.num(t.position) }) : '';
    $('ticket-time').textContent = I.when(t.issued, tz);
  }

  function reset() {
    st.ticket = null;
    st.keys = {};
    A.clearErrors();
    $('checkin-ref').value = '';
    $('priority-none').checked = true;
    A.show('screen-ticket', false);
    A.show('screen-start', true);
    $('main').focus();
  }

  /* what a scanner types: the reference, maybe inside a URL (…?ref=X or …/X) */
  function scanned(v) {
    var m = /[?&]ref=([^&#]+)/i.exec(v);
    return m ? decodeURIComponent(m[1]) : v.split('/').pop();
  }

  function dirty() {
    return st.ticket || $('checkin-ref').value || priority() !== 'none' || $('error').textContent;
  }

  I.onChange(render);
  I.ready.then(start);

  $('service-list').addEventListener('click', function (ev) {
    var b = ev.target.closest('.service-button');
    if (b) issue('/tickets', { service: b.getAttribute('data-service'), priority: priority() },
                 b.getAttribute('data-service') + '|' + priority());
  });
  $('checkin').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var typed = scanned($('checkin-ref').value), ref = A.ref(typed);
    if (!ref) { A.fail({ code: typed.trim() ? 'invalid' : 'missing', field: 'ref' }, { ref: 'checkin-ref' }); return; }
    issue('/checkin', { ref: ref }, 'ref|' + ref, 'kiosk');
  });
  $('print').addEventListener('click', function () { window.print(); });
  $('ticket-done').addEventListener('click', reset);

  /* a scanner "types" into the page: send the keys to the reference field */
  document.addEventListener('keydown', function (ev) {
    var t = ev.target;
    if ($('screen-start').hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName) && t.type !== 'radio') return;
    if (!/^[0-9A-Za-z]$/.test(ev.key)) return;
    ev.preventDefault();
    $('checkin-ref').focus();
    $('checkin-ref').value += ev.key;
  });
  ['pointerdown', 'keydown', 'input'].forEach(function (n) {
    document.addEventListener(n, function () { st.last = Date.now(); }, true);
  });
  setInterval(function () {
    if (Date.now() - st.last > IDLE && dirty()) reset();
  }, 1000);
})();

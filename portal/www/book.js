/* book.js: the booking flow, office -> service -> day -> slot -> details -> confirmation. */
(function () {
  'use strict';
  var I = window.I18N, A = window.API, $ = A.$, S = window.Slots;
  var q = new URLSearchParams(location.search);
  var st = { offices: [], office: null, services: [], service: null, start: 0, key: null, busy: false, booking: null };
  var offices = A.load('/api/offices');

  function load() {
    offices.then(function (d) {
      st.offices = d.offices || [];
      fillOffices();
      var o = find(st.offices, 'office', q.get('office')) || (st.offices.length === 1 && st.offices[0]);
      if (o) { $('office').value = o.office; pickOffice(); }
    }, function (e) { A.fail(e); });
  }
  function find(list, k, v) { return list.filter(function (x) { return x[k] === v; })[0]; }

  function fillOffices() {
    var sel = $('office'), v = sel.value;
    sel.textContent = '';
    if (st.offices.length !== 1) sel.appendChild(A.el('option', { value: '' }, I.t('book.office_pick')));
    st.offices.forEach(function (o) { sel.appendChild(A.el('option', { value: o.office }, I.name(o))); });
    sel.value = v;
  }

  function pickOffice() {
    st.office = find(st.offices, 'office', $('office').value) || null;
    st.service = null;
    st.services = [];
    S.clear();
    A.clearErrors();
    ['step-service', 'step-when', 'details'].forEach(function (id) { A.show(id, false); });
    if (!st.office) return;
    var o = st.office;
    A.load('/api/offices/' + A.enc(o.office) + '/services').then(function (d) {
      if (o !== st.office) return;
      st.services = d.services || [];
      renderServices();
      A.show('step-service', true);
      var s = find(st.services, 'service', q.get('service'));
      if (s) pickService(s.service);
    }, function (e) { A.fail(e, { office: 'office' }); });
  }

  function renderServices() {
    var list = $('service-list');
    list.textContent = '';
    st.services.forEach(function (s) {
      var walkin = s.capacity === 0;
      var b = A.el('button', { type: 'button', class: 'choice', 'data-service': s.service, disabled: walkin,
                               'aria-pressed': String(st.service === s) });
      b.appendChild(A.el('strong', null, I.name(s)));
      b.appendChild(A.el('span', null, walkin ? I.t('svc.walkin') : s.fee ? I.t('svc.fee', { fee: I.money(s.fee) }) : I.t('svc.free')));
      if (s.bring) b.appendChild(A.el('span', { class: 'bring' }, I.t('svc.bring', { list: I.name(s, 'bring') })));
      list.appendChild(b);
    });
  }

  function pickService(code) {
    st.service = find(st.services, 'service', code);
    st.start = 0;
    A.clearErrors();
    renderServices();
    A.show('step-when', true);
    A.show('details', false);
    $('h-when').focus();
    S.load(st.office.office, code, st.office.tz, pickSlot);
  }

  function pickSlot(start) {
    st.start = start;
    A.clearErrors();
    summary();
    A.show('details', true);
    $('h-details').focus();
  }

  function summary() {
    if (st.start) $('summary').textContent = I.name(st.service) + ' · ' + I.when(st.start, st.office.tz);
  }

  /* the same rules as the portal's (libfoleni/ids.h), to answer before a round trip */
  function check(b) {
    var e = function (code, field) { return { status: 400, code: code, field: field }; };
    if (!b.name) return e('missing', 'name');
    if (/\d/.test(b.name)) return e('invalid', 'name');
    var n = b.id_number.replace(/[\s-]/g, '').toUpperCase();
    var re = { national: /^\d{1,8}$/, passport: /^[A-Z]{1,2}\d{6,8}$/, alien: /^\d{6,10}$/, birth: /^\d{5,12}$/ }[b.id_type];
    if (!n) return e('missing', 'id_number');
    if (!re.test(n) || (b.id_type === 'national' && /^0+$/.test(n))) return e('invalid', 'id_number');
    if (!b.phone) return e('missing', 'phone');
    if (!/^(?:(?:\+|00)?254)?0?[17]\d{8}$/.test(b.phone.replace(/[\s\-.()]/g, ''))) return e('invalid', 'phone');
    return null;
  }

  function submit(ev) {
    ev.preventDefault();
    if (st.busy) return;
    A.clearErrors();
    var b = { office: st.office.office, service: st.service.service, start: st.start,
              name: $('name').value.trim(), id_type: $('id_type').value,
              id_number: $('id_number').value.trim(), phone: $('phone').value.trim() };
    var bad = check(b);
    if (bad) { A.fail(bad, null, b.id_type); return; }
    st.key = st.key || A.key();   /* the same key until a booking is made */
    st.busy = true;
    $('submit').disabled = true;
    $('status').textContent = I.t('book.sending');
    A.post('/api/bookings', b, st.key).then(done, function (e) {
      if (e.field === 'start') S.refresh();
      A.fail(e, { start: 'slot-list', service: 'service-list' }, b.id_type);
      return e;
    }).then(function (e) {
      st.busy = false;
      $('submit').disabled = false;
      $('status').textContent = '';
      if (e) A.hold(e, $('submit'));   /* 429/503: off for Retry-After seconds */
    });
  }

  function done(b) {
    st.booking = b;
    st.key = null;
    A.show('flow', false);
    A.show('done', true);
    $('qr').src = '/api/qr/' + A.enc(b.ref) + '.svg';
    $('my-link').href = 'my.html?ref=' + A.enc(b.ref) + '&office=' + A.enc(b.office);
    renderDone();
    $('h-done').focus();
  }

  function renderDone() {
    var b = st.booking;
    if (!b) return;
    var tz = st.office.tz, s = find(st.services, 'service', b.service) || st.service;
    $('ref').textContent = b.ref_display || b.ref;
    $('qr').alt = I.t('done.qr_alt', { ref: b.ref_display || b.ref });
    $('done-office').textContent = I.name(st.office);
    $('done-service').textContent = I.name(s);
    $('when').textContent = I.when(b.start, tz) + ' ' + I.t('done.local');
    $('bring').textContent = I.name(s, 'bring') || '—';
    A.show('held', b.state === 'held');
    if (b.state === 'held')
      $('held-text').textContent = I.t('done.held', { fee: I.money(b.fee || s.fee || 0), time: I.when(b.expires, tz) });
  }

  function copy() {
    var txt = $('ref').textContent, ok = function () { $('copy-status').textContent = I.t('done.copied'); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(txt).then(ok, fallback);
    } else fallback();
    function fallback() {
      var r = document.createRange();
      r.selectNodeContents($('ref'));
      var sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      try { if (document.execCommand('copy')) ok(); } catch (e) { /* selected: the person can copy it */ }
    }
  }

  function again() {
    st.booking = null;
    st.service = null;
    st.start = 0;
    S.clear();
    $('details').reset();
    $('copy-status').textContent = '';
    A.show('done', false);
    A.show('flow', true);
    A.show('step-when', false);
    A.show('details', false);
    renderServices();
    $('h-service').focus();
  }

  I.onChange(function () {
    fillOffices();
    renderServices();
    S.render();
    summary();
    renderDone();
  });
  I.ready.then(load);

  $('office').addEventListener('change', pickOffice);
  $('service-list').addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-service]');
    if (b && !b.disabled) pickService(b.getAttribute('data-service'));
  });
  $('id_type').addEventListener('change', function () {
    $('id_number').setAttribute('inputmode', this.value === 'passport' ? 'text' : 'numeric');
  });
  $('details').addEventListener('submit', submit);
  $('copy').addEventListener('click', copy);
  $('again').addEventListener('click', again);
})();

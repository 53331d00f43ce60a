/* my.js: my booking. Reference + ID number -> view, cancel (after a confirmation), reschedule. */
(function () {
  'use strict';
  var I = window.I18N, A = window.API, $ = A.$, S = window.Slots;
  var q = new URLSearchParams(location.search);
  var st = { ref: '', id: '', b: null, office: null, service: null, start: 0, keys: {}, busy: false, msg: '' };
  var MAP = { ref: 'my-ref', id_number: 'my-id', start: 'slot-list' };
  var offices = null, services = {};

  function context(b) {
    offices = offices || A.load('/api/offices');
    services[b.office] = services[b.office] || A.load('/api/offices/' + A.enc(b.office) + '/services');
    return Promise.all([offices, services[b.office]]).then(function (r) {
      st.office = r[0].offices.filter(function (o) { return o.office === b.office; })[0] || { office: b.office, name: b.office, tz: 'Africa/Nairobi' };
      st.service = r[1].services.filter(function (s) { return s.service === b.service; })[0] || { service: b.service, name: b.service };
    });
  }

  /* POST one action; cancel and reschedule keep their Idempotency-Key until they succeed */
  function act(path, body, btn, then) {
    if (st.busy) return;
    A.clearErrors();
    st.busy = true;
    btn.disabled = true;
    var key = path === 'view' ? null : (st.keys[path] = st.keys[path] || A.key());
    $('status').textContent = I.t('my.wait');
    A.post('/api/bookings/' + A.enc(st.ref) + '/' + path, body, key).then(function (b) {
      delete st.keys[path];
      return context(b).then(function () { st.b = b; then(b); });
    }).then(null, function (e) {
      if (e.field === 'start') S.refresh();
      A.fail(e, MAP);
      return e;
    }).then(function (e) {
      st.busy = false;
      btn.disabled = path === 'reschedule' && !st.start;
      $('status').textContent = '';
      if (e) A.hold(e, btn);
    });
  }

  function find(ev) {
    ev.preventDefault();
    A.clearErrors();
    var ref = A.ref($('my-ref').value), id = $('my-id').value.trim();
    if (!$('my-ref').value.trim()) return A.fail({ code: 'missing', field: 'ref' }, MAP);
    if (!ref) return A.fail({ code: 'invalid', field: 'ref' }, MAP);
    if (!id) return A.fail({ code: 'missing', field: 'id_number' }, MAP);
    if (ref !== st.ref) st.keys = {};
    st.ref = ref;
    st.id = id;
    st.msg = '';
    act('view', { id_number: id }, $('find-submit'), function () {
      $('qr').src = '/api/qr/' + A.enc(st.b.ref) + '.svg';
      A.show('booking', true);
      closeAll();
      render();
      $('h-booking').focus();
    });
  }

  function render() {
    var b = st.b;
    if (!b) return;
    var tz = st.office.tz;
    $('ref').textContent = b.ref_display || b.ref;
    $('qr').alt = I.t('done.qr_alt', { ref: b.ref_display || b.ref });
    $('state').textContent = I.t('state.' + b.state);
    $('b-office').textContent = I.name(st.office);
    $('b-service').textContent = I.name(st.service);
    $('when').textContent = I.when(b.start, tz) + ' ' + I.t('done.local');
    $('bring').textContent = I.name(st.service, 'bring') || '—';
    A.show('held', b.state === 'held');
    if (b.state === 'held')
      $('held-text').textContent = I.t('done.held', { fee: I.money(b.fee || st.service.fee || 0), time: I.when(b.expires, tz) });
    A.show('actions', b.state === 'held' || b.state === 'confirmed');
    $('booking-msg').textContent = st.msg ? I.t(st.msg, { when: I.when(b.start, tz) }) : '';
    A.show('booking-msg', !!st.msg);
    if (st.start) $('summary').textContent = I.t('my.new_time', { when: I.when(st.start, tz) });
  }

  function closeAll() {
    A.show('cancel-confirm', false);
    A.show('step-when', false);
    A.show('summary', false);
    st.start = 0;
    $('reschedule-submit').disabled = true;
    S.clear();
  }

  function said(key, focus) {
    st.msg = key;
    closeAll();
    render();
    $('status').textContent = $('booking-msg').textContent;
    $(focus).focus();
  }

  I.onChange(function () { render(); S.render(); });

  I.ready.then(function () {
    var r = q.get('ref');
    if (r) { $('my-ref').value = r; $('my-id').focus(); }
  });
  $('find').addEventListener('submit', find);
  $('cancel').addEventListener('click', function () {
    closeAll();
    A.show('cancel-confirm', true);
    $('cancel-no').focus();
  });
  $('cancel-no').addEventListener('click', function () { closeAll(); $('cancel').focus(); });
  $('cancel-yes').addEventListener('click', function () {
    act('cancel', { id_number: st.id }, $('cancel-yes'), function () { said('my.cancelled', 'h-booking'); });
  });
  $('reschedule').addEventListener('click', function () {
    closeAll();
    A.show('step-when', true);
    $('h-when').focus();
    S.load(st.b.office, st.b.service, st.office.tz, function (start) {
      st.start = start;
      A.clearErrors();
      render();
      A.show('summary', true);
      $('reschedule-submit').disabled = false;
      $('reschedule-submit').focus();
    }, st.b.start);
  });
  $('reschedule-close').addEventListener('click', function () { closeAll(); $('reschedule').focus(); });
  $('reschedule-submit').addEventListener('click', function () {
    act('reschedule', { id_number: st.id, start: st.start }, $('reschedule-submit'), function () {
      said('my.moved', 'h-booking');
    });
  });
})();

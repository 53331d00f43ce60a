/* board.js — the hall board: renders the display's event stream, chimes and
 * announces every call in the chosen languages.
 *
 * The stream (/events?office=X, server-sent events) carries:
 *   board  the whole board (office, names, serving, recent, queues, status...)
 *   call   one call or recall to announce: ticket, counter, service, say {en, sw}
 *   tick   {now}: the server's clock, every 30 s (also proves the stream lives)
 * URL parameters (docs/display.md):
 *   office=NBIGPO         the office (default: the display's first)
 *   lang=en,sw            languages, in order, for labels and announcements
 *   services=PASSPORT,ID  show and announce only these services
 *   sound=on|chime|off    speech and chime (default), chime only, silent
 * Written for the older Chromium inside TV browsers: no modules, no optional
 * chaining, no libraries.  Text from the server is set with textContent only.
 */
(function () {
  "use strict";

  var params = new URLSearchParams(window.location.search);
  var office = (params.get("office") || "").toUpperCase().replace(/[^A-Z0-9]/g, "");
  var langs = (params.get("lang") || "en,sw").split(",").filter(function (l) {
    return l === "en" || l === "sw";
  });
  if (langs.length === 0) langs = ["en", "sw"];
  var services = (params.get("services") || "").toUpperCase().split(",").filter(function (s) { return s; });
  var sound = params.get("sound") || "on";

  var TEXT = {
    now: { en: "Now serving", sw: "Sasa anahudumiwa" },
    counter: { en: "Counter", sw: "Dirisha" },
    recent: { en: "Last calls", sw: "Walioitwa" },
    queues: { en: "Waiting", sw: "Wanaosubiri" },
    closed: { en: "no counter open", sw: "hakuna dirisha wazi" },
    about: { en: "about {n} min", sw: "takriban dakika {n}" },
    soon: { en: "next", sw: "sasa hivi" },
    connecting: { en: "Connecting…", sw: "Inaunganisha…" },
    live: { en: "Live", sw: "Moja kwa moja" },
    stale: { en: "Reconnecting — the board may be out of date", sw: "Inaunganisha upya — huenda taarifa si za sasa" },
    offline: { en: "No connection — retrying", sw: "Hakuna mtandao — inajaribu tena" },
    sound: { en: "Tap to turn on sound", sw: "Gusa kuwasha sauti" }
  };
  var LOCALE = { en: "en-GB", sw: "sw-KE" };

  var $ = function (id) { return document.getElementById(id); };
  var board = null;           /* the last board received */
  var clockOffset = 0;        /* server time - local time, ms */
  var lastMessage = Date.now();
  var connected = false;
  var source = null;

  function t(key, lang) { return TEXT[key][lang] || TEXT[key].en; }

  /* A label in every language: the first large, the others after it. */
  function label(el, key) {
    el.textContent = "";
    langs.forEach(function (lang, i) {
      var span = document.createElement("span");
      if (i > 0) span.className = "alt";
      span.textContent = t(key, lang);
      el.appendChild(span);
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function shown(service) { return services.length === 0 || services.indexOf(service) >= 0; }

  function serviceName(code, lang) {
    var list = (board && board.services) || [];
    for (var i = 0; i < list.length; i++)
      if (list[i].service === code) return lang === "sw" ? (list[i].name_sw || list[i].name) : list[i].name;
    return code;
  }

  /* Counters are shown and announced by number: the number is what is
   * painted over each counter. */
  function counterName(n) { return String(n); }

  /* ---- rendering ---- */

  function renderStatus() {
    var status = !connected ? (board ? "offline" : "connecting") : (board ? board.status : "connecting");
    var s = $("status");
    s.setAttribute("data-status", status);
    s.textContent = langs.map(function (l) { return t(status in TEXT ? status : "stale", l); }).join(" · ");
  }

  function render() {
    if (!board) return;
    $("office-name").textContent = board.name || board.office;
    $("office-alt").textContent = langs.indexOf("sw") >= 0 && board.name_sw && board.name_sw !== board.name
      ? board.name_sw : "";
    var serving = board.serving.filter(function (c) { return shown(c.service); });
    var newest = null;
    serving.forEach(function (c) { if (c.ticket === board.newest) newest = c; });
    if (!newest && serving.length) newest = serving[0];

    var box = $("newest");
    box.classList.toggle("empty", !newest);
    box.querySelector(".ticket").textContent = newest ? newest.ticket : "—";
    box.querySelector(".counter b").textContent = newest ? counterName(newest.counter) : "";
    box.querySelector(".counter-word").textContent = langs.map(function (l) { return t("counter", l); }).join(" · ");
    box.setAttribute("data-ticket", newest ? newest.ticket : "");
    box.setAttribute("data-counter", newest ? String(newest.counter) : "");

    var list = $("serving");
    list.textContent = "";
    var others = serving.filter(function (c) { return c !== newest; });
    list.style.setProperty("--tile", others.length <= 4 ? "8.5vh" : others.length <= 8 ? "6.5vh" : "4.5vh");
    others.slice(0, 16).forEach(function (c) {
      var li = el("li");
      li.appendChild(el("span", "ticket", c.ticket));
      li.appendChild(el("span", "to", "→"));
      li.appendChild(el("span", "counter", counterName(c.counter)));
      list.appendChild(li);
    });

    /* earlier calls not on the screen already (each ticket is shown once) */
    var served = {};
    serving.forEach(function (c) { served[c.ticket] = true; });
    var recent = $("recent");
    recent.textContent = "";
    board.recent.filter(function (c) { return shown(c.service) && !served[c.ticket]; })
      .slice(0, 6).forEach(function (c) {
        var li = el("li");
        li.appendChild(el("span", "ticket", c.ticket));
        li.appendChild(el("span", "to", "→ " + counterName(c.counter)));
        recent.appendChild(li);
      });

    var body = $("queues").tBodies[0];
    body.textContent = "";
    /* a service nobody waits for and no counter serves says nothing: left out */
    var queues = board.queues.filter(function (q) {
      return shown(q.service) && (q.waiting > 0 || q.open_counters > 0);
    });
    queues.forEach(function (q) {
      var tr = el("tr");
      var name = el("td", "service");
      langs.forEach(function (l, i) { name.appendChild(el("span", i ? "alt" : "", serviceName(q.service, l))); });
      var wait = el("span", "wait");
      var minutes = Math.ceil(q.wait_s / 60);
      wait.textContent = q.waiting === 0 ? "" : langs.map(function (l) {
        if (q.open_counters === 0) return t("closed", l);
        return minutes <= 1 ? t("soon", l) : t("about", l).replace("{n}", minutes);
      }).join(" · ");
      name.appendChild(wait);
      tr.appendChild(name);
      tr.appendChild(el("td", "n", String(q.waiting)));
      body.appendChild(tr);
    });
    renderStatus();
  }

  function renderClock() {
    var now = new Date(Date.now() + clockOffset);
    var tz = (board && board.tz) || "Africa/Nairobi";
    var lang = langs[0];
    try {
      $("clock").textContent = new Intl.DateTimeFormat(LOCALE[lang], {
        timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false }).format(now);
      $("date").textContent = langs.map(function (l) {
        return new Intl.DateTimeFormat(LOCALE[l], { timeZone: tz, weekday: "long", day: "numeric", month: "long" })
          .format(now);
      }).join(" · ");
    } catch (e) {                     /* a browser without time-zone data: local time */
      $("clock").textContent = ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
    }
  }

  /* ---- sound: a chime, then the announcement in each language ---- */

  var audio = null;
  var queue = [];
  var busy = false;
  var voices = [];

  function loadVoices() {
    if ("speechSynthesis" in window) voices = window.speechSynthesis.getVoices() || [];
  }

  function voiceFor(lang) {
    for (var i = 0; i < voices.length; i++)
      if (voices[i].lang && voices[i].lang.toLowerCase().indexOf(lang) === 0) return voices[i];
    return null;
  }

  function audioContext() {
    if (audio) return audio;
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    try { audio = new Ctx(); } catch (e) { audio = null; }
    return audio;
  }

  /* Two falling tones ("ding-dong"); resolves when done. */
  function chime() {
    return new Promise(function (resolve) {
      var ctx = audioContext();
      if (!ctx || ctx.state !== "running") { resolve(); return; }
      var start = ctx.currentTime + 0.05;
      [[659.25, 0], [523.25, 0.45]].forEach(function (tone) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.0001, start + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.6, start + tone[1] + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + tone[1] + 1.1);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(start + tone[1]);
        osc.stop(start + tone[1] + 1.2);
      });
      setTimeout(resolve, 1400);
    });
  }

  /* Speak text in lang when a voice for it exists; resolves in any case. */
  function speak(text, lang) {
    return new Promise(function (resolve) {
      var voice = voiceFor(lang);
      if (sound !== "on" || !voice || !text) { resolve(); return; }
      var u = new SpeechSynthesisUtterance(text);
      u.voice = voice;
      u.lang = voice.lang;
      u.rate = 0.85;
      var done = false;
      var finish = function () { if (!done) { done = true; resolve(); } };
      u.onend = finish;
      u.onerror = finish;
      setTimeout(finish, 12000);      /* some engines never say they are done */
      window.speechSynthesis.speak(u);
    });
  }

  function sayText(call, lang) {
    if (call.say && call.say[lang]) return call.say[lang];
    var spelled = call.ticket.replace(/[^A-Za-z0-9]/g, "").split("").join(" ");
    return lang === "sw" ? "Tiketi " + spelled + ", dirisha " + call.counter
                         : "Ticket " + spelled + ", counter " + call.counter;
  }

  function nextAnnouncement() {
    var call = queue.shift();
    if (!call) { busy = false; return; }
    busy = true;
    var steps = chime();
    langs.forEach(function (lang) {
      steps = steps.then(function () { return speak(sayText(call, lang), lang); });
    });
    steps.then(function () { setTimeout(nextAnnouncement, 500); });
  }

  function announce(call) {
    if (!shown(call.service)) return;
    var box = $("newest");
    box.classList.remove("flash");
    void box.offsetWidth;             /* restart the animation */
    box.classList.add("flash");
    if (sound === "off") return;
    if (queue.length >= 8) queue.shift();    /* stay current when calls come faster than speech */
    queue.push(call);
    if (!busy) nextAnnouncement();
  }

  /* Browsers start audio only after a tap unless started for kiosks with
   * --autoplay-policy=no-user-gesture-required: offer the tap. */
  function checkSound() {
    var button = $("sound");
    var ctx = sound === "off" ? null : audioContext();
    var blocked = ctx && ctx.state !== "running";
    button.hidden = !blocked;
    button.textContent = langs.map(function (l) { return t("sound", l); }).join(" · ");
  }

  /* ---- the stream ---- */

  function connect() {
    var url = "events" + (office ? "?office=" + encodeURIComponent(office) : "");
    source = new EventSource(url);
    source.addEventListener("open", function () { connected = true; lastMessage = Date.now(); renderStatus(); });
    source.addEventListener("error", function () {
      connected = false;
      renderStatus();
      if (source.readyState === EventSource.CLOSED) {   /* refused (404): try again later */
        source = null;
        setTimeout(connect, 5000);
      }
    });
    source.addEventListener("board", function (e) {
      lastMessage = Date.now();
      board = JSON.parse(e.data);
      if (board.now) clockOffset = board.now * 1000 - Date.now();
      render();
      renderClock();
    });
    source.addEventListener("call", function (e) {
      lastMessage = Date.now();
      announce(JSON.parse(e.data));
    });
    source.addEventListener("tick", function (e) {
      lastMessage = Date.now();
      var tick = JSON.parse(e.data);
      if (tick.now) clockOffset = tick.now * 1000 - Date.now();
    });
  }

  /* A stream silent for longer than two ticks is dead (a half-open TCP link):
   * open a new one.  EventSource alone would wait forever. */
  function watchdog() {
    if (source && Date.now() - lastMessage > 75000) {
      source.close();
      source = null;
      connected = false;
      renderStatus();
      connect();
    }
  }

  label($("label-now"), "now");
  label($("label-recent"), "recent");
  label($("label-queues"), "queues");
  document.documentElement.lang = langs[0];
  loadVoices();
  if ("speechSynthesis" in window && "onvoiceschanged" in window.speechSynthesis)
    window.speechSynthesis.onvoiceschanged = loadVoices;
  $("sound").addEventListener("click", function () {
    var ctx = audioContext();
    if (ctx && ctx.resume) ctx.resume().then(checkSound, checkSound);
    if ("speechSynthesis" in window) window.speechSynthesis.speak(new SpeechSynthesisUtterance(""));
  });
  renderStatus();
  renderClock();
  checkSound();
  connect();
  setInterval(renderClock, 1000);
  setInterval(watchdog, 5000);
  setInterval(checkSound, 5000);
})();

// Calling console: one counter's current ticket, its line and the nurse's keys.
// Live state comes from the Socket.IO counter room; every action is a REST call with the login
// session and the CSRF header, the same endpoints keypads and scripts use.
(function () {
  "use strict";

  var setup = JSON.parse(document.getElementById("console-setup").textContent);
  var L = setup.labels;
  var api = window.ClinicqApi.api;
  var CODE = setup.counter;
  var KEYMAP = { n: "next", r: "recall", s: "start", f: "finish", v: "no_show", x: "no_show", t: "transfer",
                 c: "call", l: "return", p: "pause", u: "resume" };
  var DIALOGS = { transfer: "dlg-transfer", pause: "dlg-pause", call: "dlg-call", "return": "dlg-return" };

  var state = {
    connected: false,
    busy: false,
    counter: null,        // the counter as the hub shows it (state, current ticket summary)
    current: null,        // the current ticket, with the details of its full record when known
    lines: {},            // service code -> waiting tickets in calling order
    counts: {},           // service code -> number waiting (exact, from the hub's summaries)
    figures: null,
    clockOffset: 0        // server time minus local time, so waiting times do not depend on the PC clock
  };

  function $(id) { return document.getElementById(id); }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] !== undefined ? values[key] : ""; });
  }

  function minutesSince(iso) {
    if (!iso) { return null; }
    return Math.max(0, Math.floor((Date.now() + state.clockOffset - Date.parse(iso)) / 60000));
  }

  function minutesBetween(fromIso, toIso) {
    if (!fromIso || !toIso) { return null; }
    return Math.max(0, Math.floor((Date.parse(toIso) - Date.parse(fromIso)) / 60000));
  }

  // Times of day in the site's time zone, whatever the counter PC's clock is set to.
  function clockTime(iso) {
    return new Date(iso).toLocaleTimeString(setup.lang === "en" ? "en-GB" : "vi-VN",
                                            { hour: "2-digit", minute: "2-digit", timeZone: setup.timezone });
  }

  function serviceName(code) { return (setup.services[code] || { name: code }).name; }

  // Hub messages are sometimes "Vietnamese / English": show the half of the page's language.
  function localMessage(message) {
    var parts = String(message || "").split(" / ");
    if (parts.length !== 2) { return message || ""; }
    return setup.lang === "en" ? parts[1] : parts[0];
  }

  // ------------------------------------------------------------------ what each key may do now
  function status() { return state.current ? state.current.status : null; }

  var ALLOWED = {
    next: function () { return true; },  // also opens a closed or paused counter, as a keypad's key does
    recall: function () { return status() === "called"; },
    start: function () { return status() === "called"; },
    no_show: function () { return status() === "called"; },
    finish: function () { return status() === "serving"; },
    transfer: function () { return status() === "serving"; },
    call: function () { return !state.current; },
    "return": function () { return true; },
    pause: function () { return state.counter && state.counter.state === "open" && status() !== "called"; },
    resume: function () { return state.counter && state.counter.state === "paused"; }
  };

  function usable(action) { return state.connected && !state.busy && state.counter !== null && ALLOWED[action](); }

  // ------------------------------------------------------------------ rendering
  function renderCounter() {
    var el = $("counter-state");
    var c = state.counter;
    el.dataset.state = c ? c.state : "";
    var text = c ? (L[c.state] || c.state) : "…";
    if (c && c.state === "paused" && c.pause_reason) { text += ": " + c.pause_reason; }
    el.textContent = text;
    $("conn").hidden = state.connected;
    document.getElementById("console").dataset.connected = state.connected ? "yes" : "no";
  }

  function renderCurrent() {
    var t = state.current;
    var box = $("current");
    box.dataset.status = t ? t.status : "";
    $("cur-empty").hidden = !!t;
    $("cur-facts").hidden = !t;
    $("cur-number").textContent = t ? t.number : "—";
    $("cur-status").textContent = t ? (L[t.status] || t.status) : "";
    $("cur-service").textContent = t ? serviceName(t.service) : "";
    var prio = $("cur-priority");
    prio.hidden = !t || t.priority === "normal";
    if (t && t.priority !== "normal") {
      prio.textContent = "★ " + (setup.priorities[t.priority] || t.priority);
      prio.dataset.priority = t.priority;
    }
    if (!t) { return; }
    // Waited: from taking the number to being served, or until now while still being called.
    var waited = t.served_at ? minutesBetween(t.issued_at, t.served_at) : minutesSince(t.issued_at);
    $("cur-waited").textContent = waited === null ? "—" : fill(L.minutes, { n: waited });
    $("cur-calls").textContent = t.call_count !== undefined ? String(t.call_count) : "—";
    var serving = (t.status === "serving" || t.status === "on_hold") ? minutesSince(t.served_at || t.since) : null;
    $("cur-serving").textContent = serving === null ? "—" : fill(L.minutes, { n: serving });
  }

  function ticketRow(t) {
    var li = document.createElement("li");
    li.dataset.ticket = t.id;
    li.dataset.number = t.number;
    var number = document.createElement("span");
    number.className = "q-number";
    number.textContent = t.number;
    li.appendChild(number);
    if (t.priority && t.priority !== "normal") {
      var prio = document.createElement("span");
      prio.className = "prio";
      prio.dataset.priority = t.priority;
      prio.textContent = "★ " + (setup.priorities[t.priority] || t.priority);
      li.appendChild(prio);
    }
    var wait = document.createElement("span");
    wait.className = "q-wait";
    wait.textContent = fill(L.waited, { n: minutesSince(t.issued_at) });
    li.appendChild(wait);
    return li;
  }

  function renderQueue() {
    var root = $("queue");
    root.textContent = "";
    var total = 0;
    setup.counter_services.forEach(function (code) {
      var tickets = state.lines[code] || [];
      var count = state.counts[code] !== undefined ? state.counts[code] : tickets.length;
      total += count;
      var section = document.createElement("section");
      section.className = "q-service";
      section.dataset.service = code;
      var head = document.createElement("h3");
      head.textContent = serviceName(code) + " — " + fill(L.waiting_count, { n: count });
      section.appendChild(head);
      if (tickets.length) {
        var list = document.createElement("ol");
        tickets.forEach(function (t) { list.appendChild(ticketRow(t)); });
        section.appendChild(list);
      }
      root.appendChild(section);
    });
    if (total === 0) {
      var empty = document.createElement("p");
      empty.className = "q-empty";
      empty.textContent = L.queue_empty;
      root.appendChild(empty);
    }
  }

  function renderFigures() {
    var f = state.figures;
    $("fig-served").textContent = f ? String(f.served) : "—";
    $("fig-no-show").textContent = f ? String(f.no_show) : "—";
    $("fig-mean").textContent = f && f.mean_service_minutes !== null ? fill(L.minutes, { n: f.mean_service_minutes }) : "—";
  }

  function renderKeys() {
    Array.prototype.forEach.call(document.querySelectorAll("#keys button"), function (button) {
      button.disabled = !usable(button.dataset.action);
    });
  }

  function render() {
    renderCounter();
    renderCurrent();
    renderQueue();
    renderFigures();
    renderKeys();
  }

  function say(text, kind) {
    var el = $("message");
    el.hidden = !text;
    el.textContent = text || "";
    el.className = "message " + (kind || "ok");
  }

  // ------------------------------------------------------------------ state updates
  function setCurrent(ticket) {
    var before = state.current;
    if (!ticket) {
      state.current = null;
      return;
    }
    // Merge: the counter's summary and the full record (from calls, replies, or a fetch) complete each other.
    state.current = (before && before.id === ticket.id) ? Object.assign({}, before, ticket) : Object.assign({}, ticket);
    if (!state.current.issued_at) { fetchTicket(ticket.id); }
  }

  function applyCounter(counter) {
    if (!counter || counter.code !== CODE) { return; }
    var reason = state.counter ? state.counter.pause_reason : null;
    state.counter = Object.assign({}, counter);
    // Public counter events leave the reason out; keep the one we know while still paused.
    if (counter.state !== "paused") { state.counter.pause_reason = null; }
    else if (counter.pause_reason === undefined) { state.counter.pause_reason = reason; }
    setCurrent(counter.ticket || null);
  }

  function setLine(service, tickets, count) {
    state.lines[service] = tickets || [];
    if (count !== undefined && count !== null) { state.counts[service] = count; }
    else { delete state.counts[service]; }
  }

  function fetchTicket(id) {
    api("GET", "/tickets/" + id).then(function (reply) {
      if (reply.status === 200 && state.current && state.current.id === id) {
        state.current = Object.assign({}, state.current, reply.body, { status: state.current.status });
        render();
      }
    }, function () { /* the next event or snapshot brings it */ });
  }

  function fetchFigures() {
    api("GET", "/counters/" + CODE + "/figures").then(function (reply) {
      if (reply.status === 200) { state.figures = reply.body.figures; renderFigures(); }
    }, function () { /* shown again after the next change */ });
  }

  // ------------------------------------------------------------------ REST


  function refusal(reply) {
    var error = (reply.body && reply.body.error) || { code: "", message: "HTTP " + reply.status };
    var label = L["err_" + error.code] || L.refused;
    return label + ": " + localMessage(error.message);
  }

  var ACTIONS = {
    next: function () { return post("/counters/" + CODE + "/next"); },
    recall: function () { return post("/counters/" + CODE + "/recall"); },
    start: function () { return post("/counters/" + CODE + "/start"); },
    finish: function () { return post("/counters/" + CODE + "/finish"); },
    no_show: function () { return post("/counters/" + CODE + "/no-show"); },
    resume: function () { return post("/counters/" + CODE + "/resume"); },
    pause: function (input) { return post("/counters/" + CODE + "/pause", { reason: input.reason || null }); },
    transfer: function (input) {
      var body = { service: input.service };
      if (input.priority) { body.priority = input.priority; }
      if (input.note) { body.note = input.note; }
      return post("/counters/" + CODE + "/transfer", body);
    },
    call: function (input) { return post("/counters/" + CODE + "/call", { ticket: input.number }); },
    "return": function (input) { return post("/tickets/" + input.id + "/return"); }
  };

  function post(path, body) { return api("POST", path, body); }

  // What a successful reply means for the page, and what to tell the nurse.
  function applyReply(action, reply, input) {
    var t = reply.body;
    switch (action) {
      case "next":
        if (reply.status === 204) { setCurrent(null); return L.ok_empty; }
        setCurrent(t);
        return fill(L.ok_next, { number: t.number });
      case "call":
        setCurrent(t);
        return fill(L.ok_call, { number: t.number });
      case "recall":
        setCurrent(t);
        return fill(L.ok_recall, { number: t.number, count: t.call_count });
      case "start":
        setCurrent(t);
        return fill(L.ok_start, { number: t.number });
      case "finish":
        setCurrent(null);
        return fill(L.ok_finish, { number: t.number });
      case "no_show":
        setCurrent(null);
        return fill(L.ok_no_show, { number: t.number });
      case "transfer":
        setCurrent(null);
        return fill(L.ok_transfer, { service: serviceName(t.service), number: t.number });
      case "pause":
      case "resume":
        applyCounter(t);
        return action === "pause" ? L.ok_pause : L.ok_resume;
      case "return":
        return fill(L.ok_return, { number: input.number || t.number });
    }
    return "";
  }

  // Runs one action; resolves to null on success or to the text of the refusal.
  function perform(action, input) {
    state.busy = true;
    renderKeys();
    return ACTIONS[action](input || {}).then(function (reply) {
      if (reply.status >= 400) { return refusal(reply); }
      say(applyReply(action, reply, input || {}), "ok");
      return null;
    }, function () {
      return L.unreachable;
    }).then(function (problem) {
      state.busy = false;
      if (problem) { say(problem, "error"); }
      render();
      return problem;
    });
  }

  // ------------------------------------------------------------------ keys and dialogs
  function openDialog() { return document.querySelector("dialog[open]"); }

  function trigger(action, key) {
    if (state.busy) { return; }  // one action at a time; the one under way reports its outcome
    if (!usable(action)) {
      if (key) { say(fill(L.not_now, { key: key.toUpperCase() }), "hint"); }
      return;
    }
    if (DIALOGS[action]) { showDialog(action); return; }
    perform(action);
  }

  function showDialog(action) {
    var dialog = $(DIALOGS[action]);
    var form = dialog.querySelector("form");
    form.reset();
    dialogError(form, null);
    if (action === "transfer") {
      // The patient's own service is no transfer target; nothing is preselected, so a choice is made.
      Array.prototype.forEach.call(form.elements.service.options, function (option) {
        option.disabled = !!state.current && option.value === state.current.service;
      });
    }
    if (action === "return") { loadNoShows(form); }
    dialog.showModal();
    var focus = form.querySelector("input[type=text], input:not([type]), select");
    if (focus) { focus.focus(); }
  }

  function dialogError(form, text) {
    var el = form.querySelector(".dlg-error");
    el.hidden = !text;
    el.textContent = text || "";
  }

  function loadNoShows(form) {
    var list = $("no-shows");
    list.textContent = "";
    api("GET", "/counters/" + CODE + "/no-shows").then(function (reply) {
      if (reply.status !== 200) { dialogError(form, refusal(reply)); return; }
      list.dataset.loaded = "yes";
      if (!reply.body.tickets.length) {
        var none = document.createElement("li");
        none.className = "none";
        none.textContent = L.no_no_shows;
        list.appendChild(none);
      }
      reply.body.tickets.forEach(function (t) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.dataset.ticket = t.id;
        button.dataset.number = t.number;
        var at = t.no_show_at ? clockTime(t.no_show_at) : "";
        button.textContent = t.number + " · " + serviceName(t.service) + " · " + fill(L.no_show_at, { time: at });
        button.addEventListener("click", function () { submitDialog(form, { id: t.id, number: t.number }); });
        li.appendChild(button);
        list.appendChild(li);
      });
    }, function () { dialogError(form, L.unreachable); });
  }

  function dialogInput(form) {
    var action = form.dataset.action;
    if (action === "transfer") {
      return { service: form.elements.service.value, priority: form.elements.priority.value,
               note: form.elements.note.value.trim() };
    }
    if (action === "pause") {
      var preset = form.querySelector("input[name=preset]:checked");
      return { reason: form.elements.reason.value.trim() || (preset ? preset.value : "") };
    }
    var number = form.elements.number.value.trim().toUpperCase();
    if (action === "return") {
      var match = document.querySelector('#no-shows button[data-number="' + number + '"]');
      return match ? { id: parseInt(match.dataset.ticket, 10), number: number } : { number: number, missing: true };
    }
    return { number: number };
  }

  function submitDialog(form, input) {
    var action = form.dataset.action;
    if (action === "return" && input.missing) {
      dialogError(form, fill(L.not_in_no_shows, { number: input.number }));
      return;
    }
    if (!state.connected) { dialogError(form, L.unreachable); return; }
    perform(action, input).then(function (problem) {
      if (problem) { dialogError(form, problem); } else { form.closest("dialog").close(); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("dialog form"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitDialog(form, dialogInput(form));
    });
    form.querySelector("[data-close]").addEventListener("click", function () { form.closest("dialog").close(); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("#keys button"), function (button) {
    button.addEventListener("click", function () { trigger(button.dataset.action); });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat || openDialog()) { return; }
    var target = event.target;
    if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) { return; }
    var action = KEYMAP[(event.key || "").toLowerCase()];
    if (!action) { return; }
    event.preventDefault();
    trigger(action, event.key);
  });

  // Clicking a waiting ticket offers to call it out of turn.
  $("queue").addEventListener("click", function (event) {
    var row = event.target.closest("li[data-number]");
    if (!row || !usable("call")) { return; }
    showDialog("call");
    $("dlg-call").querySelector("input[name=number]").value = row.dataset.number;
  });

  // ------------------------------------------------------------------ live updates
  // Back within a few seconds of the hub: a counter cannot work while the console waits.
  var socket = io({ transports: ["websocket", "polling"], reconnectionDelay: 500, reconnectionDelayMax: 3000 });

  socket.on("connect", function () {
    state.connected = true;
    socket.emit("subscribe", { counter: CODE });  // on every connect: a fresh snapshot after a reconnect
    render();
  });

  socket.on("disconnect", function () {
    state.connected = false;
    render();
  });

  socket.on("snapshot", function (m) {
    if (m.kind !== "counter") { return; }
    state.clockOffset = Date.parse(m.server_time) - Date.now();
    state.lines = {};
    state.counts = {};
    (m.queue || []).forEach(function (t) { (state.lines[t.service] = state.lines[t.service] || []).push(t); });
    state.figures = m.figures;
    state.current = null;
    applyCounter(m.counter);
    render();
  });

  socket.on("counter", function (m) { applyCounter(m.counter); render(); });

  socket.on("call", function (m) {
    if (m.counter && m.counter.code === CODE) {
      applyCounter(m.counter);
      setCurrent(m.ticket);
      render();
    }
  });

  socket.on("ticket", function (m) {
    var t = m.ticket;
    if (state.current && t.id === state.current.id) {
      setCurrent(["called", "serving", "on_hold"].indexOf(t.status) >= 0 ? t : null);
    }
    if (t.counter === CODE && ["finish", "no-show", "transfer"].indexOf(m.action) >= 0) { fetchFigures(); }
    render();
  });

  socket.on("queue", function (m) {
    if (!m.service || setup.counter_services.indexOf(m.service.code) < 0 || !m.queue) { return; }
    setLine(m.service.code, m.queue, m.service.waiting);
    render();
  });

  socket.on("error", function (m) { say(localMessage(m && m.message), "error"); });

  // Waiting minutes move on even when nothing happens.
  setInterval(function () { renderCurrent(); renderQueue(); }, 15000);
  render();
})();

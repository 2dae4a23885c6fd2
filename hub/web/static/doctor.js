// The doctor's page: the room's queue and console keys (the same REST calls as the nurse console), the
// patient of the current ticket (record, intake, history), the examination and the lab/imaging orders.
// Live state comes from the room's Socket.IO counter room; "order" events there refresh the results.
(function () {
  "use strict";

  var C = window.Clinical;
  var setup = JSON.parse(document.getElementById("doctor-setup").textContent);
  var L = setup.labels;
  var LANG = setup.lang;
  var CODE = setup.counter;
  var KEYMAP = { n: "next", r: "recall", s: "start", f: "finish", v: "no_show", t: "transfer" };
  var ACTIVE = ["called", "serving", "on_hold"];

  var state = {
    connected: false,
    busy: false,
    counter: null,
    current: null,      // the room's current ticket (summary from the counter)
    lines: {},          // service -> waiting tickets in calling order
    clockOffset: 0,
    visit: null,        // the visit on screen: stays after the ticket leaves the room, until the next call
    visitTicket: null,  // the ticket whose visit is on screen
    formVisit: null,    // the visit whose exam the form holds (a refresh never overwrites typing)
    history: null
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, props, children) { return C.el(tag, props, children); }
  function serviceName(code) { return (setup.services[code] || { name: code }).name; }

  function say(text, kind) { C.say(text, kind); }

  function minutesSince(iso) {
    return Math.max(0, Math.floor((Date.now() + state.clockOffset - Date.parse(iso)) / 60000));
  }

  // ------------------------------------------------------------------ console keys
  function status() { return state.current ? state.current.status : null; }

  var ALLOWED = {
    next: function () { return true; },
    recall: function () { return status() === "called"; },
    start: function () { return status() === "called"; },
    no_show: function () { return status() === "called"; },
    finish: function () { return status() === "serving"; },
    transfer: function () { return status() === "serving"; }
  };

  function usable(action) { return state.connected && !state.busy && state.counter !== null && ALLOWED[action](); }

  function post(path, body) { return C.api("POST", path, body); }

  var ACTIONS = {
    next: function () { return post("/counters/" + CODE + "/next"); },
    recall: function () { return post("/counters/" + CODE + "/recall"); },
    start: function () { return post("/counters/" + CODE + "/start"); },
    finish: function () { return post("/counters/" + CODE + "/finish"); },
    no_show: function () { return post("/counters/" + CODE + "/no-show"); },
    transfer: function (input) { return post("/counters/" + CODE + "/transfer", input); },
    call: function (input) { return post("/counters/" + CODE + "/call", { ticket: input.id }); }
  };

  function outcome(action, reply) {
    var t = reply.body;
    if (action === "next" && reply.status === 204) { setCurrent(null); return L.ok_empty; }
    // The patient stays on screen after finish or transfer, until the next call.
    setCurrent(["finish", "no_show", "transfer"].indexOf(action) >= 0 ? null : t);
    var key = { next: "ok_next", recall: "ok_recall", start: "ok_start", finish: "ok_finish", no_show: "ok_no_show",
                transfer: "ok_transfer", call: "ok_call" }[action];
    return C.fill(L[key], { number: t.number, service: serviceName(t.service) });
  }

  function perform(action, input) {
    state.busy = true;
    renderKeys();
    return ACTIONS[action](input || {}).then(function (reply) {
      if (reply.status >= 400) { return C.refusal(reply, L, LANG); }
      say(outcome(action, reply), "ok");
      return null;
    }, function () { return L.unreachable; }).then(function (problem) {
      state.busy = false;
      if (problem) { say(problem, "error"); }
      render();
      return problem;
    });
  }

  function trigger(action) {
    if (!usable(action)) { return; }
    if (action === "transfer") { openTransfer(); return; }
    perform(action);
  }

  function openTransfer() {
    var dialog = $("dlg-transfer");
    var form = dialog.querySelector("form");
    form.reset();
    formError(form, null);
    dialog.showModal();
  }

  (function wireTransfer() {
    var dialog = $("dlg-transfer");
    var form = dialog.querySelector("form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { service: form.elements.service.value };
      if (form.elements.note.value.trim()) { body.note = form.elements.note.value.trim(); }
      perform("transfer", body).then(function (problem) {
        if (problem) { formError(form, problem); } else { dialog.close(); }
      });
    });
    form.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
  })();

  Array.prototype.forEach.call(document.querySelectorAll("#keys button"), function (button) {
    button.addEventListener("click", function () { trigger(button.dataset.action); });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat || document.querySelector("dialog[open]")) {
      return;
    }
    if (event.target && /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName)) { return; }
    var action = KEYMAP[(event.key || "").toLowerCase()];
    if (action) { event.preventDefault(); trigger(action); }
  });

  // Clicking a waiting ticket calls it out of turn (a returning patient of this room, say).
  $("queue").addEventListener("click", function (event) {
    var row = event.target.closest("li[data-ticket]");
    if (!row || state.current || state.busy || !state.connected) { return; }
    if (window.confirm(C.fill(L.confirm_call, { number: row.dataset.number }))) {
      perform("call", { id: parseInt(row.dataset.ticket, 10) });
    }
  });

  // ------------------------------------------------------------------ rendering the room
  function renderKeys() {
    Array.prototype.forEach.call(document.querySelectorAll("#keys button"), function (button) {
      button.disabled = !usable(button.dataset.action);
    });
  }

  function renderRoom() {
    var c = state.counter;
    var badge = $("counter-state");
    badge.dataset.state = c ? c.state : "";
    badge.textContent = c ? (L[c.state] || c.state) : "…";
    $("conn").hidden = state.connected;
    $("doctor").dataset.connected = state.connected ? "yes" : "no";
    var t = state.current;
    $("current").dataset.status = t ? t.status : "";
    $("cur-number").textContent = t ? t.number : "—";
    $("cur-status").textContent = t ? (L[t.status] || t.status) : "";
    var prio = $("cur-priority");
    prio.hidden = !t || t.priority === "normal";
    if (t && t.priority !== "normal") {
      prio.textContent = "★ " + (setup.priorities[t.priority] || t.priority);
      prio.dataset.priority = t.priority;
    }
  }

  function renderQueue() {
    var root = $("queue");
    root.textContent = "";
    var total = 0;
    setup.counter_services.forEach(function (code) {
      var tickets = state.lines[code] || [];
      total += tickets.length;
      if (!tickets.length) { return; }
      root.appendChild(el("h3", { text: serviceName(code) + " — " + C.fill(L.waiting_count, { n: tickets.length }) }));
      root.appendChild(el("ol", {}, tickets.map(function (t) {
        var marks = [];
        if (t.priority && t.priority !== "normal") {
          marks.push(el("span", { className: "prio", dataset: { priority: t.priority },
                                  text: "★ " + (setup.priorities[t.priority] || t.priority) }));
        }
        return el("li", { dataset: { ticket: String(t.id), number: t.number, priority: t.priority } }, [
          el("span", { className: "q-number", text: t.number })
        ].concat(marks).concat([
          el("span", { className: "q-wait", text: C.fill(L.waited, { n: minutesSince(t.issued_at) }) })
        ]));
      })));
    });
    if (!total) { root.appendChild(el("p", { className: "empty", text: L.queue_empty })); }
  }

  function render() {
    renderRoom();
    renderKeys();
    renderQueue();
  }

  // ------------------------------------------------------------------ the patient on screen
  function setCurrent(ticket) {
    state.current = ticket ? Object.assign({}, state.current && state.current.id === ticket.id ? state.current : {},
                                           ticket) : null;
    if (state.current && ACTIVE.indexOf(state.current.status) < 0) { state.current = null; }
    if (state.current && state.current.id !== state.visitTicket) { loadVisitOfTicket(state.current.id); }
  }

  function loadVisitOfTicket(ticketId) {
    state.visitTicket = ticketId;
    C.api("GET", "/tickets/" + ticketId + "/visit").then(function (reply) {
      if (reply.status === 200 && state.visitTicket === ticketId) { showVisit(reply.body); }
    }, function () { /* the next event brings it again */ });
  }

  var refreshTimer = null;
  function refreshVisit() {
    if (!state.visit) { return; }
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var id = state.visit.id;
      C.api("GET", "/visits/" + id).then(function (reply) {
        if (reply.status === 200 && state.visit && state.visit.id === id) { showVisit(reply.body); }
      }, function () { /* shown again after the next change */ });
    }, 200);
  }

  function showVisit(visit) {
    var changed = !state.visit || state.visit.id !== visit.id;
    state.visit = visit;
    $("visit-empty").hidden = true;
    $("visit").hidden = false;
    $("visit").dataset.visit = String(visit.id);
    renderPatient();
    renderOrders();
    if (changed || state.formVisit !== visit.id) { fillExam(); }
    if (changed) {
      $("order-outcome").hidden = true;
      loadHistory();
    }
  }

  function renderPatient() {
    var v = state.visit;
    var p = v.patient;
    $("p-name").textContent = p ? p.full_name : L.no_patient;
    var facts = [];
    if (p) {
      facts.push(p.code);
      if (p.age !== null) { facts.push(C.fill(L.years, { n: p.age })); }
      if (p.sex) { facts.push(p.sex); }
      if (p.insurance_no) { facts.push("BHYT " + p.insurance_no); }
    }
    $("p-facts").textContent = facts.join(" · ");
    $("p-tickets").textContent = v.tickets.map(function (t) {
      return t.number + " " + serviceName(t.service) + " (" + (L["t_" + t.status] || t.status) + ")";
    }).join(" → ");
    var intake = v.intake;
    var text = intake ? [intake.reason, intake.symptoms].filter(Boolean).join(" — ") : "";
    $("intake-text").textContent = text || L.no_intake;
    // The identity rule: nothing clinical is written on an anonymous visit, so the forms give way to the
    // identify step instead of failing on save.
    var anonymous = !p;
    $("identify").hidden = !anonymous;
    ["exam-form", "order-form", "follow-up-form"].forEach(function (id) {
      if ($(id)) { $(id).hidden = anonymous; }
    });
    if (!anonymous) { $("id-results").textContent = ""; $("id-duplicates").textContent = ""; }
    Array.prototype.forEach.call($("prints").querySelectorAll("a[data-print]"), function (link) {
      link.href = C.fill(setup.print_url, { visit: v.id, kind: link.dataset.print });
    });
  }

  // ------------------------------------------------------------------ identify this patient
  function identifyError(text) {
    $("id-error").hidden = !text;
    $("id-error").textContent = text || "";
  }

  function identifyWith(body) {
    var id = state.visit.id;
    identifyError(null);
    return post("/visits/" + id + "/patient", body).then(function (reply) {
      if (reply.status === 200) {
        say(C.fill(L.ok_identified, { name: reply.body.patient.full_name }), "ok");
        state.visit = null;  // shown afresh: history and the exam form of the identified patient
        showVisit(reply.body);
      } else { identifyError(C.refusal(reply, L, LANG)); }
      return reply;
    }, function () { identifyError(L.unreachable); });
  }

  function patientChoice(patient, label) {
    var facts = [patient.code, patient.date_of_birth ? C.day(patient.date_of_birth, LANG) : "", patient.phone || ""];
    return el("li", {}, [
      el("span", { text: patient.full_name + " · " + facts.filter(Boolean).join(" · ") }),
      el("button", { type: "button", text: label, dataset: { patient: patient.code } })
    ]);
  }

  $("id-card").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = event.target.elements.cccd;
    if (input.value.trim()) { identifyWith({ cccd: input.value.trim() }).then(function () { input.value = ""; }); }
  });

  $("id-search").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = event.target.elements.q.value.trim();
    var list = $("id-results");
    list.textContent = "";
    if (!q) { return; }
    C.api("GET", "/patients?q=" + encodeURIComponent(q)).then(function (reply) {
      if (reply.status !== 200) { identifyError(C.refusal(reply, L, LANG)); return; }
      if (!reply.body.patients.length) { list.appendChild(el("li", { className: "empty", text: L.not_found })); }
      reply.body.patients.forEach(function (patient) { list.appendChild(patientChoice(patient, L.choose)); });
    }, function () { identifyError(L.unreachable); });
  });

  function onChoice(event) {
    var button = event.target.closest("button[data-patient]");
    if (button) { identifyWith({ patient: button.dataset.patient }); }
  }
  $("id-results").addEventListener("click", onChoice);
  $("id-duplicates").addEventListener("click", function (event) {
    if (event.target.closest("button[data-confirm-new]")) { register(true); } else { onChoice(event); }
  });

  function register(confirmNew) {
    var form = $("id-register");
    var person = { confirm_new: confirmNew };
    ["full_name", "date_of_birth", "sex", "phone"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) { person[name] = value; }
    });
    var list = $("id-duplicates");
    identifyWith({ new_patient: person }).then(function (reply) {
      list.textContent = "";
      if (!reply || reply.status !== 409 || reply.body.error.code !== "possible_duplicate") { return; }
      identifyError(L.possible_duplicate);
      reply.body.error.details.candidates.forEach(function (patient) {
        list.appendChild(patientChoice(patient, L.same_person));
      });
      list.appendChild(el("li", {}, [el("button", { type: "button", text: L.other_person,
                                                    dataset: { confirmNew: "1" } })]));
    });
  }

  $("id-register").addEventListener("submit", function (event) { event.preventDefault(); register(false); });

  function fillExam() {
    var form = $("exam-form");
    var exam = state.visit.exam || {};
    ["notes", "diagnosis_code", "diagnosis_text", "prescription"].forEach(function (name) {
      form.elements[name].value = exam[name] || "";
    });
    ["weight_kg", "height_cm"].forEach(function (name) {
      form.elements[name].value = exam[name] === null || exam[name] === undefined ? "" : String(exam[name]);
    });
    $("rx-lines").textContent = "";
    (exam.prescription_lines || []).forEach(function (line) { addLine(line, false); });
    renumber();
    $("weight-hint").hidden = !youngChild(state.visit);
    formError(form, null);
    $("exam-saved").textContent = "";
    state.formVisit = state.visit.id;
  }

  function orderRow(order) {
    var actions = [];
    if (order.status === "resulted" && !order.released) {
      actions.push(el("button", { type: "button", className: "release", text: L.release,
                                  dataset: { order: String(order.id), act: "release" } }));
    }
    if (order.status === "resulted" && order.released) {
      actions.push(el("span", { className: "released", text: L.released }));
    }
    if (order.status === "ordered" || order.status === "in_progress") {
      actions.push(el("button", { type: "button", text: L.cancel,
                                  dataset: { order: String(order.id), act: "cancel", name: order.name } }));
    }
    return el("tr", { dataset: { order: String(order.id), status: order.status, item: order.item } }, [
      el("td", { text: order.name }),
      el("td", { text: serviceName(order.service) + (order.ticket ? " · " + order.ticket.number : "") }),
      el("td", { className: "status status-" + order.status, text: L["status_" + order.status] || order.status }),
      el("td", {}, [C.results(order, LANG)]),
      el("td", { className: "actions" }, actions)
    ]);
  }

  function renderOrders() {
    var root = $("orders");
    root.textContent = "";
    var orders = state.visit.orders;
    if (!orders.length) { root.appendChild(el("p", { className: "empty", text: L.no_orders })); return; }
    var head = el("tr", {}, [L.h_item, L.h_where, L.h_status, L.h_results, ""].map(function (text) {
      return el("th", { text: text });
    }));
    root.appendChild(el("table", { className: "grid orders" }, [el("thead", {}, [head]),
                                                                el("tbody", {}, orders.map(orderRow))]));
  }

  $("orders").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-act]");
    if (!button) { return; }
    var act = button.dataset.act;
    if (act === "cancel" && !window.confirm(C.fill(L.confirm_cancel, { name: button.dataset.name }))) { return; }
    button.disabled = true;
    post("/orders/" + button.dataset.order + "/" + act, {}).then(function (reply) {
      if (reply.status >= 400) { say(C.refusal(reply, L, LANG), "error"); } else {
        say(act === "release" ? L.ok_release : L.ok_cancel, "ok");
      }
      refreshVisit();
    }, function () { say(L.unreachable, "error"); button.disabled = false; });
  });

  function loadHistory() {
    var root = $("history");
    root.textContent = "";
    var p = state.visit.patient;
    if (!p) { root.appendChild(el("p", { className: "empty", text: L.no_history })); return; }
    var id = state.visit.id;
    C.api("GET", "/patients/" + encodeURIComponent(p.code) + "/history?exclude=" + id).then(function (reply) {
      if (reply.status !== 200 || !state.visit || state.visit.id !== id) { return; }
      var visits = reply.body.visits;
      if (!visits.length) { root.appendChild(el("p", { className: "empty", text: L.no_history })); return; }
      visits.forEach(function (v) {
        var dx = v.exam && v.exam.diagnosis_code ? v.exam.diagnosis_code + " " + (v.exam.diagnosis_text || "") : "";
        var title = C.day(v.day, LANG) + " · " + v.services.map(serviceName).join(", ") + (dx ? " · " + dx : "");
        var body = [];
        if (v.exam && v.exam.notes) { body.push(el("p", { text: v.exam.notes })); }
        var drugs = v.exam ? (v.exam.prescription_lines || []).map(function (line) {
          return line.name + " " + line.quantity + " " + line.unit;
        }) : [];
        if (v.exam && v.exam.prescription) { drugs.push(v.exam.prescription); }
        if (drugs.length) { body.push(el("p", { className: "rx", text: "Rx: " + drugs.join("; ") })); }
        v.orders.forEach(function (o) {
          body.push(el("div", { className: "h-order" }, [
            el("strong", { text: o.name + " — " + (L["status_" + o.status] || o.status) }), C.results(o, LANG)]));
        });
        root.appendChild(el("details", { className: "h-visit" }, [el("summary", { text: title })].concat(body)));
      });
    }, function () { /* history is a convenience: the page works without it */ });
  }

  // ------------------------------------------------------------------ examination
  function formError(form, text) {
    var box = form.querySelector(".form-error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  $("exam-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    if (!state.visit) { return; }
    var body = {};
    ["notes", "diagnosis_code", "diagnosis_text", "prescription"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) { body[name] = value; }
    });
    var vitals = {};
    ["weight_kg", "height_cm"].forEach(function (name) {
      var value = form.elements[name].value.trim().replace(",", ".");
      if (value) { vitals[name] = Number(value); }
    });
    var lines = collectLines();
    if (typeof lines === "string") { formError(form, lines); return; }
    body.prescription_lines = lines;
    if (Object.keys(vitals).some(function (name) { return !isFinite(vitals[name]); })) {
      formError(form, L.err_bad_weight); return;
    }
    Object.assign(body, vitals);
    if (state.current && state.visitTicket === state.current.id) { body.ticket = state.current.id; }
    var id = state.visit.id;
    C.api("PUT", "/visits/" + id + "/exam", body).then(function (reply) {
      if (reply.status >= 400) {
        formError(form, C.refusal(reply, L, LANG));
        var code = reply.body && reply.body.error ? reply.body.error.code : "";
        if (code === "weight_required" || code === "bad_weight") { form.elements.weight_kg.focus(); }
        return;
      }
      formError(form, null);
      if (state.visit && state.visit.id === id) {
        state.visit.exam = reply.body.exam;
        fillExam();
      }
      $("exam-saved").textContent = L.ok_exam;
    }, function () { formError(form, L.unreachable); });
  });

  // ------------------------------------------------------------------ prescription lines
  // A child under 72 months needs the weight on the prescription (the hub refuses without it).
  function youngChild(visit) {
    var born = visit && visit.patient && visit.patient.date_of_birth;
    if (!born) { return false; }
    var b = born.split("-").map(Number);
    var d = visit.day.split("-").map(Number);
    var months = (d[0] - b[0]) * 12 + d[1] - b[1] - (d[2] < b[2] ? 1 : 0);
    return months < 72;
  }

  function cellInput(name, value, props) {
    return el("input", Object.assign({ name: name, value: value === null || value === undefined ? "" : String(value) },
                                     props || {}));
  }

  function renumber() {
    var rows = $("rx-lines").querySelectorAll("tr");
    Array.prototype.forEach.call(rows, function (row, i) { row.querySelector("td.n").textContent = String(i + 1); });
    $("rx-table").hidden = !rows.length;
    $("rx-empty").hidden = !!rows.length;
  }

  // One row per drug: a catalogue drug shows its name, form and route; a free-text drug is typed in.
  function addLine(line, focus) {
    var free = !line.drug_code;
    var drug = free ? el("div", { className: "free-drug" }, [
      cellInput("name", line.name, { placeholder: L.rx_name, maxLength: 200, required: true }),
      cellInput("strength", line.strength, { placeholder: L.rx_strength, maxLength: 40 }),
      cellInput("unit", line.unit, { placeholder: L.rx_unit, maxLength: 20, required: true })
    ]) : el("div", {}, [el("div", { className: "drug-name", text: line.name }),
                        el("div", { className: "drug-meta", text: [line.form, line.route].filter(Boolean).join(" · ") })]);
    var unit = el("span", { className: "unit", text: free ? "" : line.unit });
    var row = el("tr", { dataset: { code: line.drug_code || "", free: free ? "1" : "" } }, [
      el("td", { className: "n" }),
      el("td", { className: "drug" }, [drug]),
      el("td", { className: "dose" }, [cellInput("dose", line.dose, { placeholder: L.rx_dose, maxLength: 200 })]),
      el("td", {}, [cellInput("days", line.days, { type: "number", min: 1, max: 365, step: 1 })]),
      el("td", {}, [el("div", { className: "qty" }, [
        cellInput("quantity", line.quantity, { type: "number", min: 1, max: 10000, step: 1, required: true }), unit])]),
      el("td", { className: "how" }, [cellInput("instructions", line.instructions, { placeholder: L.rx_instructions, maxLength: 300 })]),
      el("td", {}, [el("button", { type: "button", className: "remove", text: L.rx_remove,
                                   title: L.rx_remove + " " + (line.name || "") })])
    ]);
    $("rx-lines").appendChild(row);
    renumber();
    if (focus) { row.querySelector(free ? "input[name=name]" : "input[name=dose]").focus(); }
    return row;
  }

  $("rx-lines").addEventListener("click", function (event) {
    var button = event.target.closest("button.remove");
    if (!button) { return; }
    button.closest("tr").remove();
    renumber();
  });

  $("rx-add-free").addEventListener("click", function () { addLine({ drug_code: null }, true); });

  // The lines as the API takes them, or the message of the first line that is not right.
  function collectLines() {
    var out = [];
    var rows = $("rx-lines").querySelectorAll("tr");
    for (var i = 0; i < rows.length; i += 1) {
      var row = rows[i];
      var value = function (name) { var box = row.querySelector("input[name=" + name + "]"); return box ? box.value.trim() : ""; };
      var quantity = value("quantity");
      if (!/^[0-9]+$/.test(quantity) || Number(quantity) < 1) {
        row.querySelector("input[name=quantity]").focus();
        return C.fill(L.rx_bad_quantity, { n: i + 1 });
      }
      var days = value("days");
      if (days && !/^[0-9]+$/.test(days)) { row.querySelector("input[name=days]").focus(); return C.fill(L.rx_bad_days, { n: i + 1 }); }
      var line = { drug_code: row.dataset.code || null, dose: value("dose"), days: days ? Number(days) : null,
                   quantity: Number(quantity), instructions: value("instructions") };
      if (!line.drug_code) {
        line.name = value("name");
        line.strength = value("strength");
        line.unit = value("unit");
        if (!line.name || !line.unit) {
          row.querySelector(line.name ? "input[name=unit]" : "input[name=name]").focus();
          return C.fill(L.rx_free_needs, { n: i + 1 });
        }
      }
      out.push(line);
    }
    return out;
  }

  // Drug suggestions from the catalogue, as for ICD-10 ("amox 250" finds the syrup); a pick adds a line.
  (function wireDrugs() {
    var input = $("drug-search");
    var list = $("drug-suggestions");
    var timer = null;
    var active = -1;

    function hide() { list.hidden = true; list.textContent = ""; active = -1; }

    function pick(drug) {
      addLine({ drug_code: drug.code, name: drug.name, strength: drug.strength, form: drug.form, unit: drug.unit,
                route: drug.route }, true);
      input.value = "";
      hide();
    }

    function show(drugs) {
      list.textContent = "";
      active = -1;
      drugs.forEach(function (drug) {
        var option = el("li", { role: "option", dataset: { code: drug.code } }, [
          el("strong", { text: drug.name }),
          el("span", { className: "meta", text: " — " + drug.ingredient + " · " + drug.form + " · " + drug.unit })]);
        option.addEventListener("mousedown", function (event) { event.preventDefault(); pick(drug); });
        option.item = drug;
        list.appendChild(option);
      });
      list.hidden = !drugs.length;
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var query = input.value.trim();
      if (!query) { hide(); return; }
      timer = setTimeout(function () {
        C.api("GET", "/drugs?q=" + encodeURIComponent(query)).then(function (reply) {
          if (reply.status === 200 && input.value.trim() === query) { show(reply.body.drugs.slice(0, 10)); }
        }, hide);
      }, 150);
    });

    input.addEventListener("keydown", function (event) {
      var options = list.querySelectorAll("li");
      if (event.key === "Enter") { event.preventDefault(); }  // Enter picks; it never submits the exam
      if (list.hidden || !options.length) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        Array.prototype.forEach.call(options, function (o, i) { o.setAttribute("aria-selected", i === active); });
      } else if (event.key === "Enter") {
        pick(options[Math.max(active, 0)].item);
      } else if (event.key === "Escape") {
        hide();
      }
    });

    input.addEventListener("blur", function () { setTimeout(hide, 100); });
  })();

  // ICD-10 suggestions: the hub searches its list without diacritics ("viem hong" finds "Viêm họng").
  (function wireIcd() {
    var form = $("exam-form");
    var input = form.elements.diagnosis_code;
    var list = $("icd-suggestions");
    var timer = null;
    var active = -1;

    function hide() { list.hidden = true; list.textContent = ""; active = -1; }

    function pick(item) {
      input.value = item.code;
      form.elements.diagnosis_text.value = LANG === "en" && item.name_en ? item.name_en : item.name;
      hide();
    }

    function show(codes) {
      list.textContent = "";
      active = -1;
      codes.forEach(function (item) {
        var option = el("li", { role: "option", dataset: { code: item.code } }, [
          el("strong", { text: item.code }), el("span", { text: " " + (LANG === "en" && item.name_en ? item.name_en : item.name) })]);
        option.addEventListener("mousedown", function (event) { event.preventDefault(); pick(item); });
        option.item = item;
        list.appendChild(option);
      });
      list.hidden = !codes.length;
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var query = input.value.trim();
      if (!query) { hide(); return; }
      timer = setTimeout(function () {
        C.api("GET", "/icd10?q=" + encodeURIComponent(query)).then(function (reply) {
          if (reply.status === 200 && input.value.trim() === query) { show(reply.body.codes.slice(0, 10)); }
        }, hide);
      }, 150);
    });

    input.addEventListener("keydown", function (event) {
      var options = list.querySelectorAll("li");
      if (list.hidden || !options.length) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        Array.prototype.forEach.call(options, function (o, i) { o.setAttribute("aria-selected", i === active); });
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(options[active].item);
      } else if (event.key === "Escape") {
        hide();
      }
    });

    input.addEventListener("blur", function () { setTimeout(hide, 100); });
  })();

  // ------------------------------------------------------------------ orders
  function checkedItems(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name=items]"), function (box) {
      return box.checked;
    });
  }

  function renderTotal() {
    var form = $("order-form");
    var total = checkedItems(form).reduce(function (sum, box) { return sum + parseInt(box.dataset.price, 10); }, 0);
    $("order-total").textContent = total ? C.fill(L.total, { amount: C.money(total, LANG) }) : "";
  }

  $("order-form").addEventListener("change", renderTotal);

  $("order-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    if (!state.visit) { return; }
    var items = checkedItems(form).map(function (box) { return box.value; });
    if (!items.length) { formError(form, L.no_items); return; }
    var body = { items: items, counter: CODE, keep_patient: form.elements.keep_patient.checked };
    if (form.elements.note.value.trim()) { body.note = form.elements.note.value.trim(); }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    post("/visits/" + state.visit.id + "/orders", body).then(function (reply) {
      button.disabled = false;
      if (reply.status >= 400) { formError(form, C.refusal(reply, L, LANG)); return; }
      formError(form, null);
      form.reset();
      renderTotal();
      var lines = [C.fill(L.ok_orders, { count: items.length })];
      reply.body.tickets.forEach(function (t) {
        lines.push(C.fill(L.go_to, { service: serviceName(t.service), number: t.number }));
      });
      var later = [];
      reply.body.orders.forEach(function (o) {
        if (!o.ticket && o.status === "ordered" && later.indexOf(o.service) < 0) { later.push(o.service); }
      });
      if (later.length) { lines.push(C.fill(L.later, { services: later.map(serviceName).join(", ") })); }
      var box = $("order-outcome");
      box.textContent = lines.join(" ");
      box.hidden = false;
      showSlip(box, reply.body.slip);
      state.visit.orders = reply.body.orders;
      renderOrders();
      refreshVisit();  // the patient's tickets moved on too
    }, function () { button.disabled = false; formError(form, L.unreachable); });
  });

  // The order slip (saved before print): printed, or why not, with a reprint button.
  function showSlip(box, slip) {
    if (!slip) { return; }
    var text = L["slip_" + slip.status] || slip.status;
    var line = el("span", { className: "slip slip-" + slip.status, dataset: { slip: String(slip.id) },
                            text: " " + text });
    box.appendChild(line);
    if (slip.status !== "printed") {
      var again = el("button", { type: "button", className: "reprint", text: L.reprint });
      again.addEventListener("click", function () {
        again.disabled = true;
        post("/slips/" + slip.id + "/reprint", {}).then(function (reply) {
          line.remove(); again.remove();
          if (reply.status >= 400) { say(C.refusal(reply, L, LANG), "error"); } else { showSlip(box, reply.body); }
        }, function () { again.disabled = false; say(L.unreachable, "error"); });
      });
      box.appendChild(again);
    }
  }

  // ------------------------------------------------------------------ live updates
  function applyCounter(counter) {
    if (!counter || counter.code !== CODE) { return; }
    state.counter = counter;
    setCurrent(counter.ticket || null);
  }

  var socket = io({ transports: ["websocket", "polling"], reconnectionDelay: 500, reconnectionDelayMax: 3000 });

  socket.on("connect", function () {
    state.connected = true;
    socket.emit("subscribe", { counter: CODE });
    render();
  });

  socket.on("disconnect", function () { state.connected = false; render(); });

  socket.on("snapshot", function (m) {
    if (m.kind !== "counter") { return; }
    state.clockOffset = Date.parse(m.server_time) - Date.now();
    state.lines = {};
    (m.queue || []).forEach(function (t) { (state.lines[t.service] = state.lines[t.service] || []).push(t); });
    applyCounter(m.counter);
    refreshVisit();
    render();
  });

  socket.on("counter", function (m) { applyCounter(m.counter); render(); });

  socket.on("call", function (m) {
    if (m.counter && m.counter.code === CODE) { applyCounter(m.counter); setCurrent(m.ticket); render(); }
  });

  socket.on("ticket", function (m) {
    var t = m.ticket;
    if (state.current && t.id === state.current.id) { setCurrent(t); }
    if (state.visit && state.visit.tickets.some(function (v) { return v.id === t.id; })) { refreshVisit(); }
    render();
  });

  socket.on("queue", function (m) {
    if (!m.service || setup.counter_services.indexOf(m.service.code) < 0 || !m.queue) { return; }
    state.lines[m.service.code] = m.queue;
    render();
  });

  // An order of this room changed (started, resulted, cancelled...): show it at once.
  socket.on("order", function () { refreshVisit(); });

  setInterval(renderQueue, 30000);
  render();
})();

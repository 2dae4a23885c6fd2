// The lab and imaging worklist: orders grouped by patient, start, results (flag shown while typing,
// computed again by the hub), release and cancel. "order" and "ticket" events of the performing
// services' Socket.IO rooms reload the list, so a new order appears without pressing anything.
(function () {
  "use strict";

  var C = window.Clinical;
  var setup = JSON.parse(document.getElementById("lab-setup").textContent);
  var L = setup.labels;
  var LANG = setup.lang;
  var state = { connected: false, orders: [], editing: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, props, children) { return C.el(tag, props, children); }
  function serviceName(code) { return (setup.services[code] || { name: code }).name; }

  function say(text, kind) { C.say(text, kind); }

  function filters() {
    var form = $("filters");
    return { service: form.elements.service.value, status: form.elements.status.value, day: form.elements.day.value };
  }

  // ------------------------------------------------------------------ the list
  var loadTimer = null;
  function load() {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(function () {
      var f = filters();
      var query = [];
      Object.keys(f).forEach(function (key) { if (f[key]) { query.push(key + "=" + encodeURIComponent(f[key])); } });
      C.api("GET", "/orders?" + query.join("&")).then(function (reply) {
        if (reply.status !== 200) { say(C.refusal(reply, L, LANG), "error"); return; }
        state.orders = reply.body.orders;
        render();
      }, function () { say(L.unreachable, "error"); });
    }, 150);
  }

  function age(patient) {
    if (!patient || !patient.date_of_birth) { return null; }
    var born = new Date(patient.date_of_birth);
    var now = new Date();
    var years = now.getFullYear() - born.getFullYear();
    if (now.getMonth() < born.getMonth() || (now.getMonth() === born.getMonth() && now.getDate() < born.getDate())) {
      years -= 1;
    }
    return years;
  }

  function patientLine(order) {
    var p = order.patient;
    if (!p) { return L.no_patient; }
    var parts = [p.full_name, p.code];
    var years = age(p);
    if (years !== null) { parts.push(C.fill(L.years, { n: years })); }
    if (p.sex) { parts.push(p.sex); }
    return parts.join(" · ");
  }

  function actionButton(order, act, text) {
    return el("button", { type: "button", text: text, className: "act-" + act,
                          dataset: { order: String(order.id), act: act } });
  }

  function orderRow(order) {
    var actions = [];
    if (order.status === "ordered") { actions.push(actionButton(order, "start", L.start)); }
    if (order.status === "in_progress") { actions.push(actionButton(order, "result", L.enter)); }
    if (order.status === "resulted" && !order.released) { actions.push(actionButton(order, "release", L.release)); }
    if (order.status === "resulted" && order.released) { actions.push(el("span", { className: "released", text: L.released })); }
    if (order.status === "ordered" || order.status === "in_progress") { actions.push(actionButton(order, "cancel", L.cancel)); }
    var flagged = (order.values || []).filter(function (v) { return v.flag; }).length;
    var detail = [el("span", { className: "item", text: order.name })];
    if (order.note) { detail.push(el("span", { className: "note", text: order.note })); }
    if (flagged) { detail.push(el("span", { className: "flagged", text: C.fill(L.flags, { n: flagged }) })); }
    return el("tr", { dataset: { order: String(order.id), status: order.status, item: order.item } }, [
      el("td", { className: "time", text: C.clockTime(order.created_at, LANG, setup.timezone) }),
      el("td", {}, detail),
      el("td", { text: serviceName(order.service) }),
      el("td", { className: "status status-" + order.status, text: L["status_" + order.status] || order.status }),
      el("td", {}, [order.status === "resulted" ? C.results(order, LANG) : null]),
      el("td", { className: "actions" }, actions)
    ]);
  }

  function render() {
    var root = $("worklist");
    root.textContent = "";
    if (!state.orders.length) { root.appendChild(el("p", { className: "empty", text: L.no_orders })); return; }
    // One block per patient visit: the lab takes one patient's samples at once.
    var visits = [];
    var byVisit = {};
    state.orders.forEach(function (order) {
      if (!byVisit[order.visit_id]) { byVisit[order.visit_id] = []; visits.push(order.visit_id); }
      byVisit[order.visit_id].push(order);
    });
    visits.forEach(function (visitId) {
      var orders = byVisit[visitId];
      var first = orders[0];
      var tickets = [];
      orders.forEach(function (o) { if (o.ticket && tickets.indexOf(o.ticket.number) < 0) { tickets.push(o.ticket.number); } });
      var waiting = orders.filter(function (o) { return o.status === "ordered"; });
      var head = [el("strong", { text: patientLine(first) })];
      if (tickets.length) { head.push(el("span", { className: "ticket", text: C.fill(L.ticket, { number: tickets.join(", ") }) })); }
      head.push(el("span", { className: "by", text: C.fill(L.ordered_by, { who: first.ordered_by_name || first.ordered_by.replace(/^user:/, "") }) }));
      if (waiting.length > 1) {
        head.push(el("button", { type: "button", className: "act-start-all", text: L.start_all,
                                 dataset: { visit: String(visitId), act: "start_all" } }));
      }
      if (orders.some(function (o) { return o.status === "resulted"; })) {
        head.push(el("a", { className: "print-results", text: L.print_results, target: "_blank", rel: "noopener",
                            href: setup.print_url.replace("{visit}", String(visitId)) }));
      }
      root.appendChild(el("section", { className: "visit-block", dataset: { visit: String(visitId) } }, [
        el("header", {}, head),
        el("table", { className: "grid worklist" }, [el("tbody", {}, orders.map(orderRow))])
      ]));
    });
  }

  function orderById(id) { return state.orders.filter(function (o) { return o.id === id; })[0]; }

  function act(order, action, body) {
    return C.api("POST", "/orders/" + order.id + "/" + action, body || {}).then(function (reply) {
      if (reply.status >= 400) { say(C.refusal(reply, L, LANG), "error"); return false; }
      var key = { start: "ok_start", result: "ok_result", release: "ok_release", cancel: "ok_cancel" }[action];
      say(C.fill(L[key], { name: order.name }), "ok");
      return true;
    }, function () { say(L.unreachable, "error"); return false; });
  }

  $("worklist").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-act]");
    if (!button) { return; }
    var action = button.dataset.act;
    if (action === "start_all") {
      var visit = parseInt(button.dataset.visit, 10);
      var todo = state.orders.filter(function (o) { return o.visit_id === visit && o.status === "ordered"; });
      button.disabled = true;
      todo.reduce(function (chain, o) { return chain.then(function () { return act(o, "start"); }); },
                  Promise.resolve()).then(load);
      return;
    }
    var order = orderById(parseInt(button.dataset.order, 10));
    if (!order) { return; }
    if (action === "result") { openResult(order); return; }
    var body = {};
    if (action === "cancel") {
      var reason = window.prompt(C.fill(L.confirm_cancel, { name: order.name }), "");
      if (reason === null) { return; }
      if (reason.trim()) { body.reason = reason.trim().slice(0, 200); }
    }
    button.disabled = true;
    act(order, action, body).then(load);
  });

  // ------------------------------------------------------------------ entering results
  function formError(form, text) {
    var box = form.querySelector(".form-error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  function showFlag(input, analyte) {
    var value = C.parseNumber(input.value);
    var cell = input.closest("tr").querySelector(".flag");
    var mark = isNaN(value) ? null : C.flag(value, analyte.low, analyte.high);
    cell.textContent = mark || "";
    input.closest("tr").className = mark ? "flag-" + mark : "";
  }

  function openResult(order) {
    var dialog = $("dlg-result");
    var form = $("result-form");
    form.reset();
    formError(form, null);
    state.editing = order;
    $("dlg-result-title").textContent = order.name;
    $("result-patient").textContent = patientLine(order);
    var lab = order.kind === "lab";
    var table = $("result-values");
    var body = table.querySelector("tbody");
    body.textContent = "";
    table.hidden = !lab;
    order.analytes.forEach(function (a) {
      var input = el("input", { name: "value-" + a.code, inputMode: "decimal", required: true, className: "value" });
      input.dataset.analyte = a.code;
      input.addEventListener("input", function () { showFlag(input, a); });
      body.appendChild(el("tr", {}, [
        el("td", { text: a.name + " (" + a.code + ")" }), el("td", {}, [input]), el("td", { text: a.unit }),
        el("td", { text: C.range(a.low, a.high, LANG) }), el("td", { className: "flag" })
      ]));
    });
    // A lab result may carry a comment; an imaging study is its report.
    form.elements.report.required = !lab;
    dialog.showModal();
    var focus = form.querySelector(lab ? "input.value" : "textarea");
    if (focus) { focus.focus(); }
  }

  $("result-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var order = state.editing;
    if (!order) { return; }
    var body = { release: form.elements.release.checked };
    var report = form.elements.report.value.trim();
    if (report) { body.report = report; }
    if (order.kind === "lab") {
      body.values = {};
      var inputs = form.querySelectorAll("input.value");
      for (var i = 0; i < inputs.length; i += 1) {
        var value = C.parseNumber(inputs[i].value);
        if (isNaN(value)) {
          formError(form, C.fill(L.bad_number, { value: inputs[i].value }));
          inputs[i].focus();
          return;
        }
        body.values[inputs[i].dataset.analyte] = value;
      }
    }
    C.api("POST", "/orders/" + order.id + "/result", body).then(function (reply) {
      if (reply.status >= 400) { formError(form, C.refusal(reply, L, LANG)); return; }
      $("dlg-result").close();
      say(C.fill(L.ok_result, { name: order.name }), "ok");
      load();
    }, function () { formError(form, L.unreachable); });
  });

  $("result-form").querySelector("[data-close]").addEventListener("click", function () { $("dlg-result").close(); });

  $("filters").addEventListener("change", function () {
    var f = filters();
    var params = new URLSearchParams(window.location.search);
    params.set("service", f.service || "all");
    params.set("status", f.status);
    window.history.replaceState(null, "", "?" + params.toString());
    load();
  });

  // ------------------------------------------------------------------ live updates
  var socket = io({ transports: ["websocket", "polling"], reconnectionDelay: 500, reconnectionDelayMax: 3000 });

  socket.on("connect", function () {
    state.connected = true;
    $("conn").hidden = true;
    $("lab").dataset.connected = "yes";
    Object.keys(setup.services).forEach(function (code) { socket.emit("subscribe", { service: code }); });
    load();
  });

  socket.on("disconnect", function () {
    state.connected = false;
    $("conn").hidden = false;
    $("lab").dataset.connected = "no";
  });

  socket.on("order", load);
  socket.on("ticket", load);

  load();
})();

// Live operations: polls GET /api/v1/ops every few seconds; device alerts also arrive at once over
// Socket.IO (the staff "devices" room) and trigger a refresh.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("ops-config").textContent);
  var L = config.labels;
  var en = config.lang === "en";
  var chart = null;
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function text(value) { return value === null || value === undefined ? "—" : String(value); }

  function number(value) {
    if (value === null || value === undefined) { return "—"; }
    return Number(value).toLocaleString(en ? "en-GB" : "vi-VN", { maximumFractionDigits: 1 });
  }

  function cell(row, value, numeric) {
    var td = document.createElement("td");
    td.textContent = value;
    if (numeric) { td.className = "num"; }
    row.appendChild(td);
    return td;
  }

  function renderAlerts(alerts) {
    var list = $("alerts");
    list.textContent = "";
    if (!alerts.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = L.no_alerts;
      list.appendChild(none);
      return;
    }
    alerts.forEach(function (alert) {
      var item = document.createElement("li");
      item.dataset.severity = alert.severity;
      item.dataset.kind = alert.kind;
      item.textContent = en ? alert.message_en : alert.message;
      list.appendChild(item);
    });
  }

  function renderServices(services) {
    var body = $("services").querySelector("tbody");
    body.textContent = "";
    services.forEach(function (s) {
      var row = document.createElement("tr");
      row.dataset.service = s.code;
      row.dataset.alert = s.alerts.length ? "yes" : "no";
      cell(row, en ? s.name_en : s.name);
      cell(row, s.waiting, true).className = "num waiting";
      cell(row, number(s.longest_wait_minutes), true);
      cell(row, s.estimate ? s.estimate.p50_minutes + "–" + s.estimate.p90_minutes : "—", true);
      cell(row, s.served_this_hour, true);
      cell(row, s.counters_open + " / " + s.counters_paused + " / " + s.counters_closed, true);
      body.appendChild(row);
    });
  }

  function renderCounters(counters) {
    var body = $("counters").querySelector("tbody");
    body.textContent = "";
    counters.forEach(function (c) {
      var row = document.createElement("tr");
      row.dataset.counter = c.code;
      cell(row, en ? c.name_en : c.name);
      var state = cell(row, L[c.state] || c.state);
      state.className = "state";
      state.dataset.state = c.state;
      cell(row, c.ticket ? c.ticket.number + " (" + (L[c.ticket.status] || c.ticket.status) + ")" : "—");
      cell(row, c.served_this_hour, true);
      body.appendChild(row);
    });
  }

  function renderDevices(devices) {
    $("devices-summary").textContent = devices.total + " " + L.devices + ": " + devices.online + " " + L.online +
      ", " + devices.offline + " " + L.offline;
    var list = $("devices-offline");
    list.textContent = "";
    devices.offline_list.forEach(function (d) {
      var item = document.createElement("li");
      item.textContent = d.name + " (" + d.type + ")";
      list.appendChild(item);
    });
  }

  function renderChart(services) {
    var labels = services.map(function (s) { return en ? s.name_en : s.name; });
    var values = services.map(function (s) { return s.waiting; });
    var colours = services.map(function (s) { return s.alerts.length ? "#e07a1f" : "#0b7a75"; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values;
      chart.data.datasets[0].backgroundColor = colours;
      chart.update("none");
      return;
    }
    chart = new Chart($("chart-waiting"), {
      type: "bar",
      data: { labels: labels, datasets: [{ label: L.waiting, data: values, backgroundColor: colours }] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: "y",
                 plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    window.opsChart = chart;
  }

  // Staffing advisor: the advice with its reason, and each service's P50/P90 for the next two hours.
  function renderStaffing(view) {
    var list = $("advice");
    list.textContent = "";
    if (!view.advice.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = L.no_advice;
      list.appendChild(none);
    }
    view.advice.forEach(function (a) {
      var item = document.createElement("li");
      item.dataset.kind = a.kind;
      item.dataset.key = a.key;
      item.textContent = en ? a.message_en : a.message;
      list.appendChild(item);
    });
    var head = $("outlook").querySelector("thead tr");
    var body = $("outlook").querySelector("tbody");
    head.textContent = "";
    body.textContent = "";
    if (!view.services.length) { return; }
    var first = document.createElement("th");
    first.textContent = L.service;
    head.appendChild(first);
    view.services[0].predictions.forEach(function (step) {
      var th = document.createElement("th");
      th.className = "num";
      th.textContent = new Date(step.at).toLocaleTimeString(en ? "en-GB" : "vi-VN",
        { hour: "2-digit", minute: "2-digit", timeZone: config.tz });
      head.appendChild(th);
    });
    view.services.forEach(function (s) {
      var row = document.createElement("tr");
      row.dataset.service = s.service;
      cell(row, s.name);
      s.predictions.forEach(function (step) {
        var td = cell(row, step.p50_minutes === null ? "—" : step.p50_minutes + "–" + step.p90_minutes, true);
        if (step.p90_minutes !== null && step.p90_minutes >= config.advice_p90) { td.dataset.alert = "yes"; }
      });
      body.appendChild(row);
    });
  }

  function refreshStaffing() {
    fetch("/api/v1/ops/staffing", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(renderStaffing)
      .catch(function () { $("conn").hidden = false; });
  }

  function refresh() {
    refreshStaffing();
    fetch("/api/v1/ops", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (view) {
        $("conn").hidden = true;
        $("updated").textContent = view.local_time;
        renderAlerts(view.alerts);
        renderServices(view.services);
        renderCounters(view.counters);
        renderDevices(view.devices);
        renderChart(view.services);
        document.body.dataset.loaded = "yes";
      })
      .catch(function () { $("conn").hidden = false; });
  }

  function schedule() {
    clearInterval(timer);
    timer = setInterval(refresh, config.refresh_seconds * 1000);
  }

  // A device alert (paper out, gone offline) should not wait for the next poll.
  if (window.io) {
    var socket = io({ transports: ["websocket", "polling"] });
    socket.on("connect", function () { socket.emit("subscribe", { devices: true }); });
    socket.on("alert", function () { refresh(); schedule(); });
    socket.on("device", function () { refresh(); schedule(); });
    socket.on("staffing", function () { refreshStaffing(); });
  }
  refresh();
  schedule();
})();

// Report page: charts drawn from the same tables the page shows (Chart.js, served by the hub).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var L = data.labels;
  var tables = data.tables;
  var PALETTE = ["#0b7a75", "#14213d", "#e07a1f", "#5a8dee", "#b5470b", "#7b61a8", "#2e9e5b", "#c44569"];
  // Drawn once, without animation: the page is read and printed, not watched.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = '"DejaVu Sans", "Noto Sans", sans-serif';
  window.reportCharts = [];

  function column(table, key) { return table.rows.map(function (row) { return row[key]; }); }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    window.reportCharts.push(new Chart(canvas, config));
  }

  function minutesAxis(position) {
    return { position: position, beginAtZero: true, title: { display: true, text: L.minutes },
             grid: { drawOnChartArea: position === "left" } };
  }

  var hours = tables.by_hour;
  if (hours) {
    draw("chart-hours", {
      data: {
        labels: column(hours, "name").map(function (name) { return name.slice(0, 5); }),
        datasets: [
          { type: "bar", label: L.arrivals, data: column(hours, "arrivals"), backgroundColor: PALETTE[0], yAxisID: "y" },
          { type: "line", label: L.wait_mean, data: column(hours, "wait_mean"), borderColor: PALETTE[2],
            backgroundColor: PALETTE[2], yAxisID: "y1", tension: 0.25 }
        ]
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: L.patients } },
                           y1: minutesAxis("right") } }
    });
  }

  var days = tables.days;
  if (days && document.getElementById("chart-days")) {
    draw("chart-days", {
      data: {
        labels: column(days, "day").map(function (day) { return day.slice(8, 10) + "/" + day.slice(5, 7); }),
        datasets: [
          { type: "line", label: L.issued, data: column(days, "issued"), borderColor: PALETTE[1], yAxisID: "y" },
          { type: "line", label: L.served, data: column(days, "served"), borderColor: PALETTE[0], yAxisID: "y" },
          { type: "line", label: L.wait_median, data: column(days, "wait_median"), borderColor: PALETTE[2],
            borderDash: [6, 4], yAxisID: "y1" }
        ]
      },
      options: { scales: { y: { beginAtZero: true }, y1: minutesAxis("right") } }
    });
  }

  var groups = tables["by_" + data.grouping];
  if (groups) {
    draw("chart-groups", {
      type: "bar",
      data: {
        labels: column(groups, "name"),
        datasets: [
          { label: L.wait_median, data: column(groups, "wait_median"), backgroundColor: PALETTE[0] },
          { label: L.wait_p90, data: column(groups, "wait_p90"), backgroundColor: PALETTE[2] }
        ]
      },
      options: { indexAxis: groups.rows.length > 8 ? "y" : "x", scales: { x: { beginAtZero: true } } }
    });
  }

  var targets = tables.targets;
  if (targets) {
    var classes = targets.rows.filter(function (row) { return row.target !== null; });
    draw("chart-targets", {
      type: "bar",
      data: {
        labels: classes.map(function (row) { return row["class"] + " (≤ " + row.target + "’)"; }),
        datasets: [{ label: L.met_share, data: classes.map(function (row) { return row.met_share; }),
                     backgroundColor: PALETTE[0] }]
      },
      options: { scales: { y: { beginAtZero: true, max: 100 } }, plugins: { legend: { display: false } } }
    });
  }

  var payments = tables.payments;
  if (payments) {
    var methods = payments.columns.filter(function (c) { return c.kind === "vnd" && c.key !== "net" && c.key !== "refunds"; });
    draw("chart-payments", {
      type: "bar",
      data: {
        labels: column(payments, "day").map(function (day) { return day.slice(8, 10) + "/" + day.slice(5, 7); }),
        datasets: methods.map(function (c, index) {
          return { label: c.title, data: column(payments, c.key), backgroundColor: PALETTE[index % PALETTE.length] };
        })
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
    });
  }
})();

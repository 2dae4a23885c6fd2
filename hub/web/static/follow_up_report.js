// Follow-up report: one bar chart per dimension (Chart.js served by the hub, never a CDN).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var figures = data.figures;
  var L = data.labels;
  var RATES = [["confirmation_rate", "#0b7a75"], ["cancellation_rate", "#e0a030"], ["no_show_rate", "#b5470b"]];
  var percent = { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } };

  function pct(value) { return value === null ? null : Math.round(value * 1000) / 10; }

  function draw(canvas, labels, datasets) {
    if (typeof Chart === "undefined") { return; }
    new Chart(canvas, { type: "bar", data: { labels: labels, datasets: datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: percent } });
  }

  document.querySelectorAll("canvas[data-dimension]").forEach(function (canvas) {
    var dimension = canvas.dataset.dimension;
    if (dimension === "reminder_effect") {
      var effect = figures.reminder_effect;
      draw(canvas, [L.confirmed, L.not_confirmed], [{ label: L.attendance_rate, backgroundColor: "#0b7a3b",
        data: [pct(effect.confirmed.attendance_rate), pct(effect.not_confirmed.attendance_rate)] }]);
      return;
    }
    var groups = figures.by[dimension] || [];
    if (!groups.length) { canvas.hidden = true; return; }
    draw(canvas, groups.map(function (g) { return g.name; }), RATES.map(function (pair) {
      return { label: L[pair[0]], backgroundColor: pair[1], data: groups.map(function (g) { return pct(g[pair[0]]); }) };
    }));
  });
})();

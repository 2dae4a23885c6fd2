// Reception: the visit's BHYT check result, a typed card check, and the override with a reason (audited
// on the hub). reception.js calls ReceptionInsurance.show(visitId) when a ticket is issued.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("reception-config").textContent);
  var L = config.labels;
  var visit = null;

  function $(id) { return document.getElementById(id); }
  function api(method, path, body) { return window.ClinicqApi.api(method, path, body); }

  function render(coverage) {
    $("bhyt").dataset.status = coverage.status;
    $("bhyt-status").textContent = (L.bhyt && L.bhyt[coverage.status]) || coverage.status;
    var parts = [];
    if (coverage.card_code) { parts.push(coverage.card_code); }
    if (coverage.benefit_level) { parts.push(L.bhyt_level + " " + coverage.benefit_level); }
    if (coverage.message) { parts.push(coverage.message); }
    if (coverage.override_reason) { parts.push(L.bhyt_override + ": " + coverage.override_reason); }
    $("bhyt-detail").textContent = parts.join(" · ");
  }

  function answer(result) {
    var box = $("message");
    if (result.status >= 400) {
      box.textContent = result.body && result.body.error ? result.body.error.message : "HTTP " + result.status;
      box.className = "flash error";
      box.hidden = false;
      return;
    }
    box.hidden = true;
    render(result.body);
  }

  function show(visitId) {
    visit = visitId;
    api("GET", "/visits/" + visitId + "/insurance").then(answer);
  }

  $("bhyt-check").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!visit) { return; }
    var text = $("bhyt-card").value.replace(/[\s-]/g, "");
    var body = /^\d{12}$/.test(text) ? { national_id: text } : { card_code: text };
    if ($("bhyt-route").value) { body.route_reason = $("bhyt-route").value; }
    api("POST", "/visits/" + visit + "/insurance", body).then(answer);
  });

  $("bhyt-override").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!visit) { return; }
    var body = { status: $("bhyt-override-status").value, reason: $("bhyt-override-reason").value.trim() };
    if ($("bhyt-override-level").value) { body.benefit_level = parseInt($("bhyt-override-level").value, 10); }
    if (body.status === "eligible") { body.route_reason = "registered_here"; }
    api("POST", "/visits/" + visit + "/insurance/override", body).then(answer);
  });

  window.ReceptionInsurance = { show: show };
})();

// Insurance claims page: export the day or one visit again, record the insurer's rejection; then reload.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("claims-config").textContent);
  var api = window.ClinicqApi.api;

  function say(text, isError) {
    var box = document.getElementById("message");
    box.textContent = text;
    box.className = "flash" + (isError ? " error" : "");
    box.hidden = !text;
  }

  function done(response) {
    if (response.status >= 400) {
      say(response.body && response.body.error ? response.body.error.message : "HTTP " + response.status, true);
      return;
    }
    window.location.reload();
  }

  document.getElementById("export-day").addEventListener("click", function () {
    api("POST", "/insurance/claims/export", { day: config.day }).then(done);
  });
  document.getElementById("claims").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) { return; }
    var visit = parseInt(button.closest("tr").dataset.visit, 10);
    if (button.dataset.action === "export") {
      api("POST", "/insurance/claims/export", { visit_id: visit }).then(done);
    } else {
      var reason = window.prompt(config.reject_prompt);
      if (reason) { api("POST", "/insurance/claims/" + visit + "/reject", { reason: reason }).then(done); }
    }
  });
})();

// The staff pages' one way to call the hub's REST API with the login session: JSON in and out, the
// X-CSRFToken header that the API asks of cookie sessions (from the page's csrf-token meta tag), and
// a reply {status, body} whose body is null for "204 No Content" or a reply that is not JSON.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") { options.headers["X-CSRFToken"] = meta ? meta.getAttribute("content") : ""; }
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, options).then(function (response) {
      if (response.status === 204) { return { status: 204, body: null }; }
      return response.json().then(
        function (json) { return { status: response.status, body: json }; },
        function () { return { status: response.status, body: null }; });
    });
  }

  window.ClinicqApi = { api: api };
})();

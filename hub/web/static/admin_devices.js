// Devices page: live online/offline, firmware and paper state, alerts (Socket.IO "devices" room).
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var conn = document.getElementById("conn");
  var alerts = document.getElementById("alerts");

  function update(d) {
    var row = document.querySelector('tr[data-device="' + d.id + '"]');
    if (!row) { return; }
    var online = row.querySelector(".online");
    online.dataset.online = d.online ? "yes" : "no";
    online.textContent = d.online ? labels.online : labels.offline;
    row.querySelector(".seen").textContent = d.last_seen || "—";
    row.querySelector(".fw").textContent = d.firmware || "";
    row.querySelector(".paper").textContent = d.paper || "";
  }

  var socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", function () { conn.hidden = true; socket.emit("subscribe", { devices: true }); });
  socket.on("disconnect", function () { conn.hidden = false; });
  socket.on("snapshot", function (m) { (m.devices || []).forEach(update); });
  socket.on("device", function (m) { update(m.device); });
  socket.on("alert", function (m) {
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    // The hub's message carries both languages ("… hết giấy in / out of paper"): say it in the page's.
    var said = labels.alerts[m.kind];
    p.textContent = said && m.device ? m.device.name + ": " + said : m.message;
    alerts.prepend(p);
  });
})();

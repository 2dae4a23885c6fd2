// Devices page: live online/offline, firmware and paper state, alerts (Socket.IO "devices" room).
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var conn = document.getElementById("conn");
  var alerts = document.getElementById("alerts");

  // Times as the hub's pages print them (hub/formatting.py): "19:18 07/12/2026", in the site's zone.
  var parts = new Intl.DateTimeFormat("en-GB", { timeZone: labels.timezone, hour: "2-digit", minute: "2-digit",
    day: "2-digit", month: "2-digit", year: "numeric", hourCycle: "h23" });
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function localTime(iso) {
    if (!iso) { return "—"; }
    var p = {};
    parts.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    var clock = p.hour + ":" + p.minute;
    if (labels.lang === "en") { return parseInt(p.day, 10) + " " + months[parseInt(p.month, 10) - 1] + " " + p.year + ", " + clock; }
    return clock + " " + p.day + "/" + p.month + "/" + p.year;
  }

  function update(d) {
    var row = document.querySelector('tr[data-device="' + d.id + '"]');
    if (!row) { return; }
    var online = row.querySelector(".online");
    online.dataset.online = d.online ? "yes" : "no";
    online.textContent = d.online ? labels.online : labels.offline;
    row.querySelector(".since").textContent = d.status_since ? labels.since + " " + localTime(d.status_since) : "";
    row.querySelector(".seen").textContent = localTime(d.last_seen);
    row.querySelector(".fw").textContent = d.firmware || "";
    var paper = row.querySelector(".paper");
    paper.dataset.paper = d.paper || "";
    paper.textContent = labels.paper[d.paper] || "";
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

// The patient portal's live parts: today's tickets and the inbox, over Socket.IO, resubscribing after a reconnect.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("portal-data").textContent);
  var say = data.phrases;
  var english = data.lang === "en";
  var badge = document.getElementById("unread");
  var inbox = document.getElementById("inbox");

  // The same wording as the server's first rendering (hub/web/portal_view.py ticket_line).
  function ticketLine(t, card) {
    if (t.status === "waiting") {
      var parts = [t.ahead ? say.ahead.replace("{ahead}", t.ahead) : say.next];
      if (t.estimate) {
        parts.push(say.estimate.replace("{p50}", Math.round(t.estimate.p50_minutes))
          .replace("{p90}", Math.round(t.estimate.p90_minutes)));
      }
      var place = english ? card.dataset.placeEn : card.dataset.place;
      if (place) { parts.push(say.go.replace("{place}", place)); }
      return parts.join(", ");
    }
    var counter = (english && t.counter_name_en) || t.counter_name;
    if (t.status === "called" || t.status === "serving") {
      return counter ? say[t.status].replace("{place}", counter) : say.called_here;
    }
    return say[t.status] || t.status;
  }

  var cards = {};
  Array.prototype.forEach.call(document.querySelectorAll("article.ticket[data-ticket]"), function (card) {
    cards[card.dataset.ticket] = card;
  });

  function showTicket(t) {
    var card = t && cards[String(t.id)];
    if (!card) { return; }
    card.dataset.status = t.status;
    card.querySelector(".line").textContent = ticketLine(t, card);
    card.classList.toggle("finished", ["waiting", "called", "serving", "on_hold"].indexOf(t.status) < 0);
  }

  function setUnread(count) {
    if (!badge) { return; }
    badge.textContent = String(count);
    badge.hidden = count <= 0;
  }

  function text(tag, className, value) {
    var el = document.createElement(tag);
    el.className = className;
    el.textContent = value;
    return el;
  }

  function addMessage(m) {
    setUnread((parseInt(badge && badge.textContent, 10) || 0) + 1);
    if (!inbox) { return; }
    var empty = document.getElementById("inbox-empty");
    if (empty) { empty.remove(); }
    var item = document.createElement("li");
    item.className = "card message unread";
    item.dataset.message = m.id;
    item.appendChild(text("p", "title", m.title || data.new_message));
    item.appendChild(text("p", "body", m.body || ""));
    inbox.insertBefore(item, inbox.firstChild);
  }

  // A cancel button asks first: a slip of the thumb must not give the place away.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  if (typeof io !== "function") { return; }
  var socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    socket.emit("subscribe", { patient: data.patient, token: data.token });
    Object.keys(cards).forEach(function (id) {
      socket.emit("subscribe", { ticket: parseInt(id, 10), token: cards[id].dataset.token });
    });
  });
  socket.on("snapshot", function (m) {
    if (m.kind === "ticket") { showTicket(m.ticket); }
    if (m.kind === "patient") { setUnread(m.messages.filter(function (x) { return !x.read; }).length); }
  });
  socket.on("ticket", function (m) { showTicket(m.ticket); });
  socket.on("call", function (m) { showTicket(m.ticket); });
  socket.on("inbox", function (m) { if (m.message) { addMessage(m.message); } });
})();

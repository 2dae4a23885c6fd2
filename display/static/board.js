// The TV board's live feed: subscribe on every connect, draw the snapshot, then apply events.
// While the connection is down the data is dimmed under a "reconnecting" mark rather than shown
// as if it were current; the next snapshot replaces everything, so nothing stale survives a drop.
(function () {
  "use strict";

  // A fresh snapshot now and then heals anything an event could not (a call made in the instant
  // between subscribing and joining the room, the new day at midnight) and re-anchors the clock.
  const RESYNC_MS = 10 * 60 * 1000;

  const body = document.body;
  const boardId = body.dataset.board;
  const callLimit = Math.max(1, parseInt(body.dataset.calls, 10) || 6);
  const view = new window.BoardView({ callLimit: callLimit });
  const clock = new window.BoardClock({
    time: document.getElementById("clock-time"),
    dateVi: document.getElementById("clock-date-vi"),
    dateEn: document.getElementById("clock-date-en")
  }, body.dataset.timezone);
  const connText = document.getElementById("conn-text");
  const connDefault = Array.from(connText.childNodes);
  let connReplaced = false;

  let calls = []; // newest first, never longer than callLimit
  let lastCallId = null;
  let snapshots = 0;

  function toCall(number, counterName, counterNameEn, recall, initials) {
    return { number: number, counterName: counterName || "", counterNameEn: counterNameEn || "",
      recall: Boolean(recall), initials: initials || null };
  }

  function remember(call) {
    // One row per ticket: a recall moves the ticket back to the top instead of repeating it.
    calls = [call].concat(calls.filter(function (c) { return c.number !== call.number; })).slice(0, callLimit);
  }

  function setOffline(offline) {
    body.classList.toggle("offline", offline);
  }

  function onSnapshot(message) {
    if (message.kind !== "board") {
      return;
    }
    clock.setTimeZone(message.site && message.site.timezone);
    clock.setServerTime(message.server_time);
    view.setConfig(message.board || {});
    view.setCounters(message.counters || []);
    view.setServices(message.services || []);
    calls = [];
    // last_calls is newest first and may hold a ticket more than once (call, then recalls).
    for (const entry of (message.last_calls || []).slice().reverse()) {
      remember(toCall(entry.ticket, entry.counter_name, entry.counter_name_en, entry.recall, entry.initials));
    }
    view.setCalls(calls, false);
    snapshots += 1;
    body.dataset.snapshots = String(snapshots);
    if (connReplaced) {
      connText.replaceChildren(...connDefault);
      connReplaced = false;
    }
    setOffline(false);
  }

  function onCall(message) {
    if (!message.ticket || message.call_id === lastCallId) {
      return; // a duplicate delivery must not flash twice
    }
    lastCallId = message.call_id;
    const counter = message.counter || {};
    remember(toCall(message.ticket.number, counter.name || message.ticket.counter_name,
      counter.name_en || message.ticket.counter_name_en, message.recall, message.ticket.initials));
    view.setCalls(calls, true);
    if (counter.code) {
      view.updateCounter(counter, true);
    }
  }

  function onError(message) {
    // A board whose id vanished from the configuration stays dimmed and says why.
    if (message && message.code === "unknown_board") {
      connText.textContent = "Bảng “" + boardId + "” không còn trong cấu hình / board no longer configured";
      connReplaced = true;
      setOffline(true);
    }
  }

  const socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true,
    reconnectionDelay: 1000, reconnectionDelayMax: 5000 });
  socket.on("connect", function () { socket.emit("subscribe", { board: boardId }); });
  socket.on("disconnect", function () { setOffline(true); });
  socket.on("snapshot", onSnapshot);
  socket.on("call", onCall);
  socket.on("counter", function (message) { if (message.counter) { view.updateCounter(message.counter, false); } });
  socket.on("queue", function (message) { if (message.service) { view.updateService(message.service); } });
  socket.on("error", onError);

  setInterval(function () {
    // Only while connected: a subscribe emitted offline would pile up in the client's send buffer.
    if (socket.connected) {
      socket.emit("subscribe", { board: boardId });
    }
  }, RESYNC_MS);

  // One listener each for the page's life: end a flash, and re-fit the grids on a resize.
  document.addEventListener("animationend", function (event) {
    if (event.animationName === "flash") {
      event.target.classList.remove("flash");
    }
  });
  window.addEventListener("resize", function () { view.layout(); });
  clock.start();
})();

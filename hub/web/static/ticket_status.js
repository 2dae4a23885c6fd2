// A patient's ticket page: live status through Socket.IO, resubscribing after every reconnect.
(function () {
  "use strict";
  var root = document.querySelector("main.status");
  var ticketId = parseInt(root.dataset.ticket, 10);
  var token = root.dataset.token;
  var stateEl = document.getElementById("state");
  var detailEl = document.getElementById("detail");
  var connEl = document.getElementById("conn");

  var STATES = {
    waiting: ["Đang chờ", "Waiting"],
    called: ["Mời bạn đến", "Please go to"],
    serving: ["Đang được phục vụ", "Being served"],
    on_hold: ["Tạm dừng", "On hold"],
    done: ["Đã hoàn thành", "Done"],
    no_show: ["Đã gọi nhưng vắng mặt — vui lòng đến quầy", "Missed — please see the counter"],
    cancelled: ["Đã hủy", "Cancelled"],
    transferred: ["Đã chuyển sang dịch vụ khác", "Transferred"]
  };

  function render(t) {
    var label = STATES[t.status] || [t.status, t.status];
    stateEl.dataset.status = t.status;
    stateEl.textContent = label[0] + " / " + label[1];
    if (t.status === "called" && t.counter_name) {
      stateEl.textContent = label[0] + " " + t.counter_name + " / " + label[1] + " " + (t.counter_name_en || t.counter_name);
    }
    if (t.status === "waiting") {
      // Both languages say the whole thing, each on its own line (a phone is narrow).
      var vi = "Còn " + t.ahead + " người trước bạn";
      var en = t.ahead + (t.ahead === 1 ? " person" : " people") + " ahead of you";
      if (t.estimate) {
        var range = Math.round(t.estimate.p50_minutes) + "–" + Math.round(t.estimate.p90_minutes);
        vi += ", khoảng " + range + " phút";
        en += ", about " + range + " min";
      }
      var viEl = document.createElement("span");
      viEl.textContent = vi;
      var enEl = document.createElement("span");
      enEl.className = "en line";
      enEl.textContent = en;
      detailEl.replaceChildren(viEl, enEl);
    } else {
      detailEl.textContent = "";
    }
    if (t.status === "done" || t.status === "transferred") { nextStep(); }
  }

  // After a step of the visit (sent to the lab, done at imaging...): where to go next, from the hub. The page
  // follows the next ticket by itself, so one open page leads the patient through the whole visit.
  var nextEl = document.getElementById("next");
  var FOLLOW_AFTER_MS = 4000;
  var POLL_MS = 20000;
  var stepTimer = null;

  function nextStep() {
    clearTimeout(stepTimer);
    fetch("/api/v1/tickets/" + ticketId + "/next?k=" + encodeURIComponent(token), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (step) {
        if (!step) { return; }
        nextEl.textContent = "";
        nextEl.hidden = !step.next.length && !step.awaiting_results;
        if (step.next.length) {
          var t = step.next[0];
          // Same origin as this page, whatever public address the hub is configured with.
          var url = new URL(t.status_url, window.location.href);
          var target = url.pathname + url.search;
          var link = document.createElement("a");
          link.id = "next-link";
          link.href = target;
          link.textContent = "Tiếp theo: " + t.service_name + " — số " + t.number + " / Next: " + t.service_name_en +
            " — ticket " + t.number;
          nextEl.appendChild(link);
          stepTimer = setTimeout(function () { window.location.replace(target); }, FOLLOW_AFTER_MS);
        } else if (step.awaiting_results) {
          nextEl.textContent = "Đang chờ kết quả cận lâm sàng, bạn sẽ được gọi lại vào phòng khám. / " +
            "Waiting for your results: you will be called back to the doctor.";
          stepTimer = setTimeout(nextStep, POLL_MS);
        }
      }, function () { stepTimer = setTimeout(nextStep, POLL_MS); });
  }

  render(JSON.parse(document.getElementById("ticket-data").textContent));
  var socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    connEl.hidden = true;
    socket.emit("subscribe", { ticket: ticketId, token: token });
  });
  socket.on("disconnect", function () { connEl.hidden = false; });
  socket.on("snapshot", function (m) { if (m.ticket) { render(m.ticket); } });
  socket.on("ticket", function (m) { if (m.ticket && m.ticket.id === ticketId) { render(m.ticket); } });
  socket.on("call", function (m) { if (m.ticket && m.ticket.id === ticketId) { render(m.ticket); } });
})();

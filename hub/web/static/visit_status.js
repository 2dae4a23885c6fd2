// The visit status page: every station of the visit, polled every few seconds (several lines at once).
(function () {
  "use strict";
  var root = document.getElementById("visit");
  var list = document.getElementById("stations");
  var connEl = document.getElementById("conn");
  var url = "/v/" + encodeURIComponent(root.dataset.code) + "/state?k=" + encodeURIComponent(root.dataset.token);
  var pollMs = (parseInt(root.dataset.poll, 10) || 5) * 1000;

  var STATES = {
    waiting: ["Đang chờ", "Waiting"],
    called: ["Mời bạn vào", "Please go in"],
    serving: ["Đang được phục vụ", "Being served"],
    on_hold: ["Tạm dừng", "On hold"],
    done: ["Đã xong", "Done"],
    no_show: ["Vắng mặt — vui lòng đến quầy", "Missed — please see the counter"],
    cancelled: ["Đã hủy", "Cancelled"],
    transferred: ["Đã chuyển", "Moved on"],
    not_yet: ["Số được cấp khi xong bước trước", "Number given when the step before is done"]
  };

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text) { n.textContent = text; }
    if (cls) { n.className = cls; }
    return n;
  }

  function pair(vi, en, cls) {
    var p = el("p", null, cls);
    p.append(el("span", vi), el("span", en, "en line"));
    return p;
  }

  function render(visit) {
    var items = visit.stations.map(function (s) {
      var li = el("li", null, "vs-station");
      li.dataset.service = s.service;
      li.dataset.status = s.status;
      var head = el("div", null, "vs-head");
      head.append(el("span", s.service_name, "vs-service"), el("span", s.number || "—", "vs-number"));
      li.append(head, el("p", s.service_name_en, "en"));
      if (s.rooms && s.rooms.length) {
        // Room names already say "Phòng 101" / "Room 101": no label in front.
        li.append(pair(s.rooms.join(", ") + (s.floor ? " · " + s.floor : ""),
          (s.rooms_en || s.rooms).join(", ") + (s.floor_en ? " · " + s.floor_en : ""), "vs-place"));
      }
      var label = STATES[s.status] || [s.status, s.status];
      var vi = label[0];
      var en = label[1];
      if (s.status === "waiting") {
        vi += " · còn " + s.ahead + " người trước bạn";
        en += " · " + s.ahead + (s.ahead === 1 ? " person" : " people") + " ahead";
        if (s.estimate) {
          var range = Math.round(s.estimate.p50_minutes) + "–" + Math.round(s.estimate.p90_minutes);
          vi += ", khoảng " + range + " phút";
          en += ", about " + range + " min";
        }
      }
      li.append(pair(vi, en, "vs-state"));
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function poll() {
    fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (visit) { connEl.hidden = true; render(visit); },
            function () { connEl.hidden = false; })
      .then(function () { setTimeout(poll, pollMs); });
  }

  render(JSON.parse(document.getElementById("visit-data").textContent));
  setTimeout(poll, pollMs);
})();

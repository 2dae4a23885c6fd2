// The doctor's follow-up form (partial follow_up_form.html): suggest the nearest free slot, let the doctor
// pick another, book by date, interval or as a series; list what the visit already has.
(function () {
  "use strict";
  var form = document.getElementById("follow-up-form");
  if (!form) { return; }
  var L = JSON.parse(document.getElementById("follow-up-labels").textContent);
  var api = window.ClinicqApi.api;
  var options = document.getElementById("fu-options");
  var booked = document.getElementById("fu-booked");
  var errorBox = form.querySelector(".form-error");
  var seriesBox = form.querySelector("[data-series]");
  var shownVisit = null;



  function visitId() {
    if (form.dataset.visit) { return form.dataset.visit; }
    var source = form.dataset.visitFrom ? document.querySelector(form.dataset.visitFrom) : null;
    return source && source.dataset.visit ? source.dataset.visit : null;
  }

  function fail(message) { errorBox.textContent = message; errorBox.hidden = false; }

  function localMessage(message) {
    var parts = String(message || "").split(" / ");
    return parts.length === 2 ? parts[L.lang === "en" ? 1 : 0] : message;
  }

  function refusal(reply) {
    var error = (reply.body && reply.body.error) || { message: "HTTP " + reply.status };
    return L.refused + ": " + localMessage(error.message);
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function wanted() {
    var f = form.elements;
    if (f.when.value === "day") { return f.day.value ? { day: f.day.value } : null; }
    var days = parseInt(f.after.value, 10) * parseInt(f.unit.value, 10);
    return days > 0 ? { after_days: days } : null;
  }

  function slotLabel(slot) { return slot.start.slice(8, 10) + "/" + slot.start.slice(5, 7) + " " + slot.time; }

  function radio(slot, checked) {
    var label = document.createElement("label");
    label.className = "fu-slot";
    var input = document.createElement("input");
    input.type = "radio";
    input.name = "slot_start";
    input.value = slot.start;
    input.checked = checked;
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + slotLabel(slot)));
    return label;
  }

  function findSlots() {
    errorBox.hidden = true;
    var when = wanted();
    if (!when) { return; }
    var query = when.day ? "day=" + when.day : "after_days=" + when.after_days;
    if (form.dataset.doctor) { query += "&doctor=" + encodeURIComponent(form.dataset.doctor); }
    if (form.elements.time.value) { query += "&time=" + form.elements.time.value; }
    api("GET", "/follow-ups/slots?" + query).then(function (reply) {
      options.textContent = "";
      options.hidden = false;
      if (reply.status !== 200) { fail(refusal(reply)); options.hidden = true; return; }
      if (!reply.body.suggested) { options.textContent = L.no_slot; return; }
      var title = document.createElement("p");
      title.textContent = L.suggested + ":";
      options.appendChild(title);
      options.appendChild(radio(reply.body.suggested, true));
      var more = document.createElement("p");
      more.textContent = L.or_pick;
      options.appendChild(more);
      reply.body.days.forEach(function (day) {
        day.slots.forEach(function (slot) {
          if (slot.start !== reply.body.suggested.start) { options.appendChild(radio(slot, false)); }
        });
      });
    });
  }

  function showBooked(appointments, missing) {
    booked.textContent = "";
    appointments.forEach(function (a) {
      var li = document.createElement("li");
      var text = L.booked + ": " + a.code + " · " + a.time + " " + a.day.split("-").reverse().join("/") + " · " + a.doctor_name;
      if (a.seq) { text += " · " + fill(L.visit_no, { seq: a.seq, planned: a.planned || "?" }); }
      li.textContent = text + " (" + (L.status[a.status] || a.status) + ")";
      booked.appendChild(li);
    });
    if (missing && missing.length) {
      var li = document.createElement("li");
      li.className = "form-error";
      li.textContent = fill(L.missing, { seqs: missing.join(", ") });
      booked.appendChild(li);
    }
    booked.hidden = !booked.childNodes.length;
  }

  function loadVisit() {
    var id = visitId();
    if (id === shownVisit) { return; }
    shownVisit = id;
    options.hidden = true;
    errorBox.hidden = true;
    booked.hidden = true;
    if (!id) { return; }
    api("GET", "/visits/" + id + "/follow-ups").then(function (reply) {
      if (reply.status !== 200 || shownVisit !== id) { return; }
      var all = [];
      reply.body.series.forEach(function (s) {
        s.appointments.forEach(function (a) { a.planned = s.planned; all.push(a); });
      });
      showBooked(all, []);
    });
  }

  form.elements.series.addEventListener("change", function () { seriesBox.hidden = !form.elements.series.checked; });
  document.getElementById("fu-find").addEventListener("click", findSlots);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    var id = visitId();
    if (!id) { fail(L.no_visit); return; }
    var f = form.elements;
    var body = {};
    var picked = form.querySelector("input[name=slot_start]:checked");
    if (picked && !options.hidden) { body.slot_start = picked.value; } else { Object.assign(body, wanted() || {}); }
    if (form.dataset.doctor) { body.doctor = form.dataset.doctor; }
    if (f.time.value && !body.slot_start) { body.time = f.time.value; }
    if (f.reason.value.trim()) { body.reason = f.reason.value.trim(); }
    if (f.series.checked) {
      body.count = parseInt(f.count.value, 10);
      body.every_weeks = parseInt(f.every_weeks.value, 10);
      body.mode = f.mode.value;
    }
    api("POST", "/visits/" + id + "/follow-ups", body).then(function (reply) {
      if (reply.status !== 201) { fail(refusal(reply)); return; }
      options.hidden = true;
      reply.body.appointments.forEach(function (a) { a.planned = reply.body.series.planned; });
      showBooked(reply.body.appointments, reply.body.missing);
    });
  });

  // The doctor's page swaps the patient on screen: follow the visit it shows.
  var source = form.dataset.visitFrom ? document.querySelector(form.dataset.visitFrom) : null;
  if (source && window.MutationObserver) {
    new MutationObserver(loadVisit).observe(source, { attributes: true, attributeFilter: ["data-visit"] });
  }
  loadVisit();
})();

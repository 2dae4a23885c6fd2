// Reception desk: find or register a patient (duplicates offered first), queue a walk-in with the reason
// and symptoms, book a slot for them, and check today's bookings in. Everything goes through the REST API.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("reception-config").textContent);
  var L = config.labels;
  var api = window.ClinicqApi.api;
  var patient = null;      // the patient the desk works on
  var pendingRegistration = null;  // a registration waiting for "create a new record anyway"
  var chosenSlot = null;

  function $(id) { return document.getElementById(id); }



  function say(text, isError) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "flash" + (isError ? " error" : "");
    box.hidden = !text;
  }

  // The hub words refusals "Vietnamese / English": show the page's language only.
  function localize(message) {
    var parts = String(message).split(" / ");
    if (parts.length !== 2) { return message; }
    return config.lang === "en" ? parts[1] : parts[0];
  }

  function failed(result) {
    if (result.status < 300) { return false; }
    say(result.body && result.body.error ? localize(result.body.error.message) : "HTTP " + result.status, true);
    return true;
  }

  // Only the fields filled in: an empty optional field is left out rather than sent as "".
  function formValues(form) {
    var values = {};
    new FormData(form).forEach(function (value, key) {
      value = String(value).trim();
      if (value) { values[key] = value; }
    });
    return values;
  }

  function node(tag, text, className) {
    var element = document.createElement(tag);
    if (text !== undefined && text !== null) { element.textContent = text; }
    if (className) { element.className = className; }
    return element;
  }

  function describe(p) {
    var parts = [];
    if (p.date_of_birth) { parts.push(L.born + " " + p.date_of_birth.split("-").reverse().join("/")); }
    if (p.sex) { parts.push(p.sex); }
    if (p.phone) { parts.push(p.phone); }
    if (p.national_id) { parts.push("CCCD " + p.national_id); }
    return parts.join(" · ");
  }

  // ------------------------------------------------------------------ the patient
  function choose(p) {
    patient = p;
    $("patient").hidden = false;
    $("patient-name").textContent = p.full_name;
    $("patient-code").textContent = p.code;
    $("patient-details").textContent = describe(p);
    $("card-link").href = "/reception/patients/" + encodeURIComponent(p.code) + "/card?print=1";
    $("booked").hidden = true;
    $("duplicates").hidden = true;
    say("");
  }

  function listPatients(list, patients, label) {
    list.replaceChildren();
    patients.forEach(function (p) {
      var item = node("li");
      var button = node("button", label ? label : p.full_name + " — " + p.code);
      button.type = "button";
      button.dataset.code = p.code;
      button.addEventListener("click", function () {
        if (list.id === "duplicates-list") { $("register-form").reset(); pendingRegistration = null; }
        choose(p);
        list.hidden = list.id === "search-results";
      });
      item.append(button, node("span", (label ? p.full_name + " — " + p.code + " · " : " ") + describe(p), "rc-muted"));
      list.append(item);
    });
    list.hidden = patients.length === 0;
  }

  $("search").addEventListener("submit", function (event) {
    event.preventDefault();
    api("GET", "/patients?q=" + encodeURIComponent($("search-q").value.trim())).then(function (result) {
      if (failed(result)) { return; }
      listPatients($("search-results"), result.body.patients);
      say(result.body.patients.length ? "" : L.no_match, false);
    });
  });

  function register(values, consents) {
    api("POST", "/patients", values).then(function (result) {
      if (result.status === 409) {
        var error = result.body.error;
        pendingRegistration = error.code === "possible_duplicate" ? { values: values, consents: consents } : null;
        $("duplicates").hidden = false;
        $("duplicates-text").textContent = localize(error.message);
        $("confirm-new").hidden = pendingRegistration === null;
        listPatients($("duplicates-list"), error.details.candidates, L.use_record);
        return;
      }
      if (failed(result)) { return; }
      var patient = result.body;
      // Reminders by SMS or email go out only with consent on record (who recorded it is kept).
      api("PUT", "/patients/" + encodeURIComponent(patient.code) + "/consents", consents).then(function (saved) {
        if (failed(saved)) { return; }
        $("register-form").reset();
        choose(patient);
        say(L.registered + " " + patient.code, false);
      });
    });
  }

  $("register-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var values = formValues(event.target);
    var consents = { sms: values.consent_sms === "on", email: values.consent_email === "on",
                     zalo: values.consent_zalo === "on" };
    delete values.consent_zalo;
    delete values.consent_sms;
    delete values.consent_email;
    register(values, consents);
  });

  $("confirm-new").addEventListener("click", function () {
    if (pendingRegistration) {
      register(Object.assign({}, pendingRegistration.values, { confirm_new: true }), pendingRegistration.consents);
    }
  });

  // ------------------------------------------------------------------ tickets
  function showTicket(ticket) {
    showSlip(null);  // a check-in prints nothing here; a walk-in shows its slip right after
    $("issued").hidden = false;
    $("issued-number").textContent = ticket.number;
    $("issued-where").textContent = ticket.service_name + (ticket.ahead ? " · " + ticket.ahead + " ↑" : "");
    $("deposit-link").href = "/cashier?visit=" + ticket.visit_id;
    if (window.ReceptionInsurance) { window.ReceptionInsurance.show(ticket.visit_id); }
    $("issued").scrollIntoView({ block: "nearest" });
  }

  function fillDoctors(select, service, anyLabel) {
    select.replaceChildren(new Option(anyLabel, ""));
    config.doctors.filter(function (d) { return d.service === service; }).forEach(function (d) {
      select.append(new Option(d.name, d.code));
    });
  }

  $("walkin-service").addEventListener("change", function () {
    fillDoctors($("walkin-doctor"), this.value, "—");
  });

  $("walkin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!patient) { say(L.pick_patient, true); return; }
    var values = formValues(event.target);
    var keptDesk = $("walkin-desk").value;
    values.patient_code = patient.code;
    api("POST", "/visits", values).then(function (result) {
      if (failed(result)) { return; }
      event.target.reset();
      $("walkin-desk").value = keptDesk;  // the clerk stays at the same desk
      fillDoctors($("walkin-doctor"), $("walkin-service").value, "—");
      showTicket(result.body.ticket);
      showSlip(result.body.slip);
      say("");
    });
  });

  // The walk-in ticket on paper: saved before print, so a fault shows here with a reprint button.
  var DESK_KEY = "clinicq.reception.desk";
  var desk = $("walkin-desk");
  try { if (window.localStorage.getItem(DESK_KEY)) { desk.value = window.localStorage.getItem(DESK_KEY); } } catch (e) { /* private mode */ }
  desk.addEventListener("change", function () {
    try { window.localStorage.setItem(DESK_KEY, desk.value); } catch (e) { /* private mode */ }
  });
  var shownSlip = null;

  function showSlip(slip) {
    shownSlip = slip || null;
    var box = $("issued-slip");
    box.hidden = !slip;
    $("slip-reprint").hidden = !slip;
    if (!slip) { return; }
    box.dataset.status = slip.status;
    box.textContent = slip.status === "printed" ? L.slip_printed :
      slip.status === "no_printer" ? L.slip_no_printer : L.slip_failed + (slip.error ? " (" + slip.error + ")" : "");
  }

  $("slip-reprint").addEventListener("click", function () {
    if (!shownSlip) { return; }
    var body = desk.value ? { counter: desk.value } : {};
    api("POST", "/slips/" + shownSlip.id + "/reprint", body).then(function (result) {
      if (failed(result)) { return; }
      showSlip(result.body);
    });
  });

  // ------------------------------------------------------------------ booking
  $("book-service").addEventListener("change", function () {
    fillDoctors($("book-doctor"), this.value, L.any_doctor);
    $("slots").replaceChildren();
    chosenSlot = null;
  });

  $("slots-btn").addEventListener("click", function () {
    var query = "?day=" + encodeURIComponent($("book-day").value) + "&service=" +
      encodeURIComponent($("book-service").value);
    if ($("book-doctor").value) { query += "&doctor=" + encodeURIComponent($("book-doctor").value); }
    api("GET", "/slots" + query).then(function (result) {
      var box = $("slots");
      box.replaceChildren();
      chosenSlot = null;
      if (failed(result)) { return; }
      if (!result.body.slots.length) { box.append(node("p", L.no_slots, "rc-muted")); }
      result.body.slots.forEach(function (slot) {
        var button = node("button", slot.time + " · " + slot.doctor_name + " (" + L.free + " " + slot.free + ")", "slot");
        button.type = "button";
        button.dataset.start = slot.start;
        button.dataset.doctor = slot.doctor;
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () {
          box.querySelectorAll(".slot").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
          button.setAttribute("aria-pressed", "true");
          chosenSlot = slot;
        });
        box.append(button);
      });
      say("");
    });
  });

  $("book-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!patient) { say(L.pick_patient, true); return; }
    if (!chosenSlot) { say(L.pick_slot, true); return; }
    var values = formValues(event.target);
    var body = { patient_code: patient.code, slot_start: chosenSlot.start, doctor: chosenSlot.doctor,
                 channel: values.channel || "reception" };
    if (values.reason) { body.reason = values.reason; }
    api("POST", "/appointments", body).then(function (result) {
      if (failed(result)) { return; }
      var booked = $("booked");
      booked.hidden = false;
      booked.replaceChildren(L.booked + " ", node("strong", result.body.code, "rc-code"),
        " · " + result.body.time + " " + result.body.day.split("-").reverse().join("/") + " · " +
        result.body.doctor_name);
      booked.dataset.code = result.body.code;
      $("slots").replaceChildren();
      chosenSlot = null;
      say("");
      loadToday();
    });
  });

  // ------------------------------------------------------------------ today's bookings and check-in
  var dialog = $("checkin-dialog");
  var checkingIn = null;

  function openCheckIn(appointment) {
    checkingIn = appointment.code;
    $("checkin-form").reset();
    $("checkin-code").textContent = appointment.code;
    $("checkin-who").textContent = appointment.patient && appointment.patient.full_name
      ? appointment.patient.full_name + " · " + appointment.time + " · " + appointment.doctor_name : "";
    if (appointment.reason) { $("checkin-form").elements.reason.value = appointment.reason; }
    dialog.showModal();
  }

  dialog.addEventListener("close", function () {
    if (dialog.returnValue !== "ok" || !checkingIn) { return; }
    var values = formValues($("checkin-form"));
    api("POST", "/appointments/" + encodeURIComponent(checkingIn) + "/check-in", values).then(function (result) {
      checkingIn = null;
      if (failed(result)) { return; }
      showTicket(result.body.ticket);
      say("");
      loadToday();
    });
  });

  $("code-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = $("code-q").value.trim();
    if (!code) { return; }
    api("GET", "/appointments/" + encodeURIComponent(code)).then(function (result) {
      if (failed(result)) { return; }
      openCheckIn(result.body);
    });
  });

  function loadToday() {
    api("GET", "/appointments?day=" + config.today).then(function (result) {
      if (failed(result)) { return; }
      var body = $("today").tBodies[0];
      body.replaceChildren();
      if (!result.body.appointments.length) {
        var empty = node("tr");
        var cell = node("td", L.no_bookings, "rc-muted");
        cell.colSpan = 6;
        empty.append(cell);
        body.append(empty);
      }
      result.body.appointments.forEach(function (a) {
        var row = node("tr");
        row.dataset.code = a.code;
        row.append(node("td", a.time), node("td", a.code, "rc-code"),
          node("td", a.patient.full_name + " (" + a.patient.code + ")"), node("td", a.doctor_name),
          node("td", (L.status[a.status] || a.status) + (a.ticket ? " · " + a.ticket.number : ""), "status-" + a.status));
        var actions = node("td");
        if (["booked", "pending", "proposed"].indexOf(a.status) >= 0) {
          var button = node("button", L.check_in, "checkin");
          button.type = "button";
          button.addEventListener("click", function () { openCheckIn(a); });
          actions.append(button);
        }
        row.append(actions);
        body.append(row);
      });
    });
  }

  $("today-refresh").addEventListener("click", loadToday);
  // A booking changed anywhere (another desk, the doctor, a patient's link): today's list refetches it.
  if (window.io) {
    var socket = io({ transports: ["websocket", "polling"] });
    socket.on("connect", function () { socket.emit("subscribe", { appointments: true }); });
    socket.on("appointment", function (m) {
      if (m.appointment && m.appointment.day === config.today) { loadToday(); }
    });
  }
  $("book-day").value = config.tomorrow;
  fillDoctors($("walkin-doctor"), $("walkin-service").value, "—");
  if ($("book-service").value) { fillDoctors($("book-doctor"), $("book-service").value, L.any_doctor); }
  loadToday();
})();

// Call-back list: the "log a call" dialog, with a slot picker when the patient is rebooked.
(function () {
  "use strict";
  var setup = JSON.parse(document.getElementById("callbacks-setup").textContent);
  var L = setup.labels;
  var dialog = document.getElementById("call-dialog");
  var form = document.getElementById("call-form");
  var doctorSelect = document.getElementById("rebook-doctor");
  var dayInput = document.getElementById("rebook-day");
  var slotsBox = document.getElementById("rebook-slots");
  var errorBox = form.querySelector(".form-error");

  function showFor(outcome) {
    form.querySelectorAll("[data-for]").forEach(function (section) {
      section.hidden = section.dataset.for !== outcome;
    });
    form.elements.call_back_on.required = outcome === "call_back";
    if (outcome === "rebooked") { loadSlots(); }
  }

  function loadSlots() {
    slotsBox.textContent = L.loading;
    var url = "/api/v1/slots?doctor=" + encodeURIComponent(doctorSelect.value) + "&day=" + encodeURIComponent(dayInput.value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (reply) {
        slotsBox.textContent = "";
        var slots = reply.ok ? reply.body.slots : [];
        if (!slots.length) {
          slotsBox.textContent = reply.ok ? L.no_slots : (reply.body.error || {}).message || L.no_slots;
          return;
        }
        slots.forEach(function (slot) {
          var label = document.createElement("label");
          label.className = "fu-slot";
          var radio = document.createElement("input");
          radio.type = "radio";
          radio.name = "slot_start";
          radio.value = slot.start;
          label.appendChild(radio);
          label.appendChild(document.createTextNode(" " + slot.time + " · " + L.free.replace("{n}", slot.free)));
          slotsBox.appendChild(label);
        });
      })
      .catch(function () { slotsBox.textContent = L.no_slots; });
  }

  document.querySelectorAll("button.log-call").forEach(function (button) {
    button.addEventListener("click", function () {
      form.reset();
      errorBox.hidden = true;
      form.action = form.dataset.action.replace("/0/", "/" + button.dataset.callback + "/");
      document.getElementById("call-who").textContent = button.dataset.name;
      doctorSelect.textContent = "";
      (setup.doctors[button.dataset.service] || []).forEach(function (doctor) {
        var option = document.createElement("option");
        option.value = doctor.code;
        option.textContent = doctor.name;
        option.selected = doctor.code === button.dataset.doctor;
        doctorSelect.appendChild(option);
      });
      slotsBox.textContent = "";
      showFor("");
      dialog.showModal();
    });
  });

  form.querySelectorAll("input[name=outcome]").forEach(function (radio) {
    radio.addEventListener("change", function () { showFor(radio.value); });
  });
  doctorSelect.addEventListener("change", loadSlots);
  dayInput.addEventListener("change", loadSlots);

  form.addEventListener("submit", function (event) {
    var outcome = form.elements.outcome.value;
    if (outcome === "rebooked" && !form.querySelector("input[name=slot_start]:checked")) {
      event.preventDefault();
      errorBox.textContent = L.pick_slot;
      errorBox.hidden = false;
    }
  });
  dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
})();

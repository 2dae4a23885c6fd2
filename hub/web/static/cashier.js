// Cashier desk: find a visit, show its bill, take deposits and payments, show the bank-transfer QR,
// print receipts, and work the cashier counter's queue. Everything goes through the REST API.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("cashier-config").textContent);
  var L = config.labels;
  var api = window.ClinicqApi.api;
  var bill = null;
  var pending = null;

  function $(id) { return document.getElementById(id); }



  function vnd(amount) { return window.clinicqFormat.money(Number(amount), config.lang); }

  // "200.000", "200 000" and "200000" all mean two hundred thousand dong; anything else is refused.
  function parseAmount(text) {
    var digits = String(text).replace(/[.\s,]/g, "");
    return /^\d{1,9}$/.test(digits) ? parseInt(digits, 10) : NaN;
  }

  function say(text, isError) {
    var box = $("message");
    box.textContent = text;
    box.className = "flash" + (isError ? " error" : "");
    box.hidden = !text;
  }

  function failed(response) {
    if (response.status < 400) { return false; }
    var error = response.body && response.body.error;
    say(error ? error.message : "HTTP " + response.status, true);
    if (response.status === 409 && bill) { loadBill(bill.visit.id); }
    return true;
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function itemName(item) { return config.lang === "en" ? item.name_en : item.name; }

  // ------------------------------------------------------------------ the bill
  function renderBill(data) {
    bill = data;
    $("bill").hidden = false;
    $("matches").hidden = true;
    var patient = data.visit.patient;
    $("patient-name").textContent = patient ? patient.full_name : L.patient_none;
    $("patient-code").textContent = patient ? patient.code : "";
    $("visit-code").textContent = data.visit.code;
    $("visit-tickets").textContent = data.visit.tickets.map(function (t) { return t.number; }).join(", ");
    var items = $("items");
    items.textContent = "";
    data.items.forEach(function (item) {
      var row = document.createElement("tr");
      cell(row, itemName(item) + " · " + (L.kinds[item.kind] || item.kind));
      cell(row, vnd(item.unit_price), "num");
      cell(row, vnd(item.amount), "num");
      cell(row, vnd(item.insurance_pays || 0), "num");
      cell(row, vnd(item.patient_pays === undefined ? item.amount : item.patient_pays), "num");
      cell(row, item.invoice || "");
      items.appendChild(row);
    });
    $("total").textContent = vnd(data.total);
    $("insurance-pays").textContent = vnd(data.insurance_pays || 0);
    $("patient-pays").textContent = vnd(data.patient_pays === undefined ? data.total : data.patient_pays);
    var cover = data.insurance || { status: "fee_paying" };
    $("insurance-status").textContent = (L.insurance && L.insurance[cover.status]) || cover.status;
    $("insurance-status").dataset.status = cover.status;
    $("insurance-card").textContent = cover.card_code
      ? cover.card_code + (cover.benefit_level ? " · " + L.level + " " + cover.benefit_level : "") +
        (cover.route ? " · " + (L.routes[cover.route] || cover.route) : "")
      : "";
    $("deposits").textContent = vnd(data.deposits);
    $("paid").textContent = vnd(data.paid);
    $("refunded").textContent = vnd(data.refunded);
    var due = $("due");
    due.textContent = vnd(Math.abs(data.due));
    $("due-label").textContent = data.due < 0 ? L.to_refund : L.due;
    due.dataset.sign = data.due > 0 ? "due" : data.due < 0 ? "refund" : "zero";
    renderPayButton();
    renderPayments(data.payments);
    if (data.pending && data.pending.method === "bank_qr") {
      api("GET", "/payments/" + data.pending.id).then(function (r) { if (!failed(r)) { showQr(r.body); } });
    } else {
      hideQr();
    }
  }

  function renderPayButton() {
    var button = $("pay");
    if (!button || !bill) { return; }
    button.disabled = bill.settled || !!bill.pending;
    if (bill.settled) { button.textContent = L.nothing_due; }
    else if (bill.due > 0) { button.textContent = L.pay + " " + vnd(bill.due); }
    else if (bill.due < 0) { button.textContent = L.refund + " " + vnd(-bill.due); }
    else { button.textContent = L.invoice_only; }
    updateChange();
  }

  function renderPayments(payments) {
    var body = $("payments");
    body.textContent = "";
    payments.forEach(function (p) {
      var row = document.createElement("tr");
      row.dataset.status = p.status;
      cell(row, p.id);
      cell(row, L.kinds[p.kind] || p.kind);
      cell(row, L.methods[p.method] || p.method);
      cell(row, vnd(p.amount), "num");
      cell(row, L.status[p.status] || p.status);
      cell(row, [p.invoice_number, p.receipt_no].filter(Boolean).join(" · "));
      var actions = cell(row, "");
      if (p.receipt_no || p.invoice_number) {
        var link = document.createElement("a");
        link.href = "/cashier/receipts/" + p.id + "?print=1";
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = L.print;
        actions.appendChild(link);
      }
      var voidable = p.status === "approved" && !(p.kind === "refund" && p.invoice_id);
      if (config.can_pay && voidable) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = L.void;
        button.addEventListener("click", function () { voidPayment(p.id); });
        actions.appendChild(button);
      }
      body.appendChild(row);
    });
  }

  function clearBill() {
    bill = null;
    $("bill").hidden = true;
    $("matches").hidden = true;
    $("matches").textContent = "";
    $("items").textContent = "";
    hideQr();
  }

  function loadBill(visitId) {
    return api("GET", "/visits/" + visitId + "/bill").then(function (r) {
      if (!failed(r)) { renderBill(r.body); }
    });
  }

  // ------------------------------------------------------------------ finding a visit
  $("search").addEventListener("submit", function (event) {
    event.preventDefault();
    say("");
    $("result").hidden = true;
    // A new search forgets the last patient at once: their bill must never stay payable on the
    // screen while (or after) a search for someone else finds nothing.
    clearBill();
    api("GET", "/bills?q=" + encodeURIComponent($("q").value.trim())).then(function (r) {
      if (failed(r)) { return; }
      var found = r.body.bills;
      if (found.length === 0) { say(L.no_match, true); return; }
      if (found.length === 1) { renderBill(found[0]); return; }
      var list = $("matches");
      list.textContent = "";
      found.forEach(function (b) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        var who = b.visit.patient ? b.visit.patient.full_name : L.patient_none;
        button.textContent = b.visit.code + " · " + b.visit.day + " · " + who + " · " + vnd(b.due);
        button.addEventListener("click", function () { renderBill(b); });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = false;
    });
  });

  // ------------------------------------------------------------------ results of money moves
  function settle(response) {
    setBusy(false);
    if (failed(response)) { return; }
    var data = response.body;
    var payment = data.payment;
    renderBill(data.bill);
    if (payment.status === "pending" && payment.qr) { showQr(payment); return; }
    if (payment.status === "declined") { say(L.declined, true); return; }
    if (payment.status === "timeout") { say(L.timeout, true); return; }
    if (payment.status === "approved") { showResult(data); }
  }

  function showResult(data) {
    var payment = data.payment;
    say("");
    $("result").hidden = false;
    $("result-title").textContent = data.invoice ? L.invoice_issued : payment.kind === "deposit" ?
      L.deposit_taken : L.receipt;
    $("invoice-number").textContent = data.invoice ? data.invoice.number : payment.receipt_no || "";
    $("receipt-no").textContent = payment.receipt_no && data.invoice ? L.receipt + " " + payment.receipt_no : "";
    var refundNote = $("refund-note");
    refundNote.hidden = !data.refund;
    refundNote.textContent = data.refund ? L.refunded_cash + ": " + vnd(data.refund.amount) : "";
    $("print-link").href = "/cashier/receipts/" + payment.id + "?print=1";
  }

  function setBusy(busy) {
    document.querySelectorAll("#pay, #deposit, #qr-received, #qr-cancel").forEach(function (b) {
      b.disabled = busy;
    });
    if (!busy) { renderPayButton(); }
  }

  function chosenMethod() {
    var checked = document.querySelector('input[name="method"]:checked');
    return checked ? checked.value : "cash";
  }

  function updateChange() {
    var box = $("cash-box");
    if (!box || !bill) { return; }
    box.hidden = chosenMethod() !== "cash" || bill.due <= 0;
    var tendered = parseAmount($("tendered").value);
    var change = $("change");
    if (isNaN(tendered) || !$("tendered").value) { change.textContent = ""; return; }
    change.textContent = tendered >= bill.due ? L.change + ": " + vnd(tendered - bill.due) : L.short;
  }

  var payForm = $("pay-form");
  if (payForm) {
    payForm.addEventListener("change", updateChange);
    $("tendered").addEventListener("input", updateChange);
    payForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!bill) { return; }
      var method = chosenMethod();
      $("result").hidden = true;
      say(method === "card" || method === "ewallet" ? L.waiting_provider : "");
      setBusy(true);
      api("POST", "/visits/" + bill.visit.id + "/payments", { method: method, amount: Math.max(bill.due, 0) })
        .then(settle, function () { setBusy(false); });
    });
  }

  $("deposit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!bill) { return; }
    var amount = parseAmount($("deposit-amount").value);
    var method = $("deposit-method").value;
    $("result").hidden = true;
    say(method === "card" || method === "ewallet" ? L.waiting_provider : "");
    setBusy(true);
    api("POST", "/visits/" + bill.visit.id + "/deposits", { amount: isNaN(amount) ? $("deposit-amount").value : amount,
      method: method }).then(function (r) {
      if (!failed(r)) { $("deposit-amount").value = ""; }
      settle(r);
    }, function () { setBusy(false); });
  });

  // ------------------------------------------------------------------ bank transfer QR
  function showQr(payment) {
    pending = payment;
    $("qr-panel").hidden = false;
    $("qr-image").src = "/api/v1/payments/" + payment.id + "/qr.png";
    $("qr-amount").textContent = vnd(payment.amount);
    $("qr-account").textContent = payment.qr.account + " · " + payment.qr.account_name;
    $("qr-reference").textContent = payment.reference;
  }

  function hideQr() {
    pending = null;
    $("qr-panel").hidden = true;
  }

  $("qr-received").addEventListener("click", function () {
    if (!pending) { return; }
    setBusy(true);
    api("POST", "/payments/" + pending.id + "/confirm").then(settle, function () { setBusy(false); });
  });

  $("qr-cancel").addEventListener("click", function () {
    if (!pending) { return; }
    setBusy(true);
    api("POST", "/payments/" + pending.id + "/cancel", { reason: "huỷ tại quầy" }).then(function (r) {
      setBusy(false);
      if (!failed(r)) { say(""); renderBill(r.body.bill); }
    });
  });

  function voidPayment(paymentId) {
    var reason = window.prompt(L.void_reason);
    if (!reason || !reason.trim()) { return; }
    api("POST", "/payments/" + paymentId + "/void", { reason: reason.trim() }).then(function (r) {
      if (!failed(r)) { say(""); $("result").hidden = true; renderBill(r.body.bill); }
    });
  }

  // ------------------------------------------------------------------ the counter's queue
  var counterPanel = $("counter-panel");
  function refreshCounter() {
    if (!counterPanel) { return; }
    api("GET", "/counters/" + counterPanel.dataset.counter).then(function (r) {
      if (r.status >= 400) { return; }
      $("current-number").textContent = r.body.ticket ? r.body.ticket.number : "—";
      var state = $("counter-state");
      state.textContent = L.states[r.body.state] || r.body.state;
      state.dataset.state = r.body.state;
    });
  }

  if (counterPanel) {
    counterPanel.querySelectorAll("button[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.dataset.action;
        api("POST", "/counters/" + counterPanel.dataset.counter + "/" + action).then(function (r) {
          if (r.status === 204) { say(L.no_ticket); }
          else if (!failed(r)) {
            say("");
            if (action === "next" && r.body && r.body.visit_id) { loadBill(r.body.visit_id); }
          }
          refreshCounter();
        });
      });
    });
    refreshCounter();
  }

  if (config.visit) { loadBill(config.visit); }
})();

// The kiosk's touchscreen page: take a number, check in a booking, scan the ID card.
// Plain script, no build step, nothing from the internet: it polls the local agent's /api/state.
(function () {
  "use strict";

  var ROOMS_NAMED = 3;
  var TEXT = {
    lang_button: ["English", "Tiếng Việt"],
    more_below: ["▼ Kéo xuống để xem thêm dịch vụ", "▼ Scroll down for more services"],
    more_rooms: ["và {n} phòng khác", "and {n} more rooms"],
    welcome: ["Xin chào! Quý khách cần gì hôm nay?", "Welcome! How can we help you today?"],
    take_number: ["Lấy số thứ tự", "Take a number"],
    take_number_hint: ["Chọn dịch vụ khám", "Choose a service"],
    have_booking: ["Tôi có lịch hẹn", "I have a booking"],
    have_booking_hint: ["Nhập hoặc quét mã lịch hẹn", "Type or scan your booking code"],
    scan_card: ["Quét thẻ CCCD", "Scan my ID card (CCCD)"],
    scan_card_hint: ["Đăng ký nhanh bằng thẻ căn cước gắn chip", "Quick registration with your chip ID card"],
    not_ready: ["Máy đang kết nối với hệ thống, vui lòng chờ trong giây lát.",
      "The kiosk is connecting to the system, please wait a moment."],
    back: ["‹ Quay lại", "‹ Back"],
    choose_service: ["Chọn dịch vụ", "Choose a service"],
    no_services: ["Hiện chưa có dịch vụ nào mở. Vui lòng đến quầy tiếp đón.",
      "No service is open right now. Please go to the reception desk."],
    waiting: ["{n} người đang chờ", "{n} waiting"],
    nobody_waiting: ["Không có người chờ", "Nobody waiting"],
    estimate: ["Dự kiến chờ {a}–{b} phút", "Estimated wait {a}–{b} min"],
    estimate_one: ["Dự kiến chờ khoảng {a} phút", "Estimated wait about {a} min"],
    estimate_short: ["Dự kiến chờ dưới 1 phút", "Estimated wait under 1 min"],
    offline_left_none: ["Tạm hết số khi mất kết nối", "No offline numbers left"],
    hello_patient: ["Xin chào {name}", "Hello, {name}"],
    priority_question: ["Quý khách có thuộc đối tượng ưu tiên không?", "Do you have priority?"],
    no_priority: ["Không — lấy số thường", "No — ordinary number"],
    priority_hint: ["Nhân viên sẽ kiểm tra đối tượng ưu tiên tại quầy.", "Staff will check priority at the counter."],
    booking_title: ["Nhập mã lịch hẹn", "Enter your booking code"],
    booking_hint: ["Mã có trong tin nhắn hoặc email xác nhận. Bạn cũng có thể quét mã QR của lịch hẹn.",
      "The code is in your confirmation message or e-mail. You can also scan the booking's QR code."],
    confirm: ["Xác nhận", "Confirm"],
    cccd_title: ["Đưa mã QR trên thẻ CCCD vào máy quét", "Hold the QR code of your ID card to the scanner"],
    cccd_hint: ["Mã QR nằm ở góc trên bên phải mặt trước thẻ căn cước gắn chip.",
      "The QR code is in the top right corner of the front of the chip ID card."],
    cccd_keyboard: ["Hoặc nhập mã đọc được vào ô trên.", "Or enter the scanned code in the box above."],
    type_number: ["Không quét được? Nhập số CCCD hoặc mã thẻ BHYT", "Cannot scan? Type your CCCD number or BHYT card code"],
    typed_number_title: ["Nhập số CCCD hoặc mã thẻ BHYT", "Type your CCCD number or BHYT card code"],
    typed_number_hint: ["Số CCCD có 12 chữ số. Mã thẻ BHYT có 15 ký tự, ví dụ DN4010123456789.",
      "A CCCD number has 12 digits. A BHYT card code has 15 characters, e.g. DN4010123456789."],
    typed_number_bad: ["Cần đúng 12 chữ số (CCCD) hoặc 15 ký tự (thẻ BHYT). Vui lòng kiểm tra lại.",
      "It needs exactly 12 digits (CCCD) or 15 characters (BHYT card). Please check it."],
    typed_birth_title: ["Nhập ngày sinh (ngày/tháng/năm)", "Type your date of birth (day/month/year)"],
    typed_birth_hint: ["Ví dụ 14/03/1985. Ngày sinh giúp bảo vệ thông tin của bạn.",
      "For example 14/03/1985. Your date of birth protects your information."],
    typed_birth_bad: ["Ngày sinh cần đủ ngày/tháng/năm, ví dụ 14/03/1985.",
      "The date of birth needs day/month/year, e.g. 14/03/1985."],
    next_step: ["Tiếp tục", "Next"],
    busy: ["Đang xử lý, vui lòng chờ…", "Working, please wait…"],
    your_number: ["Số thứ tự của bạn", "Your number"],
    rooms: ["Mời đến: {rooms}", "Please go to: {rooms}"],
    ahead: ["Có {n} người đang chờ trước bạn", "{n} people ahead of you"],
    ahead_one: ["Có 1 người đang chờ trước bạn", "1 person ahead of you"],
    next: ["Bạn là người tiếp theo", "You are next"],
    offline_ticket: ["Số cấp khi mất kết nối — vui lòng chú ý màn hình và loa gọi số",
      "Issued while offline — please watch the screens and listen for your number"],
    printed: ["Mời lấy phiếu", "Please take your ticket"],
    paper_out: ["Máy in hết giấy — vui lòng đến quầy tiếp đón", "The printer is out of paper — please go to the reception desk"],
    print_failed: ["Máy in đang gặp sự cố — vui lòng nhớ số của bạn hoặc đến quầy tiếp đón",
      "The printer has a problem — please remember your number or go to the reception desk"],
    reprint: ["In lại phiếu", "Print again"],
    done: ["Xong", "Done"],
    try_again: ["Thử lại", "Try again"],
    to_start: ["Về trang đầu", "Back to start"],
    offline_chip: ["Mất kết nối máy chủ — vẫn cấp số", "Server offline — numbers still issued"],
    paper_chip: ["Máy in hết giấy", "Printer out of paper"],
    network_error: ["Máy lấy số đang gặp sự cố, vui lòng đến quầy tiếp đón.",
      "The kiosk has a problem, please go to the reception desk."],
    priority_badge: ["Ưu tiên: {name}", "Priority: {name}"],
    // Who pays, after the hub checked the card at the insurer (BHYT): the line and the ticket say it too.
    payer_eligible: ["Thẻ BHYT hợp lệ — Khám BHYT", "Health insurance card valid — insurance visit"],
    payer_unchecked: ["Khám BHYT — thẻ chưa kiểm tra được (cổng BHYT không trả lời). Bạn vẫn lấy số bình thường; thẻ sẽ được kiểm tra lại.",
      "Insurance visit — card not yet checked (the insurance portal did not answer). Take your number as usual; the card will be checked again."],
    payer_refused: ["Khám dịch vụ — {reason}. Nếu bạn có thẻ BHYT khác, vui lòng báo quầy tiếp đón.",
      "Fee-paying visit — {reason}. If you have another insurance card, please tell the reception desk."],
    reason_expired: ["thẻ BHYT đã hết hạn", "the insurance card has expired"],
    reason_not_found: ["không tìm thấy thẻ BHYT", "no insurance card was found"],
    reason_name_dob_mismatch: ["họ tên hoặc ngày sinh không khớp với thẻ BHYT", "the name or date of birth does not match the card"],
    reason_not_yet_valid: ["thẻ BHYT chưa có hiệu lực", "the insurance card is not valid yet"],
    reason_other: ["thẻ BHYT không dùng được hôm nay", "the insurance card cannot be used today"],
    suggested: ["Dành cho bạn: {line}", "For you: {line}"]
  };
  var POLL_MS = 2000;

  var lang = "vi";
  var state = null;
  var screen = "home";
  var chosenService = null;
  var patient = null;
  var payer = null;  // the hub's BHYT answer for this patient: status, label(s), the line to offer first
  var lastTicket = null;
  var lastScanId = null;
  var messageBack = "home";
  var lastTouch = Date.now();

  function $(id) { return document.getElementById(id); }

  function t(key, values) {
    var pair = TEXT[key] || [key, key];
    var text = pair[lang === "en" ? 1 : 0];
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }

  function pick(item, field) {
    // Vietnamese by default; the English name when the page is in English and the hub has one.
    return (lang === "en" && item[field + "_en"]) ? item[field + "_en"] : item[field];
  }

  function waitText(estimate) {
    if (!estimate) { return ""; }
    var low = Math.round(Math.min(estimate.p50_minutes, estimate.p90_minutes));
    var high = Math.round(Math.max(estimate.p50_minutes, estimate.p90_minutes));
    if (high < 1) { return t("estimate_short"); }
    low = Math.max(low, 1);
    return low === high ? t("estimate_one", {a: low}) : t("estimate", {a: low, b: high});
  }

  // ------------------------------------------------------------------ screens
  function show(name) {
    screen = name;
    document.querySelectorAll(".screen").forEach(function (section) {
      section.hidden = section.getAttribute("data-screen") !== name;
    });
    document.body.setAttribute("data-screen", name);
    if (name === "cccd") { $("cccd-input").value = ""; $("cccd-input").focus(); }
    if (name === "typed") { typedStep("number"); }
    if (name === "booking") { $("booking-code").focus(); }
    if (name === "services") { showScrollCue(); }
  }

  function setLanguage(next) {
    lang = next;
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-t]").forEach(function (element) {
      element.textContent = t(element.getAttribute("data-t"));
    });
    document.querySelectorAll("[data-lang-only]").forEach(function (element) {
      element.hidden = element.getAttribute("data-lang-only") !== lang;
    });
    render();
  }

  function toStart() {
    chosenService = null;
    patient = null;
    payer = null;
    lastTicket = null;
    $("booking-code").value = "";
    $("cccd-input").value = "";
    clearTyped();
    // Redrawn now, not at the next poll: the next patient must never see this one's name or payer.
    if (lang !== "vi") { setLanguage("vi"); } else { render(); }
    show("home");
  }

  function showMessage(error, back) {
    var message = error && (lang === "en" ? error.message_en : error.message);
    $("message-text").textContent = message || t("network_error");
    messageBack = back || "home";
    show("message");
  }

  // ------------------------------------------------------------------ drawing
  function render() {
    if (!state) { return; }
    $("site-name").textContent = state.site.name;
    $("site-name-en").textContent = state.site.name_en;
    $("chip-offline").hidden = state.online;
    $("chip-paper").hidden = state.paper !== "out";
    $("not-ready").hidden = state.ready;
    renderServices();
    renderPriorities();
    if (screen === "result" && lastTicket) { renderTicket(lastTicket); }
    if (patient) {
      $("patient-banner").hidden = false;
      $("patient-banner").textContent = t("hello_patient", {name: patient.full_name});
    } else {
      $("patient-banner").hidden = true;
    }
    renderPayer();
  }

  function renderPayer() {
    var banner = $("payer-banner");
    if (!patient || !payer) { banner.hidden = true; banner.removeAttribute("data-payer"); return; }
    var text;
    if (payer.status === "eligible") { text = t("payer_eligible"); }
    else if (payer.status === "unchecked") { text = t("payer_unchecked"); }
    else {
      var reason = TEXT["reason_" + payer.reason] ? "reason_" + payer.reason : "reason_other";
      text = t("payer_refused", {reason: t(reason)});
    }
    banner.setAttribute("data-payer", payer.status);
    setText(banner, text);
    banner.hidden = false;
  }

  function suggestedCode(open) {
    // The line the hub suggests for this payer ([lines] in config/insurance.toml), when this kiosk offers it.
    var code = patient && payer && payer.service;
    return code && open.some(function (service) { return service.code === code; }) ? code : null;
  }

  function renderServices() {
    var list = $("service-list");
    var open = state.services.filter(function (service) { return service.open; });
    var suggested = suggestedCode(open);
    if (suggested) {
      // Offered first: the patient's payer line leads the list, the others stay a tap away.
      open = open.filter(function (s) { return s.code === suggested; })
        .concat(open.filter(function (s) { return s.code !== suggested; }));
    }
    var codes = open.map(function (service) { return service.code; }).join(",") + "|" + (suggested || "");
    // Buttons are rebuilt only when the set of services changes: a count changing under a finger
    // must not replace the button being tapped.
    if (list.getAttribute("data-codes") !== codes) {
      list.setAttribute("data-codes", codes);
      list.textContent = "";
      open.forEach(function (service) { list.appendChild(serviceButton(service.code)); });
    }
    open.forEach(function (service) {
      var button = list.querySelector('[data-code="' + service.code + '"]');
      var lines = [];
      if (state.online) {
        lines.push(service.waiting > 0 ? t("waiting", {n: service.waiting}) : t("nobody_waiting"));
        if (service.estimate) { lines.push(waitText(service.estimate)); }
      } else if (service.offline_left <= 0) {
        lines.push(t("offline_left_none"));
      }
      setText(button.querySelector(".service-name"), pick(service, "name"));
      setText(button.querySelector(".service-detail"), lines.join(" · "));
      setText(button.querySelector(".service-rooms"), roomList(service.rooms));
      var isSuggested = service.code === suggested;
      button.classList.toggle("suggested", isSuggested);
      button.setAttribute("aria-current", isSuggested ? "true" : "false");
      var badge = button.querySelector(".service-badge");
      badge.hidden = !isSuggested;
      setText(badge, isSuggested ? t("suggested", {line: pick(payer, "label") || ""}) : "");
    });
    $("no-services").hidden = open.length > 0;
    showScrollCue();
  }

  function roomList(rooms) {
    // A service with twenty rooms names three: the rest would push every other button off the screen.
    var names = rooms.map(function (room) { return pick(room, "name"); });
    if (names.length <= ROOMS_NAMED) { return names.join(", "); }
    return names.slice(0, ROOMS_NAMED).join(", ") + " " + t("more_rooms", {n: names.length - ROOMS_NAMED});
  }

  function showScrollCue() {
    // The service list scrolls on a small screen: say so while anything is still below.
    var list = $("service-list");
    $("service-more").hidden = list.scrollTop + list.clientHeight >= list.scrollHeight - 2;
  }

  function serviceButton(code) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "service";
    button.setAttribute("data-code", code);
    ["service-badge", "service-name", "service-detail", "service-rooms"].forEach(function (name) {
      var part = document.createElement("span");
      part.className = name;
      button.appendChild(part);
    });
    button.addEventListener("click", function () {
      var service = state.services.filter(function (s) { return s.code === code; })[0];
      if (service) { chooseService(service); }
    });
    return button;
  }

  function setText(element, text) {
    if (element.textContent !== text) { element.textContent = text; }
  }

  function renderPriorities() {
    var holder = $("priority-classes");
    var wanted = state.priorities.map(function (p) { return p.code; }).join(",") + lang;
    if (holder.getAttribute("data-drawn") === wanted) { return; }
    holder.setAttribute("data-drawn", wanted);
    holder.textContent = "";
    state.priorities.forEach(function (klass) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "priority-choice";
      button.setAttribute("data-priority", klass.code);
      button.textContent = pick(klass, "name");
      holder.appendChild(button);
    });
  }

  function renderTicket(ticket) {
    $("result-number").textContent = ticket.number;
    $("result-service").textContent = pick(ticket, "service_name");
    $("result-payer").hidden = !ticket.payer;
    $("result-payer").textContent = ticket.payer ? pick(ticket, "payer") : "";
    var rooms = roomList(ticket.rooms);
    $("result-rooms").textContent = rooms ? t("rooms", {rooms: rooms}) : "";
    var ahead = "";
    if (ticket.ahead !== null && ticket.ahead !== undefined) {
      ahead = ticket.ahead <= 0 ? t("next") : (ticket.ahead === 1 ? t("ahead_one") : t("ahead", {n: ticket.ahead}));
    }
    $("result-ahead").textContent = ahead;
    $("result-wait").textContent = waitText(ticket.estimate);
    var priority = lang === "en" ? ticket.priority_name_en : ticket.priority_name;
    $("result-priority").hidden = !priority;
    $("result-priority").textContent = priority ? t("priority_badge", {name: priority}) : "";
    $("result-offline").hidden = !ticket.offline;
    var printState = ticket.print_state;
    var print = $("result-print");
    print.setAttribute("data-state", printState);
    print.textContent = printState === "printed" ? t("printed") :
      (printState === "paper_out" ? t("paper_out") : t("print_failed"));
    $("reprint").hidden = printState === "printed";
  }

  // ------------------------------------------------------------------ talking to the agent
  function call(path, body) {
    return fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (reply) {
        if (!response.ok) { throw (reply && reply.error) || {}; }
        return reply;
      });
    });
  }

  function showTicket(ticket) {
    lastTicket = ticket;
    renderTicket(ticket);
    show("result");
  }

  function chooseService(service) {
    chosenService = service;
    $("priority-service").textContent = pick(service, "name");
    show("priority");
  }

  function takeNumber(priority) {
    if (!chosenService) { return toStart(); }
    show("busy");
    var body = {service: chosenService.code, priority: priority};
    if (patient) { body.patient_code = patient.code; }
    call("/api/tickets", body).then(function (reply) { showTicket(reply.ticket); })
      .catch(function (error) { showMessage(error, "services"); });
  }

  function checkInBooking(code) {
    if (!code) { return; }
    show("busy");
    call("/api/booking", {code: code}).then(function (reply) { showTicket(reply.ticket); })
      .catch(function (error) { showMessage(error, "booking"); });
  }

  function identifyCard(payload) {
    if (!payload) { return; }
    show("busy");
    call("/api/cccd", {payload: payload}).then(function (reply) { greet(reply.patient, reply.insurance); })
      .catch(function (error) { showMessage(error, "cccd"); });
  }

  // ------------------------------------------------------------------ typed CCCD number / BHYT card code
  // Two steps on one screen: the number, then the date of birth (the second factor the hub checks).
  var TYPED_NUMBER = /^(\d{12}|[A-Z]{2}[1-5]\d{12})$/;

  function typedStep(step) {
    var section = document.querySelector("[data-screen=typed]");
    var isNumber = step === "number";
    section.setAttribute("data-step", step);
    $("typed-title").setAttribute("data-t", isNumber ? "typed_number_title" : "typed_birth_title");
    $("typed-hint").setAttribute("data-t", isNumber ? "typed_number_hint" : "typed_birth_hint");
    $("typed-submit").setAttribute("data-t", isNumber ? "next_step" : "confirm");
    ["typed-title", "typed-hint", "typed-submit"].forEach(function (id) {
      $(id).textContent = t($(id).getAttribute("data-t"));
    });
    $("typed-hint").classList.remove("bad");
    $("typed-number").hidden = !isNumber;
    $("typed-keypad").hidden = !isNumber;
    $("typed-birth").hidden = isNumber;
    $("birth-keypad").hidden = isNumber;
    if (isNumber) { $("typed-birth").value = ""; }
  }

  function typedProblem(key) {
    $("typed-hint").textContent = t(key);
    $("typed-hint").classList.add("bad");
  }

  function clearTyped() {
    // Personal data: nothing typed stays on the screen for the next patient.
    $("typed-number").value = "";
    $("typed-birth").value = "";
  }

  function birthText(digits) {
    // dd/mm/yyyy, the slashes put in as the patient types the digits.
    return [digits.slice(0, 2), digits.slice(2, 4), digits.slice(4, 8)].filter(Boolean).join("/");
  }

  function submitTyped() {
    var section = document.querySelector("[data-screen=typed]");
    if (section.getAttribute("data-step") === "number") {
      var number = $("typed-number").value.replace(/[\s-]/g, "").toUpperCase();
      if (!TYPED_NUMBER.test(number)) { typedProblem("typed_number_bad"); return; }
      $("typed-number").value = number;
      typedStep("birth");
      return;
    }
    var born = birthText($("typed-birth").value.replace(/\D/g, ""));
    if (!/^\d{2}\/\d{2}\/\d{4}$/.test(born)) { typedProblem("typed_birth_bad"); return; }
    var body = {number: $("typed-number").value, date_of_birth: born};
    clearTyped();
    show("busy");
    call("/api/cccd/typed", body).then(function (reply) { greet(reply.patient, reply.insurance); })
      .catch(function (error) { showMessage(error, "typed"); });
  }

  function greet(found, insurance) {
    patient = found;
    payer = insurance || null;
    render();
    show("services");
    var first = document.querySelector("#service-list .service.suggested");
    if (first) { first.focus({preventScroll: true}); }
  }

  function handleScan(scan) {
    // A scan on the serial scanner, already acted on by the agent.
    lastTouch = Date.now();
    if (scan.kind === "patient") { greet(scan.patient, scan.insurance); }
    else if (scan.kind === "ticket") { showTicket(scan.ticket); }
    else { showMessage(scan.error, "home"); }
  }

  function poll() {
    fetch("/api/state", {cache: "no-store"}).then(function (response) { return response.json(); })
      .then(function (next) {
        state = next;
        if (lastScanId === null) {
          lastScanId = next.scan ? next.scan.id : 0;  // what was scanned before this page loaded is not ours
        } else if (next.scan && next.scan.id > lastScanId) {
          lastScanId = next.scan.id;
          handleScan(next.scan);
        }
        render();
      })
      .catch(function () { /* the agent restarts: keep the screen, try again */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  // ------------------------------------------------------------------ keypad and idle
  // The one on-screen keypad builder: `keys` into the pad, each typing into `input` (at most `max`
  // characters of the raw value); `format` turns the raw characters into what the box shows.
  var LETTERS_AND_DIGITS = "1234567890QWERTYUIOPASDFGHJKLZXCVBNM".split("");

  function buildKeypad(pad, input, keys, max, format) {
    var raw = format ? function () { return input.value.replace(/\D/g, ""); } : function () { return input.value; };
    var display = format || function (value) { return value; };
    keys.forEach(function (key) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = key;
      button.className = key === "⌫" ? "key wide" : "key";
      button.addEventListener("click", function () {
        var value = raw();
        value = key === "⌫" ? value.slice(0, -1) : (value + key).slice(0, max);
        input.value = display(value);
      });
      pad.appendChild(button);
    });
  }

  function buildKeypads() {
    buildKeypad($("keypad"), $("booking-code"), LETTERS_AND_DIGITS.concat(["-", "⌫"]), 32);
    buildKeypad($("typed-keypad"), $("typed-number"), LETTERS_AND_DIGITS.concat(["⌫"]), 15);
    buildKeypad($("birth-keypad"), $("typed-birth"), "1234567890".split("").concat(["⌫"]), 8, birthText);
  }

  function watchIdle() {
    ["pointerdown", "keydown"].forEach(function (kind) {
      document.addEventListener(kind, function () { lastTouch = Date.now(); }, true);
    });
    setInterval(function () {
      var idleMs = ((state && state.idle_s) || 45) * 1000;
      if (screen !== "home" && screen !== "busy" && Date.now() - lastTouch > idleMs) { toStart(); }
    }, 1000);
  }

  function wire() {
    $("lang").addEventListener("click", function () { setLanguage(lang === "vi" ? "en" : "vi"); });
    $("go-ticket").addEventListener("click", function () { show("services"); });
    $("service-list").addEventListener("scroll", showScrollCue, {passive: true});
    window.addEventListener("resize", showScrollCue);
    $("go-booking").addEventListener("click", function () { show("booking"); });
    $("go-cccd").addEventListener("click", function () { show("cccd"); });
    $("go-typed").addEventListener("click", function () { clearTyped(); show("typed"); });
    $("typed-form").addEventListener("submit", function (event) {
      event.preventDefault();
      submitTyped();
    });
    $("typed-back").addEventListener("click", function () {
      if (document.querySelector("[data-screen=typed]").getAttribute("data-step") === "birth") {
        typedStep("number");
      } else {
        clearTyped();
        show("cccd");
      }
    });
    document.querySelectorAll("[data-go]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = button.getAttribute("data-go");
        if (target === "home") { toStart(); } else { show(target); }
      });
    });
    $("priority-classes").parentNode.addEventListener("click", function (event) {
      var button = event.target.closest("[data-priority]");
      if (button) { takeNumber(button.getAttribute("data-priority")); }
    });
    $("booking-form").addEventListener("submit", function (event) {
      event.preventDefault();
      checkInBooking($("booking-code").value.trim().toUpperCase());
    });
    $("cccd-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var payload = $("cccd-input").value;
      $("cccd-input").value = "";  // personal data: not left on the screen
      identifyCard(payload);
    });
    $("reprint").addEventListener("click", function () {
      if (!lastTicket) { return; }
      show("busy");
      call("/api/tickets/" + encodeURIComponent(lastTicket.key) + "/reprint")
        .then(function (reply) { showTicket(reply.ticket); })
        .catch(function (error) { showMessage(error, "home"); });
    });
    $("done").addEventListener("click", toStart);
    $("message-back").addEventListener("click", function () {
      if (messageBack === "home") { toStart(); } else { show(messageBack); }
    });
  }

  buildKeypads();
  wire();
  setLanguage("vi");
  watchIdle();
  poll();
}());

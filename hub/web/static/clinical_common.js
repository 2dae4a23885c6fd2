// What the doctor's page and the lab page share: REST calls with the login session and the CSRF header,
// texts in the page's language, number and money formats, and the results table of an order.
window.Clinical = (function () {
  "use strict";

  var api = window.ClinicqApi.api;



  // The page's message line (#message): an outcome or a refusal, styled by `kind` (ok or error).
  function say(text, kind) {
    var box = document.getElementById("message");
    box.hidden = !text;
    box.textContent = text || "";
    box.className = "message " + (kind || "ok");
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined && values[key] !== null ? values[key] : "";
    });
  }

  // Hub messages are sometimes "Vietnamese / English": show the half of the page's language.
  function localMessage(message, lang) {
    var parts = String(message || "").split(" / ");
    if (parts.length !== 2) { return message || ""; }
    return lang === "en" ? parts[1] : parts[0];
  }

  function refusal(reply, labels, lang) {
    var error = (reply.body && reply.body.error) || { code: "", message: "HTTP " + reply.status };
    var label = labels["err_" + error.code] || labels.refused;
    return label + ": " + localMessage(error.message, lang);
  }

  // el("td", {className: "x", text: "..."}, [children]): a small DOM builder (text is never parsed as HTML).
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") { node.textContent = props[key]; }
      else if (key === "dataset") { Object.assign(node.dataset, props[key]); }
      else { node[key] = props[key]; }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function locale(lang) { return lang === "en" ? "en-GB" : "vi-VN"; }

  function money(amount, lang) { return Number(amount).toLocaleString(locale(lang)); }

  function number(value, lang) {
    return Number(value).toLocaleString(locale(lang), { maximumFractionDigits: 3 });
  }

  // "5,2" or "5.2" as typed -> 5.2; NaN when it is not a number.
  function parseNumber(text) {
    var cleaned = String(text).trim().replace(/\s/g, "").replace(",", ".");
    return /^-?\d+(\.\d+)?$/.test(cleaned) ? parseFloat(cleaned) : NaN;
  }

  function range(low, high, lang) {
    if (low === null && high === null) { return ""; }
    if (low === null) { return "≤ " + number(high, lang); }
    if (high === null) { return "≥ " + number(low, lang); }
    return number(low, lang) + " – " + number(high, lang);
  }

  // The same rule as the hub (hub.domain.orders.flag), to show the flag while the value is typed.
  function flag(value, low, high) {
    if (high !== null && high !== undefined && value > high) { return "H"; }
    if (low !== null && low !== undefined && value < low) { return "L"; }
    return null;
  }

  function clockTime(iso, lang, timezone) {
    return new Date(iso).toLocaleTimeString(locale(lang), { hour: "2-digit", minute: "2-digit", timeZone: timezone });
  }

  function day(iso, lang) {
    var parts = String(iso).split("-");
    return lang === "en" ? iso : parts[2] + "/" + parts[1] + "/" + parts[0];
  }

  // An order's results: the values with units, ranges and flags, or the report text.
  function results(order, lang) {
    var box = el("div", { className: "results" });
    if (order.values && order.values.length) {
      var rows = order.values.map(function (v) {
        return el("tr", { className: v.flag ? "flag-" + v.flag : "" }, [
          el("td", { text: v.name + " (" + v.code + ")" }),
          el("td", { className: "value", text: number(v.value, lang) + (v.unit ? " " + v.unit : "") }),
          el("td", { className: "range", text: range(v.low, v.high, lang) +
                                              (v.note ? " " + localMessage(v.note, lang) : "") }),
          el("td", { className: "flag", text: v.flag || "" })
        ]);
      });
      box.appendChild(el("table", { className: "values" }, [el("tbody", {}, rows)]));
    }
    if (order.report) { box.appendChild(el("p", { className: "report", text: order.report })); }
    return box;
  }

  return { api: api, say: say, fill: fill, localMessage: localMessage, refusal: refusal, el: el, money: money,
           number: number, parseNumber: parseNumber, range: range, flag: flag, clockTime: clockTime, day: day,
           results: results };
})();

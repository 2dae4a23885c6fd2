// Numbers, money and percents as hub/formatting.py writes them, for pages that draw live data:
// "1.234.567 ₫" and "5,2 %" in Vietnamese, "₫1,234,567" and "5.2%" in English. A non-breaking space
// joins a number to its unit so it never wraps. Minutes are whole: people do not wait 12,5 minutes.
(function () {
  "use strict";
  var NBSP = "\u00a0";

  function number(value, lang, decimals) {
    if (value === null || value === undefined || value === "" || isNaN(Number(value))) { return "—"; }
    var en = lang === "en";
    var places = decimals === undefined ? (Number.isInteger(Number(value)) ? 0 : 2) : decimals;
    // Half up, as people round (toFixed rounds 1.005 down on binary floats).
    var factor = Math.pow(10, places);
    var rounded = Math.round(Math.abs(Number(value)) * factor + 1e-9) / factor;
    var text = rounded.toFixed(places);
    if (decimals === undefined && places) { text = text.replace(/\.?0+$/, ""); }
    var parts = text.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, en ? "," : ".");
    var sign = Number(value) < 0 && rounded !== 0 ? "-" : "";
    return sign + whole + (parts[1] ? (en ? "." : ",") + parts[1] : "");
  }

  function money(amount, lang) {
    if (amount === null || amount === undefined) { return "—"; }
    if (lang === "en") { return (amount < 0 ? "-" : "") + "₫" + number(Math.abs(amount), "en", 0); }
    return number(amount, "vi", 0) + NBSP + "₫";
  }

  function percent(value, lang, decimals) {
    if (value === null || value === undefined) { return "—"; }
    var text = number(value, lang, decimals === undefined ? 1 : decimals);
    return lang === "en" ? text + "%" : text + NBSP + "%";
  }

  function minutes(value) {
    return value === null || value === undefined ? "—" : String(Math.max(0, Math.round(Number(value))));
  }

  window.clinicqFormat = { number: number, money: money, percent: percent, minutes: minutes };
})();

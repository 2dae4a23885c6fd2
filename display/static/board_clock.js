// The board's clock and date in the site's time zone, e.g. "08:05" and "Thứ Hai, 23/11/2026".
// It shows the hub's time, not the TV's: each snapshot carries server_time, and between snapshots
// that instant is carried forward on the monotonic clock (performance.now), so a Raspberry Pi with
// no RTC and a wrong date, or a clock that NTP steps later, still shows the right time.
(function () {
  "use strict";

  const WEEKDAYS_VI = { Sun: "Chủ Nhật", Mon: "Thứ Hai", Tue: "Thứ Ba", Wed: "Thứ Tư", Thu: "Thứ Năm",
    Fri: "Thứ Sáu", Sat: "Thứ Bảy" };
  const WEEKDAYS_EN = { Sun: "Sunday", Mon: "Monday", Tue: "Tuesday", Wed: "Wednesday", Thu: "Thursday",
    Fri: "Friday", Sat: "Saturday" };
  const MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  class BoardClock {
    constructor(elements, timeZone) {
      this.elements = elements; // {time, dateVi, dateEn}
      this.anchor = null; // {server: epoch ms from the hub, mono: performance.now() when it arrived}
      this.timeZone = null;
      this.format = null;
      this.setTimeZone(timeZone);
    }

    setTimeZone(timeZone) {
      if (!timeZone || timeZone === this.timeZone) {
        return;
      }
      try {
        this.format = new Intl.DateTimeFormat("en-US", {
          timeZone: timeZone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23"
        });
        this.timeZone = timeZone;
      } catch (error) {
        // An unknown zone name must not blank the clock: keep the previous formatter.
        console.warn("board clock: unknown time zone", timeZone, error);
      }
    }

    setServerTime(iso) {
      const server = Date.parse(iso);
      if (!Number.isNaN(server)) {
        this.anchor = { server: server, mono: performance.now() };
      }
      this.tick();
    }

    now() {
      return this.anchor ? this.anchor.server + (performance.now() - this.anchor.mono) : Date.now();
    }

    parts(epochMs) {
      const out = {};
      for (const part of this.format.formatToParts(new Date(epochMs))) {
        out[part.type] = part.value;
      }
      return out;
    }

    tick() {
      const p = this.parts(this.now());
      const month = parseInt(p.month, 10);
      setText(this.elements.time, p.hour + ":" + p.minute);
      setText(this.elements.dateVi, WEEKDAYS_VI[p.weekday] + ", " + p.day + "/" + p.month + "/" + p.year);
      setText(this.elements.dateEn, WEEKDAYS_EN[p.weekday] + " " + parseInt(p.day, 10) + " " +
        MONTHS_EN[month - 1] + " " + p.year);
    }

    start() {
      // The only timer of the clock, for the life of the page.
      this.tick();
      setInterval(() => this.tick(), 1000);
    }
  }

  function setText(element, text) {
    // Writing only on change keeps a days-long page from re-laying out every second.
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  window.BoardClock = BoardClock;
})();

// Drawing the board: counter tiles, the last-calls list, the service cards and the notice.
// A board runs for days, so elements are made once per configuration and then only rewritten:
// no node, listener or timer is added per call. Everything is set with textContent, never as HTML.
(function () {
  "use strict";

  const NEXT_SLOTS = 5; // the hub sends up to five next numbers per service
  const COUNTER_ASPECT = 1.6; // width / height a counter tile looks best at
  const SERVICE_ASPECT = 2.6;
  const TICKER_SCREENS_PER_SECOND = 1 / 14; // the notice crosses the screen in about 14 s

  const TICKET_STATUS = {
    called: ["Mời vào", "Please come in"],
    serving: ["Đang phục vụ", "Serving"],
    on_hold: ["Tạm chờ", "On hold"]
  };
  const COUNTER_STATE = {
    paused: ["Tạm nghỉ", "Paused"],
    closed: ["Đóng cửa", "Closed"]
  };
  const IDLE = ["Chưa gọi số", "No number yet"];

  function make(tag, className, parent, text) {
    const element = document.createElement(tag);
    if (className) {
      element.className = className;
    }
    if (text !== undefined) {
      element.textContent = text;
    }
    if (parent) {
      parent.appendChild(element);
    }
    return element;
  }

  function pair(className, parent) {
    // Two spans, Vietnamese then English; the body's lang-* class decides which are shown.
    const holder = make("div", className, parent);
    return { holder: holder, vi: make("span", "vi", holder), en: make("span", "en", holder) };
  }

  function setPair(target, texts) {
    setText(target.vi, texts[0]);
    setText(target.en, texts[1]);
  }

  function setText(element, text) {
    if (element.textContent !== text) {
      element.textContent = text;
    }
  }

  function restartFlash(element) {
    // Removing and re-adding the class restarts the CSS animation (a recall flashes again);
    // reading offsetWidth in between makes the browser see the class as gone.
    element.classList.remove("flash");
    void element.offsetWidth;
    element.classList.add("flash");
  }

  function bestColumns(count, width, height, aspect) {
    // The column count that gives the largest tiles of the wanted shape in this box.
    let best = 1;
    let bestSize = 0;
    for (let cols = 1; cols <= count; cols += 1) {
      const rows = Math.ceil(count / cols);
      const size = Math.min(width / cols / aspect, height / rows);
      if (size > bestSize + 0.5) {
        best = cols;
        bestSize = size;
      }
    }
    return best;
  }

  function overflows(element) {
    // A tile cuts its content (overflow: hidden): bigger content than box means something is cut.
    if (element.scrollHeight > element.clientHeight + 1 || element.scrollWidth > element.clientWidth + 1) {
      return true;
    }
    const parts = Array.from(element.children).filter(function (child) { return child.getClientRects().length; });
    if (parts.some(function (child) { return child.scrollWidth > child.clientWidth + 1; })) {
      return true;
    }
    // A grid row squeezed to nothing lets its big number spill over the name: parts must not overlap.
    const boxes = parts.map(function (child) { return child.getBoundingClientRect(); });
    const outer = element.getBoundingClientRect();
    return boxes.some(function (box, index) {
      if (box.top < outer.top - 1 || box.bottom > outer.bottom + 1) {
        return true;
      }
      return boxes.slice(index + 1).some(function (other) {
        return Math.min(box.right, other.right) - Math.max(box.left, other.left) > 1
          && Math.min(box.bottom, other.bottom) - Math.max(box.top, other.top) > 1;
      });
    });
  }

  function estimateText(estimate, waiting) {
    if (!estimate || estimate.p50_minutes == null) {
      return ["Chưa có dự kiến", "No estimate yet"];
    }
    const low = Math.max(0, Math.round(estimate.p50_minutes));
    const high = Math.max(low, Math.round(estimate.p90_minutes == null ? low : estimate.p90_minutes));
    if (high === 0 && !waiting) {
      return ["Không phải chờ", "No wait"];
    }
    if (low === high) {
      return ["Dự kiến chờ " + low + " phút", "Est. wait " + low + " min"];
    }
    return ["Dự kiến chờ " + low + "–" + high + " phút", "Est. wait " + low + "–" + high + " min"];
  }

  function waitingText(waiting) {
    if (!waiting) {
      return ["Không ai chờ", "No one waiting"];
    }
    return ["Đang chờ " + waiting, waiting + " waiting"];
  }

  function maskInitials(text) {
    // Reserved for show_initials: whatever arrives, only the first letter of each word is shown.
    return String(text).trim().split(/\s+/).slice(0, 4)
      .map(function (word) { return word.charAt(0).toUpperCase(); }).join(".");
  }

  class BoardView {
    constructor(options) {
      this.body = document.body;
      this.callLimit = options.callLimit;
      this.countersBox = document.getElementById("counters");
      this.callsBox = document.getElementById("calls");
      this.servicesBox = document.getElementById("services");
      this.notice = document.getElementById("notice");
      this.noticeText = document.getElementById("notice-text");
      this.boardName = document.getElementById("board-name");
      this.counterTiles = new Map();
      this.serviceCards = new Map();
      this.showInitials = false;
      this.language = "vi+en";
      this.callRows = this.makeCallRows();
      this.placeholders = {
        counters: document.getElementById("counters-none"),
        calls: document.getElementById("calls-none"),
        services: document.getElementById("services-none")
      };
      this.manyCounters = this.body.dataset.manyCounters === "calls" ? "calls" : "page";
      // Pages of counters and of services: how many fit, which one shows; one timer turns them all.
      this.pagers = {
        counters: { box: this.countersBox, label: document.getElementById("counters-page"), items: [], pages: [],
                    page: 0, aspect: COUNTER_ASPECT },
        services: { box: this.servicesBox, label: document.getElementById("services-page"), items: [], pages: [],
                    page: 0, aspect: SERVICE_ASPECT }
      };
      const seconds = Math.max(3, parseInt(this.body.dataset.pageSeconds, 10) || 10);
      window.setInterval(() => this.turnPages(), seconds * 1000);
      this.refitPending = false;
    }

    // ------------------------------------------------------------ configuration
    setConfig(board) {
      if (board.language && board.language !== this.language) {
        this.body.classList.remove("lang-vi", "lang-en", "lang-vi-en");
        this.body.classList.add("lang-" + board.language.replace("+", "-"));
        this.language = board.language;
      }
      if (board.layout) {
        const portrait = board.layout === "portrait";
        this.body.classList.toggle("layout-portrait", portrait);
        this.body.classList.toggle("layout-landscape", !portrait);
      }
      setText(this.boardName, board.name || "");
      this.showInitials = Boolean(board.show_initials);
      this.setNotice(board.notice || "");
    }

    setNotice(text) {
      if (text === this.noticeText.textContent && !this.notice.hidden === Boolean(text)) {
        return; // unchanged: leave the running animation alone
      }
      this.noticeText.textContent = text;
      this.notice.hidden = !text;
      this.fitNotice();
    }

    fitNotice() {
      if (this.notice.hidden) {
        return;
      }
      // Short notices stand still in the middle; long ones scroll at an even speed.
      this.notice.classList.add("fits");
      const width = this.notice.clientWidth;
      const textWidth = this.noticeText.offsetWidth;
      if (textWidth <= width * 0.95) {
        return;
      }
      this.notice.classList.remove("fits");
      const seconds = (width + textWidth) / (window.innerWidth * TICKER_SCREENS_PER_SECOND);
      this.noticeText.style.setProperty("--ticker-seconds", seconds.toFixed(1) + "s");
    }

    // ------------------------------------------------------------ counters (now serving)
    setCounters(counters) {
      const codes = counters.map(function (c) { return c.code; });
      if (codes.join(" ") !== Array.from(this.counterTiles.keys()).join(" ")) {
        this.buildCounterTiles(counters);
      }
      for (const counter of counters) {
        this.updateCounter(counter, false);
      }
    }

    buildCounterTiles(counters) {
      // Only when the board's configuration changed (after a hub restart): tiles are reused otherwise.
      this.countersBox.replaceChildren();
      this.counterTiles.clear();
      for (const counter of counters) {
        const tile = make("div", "counter", this.countersBox);
        tile.dataset.code = counter.code;
        const name = pair("cname inline-en", tile);
        const number = make("div", "num", tile);
        const state = pair("cstate inline-en", tile);
        setPair(name, [counter.name, counter.name_en || counter.name]);
        this.counterTiles.set(counter.code, { tile: tile, number: number, state: state });
      }
      this.layout();
    }

    updateCounter(counter, flash) {
      const parts = this.counterTiles.get(counter.code);
      if (!parts) {
        return;
      }
      const ticket = counter.ticket;
      const status = ticket ? ticket.status : "";
      parts.tile.dataset.status = status;
      parts.tile.dataset.state = counter.state || "open";
      setText(parts.number, ticket ? ticket.number : "—");
      let label = IDLE;
      if (COUNTER_STATE[counter.state]) {
        label = COUNTER_STATE[counter.state];
      } else if (TICKET_STATUS[status]) {
        label = TICKET_STATUS[status];
      }
      setPair(parts.state, label);
      if (!parts.tile.hidden && overflows(parts.tile)) {
        this.scheduleLayout(); // a longer label no longer fits this page: fewer tiles per page
      }
      if (flash) {
        restartFlash(parts.tile);
      }
    }

    // ------------------------------------------------------------ last calls
    makeCallRows() {
      this.callsBox.style.setProperty("--n", String(this.callLimit));
      const rows = [];
      for (let i = 0; i < this.callLimit; i += 1) {
        const row = make("li", "call empty", this.callsBox);
        const number = make("span", "num", row);
        make("span", "arrow", row, "→");
        const where = make("span", "where stack", row);
        const nameVi = make("span", "vi", where);
        const nameEn = make("span", "en", where);
        const initials = make("span", "initials", where);
        const tag = make("span", "tag", row);
        rows.push({ row: row, number: number, where: { vi: nameVi, en: nameEn }, initials: initials, tag: tag });
      }
      return rows;
    }

    setCalls(calls, flashNewest) {
      // `calls`: newest first, at most callLimit, one per ticket number.
      const recallWord = this.language === "en" ? "Recall" : "Gọi lại";
      this.callRows.forEach((parts, index) => {
        const call = calls[index];
        parts.row.classList.toggle("empty", !call);
        parts.row.classList.toggle("newest", index === 0 && Boolean(call));
        parts.row.classList.toggle("recall", Boolean(call && call.recall));
        if (index !== 0) {
          parts.row.classList.remove("flash");
        }
        parts.row.dataset.ticket = call ? call.number : "";
        setText(parts.number, call ? call.number : "");
        setPair(parts.where, call ? [call.counterName, call.counterNameEn || call.counterName] : ["", ""]);
        setText(parts.initials, call && this.showInitials && call.initials ? maskInitials(call.initials) : "");
        setText(parts.tag, recallWord);
      });
      this.placeholders.calls.hidden = calls.length > 0;
      this.callsBox.hidden = calls.length === 0;
      this.fitCalls();
      if (flashNewest && calls.length) {
        restartFlash(this.callRows[0].row);
      }
    }

    fitCalls() {
      // As many rows as fit with the names they show now (long room names wrap onto two lines).
      if (this.callsBox.hidden) {
        return;
      }
      let shown = this.callLimit;
      for (; shown >= 1; shown -= 1) {
        this.callRows.forEach(function (parts, index) { parts.row.classList.toggle("spare", index >= shown); });
        this.callsBox.style.setProperty("--n", String(shown));
        const rows = this.callRows.slice(0, shown).filter(function (parts) { return !parts.row.classList.contains("empty"); });
        if (shown === 1 || !rows.some(function (parts) { return overflows(parts.row); })) {
          break;
        }
      }
    }

    // ------------------------------------------------------------ services: next numbers, estimate
    setServices(services) {
      const codes = services.map(function (s) { return s.code; });
      if (codes.join(" ") !== Array.from(this.serviceCards.keys()).join(" ")) {
        this.buildServiceCards(services);
      }
      for (const service of services) {
        this.updateService(service);
      }
    }

    buildServiceCards(services) {
      this.servicesBox.replaceChildren();
      this.serviceCards.clear();
      for (const service of services) {
        const card = make("div", "svc", this.servicesBox);
        card.dataset.code = service.code;
        setPair(pair("sname inline-en", card), [service.name, service.name_en || service.name]);
        const next = make("div", "next oneline", card);
        const slots = [];
        for (let i = 0; i < NEXT_SLOTS; i += 1) {
          slots.push(make("span", "", next));
        }
        const none = make("span", "none", next, "—");
        const meta = make("div", "meta", card);
        const lines = {};
        for (const lang of ["vi", "en"]) {
          // The estimate first: when the line is short the waiting count is what drops out.
          const line = make("div", lang + " oneline", meta);
          lines[lang] = { est: make("span", "est", line), count: make("span", "count", line) };
        }
        this.serviceCards.set(service.code, { card: card, slots: slots, none: none, lines: lines });
      }
      this.layout();
    }

    updateService(service) {
      const parts = this.serviceCards.get(service.code);
      if (!parts) {
        return;
      }
      const next = service.next || [];
      parts.slots.forEach(function (slot, index) { setText(slot, next[index] || ""); });
      parts.none.hidden = next.length > 0;
      parts.card.dataset.waiting = String(service.waiting || 0);
      const count = waitingText(service.waiting);
      const estimate = estimateText(service.estimate, service.waiting);
      setText(parts.lines.vi.count, count[0]);
      setText(parts.lines.en.count, count[1]);
      setText(parts.lines.vi.est, estimate[0]);
      setText(parts.lines.en.est, estimate[1]);
    }

    // ------------------------------------------------------------ sizing
    layout() {
      const counters = this.pagers.counters;
      counters.items = Array.from(this.counterTiles.values(), function (parts) { return parts.tile; });
      this.body.classList.remove("no-serving");
      this.fitPages(counters);
      if (this.manyCounters === "calls" && counters.pages.length > 1) {
        // Too many counters to read at once: this board shows last calls and next numbers only.
        this.body.classList.add("no-serving");
      }
      const services = this.pagers.services;
      services.items = Array.from(this.serviceCards.values(), function (parts) { return parts.card; });
      this.fitPages(services);
      this.placeholders.counters.hidden = counters.items.length > 0;
      this.placeholders.services.hidden = services.items.length > 0;
      this.fitCalls();
      this.fitNotice();
    }

    scheduleLayout() {
      if (this.refitPending) {
        return;
      }
      this.refitPending = true;
      window.requestAnimationFrame(() => { this.refitPending = false; this.layout(); });
    }

    fitPages(pager) {
      // Pages filled greedily: each takes as many tiles as fit whole at a readable size, so short
      // names share a page by the dozen and a few long ones get a page of their own.
      const count = pager.items.length;
      pager.box.hidden = count === 0;
      pager.pages = [];
      if (!count) {
        pager.label.textContent = "";
        return;
      }
      const fits = (start, per) => {
        this.placeGrid(pager.box, per, pager.aspect);
        this.showSlice(pager, start, per);
        return !pager.items.slice(start, start + per).some(overflows);
      };
      let start = 0;
      while (start < count) {
        // Binary search for the largest page that fits: a few layouts per page, not one per tile.
        let low = 1;
        let high = count - start;
        while (low < high) {
          const middle = Math.ceil((low + high) / 2);
          if (fits(start, middle)) {
            low = middle;
          } else {
            high = middle - 1;
          }
        }
        pager.pages.push([start, low]);
        start += low;
      }
      pager.page = Math.min(pager.page, pager.pages.length - 1);
      this.showPage(pager);
    }

    showSlice(pager, start, per) {
      pager.items.forEach(function (item, index) {
        item.classList.add("paged");
        item.hidden = index < start || index >= start + per;
      });
    }

    showPage(pager) {
      const [start, per] = pager.pages[pager.page];
      this.placeGrid(pager.box, per, pager.aspect);
      this.showSlice(pager, start, per);
      pager.label.textContent = pager.pages.length > 1 ? (pager.page + 1) + "/" + pager.pages.length : "";
    }

    turnPages() {
      for (const pager of Object.values(this.pagers)) {
        if (pager.pages.length > 1) {
          pager.page = (pager.page + 1) % pager.pages.length;
          this.showPage(pager);
        }
      }
    }

    placeGrid(box, count, aspect) {
      if (!count) {
        return;
      }
      const cols = bestColumns(count, box.clientWidth, box.clientHeight, aspect);
      box.style.setProperty("--cols", String(cols));
      box.style.setProperty("--rows", String(Math.ceil(count / cols)));
    }
  }

  window.BoardView = BoardView;
})();

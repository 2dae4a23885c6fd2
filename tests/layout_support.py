"""A busy morning for layout tests: 40 counters with long Vietnamese names, long queues, and the
in-browser checks that find what a real display would cut, overflow or draw too small.

One hub (and one browser) serve every page of tests/test_layout.py, so the run stays bounded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from hub.config import load_config
from tests.hub_server import ROOT, HubProcess, start_hub

COUNTERS_WANTED = 40
# Long names as real departments have them: the board must fit these, not "Phòng 101".
LONG_ROOMS = (
    ("Phòng khám Nội tiết - Đái tháo đường", "Endocrinology and diabetes clinic", "tang-1", "kham-noi"),
    ("Phòng khám Tim mạch can thiệp", "Interventional cardiology clinic", "tang-1", "kham-noi"),
    ("Phòng khám Hô hấp và Bệnh phổi", "Respiratory and lung disease clinic", "tang-1", "kham-noi"),
    ("Phòng khám Nhi khoa tổng hợp", "General paediatrics clinic", "tang-1", "kham-nhi"),
    ("Phòng lấy mẫu xét nghiệm huyết học", "Haematology sample collection", "tang-2", "xet-nghiem"),
    ("Phòng siêu âm Doppler mạch máu", "Vascular Doppler ultrasound room", "tang-2", "cdha"),
)
STAFF = (  # username, full name, role, counter, password
    ("quan.tri", "Trần Văn Quản Trị Hệ Thống", "admin", None, "layout-admin-1"),
    ("tiep.don", "Nguyễn Thị Thanh Hương Tiếp Đón", "reception", "q2", "layout-reception-1"),
    ("bac.si", "BS.CKII Nguyễn Hoàng Phương Thảo", "doctor", "p101", "layout-doctor-1"),
    ("xet.nghiem", "KTV Lê Thị Ngọc Bích", "lab", "p201", "layout-lab-1"),
    ("thu.ngan", "Phạm Thị Thu Trang", "cashier", "q5", "layout-cashier-1"),
    ("dieu.duong", "ĐD Trịnh Thị Kim Oanh", "nurse", "p104", "layout-nurse-1"),
)


def busy_config(target: Path) -> Path:
    """The shipped configuration plus extra rooms with long names, up to 40 counters in all."""
    shutil.copytree(ROOT / "config", target)
    clinic = target / "clinic.toml"
    existing = clinic.read_text(encoding="utf-8").count("[[counters]]")
    extra = []
    for index in range(COUNTERS_WANTED - existing):
        name, name_en, zone, service = LONG_ROOMS[index % len(LONG_ROOMS)]
        number = 301 + index
        extra.append(f'\n[[counters]]\ncode = "b{number}"\nname = "{name} {number}"\n'
                     f'name_en = "{name_en} {number}"\nzone = "{zone}"\nservices = ["{service}"]\n')
    # A [[counters]] table appended at the end still extends the one array of counters (TOML).
    clinic.write_text(clinic.read_text(encoding="utf-8") + "".join(extra), encoding="utf-8")
    # An overview board that gives up the counter tiles when they do not fit: last calls + next numbers.
    displays = target / "displays.toml"
    displays.write_text(displays.read_text(encoding="utf-8") + '\n[[displays]]\nid = "tong-hop-goi"\n'
                        'name = "Bảng tổng hợp - số vừa gọi"\nmany_counters = "calls"\npage_seconds = 8\n',
                        encoding="utf-8")
    return target


def start_busy_hub(base: Path) -> HubProcess:
    config_dir = busy_config(base / "config")
    return start_hub(base / "var", config_dir=config_dir, start_timeout=60, staff=tuple(
        (username, full_name, role, password, counter) for username, full_name, role, counter, password in STAFF))


def busy_morning(hub: HubProcess) -> dict[str, Any]:
    """Every counter open, long queues in every service, a number called at most counters."""
    session = requests.Session()

    def post(path: str, role: str, body: dict | None = None) -> requests.Response:
        response = session.post(hub.api + path, json=body, headers=hub.headers(role), timeout=20)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    clinic = load_config(hub.config_dir, env={})
    for counter in clinic.counters:
        post(f"/counters/{counter.code}/open", "admin")
    tickets = []
    for service in clinic.services:
        for _ in range(12):
            tickets.append(post("/tickets", "kiosk", {"service": service.code}).json())
    for counter in clinic.counters[::2]:
        session.post(f"{hub.api}/counters/{counter.code}/next", headers=hub.headers("admin"), timeout=20)
    return {"tickets": tickets, "counters": len(clinic.counters)}


# ------------------------------------------------------------------ in-page checks
# Visible elements only; a scroll container's children may lie outside the viewport (they scroll),
# the container itself may not. Text that its own box cuts (overflow hidden, ellipsis) is reported.
LAYOUT_PROBLEMS_JS = """(opts) => {
  const problems = [];
  const W = innerWidth, H = innerHeight;
  const root = document.documentElement;
  if (root.scrollWidth > W + 1) problems.push(`page scrolls sideways: ${root.scrollWidth} > ${W}`);
  if (opts.fixedHeight && root.scrollHeight > H + 1 && !opts.scrollCue)
    problems.push(`page taller than the screen: ${root.scrollHeight} > ${H}`);
  const describe = el => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    return el.tagName.toLowerCase() + id + cls + ' "' + (el.textContent || el.value || '').trim().slice(0, 40) + '"';
  };
  const visible = el => {
    if (!el.getClientRects().length) return false;
    // A closed <details> keeps boxes for its content in Chromium, but nothing of it is drawn.
    const closed = el.closest('details:not([open])');
    if (closed && !el.closest('summary') && el !== closed) return false;
    const style = getComputedStyle(el);
    return style.visibility !== 'hidden' && Number(style.opacity) > 0.05;
  };
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (p !== document.body && p !== root && /(auto|scroll)/.test(s.overflowX + s.overflowY)) return true; }
    return false; };
  const ownText = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'BR', 'TEMPLATE', 'svg'].includes(el.tagName) || !visible(el)) continue;
    // A long notice scrolls past on purpose; a .oneline row drops what does not fit whole.
    if (el.closest('[aria-hidden=true], .sr-only, .visually-hidden, .ticker, .oneline, .notice:not(.fits)')) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    // On paper nothing scrolls: a table in a scroll box is cut at the page edge.
    const inScroller = !opts.print && scrolls(el);
    if (!inScroller && (r.right > W + 1 || r.left < -1))
      problems.push(`outside the screen (x ${Math.round(r.left)}–${Math.round(r.right)} of ${W}): ${describe(el)}`);
    if (opts.fixedHeight && !inScroller && !opts.scrollCue && r.bottom > H + 1)
      problems.push(`below the screen (y ${Math.round(r.top)}–${Math.round(r.bottom)} of ${H}): ${describe(el)}`);
    const style = getComputedStyle(el);
    // Chromium clips a button's content whatever its overflow says.
    const cuts = (style.overflowX !== 'visible' || el.tagName === 'BUTTON') && !/(auto|scroll)/.test(style.overflowX);
    const hasText = (el.textContent || '').trim() !== '';
    if (cuts && hasText && el.scrollWidth > el.clientWidth + 1)
      problems.push(`text cut (${el.scrollWidth} in ${el.clientWidth} px): ${describe(el)}`);
    if (cuts && hasText && el.scrollHeight > el.clientHeight + 2
        && (style.overflowY !== 'visible' || el.tagName === 'BUTTON')
        && !/(auto|scroll)/.test(style.overflowY))
      problems.push(`text cut vertically (${el.scrollHeight} in ${el.clientHeight} px): ${describe(el)}`);
    if (opts.minFont && ownText(el)) {
      const size = parseFloat(style.fontSize);
      if (size < opts.minFont - 0.5) problems.push(`text ${size.toFixed(1)} px < ${opts.minFont} px: ${describe(el)}`);
      if (el.classList.contains('en')) {
        const vi = el.parentElement && el.parentElement.querySelector(':scope > .vi');
        if (vi && visible(vi)) {
          const ratio = size / parseFloat(getComputedStyle(vi).fontSize);
          if (ratio < 0.6 - 0.01)
            problems.push(`English at ${Math.round(ratio * 100)} % of the Vietnamese: ${describe(el)}`);
        }
      }
    }
  }
  return problems;
}"""


@dataclass
class PageVisit:
    """One page open in its own browser context; records every request it makes."""

    page: Any
    hub_host: str
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [u for u in self.urls if urlsplit(u).scheme not in ("data", "blob", "about")
                and urlsplit(u).netloc != self.hub_host]

    def problems(self, *, fixed_height: bool = False, min_font: float | None = None,
                 scroll_cue: bool = False, print_media: bool = False) -> list[str]:
        return self.page.evaluate(LAYOUT_PROBLEMS_JS, {"fixedHeight": fixed_height, "minFont": min_font,
                                                       "scrollCue": scroll_cue, "print": print_media})


@contextmanager
def visit(browser: Any, hub_url: str, width: int, height: int, *, storage_state: Any = None,
          locale: str = "vi-VN") -> Iterator[PageVisit]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  storage_state=storage_state)
    page = context.new_page()
    seen = PageVisit(page, urlsplit(hub_url).netloc)
    page.on("request", lambda request: seen.urls.append(request.url))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield seen
    finally:
        context.close()


def staff_session(browser: Any, hub_url: str, username: str, password: str) -> Any:
    """A logged-in browser state for a staff member, to reuse across page sizes."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(hub_url + "/login?next=/staff")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        return context.storage_state()
    finally:
        context.close()

"""hub.formatting as Jinja filters, in the page's language and the site's time zone.

    {{ bill.total | money }}  {{ share | percent }}  {{ device.last_seen | datetime }}  {{ day | date }}
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from hub import formatting
from hub.web.i18n import current_lang


def _tz() -> Any:
    hub = current_app.extensions.get("clinicq")
    return hub.config.site.tz if hub else formatting.DEFAULT_TIMEZONE


def install_formats(app: Flask) -> None:
    app.jinja_env.filters.update(
        number=lambda value, decimals=None: formatting.format_number(value, current_lang(), decimals),
        money=lambda value: formatting.format_money(value, current_lang()),
        percent=lambda value, decimals=1, ratio=False: formatting.format_percent(value, current_lang(), decimals,
                                                                                 ratio=ratio),
        date=lambda value, weekday=False: formatting.format_date(value, current_lang(), _tz(), weekday=weekday),
        time=lambda value, seconds=False: formatting.format_time(value, current_lang(), _tz(), seconds=seconds),
        datetime=lambda value, seconds=False: formatting.format_datetime(value, current_lang(), _tz(),
                                                                         seconds=seconds),
        weekday=lambda index: formatting.weekday_name(index, current_lang()),
    )

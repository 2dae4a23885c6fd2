"""Vietnamese first, English second: the page language from ?lang=, a cookie, or the site default."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

LANGUAGES = ("vi", "en")
COOKIE = "clinicq_lang"


def current_lang() -> str:
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGUAGES:
        return asked
    hub = current_app.extensions.get("clinicq")
    return hub.config.site.language if hub else "vi"


def tr(vi: str, en: str) -> str:
    """The text in the page's language (templates call it as tr('Đăng nhập', 'Log in'))."""
    return en if current_lang() == "en" else vi


def install_i18n(app: Flask) -> None:
    from hub.web.formats import install_formats  # it reads current_lang from here

    app.jinja_env.globals.update(tr=tr, current_lang=current_lang)
    install_formats(app)

    @app.after_request
    def _remember_language(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
        return response

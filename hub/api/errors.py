"""One JSON error shape for the whole API: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from hub.domain.common.errors import DomainError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error raised by the API layer itself (bad JSON, missing auth...)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return jsonify({"error": body}), status


def _validation_details(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "(body)"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        out.append({"field": field, "message": message})
    return out


PAGE_MESSAGES = {
    400: ("Yêu cầu không hợp lệ hoặc biểu mẫu đã hết hạn: hãy tải lại trang.",
          "Bad request or the form expired: reload the page."),
    403: ("Bạn không có quyền xem trang này.", "You are not allowed to see this page."),
    404: ("Không tìm thấy trang.", "Page not found."),
}


def _error_page(exc: HTTPException):  # type: ignore[no-untyped-def]
    from flask import render_template

    from hub.web.i18n import tr

    code = exc.code or 500
    vi, en = PAGE_MESSAGES.get(code, (exc.name, exc.name))
    site = current_app.extensions["clinicq"].config.site
    return render_template("error.html", site=site, code=code, message=tr(vi, en)), code


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):  # type: ignore[no-untyped-def]
        details = _validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return error_response(422, "invalid_request", summary, details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not request.path.startswith("/api/"):
            return _error_page(exc)
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request",
                 415: "unsupported_media_type"}
        response, status = error_response(exc.code or 500, codes.get(exc.code or 500, "http_error"),
                                          exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # Allow on a 405, Retry-After on a 429...
                response.headers[name] = value
        return response, status

    @app.errorhandler(DataError)
    def _data_error(exc: DataError):  # type: ignore[no-untyped-def]
        # A value the database cannot hold that the input guards did not foresee: the caller's input.
        log.warning("refused %s %s: the database cannot store a value: %s", request.method, request.path[:200],
                    str(exc.orig).splitlines()[0][:200] if exc.orig else type(exc).__name__)
        if not request.path.startswith("/api/"):
            return "Dữ liệu không hợp lệ / invalid data", 400
        return error_response(422, "invalid_request", "a value is out of range or not storable")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return "Lỗi hệ thống / internal error", 500
        return error_response(500, "internal_error", "internal error; it has been logged")

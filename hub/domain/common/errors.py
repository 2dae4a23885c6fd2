"""Errors the domain raises; adapters turn them into HTTP statuses, MQTT acks or messages."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a stable machine-readable code."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Invalid(DomainError):
    """The request is malformed or names something of the wrong kind."""

    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request is well-formed but not allowed in the current state (an illegal transition)."""

    status = 409


class Forbidden(DomainError):
    status = 403

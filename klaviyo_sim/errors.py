"""Klaviyo-style JSON:API errors, and the bytes of every response body."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is optional
    msgspec = None

CONTENT_TYPE = "application/vnd.api+json"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        source: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.source = source
        self.headers = headers or {}
        self.operation_id: str | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        if self.source:
            error["source"] = self.source
        return {"errors": [error]}


def invalid(detail: str, parameter: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, {"parameter": parameter})


def dumps(document: Any) -> bytes:
    # Klaviyo's servers spend their own CPU encoding a page; the simulator shares the
    # machine with the client it serves, so encoding must cost it little: the stdlib
    # encoder took 16 ms of a 19 ms page of 1,000 events, under the data lock, and so
    # bounded every benchmark at about 50 such pages a second. msgspec keeps integers
    # beyond 64 bits exact, as the stdlib encoder does.
    if msgspec is not None:
        return msgspec.json.encode(document)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def status_error(status: int) -> ApiError:
    """The error an injected ``status`` fault answers with."""
    titles = {
        400: ("invalid", "Invalid input."),
        401: ("not_authenticated", "Authentication credentials were not provided."),
        403: ("permission_denied", "You do not have permission to perform this action."),
        404: ("not_found", "Not found."),
        409: ("conflict", "Conflict."),
        429: ("throttled", "Request was throttled."),
        500: ("error", "A server error occurred."),
        502: ("bad_gateway", "Bad gateway."),
        503: ("service_unavailable", "Service unavailable."),
        504: ("gateway_timeout", "Gateway timeout."),
    }
    code, title = titles.get(status, ("error", "Error."))
    return ApiError(status, code, title, f"Injected fault: HTTP {status}.")


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    operation_id: str | None

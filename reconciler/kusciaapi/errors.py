"""A KusciaAPI failure as an exception, and the response envelopes (``status`` + ``data``); the codes
themselves live in ``reconciler.kuscia.codes``."""

from __future__ import annotations

from reconciler.kuscia.codes import SUCCESS


class APIError(Exception):
    """A KusciaAPI failure: ``status.code`` (``reconciler.kuscia.codes``) and ``status.message`` of the
    response; ``http_status`` is the HTTP status KusciaAPI answers it with (200 for every business error)."""

    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def ok(data: dict[str, object]) -> dict[str, object]:
    return {"status": {"code": SUCCESS, "message": "success", "details": []}, "data": data}


def failure(code: int, message: str) -> dict[str, object]:
    """An error reply: like Kuscia's (protojson with every field emitted), ``data`` is ``null``."""
    return {"status": {"code": code, "message": message, "details": []}, "data": None}

"""KusciaAPI error codes (``proto/api/v1alpha1/errorcode/error_code.proto``, kuscia-semantics.md §9)."""

from __future__ import annotations

SUCCESS = 0
REQUEST_VALIDATE = 11100
AUTH_FAILED = 11102
CREATE_JOB = 11201
QUERY_JOB = 11202
QUERY_JOB_STATUS = 11203
DELETE_JOB = 11204
STOP_JOB = 11205
APPROVE_JOB = 11206
SUSPEND_JOB = 11207
RESTART_JOB = 11208
CANCEL_JOB = 11209
SUSPEND_NOT_RUNNING_JOB = 11210
RESTART_NOT_SUSPENDED_OR_FAILED_JOB = 11211


class APIError(Exception):
    """A KusciaAPI failure: ``status.code`` and ``status.message`` of the response."""

    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def ok(data: dict[str, object]) -> dict[str, object]:
    return {"status": {"code": SUCCESS, "message": "success", "details": []}, "data": data}


def failure(code: int, message: str) -> dict[str, object]:
    return {"status": {"code": code, "message": message, "details": []}}

"""KusciaAPI's error codes: ``status.code`` of every KusciaAPI response (Kuscia's
``proto/api/v1alpha1/errorcode/error_code.proto``, the job service's range 112xx; kuscia-semantics.md §9).

Integers, as they travel on the wire in ``{"status": {"code": ...}}`` and in the gRPC responses' ``Status``.
"""

from __future__ import annotations

SUCCESS = 0
REQUEST_VALIDATE = 11100  # KusciaAPIErrRequestValidate: a field is missing or invalid
UNEXPECTED = 11101  # KusciaAPIErrForUnexpected: the body could not be decoded (not JSON, wrong types)
AUTH_FAILED = 11102  # KusciaAPIErrAuthFailed: the caller may not see or change this job
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

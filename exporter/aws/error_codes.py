"""What an AWS call's failure was: its error code, and whether it was a throttle.

One place decides the ``error_code`` label of ``cleanrooms_api_errors_total`` and of
every ``last_error_info``, for error answers and for attempts that never got one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from exporter.core.errors import ApiError

# The codes botocore's own retry logic treats as throttling, plus the HTTP 429
# status handled separately: all of them count as a throttle.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

# Fixed error_code words for attempts that never got an HTTP answer.
_TRANSPORT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (ConnectTimeoutError, "ConnectTimeout"),
    (ReadTimeoutError, "ReadTimeout"),
    (EndpointConnectionError, "ConnectionError"),
    (ConnectionClosedError, "ConnectionError"),
    (ResponseStreamingError, "IncompleteResponse"),
)


class AssumeRoleFailed(BotoCoreError):  # type: ignore[misc]
    """Role credentials could not be fetched for a reason other than an AWS error answer."""

    fmt = "AssumeRole failed: {code}: {message}"


def client_error_code(err: ClientError) -> str:
    """The AWS error code of a failed call, or ``HTTP<status>`` when the answer had none."""
    code = str(err.response.get("Error", {}).get("Code") or "")
    if not code or code.isdigit():
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = f"HTTP{status}"
    return code


def client_error_message(err: ClientError) -> str:
    """The message of an AWS error answer ('' when it had none)."""
    return str(err.response.get("Error", {}).get("Message") or "")


def as_api_error(err: ClientError) -> ApiError:
    """An error answer in the exporter's own terms, for code that must not know botocore."""
    return ApiError(err.operation_name, client_error_code(err), client_error_message(err))


def transport_code(err: BotoCoreError) -> str:
    """The error code of a failure without an AWS error answer (a timeout, no connection)."""
    if isinstance(err, AssumeRoleFailed):
        return str(err.kwargs["code"])
    return classify_attempt(err, None, None)[0] or type(err).__name__


def classify_attempt(
    exception: Exception | None,
    response: dict[str, Any] | None,
    parsed: dict[str, Any] | None,
) -> tuple[str | None, bool]:
    """Return (error_code or None, throttled) for one HTTP attempt."""
    if exception is not None:
        for kind, word in _TRANSPORT_ERRORS:
            if isinstance(exception, kind):
                return word, False
        return type(exception).__name__, False
    status = int((response or {}).get("status_code", 0))
    error = (parsed or {}).get("Error") or {}
    code = str(error.get("Code") or "")
    if status < 400 and not code:
        return None, False
    if not code or code.isdigit():
        code = f"HTTP{status}"
    return code, status == 429 or code in THROTTLING_CODES

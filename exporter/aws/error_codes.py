"""What an AWS call's failure was: its error code, its message, and whether it was a throttle.

One place decides the ``error_code`` label of ``cleanrooms_api_errors_total`` and of
every ``last_error_info``, for error answers and for attempts that never got one; and
one place derives the message the preflight, the log and the status page show, so an
HTML page from a proxy is reduced here, once, to its status line and a short excerpt.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus
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


# Characters of an error text kept: whole AWS messages fit; a page of HTML does not.
MESSAGE_CHARS = 300
# Characters of a body that is not an AWS error answer: enough to tell whose page it is.
EXCERPT_CHARS = 120
_MARKUP = re.compile(r"<[!?/]?[A-Za-z][^<>]*>")  # a tag: <p>, </p>, <!DOCTYPE html>
_HIDDEN = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


class AssumeRoleFailed(BotoCoreError):  # type: ignore[misc]
    """Role credentials could not be fetched for a reason other than an AWS error answer.

    Its ``message`` is the cause's own text: whoever shows it names AssumeRole and the
    code once, so the text must not name them again.
    """

    fmt = "AssumeRole failed: {code}: {message}"


def readable(text: str, limit: int = MESSAGE_CHARS) -> str:
    """An error text fit to show anywhere: markup, control characters and runs of white
    space gone, at most ``limit`` characters (the last one an ellipsis when cut)."""
    if _MARKUP.search(text):
        text = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", text)))
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def client_error_code(err: ClientError) -> str:
    """The AWS error code of a failed call, or ``HTTP<status>`` when the answer had none."""
    code = str(err.response.get("Error", {}).get("Code") or "")
    if not code or code.isdigit():
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = f"HTTP{status}"
    return code


def client_error_message(err: ClientError) -> str:
    """The message of an error answer, fit to show anywhere ('' when it had none).

    An answer without an AWS error code did not come from AWS's API (a proxy's or a load
    balancer's error page): botocore then hands its whole body over as the message, which
    becomes the status line and a short excerpt of the body's text.
    """
    error = err.response.get("Error", {})
    message = str(error.get("Message") or "")
    code = str(error.get("Code") or "")
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if (code and not code.isdigit()) or not status:
        return readable(message)
    return status_line(status, message)


def status_line(status: int, body: str) -> str:
    """``HTTP 502 Bad Gateway: <excerpt of the body's text>``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    line = f"HTTP {status} {phrase}".rstrip()
    excerpt = readable(body, EXCERPT_CHARS)
    if not excerpt or excerpt == phrase:  # botocore's own parse of a bare <html> page
        return line
    return f"{line}: {excerpt}"


def transport_message(err: BotoCoreError) -> str:
    """The message of a failure without an AWS error answer, fit to show anywhere.

    botocore puts the body it could not parse into its message: it is reduced like an
    error page. An ``AssumeRoleFailed`` gives its cause's text, without its own prefix.
    """
    if isinstance(err, AssumeRoleFailed):
        return readable(str(err.kwargs["message"]))
    return readable(str(err))


def as_api_error(err: ClientError) -> ApiError:
    """An error answer in the exporter's own terms, for code that must not know botocore."""
    return ApiError(err.operation_name, client_error_code(err), client_error_message(err))


# Every error the AWS SDK raises. The parts above ``aws`` catch these and turn them into
# ``ApiError`` with ``sdk_error`` without importing the SDK: only ``aws`` (and the demo)
# knows botocore (an import-linter contract).
SDK_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)


def sdk_error(err: Exception, operation: str) -> ApiError:
    """An SDK error in the exporter's own terms: an error answer names its operation, a
    failed AssumeRole names AssumeRole, and any other failure (a timeout, no connection, a
    request the SDK refused) is ``operation``'s."""
    if isinstance(err, ClientError):
        return as_api_error(err)
    if isinstance(err, AssumeRoleFailed):
        return ApiError("AssumeRole", str(err.kwargs["code"]), str(err.kwargs["message"]))
    if isinstance(err, BotoCoreError):
        return ApiError(operation, transport_code(err), transport_message(err))
    raise TypeError(f"not an AWS SDK error: {type(err).__name__}")


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

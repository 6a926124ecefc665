"""Error messages derived once, at the source, from botocore's exceptions."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError
from botocore.parsers import create_parser

from exporter.aws.error_codes import (
    EXCERPT_CHARS,
    MESSAGE_CHARS,
    AssumeRoleFailed,
    client_error_code,
    client_error_message,
    readable,
    transport_message,
)

OPERATION = (
    botocore.session.get_session()
    .get_service_model("cleanrooms")
    .operation_model("ListCollaborations")
)


def answer(status: int, body: bytes, **headers: str) -> ClientError:
    """The ClientError botocore raises for this HTTP answer, parsed as rest-json."""
    response = {"status_code": status, "headers": headers, "body": body}
    parsed: dict[str, Any] = create_parser("rest-json").parse(response, OPERATION.output_shape)
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = status
    return ClientError(parsed, "ListCollaborations")


def test_an_aws_error_answer_keeps_its_message() -> None:
    err = answer(
        403,
        b'{"message": "User is not authorized\\nto do that"}',
        **{"x-amzn-errortype": "AccessDeniedException"},
    )
    assert client_error_code(err) == "AccessDeniedException"
    assert client_error_message(err) == "User is not authorized to do that"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            403,
            b"<!DOCTYPE html><html><head><title>403 Forbidden</title>"
            b"<script>var a = '<b>';</script></head><body><h1>Forbidden</h1>"
            b"<!-- a comment --><p>Blocked by policy &#8212; ask IT.</p></body></html>",
            "HTTP 403 Forbidden: 403 Forbidden Forbidden Blocked by policy \u2014 ask IT.",
        ),
        # botocore reads a 5xx body that starts with <html> as a generic error itself.
        (502, b"<html><body>bad gateway</body></html>", "HTTP 502 Bad Gateway"),
        (
            503,
            b"upstream connect error or disconnect/reset before headers",
            "HTTP 503 Service Unavailable: upstream connect error or disconnect/reset before "
            "headers",
        ),
        (500, b"", "HTTP 500 Internal Server Error"),
    ],
)
def test_a_body_that_is_not_an_aws_answer_is_its_status_line_and_an_excerpt(
    status: int, body: bytes, message: str
) -> None:
    err = answer(status, body, **{"content-type": "text/html"})
    assert client_error_code(err) == f"HTTP{status}"
    assert client_error_message(err) == message


def test_the_excerpt_is_bounded_and_says_it_was_cut() -> None:
    err = answer(500, b"<!DOCTYPE html><p>" + b"very long page " * 1000 + b"</p>")
    message = client_error_message(err)
    excerpt = message.removeprefix("HTTP 500 Internal Server Error: ")
    assert len(excerpt) == EXCERPT_CHARS
    assert excerpt.endswith("\u2026")


def test_readable_leaves_one_bounded_line_without_control_characters() -> None:
    assert readable("a\tb\r\n c\x00d\x1b[31m") == "a b c d [31m"
    assert len(readable("x" * 5000)) == MESSAGE_CHARS
    assert readable("plain < and > stay") == "plain < and > stay"  # not markup: kept


def test_a_failure_without_an_answer_keeps_botocores_words() -> None:
    err = EndpointConnectionError(endpoint_url="https://cleanrooms.us-east-1.amazonaws.com/x")
    assert transport_message(err) == (
        'Could not connect to the endpoint URL: "https://cleanrooms.us-east-1.amazonaws.com/x"'
    )


def test_assume_role_failed_gives_its_causes_text_without_its_own_prefix() -> None:
    cause = ParamValidationError(report="Invalid length for parameter ExternalId, value: 1")
    err = AssumeRoleFailed(code="ParamValidationError", message=transport_message(cause))
    assert str(err).startswith("AssumeRole failed: ParamValidationError: ")
    assert transport_message(err) == (
        "Parameter validation failed: Invalid length for parameter ExternalId, value: 1"
    )

"""Log lines: logfmt and JSON, with the context fields as keys of their own."""

from __future__ import annotations

import json
import logging

import pytest

from exporter.core.logs import CONTEXT_FIELDS, JsonFormatter, LogfmtFormatter


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("exporter.test")
    made = logger.makeRecord(logger.name, logging.WARNING, __file__, 42, msg, args, None)
    for name, value in extra.items():
        setattr(made, name, value)  # what logging does with extra={...}
    return made


FIELDS = {
    "account": "111111111111",
    "region": "eu-west-2",
    "operation": "ListCollaborations",
    "error_code": "ThrottlingException",
    "collector": "collaborations",
    "worker": "1",
}


def test_json_puts_each_context_field_in_its_own_key() -> None:
    line = JsonFormatter().format(record("poll failed: %s", "Rate exceeded", **FIELDS))
    parsed = json.loads(line)
    assert parsed["msg"] == "poll failed: Rate exceeded"
    assert {k: parsed[k] for k in FIELDS} == FIELDS
    assert parsed["level"] == "warn"
    for value in FIELDS.values():
        assert value not in parsed["msg"]


def test_logfmt_puts_each_context_field_in_its_own_key_in_a_fixed_order() -> None:
    line = LogfmtFormatter().format(record("poll failed: %s", "Rate exceeded", **FIELDS))
    assert 'msg="poll failed: Rate exceeded" account=111111111111 region=eu-west-2 ' in line
    assert line.endswith(
        "operation=ListCollaborations error_code=ThrottlingException collector=collaborations"
        " worker=1"
    )
    assert list(FIELDS) == list(CONTEXT_FIELDS)


def test_absent_or_none_fields_are_left_out() -> None:
    line = LogfmtFormatter().format(record("listening", region="us-east-1", account=None))
    assert "region=us-east-1" in line
    assert "account=" not in line
    parsed = json.loads(JsonFormatter().format(record("listening")))
    assert not set(CONTEXT_FIELDS) & set(parsed)


def test_logfmt_quotes_field_values_that_need_it() -> None:
    line = LogfmtFormatter().format(record("x", error_code='odd "code" here'))
    assert line.endswith(r'error_code="odd \"code\" here"')


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_extra_reaches_the_formatter_through_the_logging_api(
    fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    formatter = JsonFormatter() if fmt == "json" else LogfmtFormatter()
    with caplog.at_level(logging.INFO, logger="exporter.test"):
        logging.getLogger("exporter.test").info(
            "discovery failed", extra={"operation": "ListAccounts", "error_code": "AccessDenied"}
        )
    (made,) = caplog.records
    line = formatter.format(made)
    if fmt == "json":
        parsed = json.loads(line)
        assert (parsed["operation"], parsed["error_code"]) == ("ListAccounts", "AccessDenied")
    else:
        assert line.endswith(
            'msg="discovery failed" operation=ListAccounts error_code=AccessDenied'
        )

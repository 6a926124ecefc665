"""Log set-up: logfmt (the Prometheus default) or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

LEVELS = ("debug", "info", "warn", "error")
FORMATS = ("logfmt", "json")
# Attributes a call site passes with ``extra={...}``; each becomes a key of its own
# after ``msg`` (in this order), so log tools can filter on it. Unset or None: left out.
CONTEXT_FIELDS = ("account", "region", "operation", "error_code", "collector", "worker")


def _fields(record: logging.LogRecord) -> dict[str, str]:
    fields = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower().replace("warning", "warn"),
        "caller": f"{record.module}:{record.lineno}",
        "msg": record.getMessage(),
    }
    for name in CONTEXT_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = str(value)
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs, values quoted when they hold spaces, quotes or newlines."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False)


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\\\t'):
        return value
    return json.dumps(value, ensure_ascii=False)


def format_tb(err: BaseException) -> str:
    """An exception's frames without its message, which can quote raw AWS responses."""
    return "".join(traceback.format_tb(err.__traceback__))


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Route every logger to stderr in the chosen format; botocore stays at warning."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level == "warn" else level.upper())
    quiet_libraries()


def quiet_libraries() -> None:
    """Hold library loggers down whatever --log.level says."""
    # botocore's debug output includes signed headers and response bodies.
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Its refresh warnings repeat what the poll's own log line says, with a traceback
    # whose text can hold a raw STS response.
    logging.getLogger("botocore.credentials").setLevel(logging.CRITICAL)

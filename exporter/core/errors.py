"""Errors every part may raise or catch without knowing the AWS SDK."""

from __future__ import annotations


class ApiError(Exception):
    """An AWS error answer to one call: its operation, error code and (secret-free) message.

    Collectors see AWS only through their poll context, whose calls raise this instead
    of botocore's ``ClientError``; the request was already counted by the time it is raised.
    """

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message

"""Errors every part may raise or catch without knowing the AWS SDK."""

from __future__ import annotations

# The code of an ApiError for a request refused before it was sent (botocore's
# ParamValidationError): retrying it is pointless, the same item is refused again.
REFUSED = "ParamValidationError"


class ApiError(Exception):
    """An AWS error answer to one call: its operation, error code and (secret-free) message.

    Collectors see AWS only through their poll context, whose calls raise this instead
    of botocore's ``ClientError``; the request was already counted by the time it is raised.
    A request botocore refused to send (its code is ``REFUSED``) was never sent, nor counted.
    """

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message

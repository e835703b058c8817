"""Domain exceptions shared by every package.

Services raise these; pages turn them into flashed messages and the API into
`{"error": {"code", "message", "fields"}}` with the status each class names.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal a person can read. `code` is stable and machine-readable."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.details = details or {}


class NotFound(DomainError):
    """Also raised for what the caller may not know exists."""

    status = 404
    code = "not_found"


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Values of the right shape that the rules refuse (a future date, an unknown code)."""

    status = 422
    code = "invalid"


class ShelterFull(Conflict):
    code = "shelter_full"


class ShelterNotOpen(Conflict):
    code = "shelter_not_open"


class StaleVersion(Conflict):
    code = "stale_version"


class AlreadyDone(Conflict):
    code = "already_done"

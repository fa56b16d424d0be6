"""Errors of the access and admin domain, each with the HTTP status the admin API answers."""

from __future__ import annotations


class AccessError(Exception):
    """Base: a refused admin or access operation, with its HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(AccessError):
    status = 400


class NotFoundError(AccessError):
    status = 404


class ForbiddenError(AccessError):
    """The organization's settings do not allow it (e.g. a member creating a workspace)."""

    status = 403


class ConflictError(AccessError):
    """It exists already, or it changed since it was read."""

    status = 409

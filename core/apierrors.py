"""The API's error shapes and the refusal that names a field (used by every router, handled in ``yingdu.api``).

Every 422 answer of the API has one shape, :class:`ErrorsOut` (``{"errors": {field: [中文]}}``):
parameters that do not parse (ninja's ``ValidationError``) and refusals a view raises itself
(:class:`FieldError`, or an ``HttpError`` with status 422, filed under ``__all__``). Other
refusals answer :class:`MessageOut` (``{"detail": 中文}``).
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema
from ninja.errors import HttpError

ALL = "__all__"  # the key of an error that concerns no one field


class ErrorsOut(Schema):
    errors: dict[str, list[str]] = Field(..., description="字段 → 中文错误信息列表")
    rows: list[dict[str, Any]] | None = Field(None, description="算力消耗明细单的行级错误（行号、列、问题）")


class MessageOut(Schema):
    detail: str


class FieldError(HttpError):
    """A 422 refusal of one parameter's value, answered as ``{"errors": {field: [message]}}``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, message)
        self.field = field


def errors_body(exc: HttpError) -> dict[str, Any]:
    """The :class:`ErrorsOut` body of a 422 ``HttpError``."""
    return {"errors": {getattr(exc, "field", ALL): [str(exc)]}}

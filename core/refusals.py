"""One refusal type for every action, and the one way a page shows it.

An action that cannot be done now raises :class:`Refused` (or one of the apps' subclasses, kept
by name: ``ActionRefused``, ``SubmissionRefused``, ``ReviewError``, ``AuditRefused``,
``ProviderError``). It carries its messages keyed by field (``NON_FIELD`` for the whole
request), a code, and the HTTP status a page or the API answers with. A page puts the messages
on its form with :func:`show_refusal`; the API answers them through one exception handler
(``yingdu.api``): ``{"errors": {field: [...]}}`` when they name fields, else ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest

NON_FIELD = "__all__"
Problems = Mapping[str, Iterable[Any]]


class Refused(Exception):
    """An action refused; ``problems`` are its Chinese messages by field, ``status`` its HTTP status."""

    status: int = 409
    code: str = "refused"
    message: str
    problems: dict[str, list[str]]

    def __init__(self, message: str | Problems = "", *, status: int | None = None, code: str | None = None) -> None:
        self._refuse(message, status=status, code=code)
        Exception.__init__(self, self.message)

    def _refuse(self, message: str | Problems, *, status: int | None, code: str | None) -> None:
        if isinstance(message, Mapping):
            self.problems = {str(k): [str(m) for m in v] for k, v in message.items()}
        else:
            self.problems = {NON_FIELD: [str(message)]} if str(message) else {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        # One line for the audit record and the logs; pages show ``problems`` one by one.
        self.message = " ".join(self.all_messages())

    def all_messages(self) -> list[str]:
        return [m for messages in self.problems.values() for m in messages]

    def names_fields(self) -> bool:
        return any(key != NON_FIELD for key in self.problems)


def problems_of(exc: Refused | ValidationError) -> dict[str, list[str]]:
    """A refusal's messages by field; a form or upload check's ``ValidationError`` reads the same."""
    if isinstance(exc, Refused):
        return exc.problems
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {NON_FIELD: exc.messages}


def show_refusal(request: HttpRequest, exc: Refused | ValidationError, form: Any = None) -> None:
    """Put a refusal's messages on ``form``: each beside its field, the others at the top of the
    form; without a form, each as a message on the next page."""
    for field, messages in problems_of(exc).items():
        for message in messages:
            if form is None:
                flash.error(request, message)
            else:
                form.add_error(field if field in form.fields else None, message)

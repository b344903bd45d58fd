"""One confirmation step for actions that cannot be undone or that reach the other side.

The first POST of such a form (or a GET of its URL) answers a server-rendered page stating the
consequence, with what was entered carried along in hidden fields and, where the action needs
one, the reason to give; only a POST that carries ``confirmed=1`` performs the action. No
JavaScript is needed. ``templates/confirm.html`` is the page, ``templates/_confirm_form.html``
the form it and other pages (the supplement preview) include.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _l

CONFIRMED = "confirmed"
OTHER = "other"
_NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRMED}


def confirmed(request: HttpRequest) -> bool:
    """Whether this POST is the confirmation, not the first click."""
    return request.method == "POST" and request.POST.get(CONFIRMED) == "1"


def carried(request: HttpRequest, *, leave_out: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The fields of the first POST to send again with the confirmation (files cannot be carried)."""
    skip = _NOT_CARRIED | set(leave_out)
    if request.method != "POST":
        return []
    return [(name, value) for name, values in request.POST.lists() if name not in skip for value in values]


def confirm_page(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    action: str,
    button: str,
    cancel: str,
    summary: Sequence[tuple[str, Any]] = (),
    form: forms.Form | None = None,
    carry: Sequence[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The confirmation page: the consequence, what will be done, the reason form if any, and the
    fields of the first POST (except the reason form's own) carried along."""
    if carry is None:
        carry = carried(request, leave_out=form.fields if form is not None else ())
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "action": action,
            "button": button,
            "cancel": cancel,
            "summary": summary,
            "form": form,
            "carry": carry,
        },
        status=status,
    )


class ReasonForm(forms.Form):
    """A required reason chosen from labelled reasons; “其他” asks for the text."""

    reason_choice = forms.ChoiceField(label=_l("原因"), widget=forms.RadioSelect)
    reason_text = forms.CharField(
        label=_l("具体说明"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_l("选择“其他”时必填"),
    )

    def __init__(self, *args: Any, reasons: Sequence[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_choice"].choices = [*reasons, (OTHER, _l("其他（请说明）"))]  # type: ignore[attr-defined]
        self.labels = dict(reasons)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = data.get("reason_choice")
        text = (data.get("reason_text") or "").strip()
        if choice == OTHER and not text:
            self.add_error("reason_text", ValidationError(_l("选择“其他”时请说明原因"), code="required"))
        return data

    @property
    def reason(self) -> str:
        """The reason as stored and shown: the chosen label, with the text after it if any."""
        choice = self.cleaned_data["reason_choice"]
        text = (self.cleaned_data.get("reason_text") or "").strip()
        if choice == OTHER:
            return text
        label = str(self.labels[choice])
        return f"{label}：{text}" if text else label

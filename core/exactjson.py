"""A JSON serializer for backups that keeps datetimes to the microsecond.

Django's JSON serializer writes datetimes to the millisecond; an audit event restored that way
would no longer equal its ledger entry. Registered as ``exactjson`` in SERIALIZATION_MODULES.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.serializers import json as django_json
from django.core.serializers.json import DjangoJSONEncoder


class ExactEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


class Serializer(django_json.Serializer):
    def _init_options(self) -> None:
        super()._init_options()  # type: ignore[misc]  # stubs omit this hook
        self.json_kwargs["cls"] = ExactEncoder


Deserializer = django_json.Deserializer

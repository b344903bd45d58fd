"""Readers of raw column values of a usage row as the database driver returns them; the first line
of each is the common case, for speed."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any


def uuid_value(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def moment_value(value: Any) -> dt.datetime:
    if type(value) is dt.datetime and value.tzinfo is not None:
        return value
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def decimal_value(value: Any) -> Decimal:
    if type(value) is Decimal:
        return value
    if isinstance(value, bool):
        raise TypeError("not a number")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def integer_value(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError("not an integer")
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError("not an integer")
    return int(number)


def float_value(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError("not a number")
    return float(value)


def text_value(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("not text")
    return value


def optional_int_value(value: Any) -> int | None:
    return value if value is None or type(value) is int else integer_value(value)

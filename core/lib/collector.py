"""Python's cycle collector held off while a large batch of objects that all live to its end is
built (a verified log window, a table checked by columns): its passes over them would find
nothing to free and cost more than the work itself."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off inside, and back on afterwards if it was on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

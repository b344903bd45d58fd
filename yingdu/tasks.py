"""Background worker hooks of the platform (Huey, discovered by ``yingdu run_huey``)."""

from __future__ import annotations

from huey.contrib.djhuey import on_startup

from yingdu.periodic import catch_up


@on_startup()
def catch_up_periodic_jobs() -> None:
    """When a worker starts, run the latest slot of each periodic job that no worker ran yet."""
    catch_up()

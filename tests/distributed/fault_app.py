"""The workers' app in the tests: trainbridge's own, with a fault that fires once across all workers.

``TRAINBRIDGE_TEST_FAULT_ONCE=point`` with ``TRAINBRIDGE_TEST_FAULT_MARKER=path``: the first
pool process (of any worker) to reach the core's fault point ``point`` creates the marker
and is killed there through ``TRAINBRIDGE_FAULT`` (SIGKILL); every later process passes, so
the redelivered task can finish. A plain ``TRAINBRIDGE_FAULT`` in the worker's environment
would kill the replacement process too, and the redelivered task forever.
"""

from __future__ import annotations

import os

from trainbridge.celery_app import app
from trainbridge.core import results

__all__ = ["app"]
_core_fault_point = results.fault_point


def _fault_once(name: str) -> None:
    point = os.environ.get("TRAINBRIDGE_TEST_FAULT_ONCE")
    marker = os.environ.get("TRAINBRIDGE_TEST_FAULT_MARKER")
    if point != name or not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.environ[results.FAULT_ENV] = f"{name}:1"
    _core_fault_point(name)


results.fault_point = _fault_once  # the core calls it through the module

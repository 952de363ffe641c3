"""The workers' app in the tests: trainbridge's own, plus a fault armed in one pool process only.

``TRAINBRIDGE_TEST_FAULT_ONCE=point:n`` with ``TRAINBRIDGE_TEST_FAULT_MARKER=path``: the first
pool process of any worker to create the marker file gets ``TRAINBRIDGE_FAULT`` and is
killed (SIGKILL) at that point; the process that replaces it, and every other one, is not,
so the redelivered task can finish.
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_process_init

from trainbridge.celery_app import app

__all__ = ["app"]


@worker_process_init.connect
def _arm_fault_once(**_: Any) -> None:
    spec = os.environ.get("TRAINBRIDGE_TEST_FAULT_ONCE")
    marker = os.environ.get("TRAINBRIDGE_TEST_FAULT_MARKER")
    if not spec or not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.environ["TRAINBRIDGE_FAULT"] = spec

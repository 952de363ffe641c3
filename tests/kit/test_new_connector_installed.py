"""Issue 21's "done when": a package made by ``trainbridge new-connector`` (a people source and a
payroll sink) passes the kit, installs with pip, is found through its entry point, and pays
exactly once through a vendor that fails and drops answers, delivered by the real outbox.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from trainbridge.core.delivery import deliver, route
from trainbridge.core.jobs import Write
from trainbridge.core.ledger.tables import outbox_table
from trainbridge.core.records import AdjustmentKind, PayrollAdjustment
from trainbridge.plugins.scaffold import write_skeleton
from trainbridge.testing import check_connector

NAME = "acme_pay"
PACKAGE = f"trainbridge_{NAME}"
BASE = f"https://api.{NAME.replace('_', '-')}.example/v1"  # a host name: hyphens, not underscores
PEOPLE = {"items": [{"id": "E001", "name": "Li Lei", "updated_at": "2025-06-01T00:00:00Z"}], "next": None}
BONUS = PayrollAdjustment(id="incentive:E001:2025Q2", employee_id="E001", adjustment=AdjustmentKind.BONUS,
                          amount=Decimal("500.00"), currency="USD", effective_date="2025-06-20",
                          reason="certificate obtained")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated package, built and installed by pip into a folder of its own (no index, no
    build isolation: the project's setuptools builds it, offline)."""
    root = tmp_path_factory.mktemp("new_connector")
    write_skeleton(NAME, root / "pkg")
    target = root / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(root / "pkg")],
        capture_output=True, text=True, timeout=120)
    if pip.returncode != 0:
        pytest.skip(f"pip could not build the generated package offline: {pip.stderr.strip()[-300:]}")
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The install folder on sys.path, as site-packages would be; nothing of it stays after."""
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.delenv("TRAINBRIDGE_LOAD_PLUGINS", raising=False)
    importlib.invalidate_caches()
    yield installed
    sys.modules.pop(PACKAGE, None)


@pytest.fixture
def vendor(tb_vendor):
    fake = tb_vendor(BASE)
    fake.serve("GET", "/people", json=PEOPLE)
    fake.resource("/payments")  # POST creates; the same Idempotency-Key answers the first payment
    return fake


def test_pip_installs_the_package_with_its_entry_point(installed: Path):
    [dist_info] = installed.glob(f"{PACKAGE}-*.dist-info")
    entry_points = (dist_info / "entry_points.txt").read_text(encoding="utf-8")

    assert f"{NAME} = {PACKAGE}" in entry_points
    assert (installed / PACKAGE / "__init__.py").is_file()


def test_the_installed_type_is_found_through_its_entry_point_and_passes_the_kit(on_path, tb_host, tb_instance,
                                                                               vendor):
    found = tb_host.connector_types[NAME]
    conn = tb_instance(NAME, {"token": "t0ken", "http": {"backoff_base": 0}})

    hooks = check_connector(conn, exercise=True, writes={"post_adjustment": {"adjustment": BONUS}},
                            effects=vendor.effects)

    assert Path(sys.modules[found.cls.__module__].__file__ or "").is_relative_to(on_path)
    assert hooks == ["fetch_employees", "post_adjustment", "healthcheck"]


def test_the_outbox_pays_once_through_a_503_and_a_lost_answer(on_path, tb_workspace, tb_clock, vendor):
    # One attempt per delivery: every retry below is the outbox's, after a failed run.
    ws = tb_workspace({"connectors": {"pay": {"type": NAME, "token": "t0ken", "http": {"max_attempts": 1}}}})
    with ws.ledger.transaction() as conn:
        rows = route(ws, conn, Write("post_adjustment", {"adjustment": BONUS}, instance="pay"),
                     job="incentives", proposal_id=None)
        ws.ledger.enqueue(conn, rows)
    [row] = rows
    vendor.fail_next("POST", "/payments", 503)  # the vendor is down: nothing made
    vendor.lose_next_answer("POST", "/payments")  # the vendor pays, the answer never arrives

    runs = [deliver(ws, "incentives")]
    for _ in range(2):
        due_now(ws)
        runs.append(deliver(ws, "incentives"))

    assert [len(delivered) for delivered in runs] == [0, 0, 1]
    assert vendor.effects("/payments") == 1
    assert [c.idempotency_key() for c in vendor.writes()] == [row["idempotency_key"]] * 3
    assert runs[-1][0].ref == "payment:obj_000001"


def due_now(ws: Any) -> None:
    """The failed row's backoff has passed (the outbox waits minutes between tries)."""
    with ws.ledger.transaction() as conn:
        conn.execute(sa.update(outbox_table).where(outbox_table.c.tenant == ws.settings.tenant)
                     .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))

"""``trainbridge new-connector NAME``: a connector package that passes its own tests as written.

The skeleton has a people source and a payroll sink against a vendor with idempotency keys,
a ``pyproject.toml`` with the ``trainbridge`` entry point and the trainbridge version it was
made with pinned below the next major, and tests that use the kit (``check_connector`` with
``tb_vendor``): the author replaces the vendor's paths and fields, and the tests say what broke.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from trainbridge import __version__, hookimpl
from trainbridge.core.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


def skeleton(name: str) -> dict[str, str]:
    """The files of a new connector package, by relative path."""
    if not NAME.fullmatch(name):
        msg = f"connector name {name!r} is not a lowercase identifier"
        raise ConfigError(msg, hint="use letters, digits and _ (e.g. acme_hr), starting with a letter")
    package = f"trainbridge_{name}"
    major = int(__version__.split(".")[0])
    # A host name has letters, digits and hyphens only (RFC 1123): acme_hr -> api.acme-hr.example.
    values = {"name": name, "package": package, "dist": package.replace("_", "-"), "env": name.upper(),
              "host": name.replace("_", "-"),
              "version": __version__, "next_major": str(major + 1), "title": name.replace("_", " ").title(),
              "title_class": "".join(part.title() for part in name.split("_")) + "Connector"}
    return {path.format(**values): _fill(text, values) for path, text in _FILES.items()}


def write_skeleton(name: str, directory: Path) -> list[Path]:
    """Write the skeleton into ``directory`` (created; refused if it has files)."""
    if directory.exists() and any(directory.iterdir()):
        msg = f"{directory} is not empty"
        raise ConfigError(msg, hint="choose a new folder with --dir")
    written = []
    for relative, text in skeleton(name).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _fill(text: str, values: dict[str, str]) -> str:
    # str.format would trip over the braces of the code inside: placeholders are <<name>>.
    return re.sub(r"<<(\w+)>>", lambda m: values[m[1]], text)


@click.command("new-connector")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where to write the package (default: ./trainbridge-NAME)")
def new_connector_command(name: str, directory: Path | None) -> None:
    """Write a connector package skeleton (pyproject, connector, tests using the kit)."""
    target = directory or Path(f"trainbridge-{name.replace('_', '-')}")
    try:
        written = write_skeleton(name, target)
    except ConfigError as exc:
        raise click.ClickException(f"{exc.message} ({exc.hint})") from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {target} && pip install -e . && pytest")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(new_connector_command)


_PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "<<dist>>"
version = "0.1.0"
description = "<<title>> connector for trainbridge"
requires-python = ">=3.11"
# Hook arguments may be added (optional, with defaults) in minor versions; removals and
# renames wait for a major version: pin below the next one.
dependencies = ["trainbridge>=<<version>>,<<<next_major>>"]

[project.optional-dependencies]
test = ["pytest", "responses"]

[project.entry-points.trainbridge]
<<name>> = "<<package>>"

[tool.setuptools]
packages = ["<<package>>"]
'''

_CONNECTOR = '''"""<<title>> for trainbridge: people (GET /people), payroll adjustments (POST /payments).

Paging, the incremental cursor, retries and rate limits come from trainbridge (``RestStream``,
``ctx.http``): what is left here is the vendor's configuration and the mapping of its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pydantic import SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import (
    DeliveryReceipt,
    Employee,
    HealthResult,
    Page,
    PayrollAdjustment,
    make_id,
)
from trainbridge.sdk.streams import Incremental, NextUrl, RestStream


class Config(ConnectorConfig):
    base_url: str = "https://api.<<host>>.example/v1"
    token: SecretStr
    http: HttpSettings = HttpSettings()


class <<title_class>>(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = Config
    vendor: ClassVar[str] = "<<title>>"
    config: Config

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        token = self.config.token.get_secret_value()
        self.http = self.ctx.http(self.config.base_url, instance=name, settings=self.config.http,
                                  headers={"Authorization": f"Bearer {token}"})

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        """Every person changed since the cursor, one vendor page at a time."""
        people = RestStream(self.http, "/people", records="items", paging=NextUrl(next="next"),
                            incremental=Incremental(param="updated_since", field="updated_at"),
                            ctx=self.ctx, name="people")
        for part in people.pages(since):
            page = Page()
            for person in part.items:
                page.add(Employee, self.employee(person), raw=person)
            page.cursor = part.cursor
            yield page

    def employee(self, person: dict[str, Any]) -> dict[str, Any]:
        """The vendor's person as an ``employee`` record (``trainbridge schema employee``)."""
        return {"id": make_id(self.name, person["id"]), "source": self.name,
                "employee_id": person["id"], "name": person["name"], "email": person.get("email")}

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment,
                        idempotency_key: str | None = None) -> DeliveryReceipt:
        """One payment per adjustment: the outbox's key makes a repeated POST answer the first one."""
        body = {"employee": adjustment.employee_id, "kind": adjustment.adjustment.value,
                "amount": str(adjustment.amount), "currency": adjustment.currency,
                "effective_date": adjustment.effective_date.isoformat(), "reason": adjustment.reason}
        made = self.http.json_of(self.http.post("/payments", json=body,
                                                idempotency_key=idempotency_key or adjustment.id))
        return DeliveryReceipt(ref=f"payment:{made['id']}", status="scheduled")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        self.http.get_json("/people", params={"limit": 1})
        return HealthResult(ok=True, detail="token accepted")


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("<<name>>", <<title_class>>)
'''

_TESTS = '''"""<<title>> against the trainbridge kit: the contract, exactly-once payments, people pages."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from trainbridge.core.records import AdjustmentKind, PayrollAdjustment
from trainbridge.testing import check_connector

from <<package>> import <<title_class>>, register_connectors

BASE = "https://api.<<host>>.example/v1"
PEOPLE = {"items": [{"id": "E001", "name": "Li Lei", "email": "li.lei@example.com",
                     "updated_at": "2025-05-30T08:00:00Z"},
                    {"id": "E002", "name": "Han Meimei", "email": "han.meimei@example.com",
                     "updated_at": "2025-06-01T00:00:00Z"}],
          "next": None}
BONUS = PayrollAdjustment(id="incentive:E001:2025Q2", employee_id="E001", adjustment=AdjustmentKind.BONUS,
                          amount=Decimal("500.00"), currency="USD", effective_date=date(2025, 6, 20),
                          reason="certificate obtained")


@pytest.fixture
def vendor(tb_vendor):
    fake = tb_vendor(BASE)
    fake.serve("GET", "/people", json=PEOPLE)
    fake.resource("/payments")  # POST creates; the same Idempotency-Key answers the first payment
    return fake


@pytest.fixture
def connector(tmp_path):
    """The instance, built from a config mapping as plugins.toml would give it. ``from_mapping``
    needs no installed entry point (``tb_instance("<<name>>", ...)`` does, once pip-installed);
    ``ConnectorContext(base_dir=tmp_path)`` makes relative paths in the config resolve there."""
    from trainbridge.core.connector import ConnectorContext

    return <<title_class>>.from_mapping("<<name>>_hq", {"token": "t0ken", "http": {"backoff_base": 0}},
                                        ConnectorContext(base_dir=tmp_path))


def test_the_connector_keeps_the_contract_and_pays_once(connector, vendor):
    hooks = check_connector(connector, exercise=True, writes={"post_adjustment": {"adjustment": BONUS}},
                            effects=vendor.effects)

    assert hooks == ["fetch_employees", "post_adjustment", "healthcheck"]


def test_people_become_employees_and_the_next_read_asks_for_changes_only(connector, vendor):
    [page] = connector.fetch_employees(since=None)
    list(connector.fetch_employees(since=page.cursor))

    assert [e.id for e in page.records] == ["<<name>>_hq:E001", "<<name>>_hq:E002"]
    assert json.loads(page.cursor)["since"] == "2025-06-01T00:00:00Z"
    assert vendor.calls[-1].query == {"updated_since": "2025-06-01T00:00:00Z"}


def test_a_payment_whose_answer_was_lost_is_made_once(connector, vendor):
    vendor.lose_next_answer("POST", "/payments")

    receipt = connector.post_adjustment(adjustment=BONUS, idempotency_key="incentive:E001:2025Q2")

    assert vendor.effects() == 1
    assert receipt.ref == "payment:obj_000001"


def test_the_type_is_registered_under_its_name():
    registered = {}
    register_connectors(register=lambda name, cls: registered.setdefault(name, cls))

    assert registered == {"<<name>>": <<title_class>>}
'''

_README = '''# <<dist>>

A trainbridge connector for <<title>>: people (`fetch_employees`) and payroll (`post_adjustment`).

    pip install -e ".[test]"
    pytest

Configure an instance in `plugins.toml`:

    [connectors.<<name>>_hq]
    type = "<<name>>"
    token = "${<<env>>_TOKEN}"

See trainbridge's docs/plugins.md for the hook contracts and the kit.
'''

_FILES = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    "{package}/__init__.py": _CONNECTOR,
    "tests/test_{name}.py": _TESTS,
}

"""Configuration mistakes are pydantic errors that name the table and the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainbridge.connectors.rest import RestConfig
from trainbridge.core.config import load_settings
from trainbridge.core.errors import ConfigError
from trainbridge.core.manager import load_host

from .conftest import HR, doc_tables, resolved

PEOPLE = {"path": "/people", "fields": {"employee_id": "id", "name": "full_name"}}


def config(**endpoints) -> dict:
    return {"base_url": HR, "endpoints": endpoints}


def error_of(data: dict) -> str:
    with pytest.raises(ValidationError) as failed:
        RestConfig.model_validate(data)
    return str(failed.value)


def test_the_documented_tables_are_valid():
    for table in doc_tables().values():
        RestConfig.model_validate(resolved(table))


def test_an_unknown_record_kind_lists_the_known_ones():
    message = error_of(config(people=PEOPLE))

    assert "unknown record kind 'people'" in message
    assert "employees, separations, programs" in message


def test_a_missing_mapping_for_a_required_field_is_named():
    message = error_of(config(separations={"path": "/leavers", "fields": {"employee_id": "id"}}))

    assert "endpoints.separations: no mapping for required field(s) last_day, reason" in message


def test_a_field_the_record_does_not_have_is_named():
    message = error_of(config(employees={**PEOPLE, "fields": {**PEOPLE["fields"], "salary": "pay"}}))

    assert "employee has no field(s) salary" in message


def test_a_bad_pagination_type_lists_the_good_ones():
    message = error_of(config(employees={**PEOPLE, "pagination": {"type": "pages"}}))

    assert "endpoints.employees.pagination" in message
    assert "'none', 'page', 'offset', 'cursor', 'link'" in message


def test_a_reason_map_to_a_reason_we_do_not_know_is_refused():
    message = error_of(config(separations={"path": "/leavers", "fields": {
        "employee_id": "id", "last_day": "day", "reason": {"path": "code", "map": {"01": "quit"}}}}))

    assert "fields.reason: quit not among" in message
    assert "resignation" in message


def test_a_field_takes_one_source_only():
    message = error_of(config(employees={**PEOPLE, "fields": {
        "employee_id": "id", "name": {"path": "n", "const": "x"}}}))

    assert "give exactly one of path, const, template (got path, const)" in message


def test_an_unknown_auth_type_and_a_bad_time_zone_are_refused():
    assert "'bearer', 'basic', 'header'" in error_of({**config(employees=PEOPLE), "auth": {"type": "oauth"}})
    assert "unknown time zone 'Mars/Olympus'" in error_of({**config(employees=PEOPLE),
                                                          "timezone": "Mars/Olympus"})


def test_no_endpoint_at_all_is_refused():
    assert "endpoints" in error_of(config())


def test_plugins_toml_errors_name_the_file_and_table(tmp_path):
    path = tmp_path / "plugins.toml"
    path.write_text('[ledger]\nurl = "sqlite:///t.db"\n\n[connectors.hr]\ntype = "rest"\n'
                    f'base_url = "{HR}"\n\n[connectors.hr.endpoints.employees]\npath = "/people"\n'
                    'pagination = { type = "pages" }\nfields = { employee_id = "id", name = "n" }\n',
                    encoding="utf-8")

    with pytest.raises(ConfigError) as failed:
        load_host(load_settings(path))

    assert "connectors.hr" in str(failed.value)
    assert "pagination" in str(failed.value)

"""Headers trimmed and case-folded; UTF-8 (with or without BOM) read, GB18030 when configured,
anything else one file-level error naming the file and the fix; oversized fields; empty files."""

from __future__ import annotations

import pytest

from tests.connectors.files.conftest import PEOPLE_HEADER, ingest, quarantined, records
from trainbridge.connectors.file_rows import MAX_FIELD_CHARS
from trainbridge.core.errors import ConfigError

PEOPLE = {"hr": {"type": "csv_people", "employees": "employees.csv"}}
SECOND = "E002,王芳,运营部,ACME-SH,2025-03-01\n"
ROWS = "E001,张伟,运营部,ACME-SH,2025-03-01\n" + SECOND


def test_headers_are_trimmed_and_case_folded(files_ws):
    ws = files_ws(PEOPLE, employees__csv=" EMPLOYEE_ID , Name ,DEPARTMENT,Legal_Entity,Hire_Date\n" + ROWS)
    result = ingest(ws)
    assert quarantined(ws) == [] and result.counts["records_new"] == 2
    assert records(ws, "employee")["hr:E001"].department == "运营部"


def test_utf8_with_a_byte_order_mark_is_read(files_ws):
    ws = files_ws(PEOPLE, employees__csv=b"\xef\xbb\xbf" + (PEOPLE_HEADER + ROWS).encode())
    ingest(ws)
    assert sorted(records(ws, "employee")) == ["hr:E001", "hr:E002"] and quarantined(ws) == []


def test_a_gbk_file_is_one_file_level_error_naming_the_file_and_the_fix(files_ws, no_traceback):
    ws = files_ws(PEOPLE, employees__csv=(PEOPLE_HEADER + ROWS).encode("gbk"))
    result = ingest(ws)
    assert records(ws, "employee") == {} and quarantined(ws) == []
    [error] = result.errors
    assert error.startswith("hr.fetch_employees failed: hr: employees.csv is not valid UTF-8 (line 2, "
                            "byte 0xd5); nothing of it was read")
    assert 'set encoding = "gb18030" on this connector in plugins.toml' in error


def test_one_gbk_line_in_a_utf8_file_names_its_line_and_loads_nothing(files_ws, no_traceback):
    content = (PEOPLE_HEADER + ROWS).encode() + "E003,李娜,运营部,ACME-SH,2025-03-01\n".encode("gbk")
    ws = files_ws(PEOPLE, employees__csv=content)
    [error] = ingest(ws).errors
    assert "employees.csv is not valid UTF-8 (line 4," in error and records(ws, "employee") == {}


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_a_gbk_file_is_read_with_encoding_gb18030_on_the_connector(files_ws, encoding):
    ws = files_ws({"hr": {**PEOPLE["hr"], "encoding": encoding}},
                  employees__csv=(PEOPLE_HEADER + ROWS).encode(encoding))
    ingest(ws)
    assert records(ws, "employee")["hr:E002"].name == "王芳"


def test_a_utf16_file_is_refused_with_how_to_save_it(files_ws, no_traceback):
    ws = files_ws(PEOPLE, employees__csv=(PEOPLE_HEADER + ROWS).encode("utf-16"))
    [error] = ingest(ws).errors
    assert "hr: employees.csv is UTF-16 text; nothing of it was read" in error and 'CSV UTF-8' in error


def test_an_unknown_encoding_is_a_configuration_error(files_ws):
    with pytest.raises(ConfigError, match="encoding 'latin-1' is not supported"):
        files_ws({"hr": {**PEOPLE["hr"], "encoding": "latin-1"}}, employees__csv=PEOPLE_HEADER)


def test_a_field_over_128_kib_quarantines_its_row_not_the_file(files_ws, no_traceback):
    huge = "x" * (MAX_FIELD_CHARS + 1)
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + f"E001,张伟,{huge},ACME-SH,2025-03-01\n" + SECOND)
    result = ingest(ws)
    assert list(records(ws, "employee")) == ["hr:E002"] and result.counts["quarantined"] == 1
    [big] = quarantined(ws)
    assert big["key"] == "hr:E001"
    assert big["reason"] == ("employees.csv line 2, field department: 131,073 characters, over the limit "
                             "of 131,072")
    assert len(big["data"]["department"]) < 300  # the quarantine keeps a cut, not the 128 KiB


def test_an_empty_csv_is_one_file_level_error_and_a_header_only_csv_reads_no_records(files_ws, tmp_path):
    ws = files_ws({**PEOPLE, "hr2": {"type": "csv_people", "employees": "header_only.csv"}},
                  employees__csv="", header_only__csv=PEOPLE_HEADER)
    result = ingest(ws)
    assert result.errors == [
        "hr.fetch_employees failed: hr: employees.csv is empty: no header line; nothing of it was read\n"
        "  hint: a CSV starts with a header line naming its columns (e.g. employee_id,name); a file with "
        "only the header line reads as no records"]
    assert records(ws, "employee") == {}


def test_a_row_with_more_values_than_columns_is_quarantined(files_ws):
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + "E001,张,伟,Ops,ACME-SH,2025-03-01\n" + SECOND)
    ingest(ws)
    assert list(records(ws, "employee")) == ["hr:E002"]
    [row] = quarantined(ws)
    assert row["reason"] == ("employees.csv line 2: 6 values for 5 columns (a comma inside a value that is "
                             "not in double quotes?)")


def test_a_quoted_value_over_several_lines_keeps_the_line_numbers_of_the_rows_after_it(files_ws):
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + 'E001,"张\n伟",Ops,ACME-SH,2025-03-01\n'
                                                         "E002,王芳,Ops,ACME-SH,1 March 2025\n")
    ingest(ws)
    [bad] = quarantined(ws)
    assert bad["reason"].startswith(
        "employees.csv line 4, field hire_date: '1 March 2025' is not an ISO 8601 date")

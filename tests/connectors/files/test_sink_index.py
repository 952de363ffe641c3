"""A JSONL sink reads its file once per process, then only what was appended: every later append is
O(1), and still exactly once whoever else wrote to the file or replaced it meanwhile."""

from __future__ import annotations

import json
import os

import pytest

from trainbridge.connectors.file_sinks import append_once, sink_ids
from trainbridge.core.errors import ConnectorError


def line(record_id: str) -> str:
    return json.dumps({"id": record_id, "subject": "培训提醒"}, ensure_ascii=False) + "\n"


def ids(path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text(encoding="utf-8").splitlines()]


def test_a_thousand_notices_each_written_once_and_delivering_them_again_writes_nothing(tmp_path):
    path = tmp_path / "notices.jsonl"
    for k in range(1000):
        assert append_once(path, f"n{k}", {"id": f"n{k}"}).detail == ""
    for k in range(1000):
        assert append_once(path, f"n{k}", {"id": f"n{k}"}).detail == "already present"
    assert ids(path) == [f"n{k}" for k in range(1000)]


def test_a_line_another_program_appended_after_the_file_was_read_is_not_written_again(tmp_path):
    path = tmp_path / "notices.jsonl"
    append_once(path, "mine", {"id": "mine"})
    with path.open("a", encoding="utf-8") as fh:  # another process delivering the same notice
        fh.write(line("theirs"))
    assert append_once(path, "theirs", {"id": "theirs"}).detail == "already present"
    assert ids(path) == ["mine", "theirs"]
    assert {"mine", "theirs"} <= sink_ids(path)


def test_a_file_taken_away_and_replaced_is_read_again_from_its_first_line(tmp_path):
    path = tmp_path / "payroll.jsonl"
    append_once(path, "bonus:1", {"id": "bonus:1"})
    append_once(path, "bonus:2", {"id": "bonus:2"})
    os.replace(path, tmp_path / "imported.jsonl")  # payroll took the file away to import it
    path.write_text(line("bonus:3"), encoding="utf-8")
    assert sink_ids(path) == {"bonus:3"}
    assert append_once(path, "bonus:1", {"id": "bonus:1"}).detail == ""
    assert ids(path) == ["bonus:3", "bonus:1"]


def test_a_file_cut_shorter_or_rewritten_in_place_is_read_again(tmp_path):
    path = tmp_path / "notices.jsonl"
    for name in ("a", "b", "c"):
        append_once(path, name, {"id": name})
    path.write_text(line("a"), encoding="utf-8")  # same file, cut to its first line
    assert sink_ids(path) == {"a"}
    assert append_once(path, "b", {"id": "b"}).detail == ""
    path.write_text(line("x") + line("y"), encoding="utf-8")  # same size as a + b, other ids
    assert sink_ids(path) == {"x", "y"}


def test_a_line_that_is_not_json_appended_by_someone_else_refuses_the_next_append_and_every_one_after(
        tmp_path):
    path = tmp_path / "notices.jsonl"
    append_once(path, "a", {"id": "a"})
    with path.open("a", encoding="utf-8") as fh:
        fh.write("edited by hand\n")
    for _ in range(2):
        with pytest.raises(ConnectorError, match="line 2 is not a JSON object"):
            append_once(path, "b", {"id": "b"})
    assert path.read_text(encoding="utf-8").count("\n") == 2  # nothing written after it


def test_a_line_torn_after_the_file_was_read_is_cut_off_before_the_next_append(tmp_path):
    path = tmp_path / "notices.jsonl"
    append_once(path, "a", {"id": "a"})
    with path.open("ab") as fh:
        fh.write(b'{"id": "b", "sub')  # a crash mid-write, in another process
    assert sink_ids(path) == {"a"}
    append_once(path, "b", {"id": "b"})
    assert ids(path) == ["a", "b"]

"""docs/plugins.md keeps up with the code: the record reference is the models' own."""

from __future__ import annotations

from pathlib import Path

from trainbridge.sdk.reference import BEGIN, END, record_reference

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_the_record_reference_in_the_guide_is_generated_from_the_models():
    text = GUIDE.read_text(encoding="utf-8")
    written = text[text.index(BEGIN): text.index(END) + len(END)]

    assert written == record_reference(), \
        "run python -m trainbridge.sdk.reference and paste its output into docs/plugins.md"


def test_the_reference_names_each_schema_with_its_class_and_fields():
    reference = record_reference()

    assert "#### `program` (`TrainingProgram`, kind `program`)" in reference
    assert "| `employee_id` | str | yes |" in reference

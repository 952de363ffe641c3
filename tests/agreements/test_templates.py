"""Agreement templates (A1): required clauses, versions, and a PDF whose Chinese text survives."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from trainbridge.plugins.agreements import documents
from trainbridge.plugins.agreements.documents import TemplateRegistry, find_font, prepare_font, render_pdf
from trainbridge.rules.agreements import REQUIRED_CLAUSES, TemplateRejected, check_clauses

SHIPPED = TemplateRegistry.load().get("service-24m", "1")


def context() -> dict:
    return {
        "company": {"name": "艾克美（上海）消防科技有限公司"},
        "employee": {"name": "张伟", "employee_id": "E001", "department": "运营部"},
        "program": {"title": "消防设施操作员(消防中控)上岗证书培训", "program_id": "FIRE-CTRL",
                    "certificate": "fire_control_operator"},
        "session": {"starts_at": date(2025, 3, 1), "ends_at": date(2025, 3, 1), "location": "上海培训中心"},
        "agreement": {"id": "agreement:lms:FIRE-CTRL-1-E001", "service_months": 24,
                      "service_start": date(2025, 3, 2), "service_end": date(2027, 3, 2),
                      "proration": "month", "clause_amount": None},
        "training_cost": "1700.00", "currency": "CNY", "template": {"id": "service-24m", "version": "1"},
    }


def without(block: str) -> str:
    start = SHIPPED.source.index("{% block " + block + " %}")
    end = SHIPPED.source.index("{% endblock %}", start) + len("{% endblock %}")
    return SHIPPED.source[:start] + SHIPPED.source[end:]


def test_the_shipped_template_has_every_required_clause():
    assert SHIPPED.problem is None
    check_clauses("service-24m", "1", dict.fromkeys(REQUIRED_CLAUSES, True))


@pytest.mark.parametrize("clause", list(REQUIRED_CLAUSES))
def test_a_template_missing_a_clause_is_rejected_naming_the_clause(tmp_path, clause):
    folder = tmp_path / "templates" / "service-24m"
    folder.mkdir(parents=True)
    (folder / "v2.j2").write_text(without(clause), encoding="utf-8")
    registry = TemplateRegistry.load(tmp_path / "templates")
    broken = registry.get("service-24m")  # v2 is the latest
    assert broken.version == "2" and broken.problem and f"clause {clause!r}" in broken.problem
    with pytest.raises(TemplateRejected, match=f"clause '{clause}'"):
        broken.render(context())
    assert registry.get("service-24m", "1").problem is None  # v1 still signs


def test_an_empty_clause_is_rejected():
    with pytest.raises(TemplateRejected, match="'service_period'.*is empty"):
        check_clauses("t", "1", {**dict.fromkeys(REQUIRED_CLAUSES, True), "service_period": False})


def test_versions_sort_as_numbers_and_a_folder_adds_templates(tmp_path):
    for version in ("2", "10"):
        folder = tmp_path / "service-12m"
        folder.mkdir(exist_ok=True)
        (folder / f"v{version}.j2").write_text(SHIPPED.source.replace("第{{", f"v{version} 第{{"),
                                               encoding="utf-8")
    registry = TemplateRegistry.load(tmp_path)
    assert registry.get("service-12m").version == "10"
    assert registry.get("service-12m", "2").origin.endswith("service-12m/v2.j2")
    assert registry.get("service-24m").version == "1"


def test_the_agreement_pdf_keeps_its_chinese_text():
    text = SHIPPED.render(context())
    pdf = render_pdf(text, font=find_font(), title="服务期协议", created=date(2025, 2, 15))
    extracted = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for phrase in ("专项技术培训服务期协议", "张伟", "第二条 服务期", "2027年3月2日", "1,700.00",
                   "劳动合同法第二十二条", "第四条 双方的权利和义务"):
        assert phrase in extracted, phrase


def test_the_same_agreement_renders_to_the_same_bytes():
    text = SHIPPED.render(context())
    font = find_font()
    assert render_pdf(text, font=font, title="x", created=date(2025, 2, 15)) == \
        render_pdf(text, font=font, title="x", created=date(2025, 2, 15))


def test_the_working_font_gives_the_bytes_the_whole_font_gives(monkeypatch):
    # 喆 and 堃 are rare in names; ⼀ (U+2F00, a Kangxi radical) shares its glyph with 一 in the font.
    texts = [SHIPPED.render(context()).replace("张伟", name) + "\n⼀一" for name in ("张伟", "王喆", "李堃")]
    font = find_font()
    prepare_font(font, texts)
    fast = [render_pdf(t, font=font, title="x", created=date(2025, 2, 15)) for t in texts]
    monkeypatch.setattr(documents.FONTS, "covering", lambda whole, _texts: whole)  # fpdf2 parses it all
    slow = [render_pdf(t, font=font, title="x", created=date(2025, 2, 15)) for t in texts]
    assert fast == slow


def test_the_font_is_cut_once_for_a_batch_and_again_only_for_new_characters(monkeypatch):
    cache = documents.FontCache()
    monkeypatch.setattr(documents, "FONTS", cache)
    cuts = []
    real_cut = cache._cut
    monkeypatch.setattr(cache, "_cut", lambda font, chars: cuts.append(len(chars)) or real_cut(font, chars))
    texts = [SHIPPED.render(context()).replace("张伟", name) for name in ("张伟", "王芳", "李娜")]
    font = find_font()
    prepare_font(font, texts)
    for text in texts:
        render_pdf(text, font=font, title="x", created=date(2025, 2, 15))
    assert len(cuts) == 1
    render_pdf(texts[0] + "\n鑫", font=font, title="x", created=date(2025, 2, 15))
    assert len(cuts) == 2 and cuts[1] > cuts[0]

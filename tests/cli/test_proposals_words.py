"""`proposals list` and `show` as HR reads them (issue 18): kinds and statuses in words, amounts
with ¥, the explanation as the console's sentences, in Chinese or English; `show --json` carries
the decision's structured explanation."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from trainbridge.core.demo import run_demo

BONUS = "incentive:bonus:M001:2026Q3"
REFUND = "refund:hr:S-E003"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-proposals") / "demo"
    assert run_demo(folder, today=date(2026, 11, 23), echo=lambda _line: None) == 0
    return folder


@pytest.fixture
def config(demo: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TRAINBRIDGE_CONFIG", raising=False)
    return str(demo / "plugins.toml")


def test_the_list_in_chinese_says_kind_status_person_and_amount_in_words(tb, config):
    code, out, err = tb("--config", config, "proposals", "list", "--language", "zh")
    assert code == 0, err
    lines = {line.split(" ", 1)[0]: line for line in out.splitlines()}
    assert lines[BONUS].startswith(f"{BONUS} [待审批] 积分奖金 孙强（M001） +5% 2026年第三季度：")
    assert "2026年第三季度积分 150 分" in lines[BONUS]
    refund = lines[REFUND]
    assert "[待审批] 培训费扣款 李娜（E003） ¥850.00：离职：最后工作日 2026年11月22日" in refund
    said = "\n".join(line.split(" ", 1)[1] for line in out.splitlines())  # after the id
    assert "pending" not in said and "bonus_coefficient" not in said and "850.00 CNY" not in said


def test_the_list_in_english_by_default_and_filters_as_before(tb, config):
    code, out, _ = tb("--config", config, "proposals", "list", "--kind", "refund")
    assert code == 0
    assert out.splitlines() == [f"{REFUND} [Waiting] Training cost deduction 李娜 (E003) ¥850.00: "
                                + out.split(": ", 1)[1].strip()]
    code, out, _ = tb("--config", config, "proposals", "list", "--status", "rejected", "--language", "zh")
    assert code == 0 and out.strip() == "没有提案"
    code, out, _ = tb("--config", config, "proposals", "list", "--json", "--kind", "refund")
    assert [p["amount"] for p in json.loads(out)] == ["850.00"]  # JSON keeps the stored values


def test_show_in_chinese_gives_each_reason_with_its_article(tb, config):
    code, out, err = tb("--config", config, "proposals", "show", REFUND, "--language", "zh")
    assert code == 0, err
    assert out.splitlines()[:5] == [REFUND, "  类型：培训费扣款", "  状态：待审批", "  员工：李娜（E003）",
                                    "  金额：¥850.00"]
    assert "按未服务比例折算：¥1,700.00 × 1⁄2 = ¥850.00" in out
    assert "依据：《劳动合同法》第二十二条、第三十七条" in out
    assert "LCL" not in out and "Departure" not in out


def test_show_json_carries_the_decisions_explanation_items(tb, config):
    code, out, _ = tb("--config", config, "proposals", "show", BONUS, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["id"] == BONUS and shown["decision"] == BONUS and shown["deliveries"] == []
    item = shown["explanation_items"][0]
    assert item["rule"].startswith("incentive:") and item["inputs"]["points"] in (150, "150")
    refund = json.loads(tb("--config", config, "proposals", "show", REFUND, "--json")[1])
    assert refund["decision"] == "refund_quote:hr:S-E003" and len(refund["explanation_items"]) >= 5
    code, _, err = tb("--config", config, "proposals", "show", "nothing:here", "--json")
    assert code != 0 and "no proposal nothing:here" in err

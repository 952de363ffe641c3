"""Points distribution vs target weights (S5), progress (P1) and training effect (K2) reports."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

from click.testing import CliRunner

from tests.conftest import write
from trainbridge.cli import build_cli
from trainbridge.core.records import (
    Employee,
    Enrollment,
    EnrollmentStatus,
    MetricDirection,
    MetricValue,
    PointsCategory,
    PointsEntry,
)
from trainbridge.plugins.points import load_rules
from trainbridge.plugins.points_reports import (
    effect_report,
    incentives_report,
    points_report,
    progress_report,
)

TODAY = date(2026, 9, 30)
MANAGERS = [Employee(id=m, employee_id=m, name=n, department=d, is_manager=True)
            for m, n, d in [("M001", "孙强", "Sales"), ("M002", "朱丽", "Sales"),
                            ("M003", "胡斌", "Operations")]]


def entry(i: int, who: str, points: int, category: PointsCategory) -> PointsEntry:
    return PointsEntry(id=f"e{i}", employee_id=who, points=points, category=category, rule="r",
                       rule_version="v1", event_id=f"ev{i}", earned_on=date(2026, 8, 1))


def balanced() -> list[PointsEntry]:
    return [entry(1, "M001", 30, PointsCategory.PARTICIPATION), entry(2, "M001", 40, PointsCategory.OUTPUT),
            entry(3, "M002", 30, PointsCategory.SHARING)]


def sharing_at_10() -> list[PointsEntry]:
    return [entry(1, "M001", 45, PointsCategory.PARTICIPATION), entry(2, "M001", 45, PointsCategory.OUTPUT),
            entry(3, "M002", 10, PointsCategory.SHARING)]


def test_points_split_30_40_30_matches_the_target_weights_and_flags_nothing():
    result = points_report(balanced(), MANAGERS, period="2026Q3", today=TODAY)
    assert [(r[0], r[2], r[3]) for r in result.rows] == [
        ("participation", Decimal(30), Decimal(30)), ("output", Decimal(40), Decimal(40)),
        ("sharing", Decimal(30), Decimal(30))]
    assert result.data["flagged"] == [] and result.charts[0].target == [30, 40, 30]


def test_sharing_at_10_percent_against_a_30_percent_target_is_flagged_the_rule_is_off():
    entries = sharing_at_10()
    result = points_report(entries, MANAGERS, period="2026Q3", today=TODAY)
    sharing = result.rows[2]
    assert sharing[2] == Decimal(10) and sharing[5] == "the rule is off"
    assert "participation" in result.data["flagged"] and "sharing" in result.data["flagged"]
    assert "output" not in result.data["flagged"]  # 45% vs 40%: within the 10-point margin
    wide = points_report(entries, MANAGERS, period="2026Q3", today=TODAY, margin=Decimal(25))
    assert wide.data["flagged"] == []


def test_points_report_has_the_leaderboard_with_shared_ranks():
    board = points_report(balanced(), MANAGERS, period="2026Q3", today=TODAY).sections[0]
    assert [r[:2] + r[4:] for r in board.rows] == [[1, "M001", 70], [2, "M002", 30], [3, "M003", 0]]


def enrollment(who: str, program: str, status: EnrollmentStatus) -> Enrollment:
    return Enrollment(id=f"{who}-{program}", employee_id=who, program_id=program,
                      enrolled_on=date(2026, 7, 1), status=status)


def test_an_employee_who_completed_3_of_5_courses_shows_3_of_5():
    done, todo = EnrollmentStatus.COMPLETED, EnrollmentStatus.ENROLLED
    items = [enrollment("M001", f"P{i}", done if i < 3 else todo) for i in range(5)]
    items.append(enrollment("M001", "P9", EnrollmentStatus.CANCELLED))  # not assigned any more
    per_employee = progress_report(items, MANAGERS).sections[1]
    assert per_employee.rows == [["M001", "孙强", 3, 5, "3 of 5", Decimal(60)]]


def test_a_program_shows_80_percent_completed_10_in_progress_10_not_started():
    people = [Employee(id=f"E{i}", employee_id=f"E{i}", name=f"E{i}", department="Operations")
              for i in range(10)]
    statuses = [EnrollmentStatus.COMPLETED] * 8 + [EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.ENROLLED]
    items = [enrollment(p.employee_id, "FIRE-CTRL", s) for p, s in zip(people, statuses, strict=True)]
    per_program = progress_report(items, people).sections[0]
    assert per_program.rows == [["FIRE-CTRL", "", 10, Decimal(80), Decimal(10), Decimal(10)]]


def test_departments_below_the_completion_rate_are_flagged():
    done, todo = EnrollmentStatus.COMPLETED, EnrollmentStatus.ENROLLED
    items = [enrollment("M001", "P1", done), enrollment("M002", "P1", todo), enrollment("M003", "P1", done)]
    result = progress_report(items, MANAGERS)
    assert result.rows == [["Operations", 1, Decimal(100), ""], ["Sales", 2, Decimal(50), "below target"]]
    assert result.data["flagged"] == ["Sales"]
    assert progress_report(items, MANAGERS, min_rate=Decimal(50)).data["flagged"] == []


def metric(who: str, name: str, value: str, day: date, direction: MetricDirection) -> MetricValue:
    return MetricValue(id=f"{who}-{name}-{day}", employee_id=who, metric=name, value=Decimal(value),
                       as_of=day, direction=direction)


def test_error_rate_down_from_5_to_1_percent_is_an_80_percent_improvement():
    lower = MetricDirection.LOWER_IS_BETTER
    metrics = [metric("E1", "error_rate", "0.05", date(2026, 6, 1), lower),
               metric("E1", "error_rate", "0.01", date(2026, 9, 1), lower)]
    result = effect_report(metrics, {("E1", "FIRE-CTRL"): date(2026, 7, 1)})
    assert [(r[0], r[2], r[7]) for r in result.rows] == [("FIRE-CTRL", "error_rate", Decimal(80))]


def test_sales_up_15_percent_after_training_is_a_15_percent_improvement():
    higher = MetricDirection.HIGHER_IS_BETTER
    metrics = [metric("M001", "sales", "100000", date(2026, 6, 1), higher),
               metric("M001", "sales", "115000", date(2026, 9, 1), higher),
               metric("M001", "sales", "999999", date(2026, 10, 1), higher)]  # later values don't count
    result = effect_report(metrics, {("M001", "NEGOTIATION"): date(2026, 7, 1)})
    assert result.rows[0][7] == Decimal(15)
    assert isinstance(result.rows[0][5], Decimal)


class _Text(HTMLParser):
    """The text of a page, its charts, and whatever it would fetch (src/href not in the page)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.svg = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svg += tag == "svg"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value and not value.startswith("#"):
                self.external.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        self.cells.append(data.strip())


def test_reports_render_as_json_and_self_contained_html(make_workspace):
    ws = make_workspace({})
    entries = sharing_at_10()
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [*MANAGERS, *entries])
    cli = ["--config", str(ws.settings.path), "report", "points", "--period", "2026Q3",
           "--today", "2026-09-30"]
    out = CliRunner().invoke(build_cli(), [*cli, "--format", "json"])
    data = json.loads(out.output)
    assert data["rows"][2] == {"category": "sharing", "points": 10, "share_pct": "10.0", "target_pct": "30",
                               "off_pp": "-20.0", "flag": "the rule is off"}
    assert data["sections"][0]["rows"][0]["employee"] == "M001"
    page = CliRunner().invoke(build_cli(), [*cli, "--format", "html"]).output
    parser = _Text()
    parser.feed(page)
    assert parser.svg >= 2  # category vs target chart and the leaderboard chart
    assert {"sharing", "10.0", "the rule is off", "孙强", "90"} <= set(parser.cells)
    # opens from an email, offline: nothing fetched from the network
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_relative_rules_path_is_read_from_the_folder_of_plugins_toml(tmp_path):
    default = load_rules()
    text = ("[[versions]]\nversion = \"v9\"\neffective = 2026-01-01\n"
            "[versions.points]\noffline_attended = 12\n")
    write(tmp_path / "rules" / "points.toml", text)
    assert load_rules("rules/points.toml", tmp_path).versions[0].version == "v9"
    assert default.versions


def test_the_incentives_report_lists_the_job_s_proposals_with_hr_s_decision():
    proposals = [
        {"id": "incentive:bonus:M001:2026Q3", "kind": "bonus", "subject": "M001", "job": "incentives",
         "amount": Decimal("5.00"), "status": "approved"},
        {"id": "incentive:perks:M002:2026Q3", "kind": "perks", "subject": "M002", "job": "incentives",
         "amount": None, "status": "pending"},
        {"id": "refund:hr:S-E003", "kind": "refund", "subject": "E003", "job": "separations",
         "amount": Decimal("850.00"), "status": "pending"},
    ]
    result = incentives_report(proposals, MANAGERS)
    assert result.rows == [
        ["incentive:bonus:M001:2026Q3", "bonus", "M001", "孙强", Decimal("5.00"), "approved"],
        ["incentive:perks:M002:2026Q3", "perks", "M002", "朱丽", None, "pending"]]
    assert result.notes == ["1 pending", "1 approved"]


def test_the_html_points_report_written_with_o_is_one_self_contained_file(make_workspace, tmp_path):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [*MANAGERS, *sharing_at_10()])
    target = tmp_path / "mail" / "points.html"
    target.parent.mkdir()
    out = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "report", "points", "--period",
                                           "2026Q3", "--today", "2026-09-30", "--format", "html",
                                           "-o", str(target)])
    assert out.exit_code == 0 and f"wrote {target}" in out.output
    assert list(target.parent.iterdir()) == [target]  # nothing written beside it
    page = target.read_text(encoding="utf-8")
    refs = _Text()
    refs.feed(page)
    # no stylesheet, script, image or font fetched from anywhere: it opens offline from an email
    assert refs.external == [] and "<link" not in page and "@import" not in page and "url(" not in page
    assert "<style" in page and refs.svg >= 2
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


"""The demo's talent data: fire operators' certificates, managers' review scores, the [jobs] tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

#: Fire operators holding the certificate: two expire within the 60-day reminder lead.
DEMO_CERTIFIED = {"E001": 20, "E002": 45, "E004": None, "E005": None, "E006": None}
DEMO_REVIEWS = [("M001", "negotiation", "2.5"), ("M002", "negotiation", "2"), ("M003", "negotiation", "4"),
                ("M004", "negotiation", "2.5"), ("M005", "negotiation", "3.5"), ("M006", "negotiation", "2"),
                ("M003", "coaching", "2"), ("M004", "coaching", "2.5"), ("M001", "coaching", "4"),
                ("E007", "emergency_response", "2"), ("E008", "emergency_response", "2.5"),
                ("E001", "emergency_response", "4")]


def demo_talent(today: date) -> tuple[list[dict[str, Any]], list[list[Any]], dict[str, Any]]:
    """(certificates, review rows, [jobs] tables) for the demo's fire operators and managers."""
    from trainbridge.plugins.ingest import add_months, demo_dates

    trained = demo_dates(today)["training_day"]
    certificates: list[dict[str, Any]] = []
    for who, expires_in in DEMO_CERTIFIED.items():
        if expires_in is None:
            issued = trained + timedelta(days=30)
            expires = add_months(issued, 36)
        else:
            expires = today + timedelta(days=expires_in)
            issued = add_months(expires, -36)
        certificates.append({"record": "certificate", "certificate_id": f"FCO-{who}", "employee_id": who,
                             "certificate": "fire_control_operator", "issued_on": issued.isoformat(),
                             "expires_on": expires.isoformat()})
    reviewed = today - timedelta(days=20)
    reviews = [[f"review-{who}-{competency}", who, f"competency:{competency}", score, reviewed.isoformat(),
                "score", "higher_is_better"] for who, competency, score in DEMO_REVIEWS]
    jobs = {
        "talent": {
            "class_size": 6, "horizon": "12m",
            "roles": {"fire_operator": {"competencies": ["fire_control", "emergency_response"],
                                        "certificates": ["fire_control_operator"]},
                      "manager": {"competencies": ["leadership", "coaching", "negotiation"]}},
            "demand": [{"certificate": "fire_control_operator", "role": "fire_operator", "site": "Shanghai",
                        "required": 10}],
            "competency_topics": {"negotiation": "商务谈判", "coaching": "辅导下属",
                                  "emergency_response": "应急处置"},
            "goals": {"regional_manager": ["领导力", "区域经营"], "negotiation": ["商务谈判"]},
            # what the console shows for each code on Chinese pages
            "titles": {"fire_control_operator": "消防设施操作员证", "fire_operator": "消防设施操作员",
                       "fire_control": "消防控制", "leadership": "领导力", "manager": "管理人员",
                       "regional_manager": "区域经理"},
        },
        "certificates": {"reminders": ["60d"]},
    }
    return certificates, reviews, jobs


def prepare_demo(workspace: Path, today: date) -> Mapping[str, Any]:
    """Write the demo's certificates and reviews under ``workspace/data``; return the connectors and jobs."""
    from trainbridge.plugins.ingest import write_csv, write_jsonl

    certificates, reviews, jobs = demo_talent(today)
    write_jsonl(workspace / "data" / "certificates.jsonl", certificates)
    write_csv(workspace / "data" / "reviews.csv",
              ["metric_id", "employee_id", "metric", "value", "as_of", "unit", "direction"], reviews)
    return {"connectors": {"lms_certificates": {"type": "file_learning", "events": "data/certificates.jsonl"},
                           "reviews": {"type": "csv_reviews", "path": "data/reviews.csv"}},
            "jobs": jobs}

"""Hostile data and malformed requests: 4xx answers, never a 500; no open redirect; CSV cells
that a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from tests.security.conftest import login
from trainbridge.core.reports import ReportResult, to_csv


def test_the_language_link_does_not_redirect_to_another_site(client):
    answer = client.get("/language?lang=en", headers={"Referer": "https://evil.example/phish"},
                        follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_the_language_link_refuses_scheme_relative_and_backslash_referers(client):
    for referer in ("//evil.example/x", "http://testserver\\@evil.example/", "javascript:alert(1)"):
        answer = client.get("/language?lang=en", headers={"Referer": referer}, follow_redirects=False)
        assert answer.headers["location"] == "/", referer


def test_the_language_link_goes_back_to_the_page_on_this_site(client):
    answer = client.get("/language?lang=en", headers={"Referer": "http://testserver/refunds?employee=E003"},
                        follow_redirects=False)

    assert answer.headers["location"] == "/refunds?employee=E003"


def test_a_signed_body_that_is_not_an_object_is_a_400(client, monkeypatch):
    from trainbridge.core import webhooks

    def connector_cannot_read(*_args, **_kwargs):
        return [].get("event")  # what a connector does with a signed `[]` it expected to be an object

    monkeypatch.setattr(webhooks, "receive_webhook", connector_cannot_read)

    answer = client.post("/webhooks/esign", content=b"[]")

    assert answer.status_code == 400
    assert "Traceback" not in answer.text


def test_a_last_day_at_the_end_of_the_calendar_is_a_400(client):
    login(client, "hr")

    answer = client.get("/refunds", params={"employee": "E003", "last_day": "9999-12-31"})

    assert answer.status_code == 400
    assert "9999-12-31" in answer.text


def test_a_last_day_that_is_no_date_is_a_400(client):
    login(client, "hr")

    assert client.get("/refunds", params={"employee": "E003", "last_day": "tomorrow"}).status_code == 400


def test_csv_cells_from_hr_data_are_not_formulas():
    result = ReportResult(title="Refunds", columns=["employee", "note", "owed"],
                          rows=[["=HYPERLINK(\"http://evil.example\",\"E003\")", "+cmd|' /C calc'!A0",
                                 Decimal("-850.00")],
                                ["@SUM(A1:A9)", "-2+3", Decimal("850.00")]])

    rows = list(csv.reader(io.StringIO(to_csv(result))))

    assert rows[1] == ["'=HYPERLINK(\"http://evil.example\",\"E003\")", "'+cmd|' /C calc'!A0", "-850.00"]
    assert rows[2] == ["'@SUM(A1:A9)", "'-2+3", "850.00"]

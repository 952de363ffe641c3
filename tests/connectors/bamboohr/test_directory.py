"""BambooHR without the custom report: employees from the directory (GET /employees/directory).

``POST /reports/custom`` is deprecated by BambooHR; an account may answer it 404, or refuse it
to a key that may not run reports (403). The directory's shape is BambooHR's "Get Employee
Directory" sample answer (documentation.bamboohr.com): ``fields`` and ``employees`` with the
fields the company shows, current employees only.
"""

from __future__ import annotations

import pytest
import responses

from trainbridge.core.errors import AuthError
from trainbridge.core.records import EmploymentStatus

from .conftest import BASE, CHANGED, REPORT, payload

DIRECTORY = f"{BASE}/employees/directory"


def paths(fake: responses.RequestsMock) -> list[str]:
    return [f"{c.request.method} {c.request.path_url.split('?')[0].rsplit('/v1/', 1)[1]}" for c in fake.calls]


@pytest.mark.parametrize("status", [404, 403])
def test_a_report_that_is_gone_or_refused_reads_the_directory_instead(make_bamboo, fake, status):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add(responses.POST, REPORT, status=status, json={"error": "gone"})
    fake.add(responses.GET, DIRECTORY, json=payload("directory"))
    bamboo = make_bamboo(page_size=2)

    pages = list(bamboo.fetch_employees(since=None))

    people = {r.employee_id: r for p in pages for r in p.records}
    assert set(people) == {"10", "3"}
    assert people["3"].name == "Zhang San"
    assert (people["3"].department, people["3"].job_title) == ("Sales", "Store Manager")
    assert (people["3"].email, people["3"].legal_entity, people["3"].site) == \
        ("zhang.san@example.cn", "Acme Shanghai Ltd", "Shanghai")
    assert people["3"].status is EmploymentStatus.ACTIVE
    assert people["3"].hire_date is None and people["3"].manager_id is None  # not in the directory
    [gone] = [r for p in pages for r in p.rejects]
    assert gone.key == "bamboo:4" and "current employees only" in gone.reason
    # the report is asked once; the directory once for the read, whatever the number of pages
    assert paths(fake) == ["GET employees/changed", "POST reports/custom", "GET employees/directory"]
    assert len(pages) == 2 and pages[-1].cursor == "2024-07-01T09:30:00Z"


def test_directory_mode_never_asks_for_the_report(make_bamboo, fake):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add(responses.GET, DIRECTORY, json=payload("directory"))
    bamboo = make_bamboo(employees_from="directory")

    [page] = list(bamboo.fetch_employees(since=None))

    assert sorted(r.employee_id for r in page.records) == ["10", "3"]
    assert paths(fake) == ["GET employees/changed", "GET employees/directory"]


def test_report_mode_and_a_refused_key_do_not_fall_back(make_bamboo, fake):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add(responses.POST, REPORT, status=403, json={"error": "no reports"})
    with pytest.raises(AuthError):
        list(make_bamboo(employees_from="report").fetch_employees(since=None))

    fake.replace(responses.POST, REPORT, status=401, json={"error": "bad key"})
    with pytest.raises(AuthError):
        list(make_bamboo().fetch_employees(since=None))
    assert not [c for c in fake.calls if c.request.url.startswith(DIRECTORY)]


def test_an_employee_number_key_comes_from_the_directory_when_the_company_shows_it(make_bamboo, fake):
    directory = payload("directory")
    directory["fields"].append({"id": "employeeNumber", "type": "text", "name": "Employee #"})
    for row in directory["employees"]:
        row["employeeNumber"] = f"E{row['id']:04d}"
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add(responses.GET, DIRECTORY, json=directory)
    bamboo = make_bamboo(employees_from="directory", employee_key="employeeNumber")

    [page] = list(bamboo.fetch_employees(since=None))

    assert sorted(r.employee_id for r in page.records) == ["E0003", "E0010"]

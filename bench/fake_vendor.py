"""A fake BambooHR + xAPI LRS on 127.0.0.1, generated from a seed, record by record.

Shapes follow the connectors' test fixtures (tests/connectors/bamboohr/fixtures,
tests/connectors/xapi/fixtures), which follow BambooHR's OpenAPI description and the
xAPI 1.0.3 specification. Nothing is materialised: every answer is computed from the
record's index, so 1M statements cost no memory.

Data set (``E`` employees, ``N`` statements):

* employee ``i`` (1..E): lastChanged ``T0 + i`` seconds; every 50th is terminated
  (an extra ``Terminated`` employmentStatus row, "Resignation (Voluntary)");
* every even employee has one training record with a cost (``E/2`` records, so 100k
  employees give 50k cost items);
* statement ``k`` (0..N-1): stored ``T0 + 10 ms x k``, actor account ``str(1 + k % E)``,
  verb cycling attended/completed/passed/failed.

``POST /_bench/change`` starts the next generation: 1% of employees change (display name
and lastChanged) and 1% more statements are stored after the last one. ``POST
/_bench/faults?p429=0.02&p5xx=0.01&latency_ms=0`` sets failure injection (seeded).
``POST /_bench/requests`` answers the requests counted per endpoint since the last
``POST /_bench/requests?clear=1`` (see :class:`RequestTally`).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import json
import math
import random
import re
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

T0 = datetime(2024, 1, 1, tzinfo=UTC)
GEN_SECONDS = 2_000_000  # each generation's changes sit after everything before it
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = ("attended", "completed", "passed", "failed")
MAX_LIMIT = 10_000
PAGE_CACHE_BYTES = 64 * 1024 * 1024
TRAINING_TYPES = {
    "1": {"id": 1, "name": "Forklift Safety", "renewable": True, "frequency": 12,
          "dueFromHireDate": 30, "required": True, "category": {"id": 3, "name": "Safety"},
          "linkUrl": None, "description": "Licence course", "allowEmployeesToMarkComplete": False},
    "2": {"id": 2, "name": "Negotiation Workshop", "renewable": False, "required": False,
          "category": [], "linkUrl": None, "description": None,
          "allowEmployeesToMarkComplete": True},
}


def iso(seconds: float) -> str:
    """``T0 + seconds`` as ``2024-01-01T00:00:00.000Z``, by integer arithmetic (the day's date
    is cached): a statement has two, and the vendor writes a million statements."""
    ms = round(seconds * 1000)
    day, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{_day(day)}T{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return (T0 + timedelta(days=day)).date().isoformat()


def parse_iso(value: str) -> float:
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return (datetime.fromisoformat(text) - T0).total_seconds()


class DataSet:
    """Every record, computed from its index and the current generation."""

    def __init__(self, employees: int, statements: int, seed: int = 1,
                 changed_share: float = 0.01) -> None:
        self.employees = employees
        self.statements = statements
        self.seed = seed
        self.changed_share = changed_share
        self.generation = 0
        self.extra_per_gen = math.ceil(statements * changed_share) if statements else 0

    # --- employees -----------------------------------------------------------------

    def changed_in(self, i: int) -> int:
        """The newest generation that changed employee ``i`` (0: never changed)."""
        step = max(1, round(1 / self.changed_share))
        for g in range(self.generation, 0, -1):
            if (i + self.seed + g) % step == 0:
                return g
        return 0

    def last_changed(self, i: int) -> float:
        g = self.changed_in(i)
        return float(i) if g == 0 else float(g * GEN_SECONDS + i)

    def changed_since(self, since: float) -> list[int]:
        if self.generation == 0:
            start = max(0, math.floor(since)) + 1
            return list(range(start, self.employees + 1))
        return [i for i in range(1, self.employees + 1) if self.last_changed(i) > since]

    def latest(self) -> float:
        # The newest generation's highest changed id is among the last 1/changed_share ids.
        step = max(1, round(1 / self.changed_share))
        low = max(1, self.employees - step)
        return max((self.last_changed(i) for i in range(low, self.employees + 1)), default=0.0)

    def employee(self, i: int) -> dict[str, Any]:
        g = self.changed_in(i)
        terminated = i % 50 == 0
        first, last = f"First{i}", f"Last{i % 997}"
        return {
            "id": str(i), "employeeNumber": f"E{i:07d}",
            "displayName": f"{first} {last}" + (f" v{g}" if g else ""),
            "firstName": first, "lastName": last, "workEmail": f"e{i}@example.cn",
            "department": ("Sales", "Operations", "Finance", "HR")[i % 4],
            "jobTitle": "Manager" if i % 10 == 0 else "Associate",
            "supervisorEId": str(i - i % 10) if i % 10 and i > 10 else None,
            "supervisorId": None, "hireDate": f"20{10 + i % 14:02d}-0{1 + i % 9}-1{i % 10}",
            "status": "Inactive" if terminated else "Active",
            "employmentHistoryStatus": "Terminated" if terminated else "Full-Time",
            "terminationDate": "2024-06-30" if terminated else "0000-00-00",
            "division": "Acme Shanghai Ltd", "location": ("Shanghai", "Beijing")[i % 2],
        }

    def status_rows(self, i: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{
            "date": f"20{10 + i % 14:02d}-0{1 + i % 9}-1{i % 10}", "employmentStatus": "Full-Time",
            "terminationTypeId": None, "terminationReasonId": None, "terminationRehireId": None,
            "terminationRegrettableId": None, "comment": None}]
        if i % 50 == 0:
            rows.append({"date": "2024-06-30", "employmentStatus": "Terminated",
                         "terminationTypeId": "Resignation (Voluntary)",
                         "terminationReasonId": "Other employment", "terminationRehireId": "Yes",
                         "terminationRegrettableId": "Regrettable", "comment": "Moved on"})
        return rows

    def training(self, i: int) -> dict[str, Any] | list[Any]:
        if i % 2:
            return []  # PHP's empty map
        return {str(i): {"id": i, "employeeId": str(i), "completed": f"2024-0{1 + i % 9}-1{i % 10}",
                         "notes": None, "instructor": "Bob Jones" if i % 4 else None,
                         "credits": "4", "hours": "16", "cost": f"{500 + i % 7 * 100}.00 CNY",
                         "type": "1" if (i // 2) % 2 else "2"}}

    # --- statements ------------------------------------------------------------------

    def total_statements(self) -> int:
        return self.statements + self.generation * self.extra_per_gen

    def stored(self, k: int) -> float:
        if k < self.statements:
            return k * 0.01
        j = k - self.statements
        g, r = divmod(j, self.extra_per_gen)
        return (g + 1) * GEN_SECONDS + r * 0.01

    def first_after(self, since: float) -> int:
        """Index of the first statement stored strictly after ``since``."""
        total = self.total_statements()

        class _Stored:
            def __len__(self) -> int:
                return total

            def __getitem__(inner, k: int) -> float:
                return self.stored(k)

        return bisect.bisect_right(_Stored(), since)

    def statement(self, k: int) -> dict[str, Any]:
        verb = VERBS[(k + self.seed) % 4]
        actor = str(1 + k % self.employees) if self.employees else str(1 + k % 1000)
        stmt: dict[str, Any] = {
            "id": f"{self.seed:08x}-0000-4000-8000-{k:012x}",
            "actor": {"objectType": "Agent",
                      "account": {"homePage": "https://lms.example.cn", "name": actor}},
            "verb": {"id": ADL + verb},
            "object": {"id": f"https://lms.example.cn/courses/c{k % 200}", "objectType": "Activity"},
            "timestamp": iso(self.stored(k) - 1),
            "stored": iso(self.stored(k)),
            "authority": {"objectType": "Agent",
                          "account": {"homePage": "https://lms.example.cn", "name": "lms"}},
            "version": "1.0.3",
        }
        if verb in ("passed", "failed"):
            stmt["result"] = {"score": {"scaled": round((k % 100) / 100, 2)},
                              "success": verb == "passed", "completion": True}
        return stmt


    def statement_bytes(self, k: int) -> bytes:
        """``statement(k)`` as compact JSON, written from a template: the same bytes as
        ``json.dumps(statement(k), separators=(",", ":"))`` at a fifth of the cost, so the
        vendor is not what a benchmark measures (tests/bench check the two agree)."""
        verb = VERBS[(k + self.seed) % 4]
        actor = str(1 + k % self.employees) if self.employees else str(1 + k % 1000)
        stored = self.stored(k)
        result = ""
        if verb in ("passed", "failed"):
            result = (f',"result":{{"score":{{"scaled":{round((k % 100) / 100, 2)!r}}},'
                      f'"success":{"true" if verb == "passed" else "false"},"completion":true}}')
        return (f'{{"id":"{self.seed:08x}-0000-4000-8000-{k:012x}","actor":{{"objectType":"Agent",'
                f'"account":{{"homePage":"https://lms.example.cn","name":"{actor}"}}}},'
                f'"verb":{{"id":"{ADL}{verb}"}},"object":{{"id":"https://lms.example.cn/courses/c{k % 200}",'
                f'"objectType":"Activity"}},"timestamp":"{iso(stored - 1)}","stored":"{iso(stored)}",'
                f'"authority":{{"objectType":"Agent","account":{{"homePage":"https://lms.example.cn",'
                f'"name":"lms"}}}},"version":"1.0.3"{result}}}').encode()


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_of(method: str, path: str) -> str:
    """``GET /bamboo/v1/training/record/employee/{id}``: the method and the path, ids as ``{id}``."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


class RequestTally:
    """Requests per endpoint, and how many times the endpoint's whole data was read.

    Every request counts (a 429 or 5xx too). What a request *read* is counted per item, on
    answered requests only: the id in the path (``training/record/employee/{id}``); each
    employee of a custom report (``filters.employeeIds``, every employee when unfiltered);
    and for a listing (everything else), one item per read that starts a listing, so the
    continuation pages of an xAPI ``more`` link (``from=``) are not new reads. ``reads`` is
    how many times the most-read item was read: 1 when each employee's training records
    were asked for once, 2 when a second hook scanned them all again.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items: dict[str, Counter[str]] = {}

    def request(self, endpoint: str) -> None:
        self.requests[endpoint] += 1

    def read(self, endpoint: str, items: list[str]) -> None:
        self.items.setdefault(endpoint, Counter()).update(items)

    def summary(self) -> dict[str, dict[str, int]]:
        empty: Counter[str] = Counter()
        return {endpoint: {"requests": n, "reads": max(self.items.get(endpoint, empty).values(), default=0),
                           "items": len(self.items.get(endpoint, empty))}
                for endpoint, n in sorted(self.requests.items())}


class State:
    def __init__(self, data: DataSet, *, p429: float = 0.0, p5xx: float = 0.0,
                 latency_ms: float = 0.0) -> None:
        self.data = data
        self.p429, self.p5xx, self.latency_ms = p429, p5xx, latency_ms
        self.rng = random.Random(data.seed)
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "429": 0, "5xx": 0}
        self.tally = RequestTally()
        self.pages: dict[tuple[int, int, int, str], bytes] = {}

    def statements_page(self, start: int, end: int, more: str) -> bytes:
        """The encoded answer for statements ``start..end``, kept for the next tool that asks
        (a few pages: the tools under test read the same pages one after the other)."""
        key = (self.data.generation, start, end, more)
        with self.lock:
            page = self.pages.get(key)
        if page is None:
            body = b",".join(self.data.statement_bytes(k) for k in range(start, end))
            page = b'{"statements":[' + body + b'],"more":' + json.dumps(more).encode() + b"}"
            with self.lock:
                self.pages[key] = page
                while sum(len(p) for p in self.pages.values()) > PAGE_CACHE_BYTES:
                    self.pages.pop(next(iter(self.pages)))
        return page

    def read_items(self, method: str, path: str, query: dict[str, str], body: Any) -> list[str]:
        """What one answered request read, as :class:`RequestTally` counts it."""
        ids = _ID_SEGMENT.findall(path)
        if ids:
            return [ids[-1][1:]]
        if path.endswith("/reports/custom"):
            filters = body.get("filters") if isinstance(body, dict) else None
            wanted = filters.get("employeeIds") if isinstance(filters, dict) else None
            return [str(i) for i in wanted] if wanted else \
                [str(i) for i in range(1, self.data.employees + 1)]
        return [] if "from" in query else ["listing"]

    def fault(self) -> int | None:
        with self.lock:
            self.counts["requests"] += 1
            roll = self.rng.random()
            if roll < self.p429:
                self.counts["429"] += 1
                return 429
            if roll < self.p429 + self.p5xx:
                self.counts["5xx"] += 1
                return 502
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: FakeServer
    fields: dict[str, str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        # one write of status line, headers and body (send_response's Date and Server headers and
        # its per-header writes cost more than a small answer)
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                "Content-Type: application/json", f"Content-Length: {len(raw)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + raw)

    def handle_one_request(self) -> None:
        """One HTTP/1.1 request, parsed by hand: the request line, the headers as a dict, the
        body by Content-Length. ``BaseHTTPRequestHandler`` parses headers with the e-mail
        package, which costs more than the answer to a small request."""
        line = self.rfile.readline(65537)
        if not line:
            self.close_connection = True
            return
        try:
            self.command, self.path, self.request_version = line.decode("latin-1").split()
        except ValueError:
            self.close_connection = True
            return
        fields: dict[str, str] = {}
        while True:
            header = self.rfile.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        self.fields = fields
        self.close_connection = fields.get("connection", "").lower() == "close"
        if self.command not in ("GET", "POST"):
            self._send(405, {"error": f"{self.command} not allowed"})
            return
        self._handle(self.command)
        self.wfile.flush()

    def _handle(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.fields.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        path = parts.path
        if path.startswith("/_bench/"):
            self._admin(path, query)
            return
        endpoint = endpoint_of(method, path)
        with state.lock:
            state.tally.request(endpoint)
        if state.latency_ms:
            time.sleep(state.latency_ms / 1000)
        failure = state.fault()
        if failure == 429:
            self._send(429, {"error": "rate limited"}, {"Retry-After": "1"})
            return
        if failure:
            self._send(failure, {"error": "bad gateway"})
            return
        try:
            status, answer, headers = self._route(method, path, query, body)
        except (ValueError, KeyError) as exc:
            status, answer, headers = 400, {"error": str(exc)}, {}
        if status == 200:
            items = state.read_items(method, path, query, body)
            with state.lock:
                state.tally.read(endpoint, items)
        self._send(status, answer, headers)

    def _admin(self, path: str, query: dict[str, str]) -> None:
        state = self.server.state
        if path == "/_bench/change":
            state.data.generation += 1
        elif path == "/_bench/faults":
            state.p429 = float(query.get("p429", 0))
            state.p5xx = float(query.get("p5xx", 0))
            state.latency_ms = float(query.get("latency_ms", 0))
            state.rng = random.Random(state.data.seed)
        elif path == "/_bench/reset":
            state.data.generation = 0
        elif path == "/_bench/requests":
            with state.lock:
                tally = state.tally.summary()
                if query.get("clear") not in (None, "", "0", "0.0"):
                    state.tally = RequestTally()
            self._send(200, {"endpoints": tally})
            return
        self._send(200, {"generation": state.data.generation, **state.counts,
                         "p429": state.p429, "p5xx": state.p5xx})

    def _route(self, method: str, path: str, query: dict[str, str],
               body: Any) -> tuple[int, Any, dict[str, str]]:
        data = self.server.state.data
        bamboo = "/bamboo/v1/"
        if path.startswith(bamboo):
            return self._bamboo(method, path[len(bamboo):], query, body)
        if path == "/xapi/statements":
            return self._statements(query)
        if path == "/xapi/about":
            return 200, {"version": ["1.0.3"]}, {}
        if path == "/ping":
            return 200, {"ok": True, "employees": data.employees}, {}
        return 404, {"error": f"no route {path}"}, {}

    def _bamboo(self, method: str, path: str, query: dict[str, str],
                body: Any) -> tuple[int, Any, dict[str, str]]:
        data = self.server.state.data
        if path == "employees/changed":
            since = parse_iso(query.get("since", "1970-01-01T00:00:00Z"))
            ids = data.changed_since(since)
            return 200, {"latest": iso_s(data.latest()), "employees": {
                str(i): {"id": str(i), "action": "Updated" if data.changed_in(i) else "Inserted",
                         "lastChanged": iso_s(data.last_changed(i))} for i in ids}}, {}
        if path == "employees/changed/tables/employmentStatus":
            since = parse_iso(query.get("since", "1970-01-01T00:00:00Z"))
            return 200, {"table": "employmentStatus", "employees": {
                str(i): {"lastChanged": iso_s(data.last_changed(i)), "rows": data.status_rows(i)}
                for i in data.changed_since(since)}}, {}
        if path == "reports/custom" and method == "POST":
            fields = list(body.get("fields") or [])
            wanted = (body.get("filters") or {}).get("employeeIds")
            ids = [int(i) for i in wanted] if wanted else list(range(1, data.employees + 1))
            rows = []
            for i in ids:
                if 1 <= i <= data.employees:
                    row = data.employee(i)
                    rows.append({"id": row["id"], **{f: row.get(f) for f in fields}})
            return 200, {"title": body.get("title", ""), "fields": [
                {"id": f, "type": "text", "name": f} for f in fields], "employees": rows}, {}
        if path == "training/type":
            return 200, TRAINING_TYPES, {}
        if path.startswith("training/record/employee/"):
            i = int(path.rsplit("/", 1)[1])
            if not 1 <= i <= data.employees:
                return 404, {"error": "no such employee"}, {}
            return 200, data.training(i), {}
        if path == "meta/fields":
            return 200, [{"id": 1, "name": "First Name", "type": "text", "alias": "firstName"}], {}
        return 404, {"error": f"no route {path}"}, {}

    def _statements(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        data = self.server.state.data
        # xAPI's limit 0 means "the server's maximum"; this LRS's is 10,000 statements a page
        asked = int(query.get("limit", 500) or 0)
        limit = MAX_LIMIT if asked <= 0 else min(asked, MAX_LIMIT)
        total = int(query["total"]) if "total" in query else data.total_statements()
        if "from" in query:
            start = int(query["from"])
        elif "since" in query:
            start = data.first_after(parse_iso(query["since"]))
        else:
            start = 0
        end = min(total, start + limit)
        more = f"/xapi/statements?from={end}&limit={limit}&total={total}" if end < total else ""
        consistent = iso(data.stored(total - 1)) if total else iso(0)
        return 200, self.server.state.statements_page(start, end, more), {
            "X-Experience-API-Consistent-Through": consistent,
            "X-Experience-API-Version": "1.0.3"}


def iso_s(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, state: State, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


def serve_in_thread(data: DataSet, **faults: float) -> tuple[FakeServer, str]:
    """For tests: the server in a daemon thread of this process; returns it and its root URL."""
    server = FakeServer(State(data, **faults))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fake BambooHR + xAPI LRS for benchmarks")
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--p429", type=float, default=0.0)
    parser.add_argument("--p5xx", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    state = State(DataSet(args.employees, args.statements, args.seed), p429=args.p429,
                  p5xx=args.p5xx, latency_ms=args.latency_ms)
    server = FakeServer(state, args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()

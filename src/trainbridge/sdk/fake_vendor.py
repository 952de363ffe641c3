"""A vendor API faked in the test process, for connector tests (the ``tb_vendor`` fixture).

It keeps what is written: a *resource* is a collection that ``POST path`` adds to (honouring
an idempotency header: the same key answers the object made the first time), ``GET path``
lists (filtered by query parameters equal to item fields) and ``GET path/{id}`` reads. Faults
are injected per request: a status, or a *lost answer* (the vendor did the write, the client
saw a dropped connection), which is what exactly-once delivery must survive.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class VendorCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    def idempotency_key(self) -> str | None:
        """The value of any header whose name mentions idempotency (vendors name it differently)."""
        return next((v for k, v in self.headers.items() if "idempotency" in k.lower()), None)


@dataclass
class _Fault:
    method: str
    pattern: str
    status: int | None
    commit: bool
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Resource:
    """One collection of the fake vendor."""

    path: str
    key_header: str | None = "Idempotency-Key"
    id_field: str = "id"
    items: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def find(self, **fields: Any) -> list[dict[str, Any]]:
        return [i for i in self.items if all(str(i.get(k)) == str(v) for k, v in fields.items())]


class FakeVendor:
    """``vendor = tb_vendor("https://api.acme.example/v1")``; then ``vendor.resource("/payments")``,
    ``vendor.serve("GET", "/me", json={...})``, ``vendor.lose_next_answer("POST", "/payments")``."""

    def __init__(self, mock: responses.RequestsMock, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path.rstrip("/")
        self.calls: list[VendorCall] = []
        self.resources: dict[str, Resource] = {}
        self._static: dict[tuple[str, str], tuple[int, dict[str, str], Any]] = {}
        self._faults: list[_Fault] = []
        self._serial = 0
        pattern = re.compile(re.escape(self.base_url) + r"(/.*)?$")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mock.add_callback(method, pattern, callback=self._handle)

    # --- set-up ----------------------------------------------------------------------

    def resource(self, path: str, *, key_header: str | None = "Idempotency-Key", id_field: str = "id",
                 items: list[dict[str, Any]] | None = None) -> Resource:
        """A collection at ``path``; ``key_header`` None is a vendor without idempotency keys."""
        found = Resource(path=path.rstrip("/"), key_header=key_header, id_field=id_field,
                         items=list(items or []))
        self.resources[found.path] = found
        return found

    def serve(self, method: str, path: str, *, json: Any = None, status: int = 200,
              headers: Mapping[str, str] | None = None) -> None:
        """Answer ``method path`` (query ignored) with this JSON, every time."""
        self._static[(method.upper(), path.rstrip("/") or "/")] = (status, dict(headers or {}), json)

    def fail_next(self, method: str, path_pattern: str, status: int, *, commit: bool = False,
                  json: Any = None, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next matching request with ``status`` (after doing it, with ``commit``)."""
        self._faults.append(_Fault(method.upper(), path_pattern, status, commit, json, dict(headers or {})))

    def lose_next_answer(self, method: str, path_pattern: str) -> None:
        """Do the next matching request, then drop the connection before the answer arrives."""
        self._faults.append(_Fault(method.upper(), path_pattern, None, True))

    # --- what happened ----------------------------------------------------------------

    def writes(self) -> list[VendorCall]:
        return [c for c in self.calls if c.method in WRITE_METHODS]

    def effects(self, path: str | None = None) -> int:
        """Objects the vendor holds (in one resource, or all): what a write really made."""
        chosen = [self.resources[path.rstrip("/")]] if path else list(self.resources.values())
        return sum(len(r.items) for r in chosen)

    def keys(self) -> set[str]:
        return {k for c in self.writes() if (k := c.idempotency_key()) is not None}

    # --- the fake API -----------------------------------------------------------------

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url or "")
        path = url.path[len(self.base_path):] or "/"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        call = VendorCall(str(request.method), path, query, dict(request.headers), _body(request))
        self.calls.append(call)
        fault = next((f for f in self._faults if f.method == call.method
                      and re.fullmatch(f.pattern, path)), None)
        if fault is not None:
            self._faults.remove(fault)
            if fault.commit:
                self._route(call)
            if fault.status is None:
                msg = f"connection dropped after {call.method} {path} was done (fake vendor)"
                raise requests.ConnectionError(msg)
            return fault.status, fault.headers, json.dumps(fault.body) if fault.body is not None else ""
        return self._route(call)

    def _route(self, call: VendorCall) -> tuple[int, dict[str, str], str]:
        static = self._static.get((call.method, call.path.rstrip("/") or "/"))
        if static is not None:
            status, headers, body = static
            return status, headers, json.dumps(body)
        for rpath, res in self.resources.items():
            if call.path.rstrip("/") == rpath:
                if call.method == "POST":
                    return self._create(res, call)
                if call.method == "GET":
                    return 200, {}, json.dumps(res.find(**call.query))
            match = re.fullmatch(re.escape(rpath) + r"/([^/]+)", call.path)
            if match and call.method == "GET":
                found = res.find(**{res.id_field: match[1]})
                if found:
                    return 200, {}, json.dumps(found[0])
        return 404, {}, json.dumps({"error": f"no route {call.method} {call.path}"})

    def _create(self, res: Resource, call: VendorCall) -> tuple[int, dict[str, str], str]:
        key = call.headers.get(res.key_header) if res.key_header else None
        if key is not None and key in res.by_key:
            return 200, {"Idempotent-Replayed": "true"}, json.dumps(res.by_key[key])
        self._serial += 1
        body = call.body if isinstance(call.body, dict) else {}
        item = {**copy.deepcopy(body), res.id_field: f"obj_{self._serial:06d}"}
        res.items.append(item)
        if key is not None:
            res.by_key[key] = item
        return 201, {}, json.dumps(item)


def _body(request: requests.PreparedRequest) -> Any:
    raw = request.body
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return {k: v[0] for k, v in parse_qs(text).items()} or text


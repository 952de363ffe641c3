"""Benchmark stores: a PostgreSQL database of the benchmark's own, never a fixed name on a shared
server, dropped after use."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from bench import __main__ as bench

pytestmark = pytest.mark.postgres


def test_each_store_is_a_new_database_with_a_name_of_its_own_dropped_after(tmp_path, monkeypatch):
    url = os.environ.get("TRAINBRIDGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL not configured: set TRAINBRIDGE_TEST_POSTGRES_URL")
    monkeypatch.setattr(bench, "PG_ADMIN", url)

    first, second = bench.fresh_store("postgres", "trainbridge", tmp_path), \
        bench.fresh_store("postgres", "trainbridge", tmp_path)

    names = [u.rsplit("/", 1)[1] for u in (first, second)]
    assert names[0] != names[1] and all(n.startswith("bench_trainbridge_") for n in names)
    engine = sa.create_engine(url)
    try:
        def exists(name: str) -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.text("select 1 from pg_database where datname = :n"),
                                    {"n": name}).first() is not None

        assert all(exists(n) for n in names)
        bench.drop_store(first)
        bench.drop_store(second)
        assert not any(exists(n) for n in names)
    finally:
        engine.dispose()
    assert bench.fresh_store("sqlite", "dlt", tmp_path) == f"sqlite:///{tmp_path / 'dlt.sqlite'}"

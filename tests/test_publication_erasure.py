"""Publication and erasure generations; paths with quotes (no Dagster, no dbt: fast)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.lib.publication import (
    erasure_generation_of,
    publish_warehouse,
    published_versions,
)


def _build_db(path: Path, customers: list[str]) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.dim_customers (customer_id varchar)")
        con.executemany("insert into marts.dim_customers values (?)", [(c,) for c in customers])
    finally:
        con.close()
    return path


def test_a_publication_after_an_erasure_removes_every_older_version(tmp_path: Path) -> None:
    # a quote in the warehouse path must come out as data, not break or inject SQL
    folder = tmp_path / "o'brien; drop table x"
    folder.mkdir()
    build, bi, published = folder / "w.build.duckdb", folder / "w.duckdb", folder / "w.published"
    _build_db(build, ["cus_a", "cus_erased"])
    old = [publish_warehouse(build, bi, published).version for _ in range(2)]
    _build_db(build, ["cus_a"])
    new = publish_warehouse(build, bi, published, erasure_generation=5)
    assert [v.version for v in published_versions(published)] == [new.version]
    assert set(new.removed_versions) == set(old)
    assert erasure_generation_of(new.version_dir) == 5
    con = duckdb.connect(str(bi), read_only=True)
    try:
        assert con.execute("select customer_id from marts.dim_customers").fetchall() == [("cus_a",)]
    finally:
        con.close()
    # same generation: the usual rolling window of versions is kept
    again = publish_warehouse(build, bi, published, erasure_generation=5)
    assert again.removed_versions == ()
    assert [v.version for v in published_versions(published)] == [new.version, again.version]

"""Publication: BI readers see complete states, switch without reconnecting, never see PII."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.publication import PublicationRefused, publish_warehouse


def _build(db: Path, customers: int, extra_column: bool = False) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists audit")
        extra = ", 'x' as segment" if extra_column else ""
        con.execute(
            "create or replace table marts.dim_customers as "
            f"select 'cus_' || i as customer_id{extra} from range({customers}) t(i)"
        )
        con.execute(
            "create or replace table marts.fct_orders as "
            f"select 'W' || i as order_id, 'cus_' || (i % {customers}) as customer_id "
            f"from range({customers * 3}) t(i)"
        )
        con.execute(
            "create or replace table audit.quarantine as "
            "select 'shop_orders' as source_table, 'reason' as reason"
        )
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]


def test_long_lived_reader_sees_each_new_version_without_reconnecting(tmp_path: Path) -> None:
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 10)
    first = publish_warehouse(build, published, tmp_path / "published")
    assert first.rebuilt_views
    assert first.row_counts == {
        "audit.quarantine": 1,
        "marts.dim_customers": 10,
        "marts.fct_orders": 30,
    }

    reader = duckdb.connect(str(published), read_only=True)
    try:
        assert _count(reader, "marts.dim_customers") == 10
        _build(build, 25)
        second = publish_warehouse(build, published, tmp_path / "published")
        # Same layout: the BI file was not touched, the reader just sees the new version.
        assert not second.rebuilt_views
        assert _count(reader, "marts.dim_customers") == 25
        assert _count(reader, "marts.fct_orders") == 75
        versions = reader.execute("select distinct version from audit.publication").fetchall()
        assert versions == [(second.version,)]
    finally:
        reader.close()


def test_a_new_column_rebuilds_the_view_file(tmp_path: Path) -> None:
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 5)
    publish_warehouse(build, published, tmp_path / "published")
    _build(build, 5, extra_column=True)
    result = publish_warehouse(build, published, tmp_path / "published")
    assert result.rebuilt_views
    con = duckdb.connect(str(published), read_only=True)
    try:
        assert con.execute("select distinct segment from marts.dim_customers").fetchall() == [
            ("x",)
        ]
    finally:
        con.close()


def test_personal_columns_are_refused_and_the_old_state_stays(tmp_path: Path) -> None:
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 4)
    publish_warehouse(build, published, tmp_path / "published")
    con = duckdb.connect(str(build))
    con.execute("create table marts.leak as select 'a@b.c' as email")
    con.close()
    with pytest.raises(PublicationRefused, match="marts.leak.email"):
        publish_warehouse(build, published, tmp_path / "published")
    reader = duckdb.connect(str(published), read_only=True)
    try:
        assert _count(reader, "marts.dim_customers") == 4
        assert "leak" not in {r[0] for r in reader.execute("show tables").fetchall()}
    finally:
        reader.close()


def test_leftovers_of_an_interrupted_publication_are_cleaned_up(tmp_path: Path) -> None:
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 3)
    publish_warehouse(build, published, tmp_path / "published")
    # What a kill -9 in the middle of the copy or of the symlink swap leaves behind.
    (tmp_path / "published" / "versions" / "20000101T000000000000Z-dead.tmp").mkdir()
    (tmp_path / "published" / "current.tmp-dead").symlink_to("versions")
    for _ in range(4):
        publish_warehouse(build, published, tmp_path / "published")
    versions = sorted(p.name for p in (tmp_path / "published" / "versions").iterdir())
    assert len(versions) == 3 and not any(v.endswith(".tmp") for v in versions)
    assert not list((tmp_path / "published").glob("current.tmp-*"))


PUBLISH_LOOP = """
import sys
from pathlib import Path
from dagster_project.lib.publication import publish_warehouse
build, published, folder = map(Path, sys.argv[1:4])
print("ready", flush=True)
while True:
    publish_warehouse(build, published, folder)
"""


def test_a_publication_killed_at_any_moment_leaves_a_readable_complete_state(tmp_path: Path):
    import random
    import subprocess
    import sys
    import time

    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    folder = tmp_path / "published"
    _build(build, 200_000)  # big enough that a copy takes a noticeable moment
    publish_warehouse(build, published, folder)
    expected = {"marts.dim_customers": 200_000, "marts.fct_orders": 600_000}
    rng = random.Random(7)
    for _ in range(6):
        writer = subprocess.Popen(
            [sys.executable, "-c", PUBLISH_LOOP, str(build), str(published), str(folder)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.5))
        writer.kill()  # SIGKILL: no finally blocks, no clean-up
        writer.wait(timeout=10)
        reader = duckdb.connect(str(published), read_only=True)
        try:
            for table, rows in expected.items():
                assert _count(reader, table) == rows
            versions = reader.execute("select distinct version from audit.publication").fetchall()
            assert len(versions) == 1
        finally:
            reader.close()
    # The next publication recovers without help and tidies what the kills left behind.
    publish_warehouse(build, published, folder)
    leftovers = [p.name for p in (folder / "versions").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [] and not list(folder.glob("current.tmp-*"))

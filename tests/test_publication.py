"""Publication: BI readers see complete states, switch without reconnecting, never see PII."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.publication import (
    PublicationRefused,
    publish_warehouse,
    published_versions,
)


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
    folder = tmp_path / "published"
    # What a kill -9 in the middle of a copy, of a commit or of a deletion leaves behind.
    (folder / "staging" / "999999999000" / "marts").mkdir(parents=True)
    (folder / "versions" / "version=999999999001" / "marts").mkdir(parents=True)  # no marker
    (folder / "trash" / "999999999002-dead").mkdir(parents=True)
    for _ in range(4):
        publish_warehouse(build, published, folder)
    versions = published_versions(folder)
    assert len(versions) == 3 and all(v.visible_from_ms for v in versions)
    assert sorted(p.name for p in folder.iterdir()) == ["markers", "versions"]
    assert len(list((folder / "markers").iterdir())) == 3


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
    assert sorted(p.name for p in folder.iterdir()) == ["markers", "versions"]
    assert all(v.visible_from_ms for v in published_versions(folder))


SWITCH_LOOP = """
import sys
from pathlib import Path
import duckdb
from dagster_project.lib.publication import publish_warehouse
build, published, folder = map(Path, sys.argv[1:4])
rows = int(sys.argv[4])
for n in range(1, 10_000):
    con = duckdb.connect(str(build))
    # every table of publication n says n, and has rows + 7 n rows
    for table in ("scores", "customers"):
        con.execute(
            f"create or replace table marts.{table} as select range as id, {n} as n "
            f"from range({rows} + 7 * {n})"
        )
    con.close()
    # every fifth publication follows an erasure: all older versions are deleted right away
    publish_warehouse(build, published, folder, erasure_generation=n // 5)
    print(n, flush=True)
"""

# One statement reading both tables several times, like a BI dashboard query.
CONSISTENCY_SQL = """
select (select max(n) from marts.scores), (select min(n) from marts.customers),
    (select count(*) from marts.scores), (select count(*) from marts.customers),
    (select count(*) from marts.scores join marts.customers using (id))
"""


def test_readers_see_no_error_and_no_mixed_state_while_versions_switch(tmp_path: Path) -> None:
    """The race behind issue 6: a query overlapping a switch. With a `current` symlink this
    failed within seconds ('TProtocolException: Invalid data', versions mixed in one query)."""
    import subprocess
    import sys
    import threading
    import time

    rows = 200_000
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    folder = tmp_path / "published"
    con = duckdb.connect(str(build))
    con.execute("create schema marts")
    con.execute("create table marts.scores as select 0 as id, 0 as n")
    con.execute("create table marts.customers as select 0 as id, 0 as n")
    con.close()
    publish_warehouse(build, published, folder)
    writer = subprocess.Popen(
        [sys.executable, "-c", SWITCH_LOOP, str(build), str(published), str(folder), str(rows)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "1"  # the layout is final from here on
    results: list[tuple] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        reader = duckdb.connect(str(published), read_only=True)
        try:
            while not stop.is_set():
                try:
                    results.append(reader.execute(CONSISTENCY_SQL).fetchall()[0])
                except duckdb.Error as error:
                    errors.append(repr(error))
        finally:
            reader.close()

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(20)
    stop.set()
    for thread in threads:
        thread.join()
    writer.kill()
    published_count = int(writer.communicate()[0].split()[-1])

    assert errors == []
    seen = {result[0] for result in results}
    assert len(seen) >= 5 and published_count >= 10, (seen, published_count)  # it did switch
    for n_scores, n_customers, scores, customers, joined in results:
        assert n_scores == n_customers, (n_scores, n_customers)
        assert scores == customers == joined == rows + 7 * n_scores


def test_folders_that_look_like_partitions_or_globs_are_just_folders(tmp_path: Path) -> None:
    """The views glob `versions/version=*/...`: a `key=value` folder or `[x]` above the
    warehouse must neither become a column nor a glob pattern."""
    folder = tmp_path / "region=eu [x]"
    folder.mkdir()
    build, published = folder / "w.build.duckdb", folder / "w.duckdb"
    _build(build, 6)
    publish_warehouse(build, published, folder / "w.published")
    _build(build, 9)
    publish_warehouse(build, published, folder / "w.published")
    reader = duckdb.connect(str(published), read_only=True)
    try:
        assert _count(reader, "marts.dim_customers") == 9
        columns = [c[0] for c in reader.execute("describe marts.dim_customers").fetchall()]
        assert columns == ["customer_id"]
    finally:
        reader.close()

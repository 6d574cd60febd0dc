"""The adapter between Great Expectations' SQL datasource and DuckDB (lib/quality/gx_duckdb.py).

Real DuckDB files, real GX validations: regex and LIKE expectations build DuckDB SQL, results
are fetched over the persisted connection, and the file is free for a writer afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.quality.suites import EXPECTATIONS_DIR, STAGES, load_suites
from dagster_project.lib.quality.thresholds import QualityThresholds, expectation_parameters


@pytest.fixture(scope="module")
def validation():
    # Imported once for the module: Great Expectations takes ~14 s to import.
    from dagster_project.lib.quality import validation

    return validation


@pytest.fixture()
def duckdb_file(tmp_path: Path) -> Path:
    path = tmp_path / "build.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.things as select 'cus_' || lpad(range::varchar, 16, '0') as code, "
        "range as n from range(500)"
    )
    con.execute("insert into marts.things values ('CUS-bad', 500), ('cus_50%_off', 501)")
    con.close()
    return path


def _suite_dir(tmp_path: Path, expectations: list[dict], **where: str) -> Path:
    """A folder with one suite file; `where` is its `meta.segmentwerk` besides the stage."""
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "things.json").write_text(
        json.dumps(
            {
                "name": where.pop("name", "marts.things"),
                "meta": {"segmentwerk": {"stage": "unification", "asset": "marts/things", **where}},
                "expectations": expectations,
            }
        )
    )
    return folder


def test_regex_like_and_custom_sql_run_in_duckdb_and_release_the_file(
    validation, duckdb_file: Path, tmp_path: Path
) -> None:
    suites = load_suites(
        _suite_dir(
            tmp_path,
            [
                {
                    "type": "expect_column_values_to_match_regex",
                    "kwargs": {"column": "code", "regex": "^cus_[0-9]{16}$"},
                },
                {
                    "type": "expect_column_values_to_not_match_like_pattern",
                    "kwargs": {"column": "code", "like_pattern": "%\\%%", "escape": "\\"},
                    "severity": "warning",
                },
                {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
                {
                    "type": "unexpected_row_count_expectation",
                    "kwargs": {"unexpected_rows_query": "select * from {batch} where n >= 500"},
                },
            ],
            query="select * from marts.things",
        )
    )
    [outcome] = validation.validate_suites(
        duckdb_file, suites, thresholds=QualityThresholds(), docs_dir=tmp_path / "docs"
    )
    regex, like, row_count, custom = outcome.results
    # GX has no DuckDB regex/LIKE dialect of its own: without the adapter these two error out.
    assert (regex.success, regex.error, regex.offending_rows) == (False, None, 2)
    assert (like.success, like.error, like.offending_rows) == (False, None, 1)
    # Fetched after the query ran: the persisted connection still holds the result.
    assert row_count.success and outcome.row_count == 502
    assert (custom.success, custom.offending_rows) == (False, 2)
    assert outcome.severity == "critical"
    assert "expect_column_values_to_match_regex(code): 2 offending rows" in outcome.summary()
    assert (tmp_path / "docs" / "index.html").exists()
    # Released: a read-write connection in this very process opens and writes.
    con = duckdb.connect(str(duckdb_file))
    con.execute("insert into marts.things values ('cus_0000000000000999', 999)")
    con.close()


def test_custom_sql_checks_run_their_query_once(
    validation, duckdb_file: Path, tmp_path: Path
) -> None:
    """unexpected_row_count_expectation counts the offending rows in one query; GX's
    unexpected_rows_expectation runs the query again to fetch rows the gate never reports."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    marker = "n >= 500 and code <> 'marker'"
    runs: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if marker in statement:
            runs.append(statement)

    queries: dict[str, int] = {}
    event.listen(Engine, "before_cursor_execute", record)
    try:
        for kind in ("unexpected_row_count_expectation", "unexpected_rows_expectation"):
            folder = tmp_path / kind
            folder.mkdir()
            check = {
                "type": kind,
                "kwargs": {"unexpected_rows_query": f"select * from {{batch}} where {marker}"},
            }
            suites = load_suites(_suite_dir(folder, [check], query="select * from marts.things"))
            runs.clear()
            [outcome] = validation.validate_suites(
                duckdb_file, suites, thresholds=QualityThresholds()
            )
            [result] = outcome.results
            assert (result.success, result.offending_rows) == (False, 2), kind
            queries[kind] = len(runs)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert queries == {"unexpected_row_count_expectation": 1, "unexpected_rows_expectation": 2}


def test_a_file_open_for_writing_elsewhere_in_the_process_is_not_touched(
    validation, duckdb_file: Path
) -> None:
    # The adapter opens read-only; DuckDB refuses a second configuration of an open file, so
    # the gate must never validate while a writer of the same process holds the file.
    suites = [s for s in load_suites(EXPECTATIONS_DIR) if s.name == "marts.dim_customers"]
    writer = duckdb.connect(str(duckdb_file))
    try:
        with pytest.raises(Exception, match="(?i)different configuration|read.only|lock"):
            validation.validate_suites(duckdb_file, suites, thresholds=QualityThresholds())
    finally:
        writer.close()
    # ... and a failed open leaves nothing behind either.
    duckdb.connect(str(duckdb_file)).close()


def test_the_plain_gx_sql_datasource_still_needs_the_adapter(duckdb_file: Path) -> None:
    """If GX learns DuckDB one day this fails, and the adapter can go."""
    import great_expectations as gx

    from dagster_project.lib.quality.gx_duckdb import duckdb_url, ephemeral_context

    context = ephemeral_context()
    datasource = context.data_sources.add_sql(
        name="plain",
        connection_string=duckdb_url(duckdb_file),
        kwargs={"connect_args": {"read_only": True}},
    )
    batch = (
        datasource.add_query_asset("things", query="select * from marts.things")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    suite = gx.ExpectationSuite(
        "plain",
        expectations=[
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "code", "regex": "x"},
            }
        ],
    )
    result = batch.validate(suite)
    assert not result.results[0].success and not result.results[0].result
    datasource.get_execution_engine().engine.dispose()
    datasource.get_engine().dispose()


def test_every_suite_in_the_repository_is_valid_for_gx(validation) -> None:
    import great_expectations as gx

    suites = load_suites()
    assert {s.stage for s in suites} == set(STAGES)
    landing = {s.path.stem for s in suites if s.path.parent.name == "landing"}
    assert landing == {
        "crm_customers", "shop_orders", "order_lines", "store_transactions", "loyalty_cards",
        "web_events", "prospects", "fx_rates", "erasure_requests",
    }  # fmt: skip
    month = date(2025, 12, 1)
    params = expectation_parameters(QualityThresholds(), month=month, now=datetime(2026, 1, 5))
    for spec in suites:
        suite = gx.ExpectationSuite(**spec.gx_suite_dict(month))
        assert len(suite.expectations) == len(spec.expectations), spec.path.name
        query = spec.batch_query(month, QualityThresholds().query_values())
        assert re.search(r"\{\w+\}", query) is None, (spec.path.name, query)
        for expectation in spec.expectations:
            for value in expectation["kwargs"].values():
                if isinstance(value, dict) and "$PARAMETER" in value:
                    assert value["$PARAMETER"] in params, (spec.path.name, value)


def test_loading_the_definitions_does_not_import_great_expectations() -> None:
    code = (
        "import sys; import dagster_project.defs.quality.checks; "
        "sys.exit('great_expectations' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=300).returncode == 0


def _loaded_events(path: Path, bad_in: str) -> None:
    """Two loads of 300 and 200 events; one event of the `bad_in` load has no id."""
    con = duckdb.connect(str(path))
    con.execute("create schema staging")
    con.execute(
        "create table staging.events as select 'e' || range as event_id, "
        "case when range < 300 then timestamp '2026-01-01 10:00:00' "
        "else timestamp '2026-02-01 10:00:00' end as loaded_at from range(500)"
    )
    bad = 7 if bad_in == "first" else 307
    con.execute(f"update staging.events set event_id = null where event_id = 'e{bad}'")
    con.close()


@pytest.mark.parametrize("bad_in", ["first", "latest"])
def test_row_checks_see_the_latest_load_and_table_checks_the_whole_table(
    validation, tmp_path: Path, bad_in: str
) -> None:
    path = tmp_path / "build.duckdb"
    _loaded_events(path, bad_in)
    suites = load_suites(
        _suite_dir(
            tmp_path,
            [
                {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}},
                {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "event_id"}},
            ],
            name="landing.events",
            table="staging.events",
            loaded_at_column="loaded_at",
        )
    )

    [latest] = validation.validate_suites(path, suites, thresholds=QualityThresholds())
    # the file's order, whichever batch an expectation ran on
    assert [r.expectation for r in latest.results] == [
        "expect_column_values_to_not_be_null",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
    ]
    assert latest.loaded_at == datetime(2026, 2, 1, 10)
    assert (latest.row_count, latest.rows_validated) == (500, 200)
    not_null = latest.results[0]
    if bad_in == "latest":
        assert (not_null.success, not_null.offending_rows) == (False, 1)
    else:
        # the first load passed the gate when it was loaded; it is not read again
        assert not_null.success and latest.severity is None

    [full] = validation.validate_suites(
        path, suites, thresholds=QualityThresholds(row_checks="all")
    )
    assert (full.loaded_at, full.rows_validated, full.row_count) == (None, None, 500)
    assert (full.results[0].success, full.results[0].offending_rows) == (False, 1)


def test_row_checks_is_a_known_scope() -> None:
    with pytest.raises(ValueError, match="row_checks"):
        QualityThresholds(row_checks="some")


def test_the_memory_limit_reaches_the_gx_connection(
    validation, duckdb_file: Path, tmp_path: Path
) -> None:
    limit_check = {
        "type": "unexpected_row_count_expectation",
        "kwargs": {
            "unexpected_rows_query": "select * from {batch} "
            "where current_setting('memory_limit') <> '953.6 MiB'"
        },
    }
    suites = load_suites(_suite_dir(tmp_path, [limit_check], query="select * from marts.things"))
    [bounded] = validation.validate_suites(
        duckdb_file, suites, thresholds=QualityThresholds(), memory_limit="1GB"
    )
    assert bounded.severity is None, bounded.summary()
    [unbounded] = validation.validate_suites(duckdb_file, suites, thresholds=QualityThresholds())
    assert unbounded.severity == "critical"

"""A BI reader with one long-lived read-only connection while a full run publishes.

The run is `segmentwerk run --month 2025-12` in another process (unification, erasure,
scoring, exports, publication — see tests/privacy_scenario.py); the reader is a thread of this
process that queries `$DUCKDB_PATH` in a loop on a connection opened before the run started.
"""

from __future__ import annotations

from datetime import date

from conftest import ErasureScenario


def test_the_run_succeeds_while_a_reader_holds_the_warehouse_open(
    erasure_scenario: ErasureScenario,
) -> None:
    run = erasure_scenario.second_run
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_run_killed_mid_way_leaves_the_publication_intact_and_the_next_run_recovers(
    erasure_scenario: ErasureScenario,
) -> None:
    reader = erasure_scenario.reader
    assert reader["killed_returncode"] == -9  # it was really killed, not finished
    assert reader["after_kill"] == reader["before"]  # the old publication, unchanged
    assert erasure_scenario.second_run.returncode == 0  # no manual clean-up needed


def test_the_reader_keeps_working_through_the_run(erasure_scenario: ErasureScenario) -> None:
    reader = erasure_scenario.reader
    assert reader["errors"] == []
    # it really read during the run, not once before and once after
    assert len(reader["results"]) >= 50, (len(reader["results"]), reader["run_seconds"])


def test_the_reader_never_sees_a_mixed_state(erasure_scenario: ErasureScenario) -> None:
    for scores_month, segments_month, scored, known, version in erasure_scenario.reader["results"]:
        assert scores_month == segments_month, version
        assert scored == known > 0, version


def test_the_same_connection_sees_the_new_month_afterwards(
    erasure_scenario: ErasureScenario,
) -> None:
    reader = erasure_scenario.reader
    assert reader["before"][0] == date(2025, 11, 1)
    assert reader["after"][0] == date(2025, 12, 1)
    assert reader["after"][4] != reader["before"][4]  # another publication version
    months = [row[0] for row in reader["results"]]
    # old state until the switch, then only the new one: never back
    switch = months.index(date(2025, 12, 1)) if date(2025, 12, 1) in months else len(months)
    assert set(months[:switch]) <= {date(2025, 11, 1)}
    assert set(months[switch:]) <= {date(2025, 12, 1)}

"""The schedule and the landing-zone sensor, with Dagster's testing helpers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import defs
from dagster_project.defs.triggers import landing_zone_sensor


def test_the_schedule_runs_on_the_first_at_three_for_the_month_just_ended() -> None:
    # The job takes its monthly partitions from its assets, so the schedule is resolved with
    # the definitions.
    schedule = defs().resolve_schedule_def("monthly_resegmentation_schedule")
    assert schedule.cron_schedule == "0 3 1 * *"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 1, 3, 0))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-02-01"]


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    landing = tmp_path / "landing"
    (landing / "shop_orders").mkdir(parents=True)
    monkeypatch.setenv("LANDING_DIR", str(landing))
    return landing


def test_the_sensor_requests_one_run_per_new_set_of_files(landing: Path) -> None:
    empty = landing_zone_sensor(dg.build_sensor_context())
    assert isinstance(empty, dg.SkipReason)

    (landing / "shop_orders" / "shop_orders_2026-01.csv").write_text("order_id\nW1\n")
    context = dg.build_sensor_context()
    first = landing_zone_sensor(context)
    assert isinstance(first, dg.RunRequest) and first.partition_key
    # Same files, remembered cursor: nothing to do.
    again = landing_zone_sensor(dg.build_sensor_context(cursor=context.cursor))
    assert isinstance(again, dg.SkipReason)

    (landing / "shop_orders" / "shop_orders_2026-02.csv").write_text("order_id\nW2\n")
    second = landing_zone_sensor(dg.build_sensor_context(cursor=context.cursor))
    assert isinstance(second, dg.RunRequest)
    assert second.run_key != first.run_key

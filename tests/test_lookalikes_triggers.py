"""Lookalike scores of prospects and marketing triggers, on a small warehouse whose answer is known.

The synthetic build database holds only the tables the two steps read. Snapshot 2026-03: the
as-of day is Tuesday 2026-03-31.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from dagster_project.lib.scoring.lookalikes import (
    NO_REASON,
    THIN_DATA_REASON,
    LookalikeParameters,
    LookalikeResult,
    load_lookalike_attributes,
    score_lookalikes,
)
from dagster_project.lib.scoring.triggers import (
    TriggerParameters,
    birthday_triggers,
    customer_triggers,
    load_crm_as_of,
    load_trigger_scores,
)

MONTH = date(2026, 3, 1)
AS_OF = date(2026, 3, 31)
UPDATED = datetime(2025, 1, 10, 9, 0)


SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "marts.customer_segments": {
        "snapshot_month": pl.Date(),
        "customer_id": pl.Utf8(),
        "lifecycle_stage": pl.Utf8(),
        "value_tier": pl.Utf8(),
        "segment": pl.Utf8(),
    },
    "marts.customer_scores": {
        "snapshot_month": pl.Date(),
        "customer_id": pl.Utf8(),
        "frequency": pl.Int64(),
        "recency_days": pl.Int64(),
        "tenure_days": pl.Int64(),
        "last_purchase_day": pl.Date(),
    },
    "marts.customer_identity_map": {
        "source_system": pl.Utf8(),
        "source_key": pl.Utf8(),
        "customer_id": pl.Utf8(),
    },
    "staging.stg_crm__customers": {
        "customer_no": pl.Utf8(),
        "birth_date": pl.Date(),
        "gender": pl.Utf8(),
        "postal_code": pl.Utf8(),
        "country": pl.Utf8(),
        "marketing_opt_in": pl.Boolean(),
        "contract_end_date": pl.Date(),
        "updated_at": pl.Datetime("us"),
        "source_file": pl.Utf8(),
        "source_line": pl.Int64(),
    },
    "staging.stg_marketing__prospects": {
        "prospect_id": pl.Utf8(),
        "postal_code": pl.Utf8(),
        "country": pl.Utf8(),
        "birth_year": pl.Int32(),
        "prospect_source": pl.Utf8(),
        "created_at": pl.Datetime("us"),
    },
    "marts.fct_web_activity": {
        "customer_id": pl.Utf8(),
        "activity_date": pl.Date(),
        "event_type": pl.Utf8(),
        "events": pl.Int64(),
    },
}


def _crm(customer_no: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_no": customer_no,
        "birth_date": None,
        "gender": None,
        "postal_code": None,
        "country": None,
        "marketing_opt_in": None,
        "contract_end_date": None,
        "updated_at": UPDATED,
        "source_file": "crm_customers/crm_2025.csv",
        "source_line": 1,
    }
    return row | fields


class Warehouse:
    """Rows for the synthetic build database, one list per table; `write` creates the file."""

    def __init__(self) -> None:
        self.segments: list[dict[str, object]] = []
        self.scores: list[dict[str, object]] = []
        self.identity: list[dict[str, object]] = []
        self.crm: list[dict[str, object]] = []
        self.prospects: list[dict[str, object]] = []

    def customer(
        self,
        customer_id: str,
        *,
        segment: str = "active",
        value_tier: str = "medium",
        frequency: int | None = 1,
        recency_days: int | None = 10,
        tenure_days: int | None = 100,
        crm: dict[str, object] | None = None,
        prospect: dict[str, object] | None = None,
    ) -> None:
        stage = "prospect" if frequency is None else "active"
        self.segments.append(
            {
                "snapshot_month": MONTH,
                "customer_id": customer_id,
                "lifecycle_stage": stage,
                "value_tier": "none" if frequency is None else value_tier,
                "segment": "prospect" if frequency is None else segment,
            }
        )
        last = AS_OF - timedelta(days=recency_days) if recency_days is not None else None
        self.scores.append(
            {
                "snapshot_month": MONTH,
                "customer_id": customer_id,
                "frequency": frequency,
                "recency_days": recency_days,
                "tenure_days": tenure_days,
                "last_purchase_day": last,
            }
        )
        if crm is not None:
            self.crm.append(_crm(f"K-{customer_id}", **crm))
            self.identity.append(
                {
                    "source_system": "crm",
                    "source_key": f"K-{customer_id}",
                    "customer_id": customer_id,
                }
            )
        if prospect is not None:
            self.add_prospect(customer_id, f"P-{customer_id}", **prospect)

    def add_prospect(self, customer_id: str, prospect_id: str, **fields: object) -> None:
        self.prospects.append(
            {
                "prospect_id": prospect_id,
                "postal_code": None,
                "country": None,
                "birth_year": None,
                "prospect_source": None,
                "created_at": datetime(2025, 6, 1),
            }
            | fields
        )
        self.identity.append(
            {"source_system": "prospect", "source_key": prospect_id, "customer_id": customer_id}
        )

    def write(self, path: Path) -> Path:
        tables = {
            "marts.customer_segments": self.segments,
            "marts.customer_scores": self.scores,
            "marts.customer_identity_map": self.identity,
            "staging.stg_crm__customers": self.crm,
            "staging.stg_marketing__prospects": self.prospects,
            "marts.fct_web_activity": [],
        }
        con = duckdb.connect(str(path))
        try:
            con.execute("create schema marts; create schema staging")
            for table, rows in tables.items():
                con.register("rows", pl.DataFrame(rows, schema=SCHEMAS[table]))
                con.execute(f"create table {table} as select * from rows")
                con.unregister("rows")
        finally:
            con.close()
        return path


VIP_PROFILE = {"country": "DE", "postal_code": "80331", "birth_date": date(1986, 5, 1)}
OTHER_PROFILES = (
    {"country": "FR", "postal_code": "13001", "birth_date": date(2004, 1, 1)},
    {"country": "DE", "postal_code": "10115", "birth_date": date(1962, 1, 1)},
)


def _lookalike_warehouse(vips: int = 30, high_tier: int = 30) -> Warehouse:
    """VIPs are Munich 35-44s who came in through lead forms; the other buyers are not."""
    wh = Warehouse()
    for i in range(vips):
        wh.customer(
            f"cus_vip{i:03d}",
            segment="VIP",
            value_tier="high",
            crm=VIP_PROFILE,
            prospect={"prospect_source": "lead_form"},
        )
    for i in range(120):
        wh.customer(
            f"cus_buy{i:03d}",
            value_tier="high" if i < high_tier - vips else "low",
            crm=OTHER_PROFILES[i % 2],
            prospect={"prospect_source": "newsletter"} if i % 3 else None,
        )
    wh.customer(
        "cus_p_twin",
        frequency=None,
        recency_days=None,
        tenure_days=None,
        prospect={"country": "DE", "postal_code": "80469", "birth_year": 1986}
        | {"prospect_source": "lead_form"},
    )
    wh.customer(
        "cus_p_far",
        frequency=None,
        recency_days=None,
        tenure_days=None,
        prospect={"country": "FR", "postal_code": "13002", "birth_year": 2005}
        | {"prospect_source": "newsletter"},
    )
    wh.customer("cus_p_blank", frequency=None, recency_days=None, tenure_days=None)
    return wh


def _score(path: Path, params: LookalikeParameters | None = None) -> LookalikeResult:
    con = duckdb.connect(str(path), read_only=True)
    try:
        attributes = load_lookalike_attributes(con, MONTH)
        return score_lookalikes(attributes, MONTH, params or LookalikeParameters())
    finally:
        con.close()


def test_prospects_like_the_vips_outrank_the_others(tmp_path: Path) -> None:
    wh = _lookalike_warehouse()
    # a prospect record created after the as-of day is not yet known to the snapshot
    wh.add_prospect(
        "cus_p_twin", "P-late", prospect_source="event", created_at=datetime(2026, 4, 2)
    )
    result = _score(wh.write(tmp_path / "wh.duckdb"))

    scores = result.scores
    assert scores["customer_id"].to_list()[0] == "cus_p_twin"
    assert scores["customer_id"].to_list()[-1] == "cus_p_far"
    assert scores["rank"].to_list() == [1, 2, 3]
    twin = scores.row(0, named=True)
    assert twin["prospect_id"] == "P-cus_p_twin"
    assert twin["target_segment"] == "VIP"
    assert twin["method"] == "logistic regression"
    assert 0 < twin["lookalike_score"] < 1
    reasons = set(twin["top_reasons"].split(", "))
    assert reasons <= {"region DE-80", "age 35-44", "source lead_form", "country DE"}
    assert {"region DE-80", "age 35-44"} & reasons
    assert scores.row(2, named=True)["top_reasons"] == NO_REASON
    assert result.target_customers == 30 and result.buyers == 150
    assert result.holdout_auc is not None and result.holdout_auc > 0.9


def test_scores_are_deterministic_and_independent_of_row_order(tmp_path: Path) -> None:
    path = _lookalike_warehouse().write(tmp_path / "wh.duckdb")
    first = _score(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        shuffled = load_lookalike_attributes(con, MONTH).sample(fraction=1.0, shuffle=True, seed=3)
    finally:
        con.close()
    again = score_lookalikes(shuffled, MONTH)
    assert first.scores.equals(again.scores)
    assert first.holdout_auc == again.holdout_auc


def test_low_value_customers_are_scored_on_request(tmp_path: Path) -> None:
    path = _lookalike_warehouse().write(tmp_path / "wh.duckdb")
    result = _score(path, LookalikeParameters(include_low_value_customers=True))
    kinds = dict(result.scores.group_by("candidate_type").len().iter_rows())
    assert kinds == {"prospect": 3, "low-value customer": 120}
    assert result.scores["rank"].to_list() == list(range(1, 124))


def test_a_small_segment_falls_back_to_the_top_value_tier(tmp_path: Path) -> None:
    result = _score(_lookalike_warehouse(vips=8, high_tier=40).write(tmp_path / "wh.duckdb"))
    assert result.target == "value tier high"
    assert result.target_customers == 40
    assert result.method == "logistic regression"
    assert "'VIP' has 8 customers" in (result.note or "")
    assert set(result.scores["target_segment"]) == {"value tier high"}


def test_thin_data_give_the_base_rate_and_say_why(tmp_path: Path) -> None:
    result = _score(_lookalike_warehouse(vips=6, high_tier=6).write(tmp_path / "wh.duckdb"))
    assert result.method == "base rate"
    assert result.holdout_auc is None
    assert result.scores["lookalike_score"].to_list() == pytest.approx([6 / 126] * 3)
    assert set(result.scores["top_reasons"]) == {THIN_DATA_REASON}
    # ties are ranked by customer_id, so the ranks are reproducible
    assert result.scores["customer_id"].to_list() == ["cus_p_blank", "cus_p_far", "cus_p_twin"]


def test_an_empty_snapshot_gives_an_empty_typed_frame(tmp_path: Path) -> None:
    path = Warehouse().write(tmp_path / "wh.duckdb")
    result = _score(path)
    assert result.scores.height == 0 and result.method == "base rate"
    assert result.scores.schema["lookalike_score"] == pl.Float64
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert (
            customer_triggers(load_crm_as_of(con, MONTH), load_trigger_scores(con, MONTH), MONTH)[
                "due_date"
            ].dtype
            == pl.Date
        )
    finally:
        con.close()


# --- triggers ---------------------------------------------------------------------------------


def _trigger_warehouse() -> Warehouse:
    wh = Warehouse()
    birthdays = {
        "cus_bday_wed": date(1990, 4, 15),  # Wed 2026-04-15: in the window
        "cus_bday_mon": date(1992, 4, 20),  # Mon 2026-04-20: the one due date equal to it
        "cus_bday_early": date(1995, 4, 1),  # Wed 2026-04-01: its Monday precedes the as-of day
        "cus_bday_edge": date(1970, 4, 30),  # 30 days after the as-of day: still in
        "cus_bday_today": date(1980, 3, 31),  # on the as-of day: not after it
        "cus_bday_june": date(1985, 6, 1),  # outside the 30 days
    }
    for customer_id, birth_date in birthdays.items():
        wh.customer(customer_id, crm={"birth_date": birth_date})
    wh.customer("cus_contract_soon", crm={"contract_end_date": date(2026, 5, 15)})
    wh.customer("cus_contract_late", crm={"contract_end_date": date(2026, 6, 29)})
    wh.customer("cus_contract_past", crm={"contract_end_date": date(2026, 3, 1)})
    # win-back: (tenure - recency) / frequency is the mean gap between purchase days
    wh.customer("cus_overdue", frequency=5, tenure_days=300, recency_days=200)  # gap 20: due
    wh.customer("cus_on_time", frequency=4, tenure_days=400, recency_days=100)  # gap 75
    wh.customer("cus_lapsed", frequency=3, tenure_days=600, recency_days=400)  # > 365 days
    wh.customer("cus_recent", frequency=10, tenure_days=60, recency_days=25)  # < 30 days
    wh.customer("cus_one_purchase", frequency=0, tenure_days=200, recency_days=200)
    wh.customer("cus_no_purchase", frequency=None, recency_days=None, tenure_days=None)
    return wh


def _triggers(path: Path) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return customer_triggers(
            load_crm_as_of(con, MONTH), load_trigger_scores(con, MONTH), MONTH, TriggerParameters()
        )
    finally:
        con.close()


def _by_trigger(frame: pl.DataFrame, trigger: str) -> dict[str, date]:
    return dict(frame.filter(pl.col("trigger") == trigger).select("customer_id", "due_date").rows())


def test_birthdays_in_the_next_30_days_are_due_on_the_monday_of_their_week(tmp_path: Path) -> None:
    triggers = _triggers(_trigger_warehouse().write(tmp_path / "wh.duckdb"))
    due = _by_trigger(triggers, "birthday")
    assert due == {
        "cus_bday_wed": date(2026, 4, 13),
        "cus_bday_mon": date(2026, 4, 20),
        "cus_bday_early": date(2026, 3, 30),
        "cus_bday_edge": date(2026, 4, 27),
    }
    birthdays = {
        "cus_bday_wed": date(2026, 4, 15),
        "cus_bday_mon": date(2026, 4, 20),
        "cus_bday_early": date(2026, 4, 1),
        "cus_bday_edge": date(2026, 4, 30),
    }
    for customer_id, monday in due.items():
        assert monday.weekday() == 0
        assert monday <= birthdays[customer_id] < monday + timedelta(days=7)
        # the birthday itself is published only when it is that Monday anyway
        assert (monday == birthdays[customer_id]) == (customer_id == "cus_bday_mon")
    details = " ".join(triggers.filter(pl.col("trigger") == "birthday")["detail"])
    assert "04-15" not in details and "1990" not in details


def test_a_29_february_birthday_is_kept_on_28_february_in_common_years() -> None:
    crm = pl.DataFrame(
        {
            "customer_id": ["cus_leap"],
            "customer_no": ["K1"],
            "birth_date": [date(2000, 2, 29)],
            "updated_at": [UPDATED],
        }
    )
    # 2027-02-28 is a Sunday: due the Monday before
    assert birthday_triggers(crm, date(2027, 1, 31), 30)["due_date"].to_list() == [
        date(2027, 2, 22)
    ]


def test_contracts_ending_in_the_next_60_days(tmp_path: Path) -> None:
    triggers = _triggers(_trigger_warehouse().write(tmp_path / "wh.duckdb"))
    assert _by_trigger(triggers, "contract_end") == {"cus_contract_soon": date(2026, 5, 15)}
    detail = triggers.filter(pl.col("trigger") == "contract_end")["detail"].item()
    assert detail == "contract ends 2026-05-15, in 45 days"


def test_win_back_when_the_usual_gap_is_more_than_doubled(tmp_path: Path) -> None:
    triggers = _triggers(_trigger_warehouse().write(tmp_path / "wh.duckdb"))
    last_purchase = AS_OF - timedelta(days=200)
    assert _by_trigger(triggers, "win_back") == {"cus_overdue": last_purchase + timedelta(days=20)}
    assert triggers.columns == [
        "snapshot_month",
        "customer_id",
        "trigger",
        "due_date",
        "detail",
        "marketing_opt_in",
    ]
    assert set(triggers["snapshot_month"]) == {MONTH}


def test_triggers_carry_the_marketing_consent_of_the_crm_version(tmp_path: Path) -> None:
    wh = _trigger_warehouse()
    wh.customer("cus_bday_consent", crm={"birth_date": date(1991, 4, 16), "marketing_opt_in": True})
    wh.customer(
        "cus_bday_refused", crm={"birth_date": date(1991, 4, 17), "marketing_opt_in": False}
    )
    consent = dict(
        _triggers(wh.write(tmp_path / "wh.duckdb"))
        .filter(pl.col("trigger") == "birthday")
        .select("customer_id", "marketing_opt_in")
        .rows()
    )
    assert consent["cus_bday_consent"] is True
    assert consent["cus_bday_refused"] is False
    assert consent["cus_bday_wed"] is False  # no consent recorded: no marketing


def test_a_crm_update_after_the_as_of_day_does_not_change_the_month(tmp_path: Path) -> None:
    wh = _trigger_warehouse()
    before = _triggers(wh.write(tmp_path / "before.duckdb"))
    late = datetime(2026, 4, 2, 8, 0)
    wh.crm.append(
        _crm(
            "K-cus_bday_june",
            birth_date=date(1985, 4, 8),
            contract_end_date=date(2026, 4, 20),
            updated_at=late,
        )
    )
    wh.crm.append(_crm("K-cus_bday_wed", birth_date=None, updated_at=late))
    after = _triggers(wh.write(tmp_path / "after.duckdb"))
    assert after.equals(before)


# --- the Dagster assets -----------------------------------------------------------------------


def test_the_assets_write_their_snapshot_idempotently(tmp_path: Path) -> None:
    from dagster_project.defs.scoring.activation import customer_triggers as triggers_asset
    from dagster_project.defs.scoring.activation import prospect_scores
    from dagster_project.lib.warehouse import WarehouseResource

    wh, extra = _lookalike_warehouse(), _trigger_warehouse()
    for table in ("segments", "scores", "identity", "crm", "prospects"):
        getattr(wh, table).extend(getattr(extra, table))
    build = wh.write(tmp_path / "warehouse.build.duckdb")
    resources = {"warehouse": WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))}
    for _ in range(2):
        run = dg.materialize(
            [prospect_scores, triggers_asset], partition_key="2026-03-01", resources=resources
        )
        assert run.success
    metadata = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in run.get_asset_materialization_events()
    }
    # the three prospects of the lookalike set and the trigger set's customer without purchase
    assert metadata["marts/prospect_scores"]["rows"].value == 4
    assert metadata["marts/prospect_scores"]["holdout_auc"].value > 0.9
    assert "cus_p_twin" in metadata["marts/prospect_scores"]["top_prospects"].value
    assert metadata["marts/customer_triggers"]["birthday_triggers"].value == 4
    assert metadata["marts/customer_triggers"]["win_back_triggers"].value == 1
    con = duckdb.connect(str(build), read_only=True)
    try:
        assert con.execute("select count(*) from marts.prospect_scores").fetchone() == (4,)
        assert con.execute("select count(*) from marts.customer_triggers").fetchone() == (6,)
    finally:
        con.close()

"""Segment profiles and personas on a small warehouse whose answers are known by construction.

100 customers in the snapshot 2026-10 (as of 2026-10-31):
- c000–c019 "young app": age 25-34, app orders on mobile, fashion, newsletter clickers;
  after the as-of day they also buy five times in the store, which must not count;
- c020–c059 "web regulars": age 45-54, web orders on desktop, home; c020–c039 newsletter
  clickers, c020–c029 abandoned a cart two years ago (outside the 12-month window);
- c060–c079 "store shoppers": age 55-64, store purchases, loyalty card, postal code 80xxx;
- c080–c099 "prospect": no purchase, country FR.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dagster_project.defs.scoring.profiles import SEGMENT_PROFILES
from dagster_project.defs.scoring.profiles import segment_profiles as segment_profiles_asset
from dagster_project.lib.relations import table_columns
from dagster_project.lib.scoring.profiles import (
    NO_PERSONA,
    ProfileParameters,
    SegmentProfiles,
    attribute_label,
    cluster_profile_chart,
    cluster_zscores,
    load_cluster_features,
    persona_word_cloud,
    segment_profiles,
    segment_slug,
    write_persona_clouds,
)
from dagster_project.lib.scoring.purchases import (
    FACT_PERSONA_COLUMNS,
    FACTS_TABLE,
    customer_purchase_facts,
    keep_purchase_facts,
    stored_purchase_facts,
)
from dagster_project.lib.warehouse import WarehouseResource

MONTH = date(2026, 10, 1)
NO_BUYERS_MONTH = date(2024, 1, 1)  # before the first order: only prospects are known
EMPTY_MONTH = date(2025, 1, 1)  # no snapshot rows at all

GROUPS = {  # segment: (customer numbers, lifecycle stage, value tier, cluster id, cluster name)
    "young app": (range(0, 20), "active", "high", 1, "app buyers"),
    "web regulars": (range(20, 60), "loyal", "medium", 2, "web-shop buyers"),
    "store shoppers": (range(60, 80), "active", "low", 3, "store shoppers"),
    "prospect": (range(80, 100), "prospect", "none", None, "no purchase yet"),
}


def _id(n: int) -> str:
    return f"c{n:03d}"


def _segment(n: int) -> str:
    return next(name for name, (numbers, *_) in GROUPS.items() if n in numbers)


def _customers() -> pl.DataFrame:
    rows = []
    for n in range(100):
        segment = _segment(n)
        rows.append(
            {
                "customer_id": _id(n),
                "first_seen_at": datetime(2023, 6, 1),
                "source_systems": {
                    "young app": "crm,shop,web",
                    "web regulars": "crm,shop,web",
                    "store shoppers": "crm,loyalty,store",
                    "prospect": "marketing",
                }[segment],
                "country": "FR" if segment == "prospect" else "DE",
                "postal_code": {"store shoppers": "80331", "prospect": "75001"}.get(
                    segment, "10115"
                ),
                "age_band": {
                    "young app": "25-34",
                    "web regulars": "45-54",
                    "store shoppers": "55-64",
                }.get(segment),
                # three 'd' in the young segment: a high lift, but below the minimum support
                "gender": None
                if segment == "prospect"
                else "d"
                if n < 3
                else "f"
                if n < 50
                else "m",
                "marketing_opt_in": True if segment == "prospect" else None,
            }
        )
    return pl.DataFrame(rows)


def _orders() -> tuple[pl.DataFrame, pl.DataFrame]:
    orders, lines = [], []

    def order(n: int, day: datetime, channel: str, device: str | None, amount: float, **kw) -> None:
        order_id = f"o{len(orders):04d}"
        orders.append(
            {
                "order_id": order_id,
                "source_system": "store" if channel == "store" else "shop",
                "customer_id": _id(n),
                "ordered_at": day,
                "channel": channel,
                "device": device,
                "amount": amount,
                "status": kw.get("status", "completed"),
            }
        )
        if kw.get("category"):
            lines.append(
                {"order_id": order_id, "category": kw["category"], "quantity": 1, "unit_price": 1.0}
            )

    for n in GROUPS["young app"][0]:
        for day in (datetime(2026, 9, 3), datetime(2026, 10, 20)):
            order(n, day, "app", "mobile", 50.0, category="fashion")
        order(n, datetime(2026, 10, 25), "store", None, 80.0, status="cancelled")
        for day in range(1, 6):  # after the as-of day
            order(n, datetime(2026, 11, day), "store", None, 20.0)
    for n in GROUPS["web regulars"][0]:
        for day in (datetime(2026, 5, 3), datetime(2026, 8, 20)):
            order(n, day, "web", "desktop", 30.0, category="home")
    for n in GROUPS["store shoppers"][0]:
        order(n, datetime(2026, 7, 14), "store", None, 40.0)
    return pl.DataFrame(orders), pl.DataFrame(lines)


def _web_activity() -> pl.DataFrame:
    rows = [
        (_id(n), date(2026, 6, 2), "newsletter_click")
        for n in [*GROUPS["young app"][0], *range(20, 40)]
    ]
    rows += [(_id(n), date(2024, 10, 1), "cart_abandoned") for n in range(20, 30)]
    return pl.DataFrame(
        rows, schema=["customer_id", "activity_date", "event_type"], orient="row"
    ).with_columns(device=pl.lit("mobile"), events=pl.lit(1, dtype=pl.Int64))


def _snapshot(month: date, numbers: list[int], with_scores: bool) -> tuple[pl.DataFrame, ...]:
    segments, scores = [], []
    per_customer = {  # orders, avg order value, revenue_12m, predicted CLV, p_alive
        "young app": (2, 50.0, 100.0, 120.0, 0.9),
        "web regulars": (2, 30.0, 60.0, 50.0, 0.7),
        "store shoppers": (1, 40.0, 40.0, 20.0, 0.5),
    }
    for n in numbers:
        name = _segment(n)
        _, stage, tier, cluster_id, cluster_name = GROUPS[name]
        segments.append(
            {
                "snapshot_month": month,
                "customer_id": _id(n),
                "lifecycle_stage": stage,
                "value_tier": tier,
                "cluster_id": cluster_id,
                "cluster_name": cluster_name,
                "segment": name,
                "segment_reason": "synthetic",
            }
        )
        orders, aov, revenue, clv, alive = per_customer.get(name, (0, None, 0.0, None, None))
        if not with_scores:
            orders, aov, revenue, clv, alive = 0, None, 0.0, None, None
        scores.append(
            {
                "snapshot_month": month,
                "customer_id": _id(n),
                "order_count": orders,
                "recency_days": 30 if orders else None,
                "avg_order_value": aov,
                "tenure_days": 200 if orders else None,
                "orders_12m": orders,
                "revenue_12m": revenue,
                "predicted_clv_12m": clv,
                "p_alive": alive,
            }
        )
    return pl.DataFrame(segments), pl.DataFrame(scores)


def build_warehouse(path: Path) -> Path:
    orders, lines = _orders()
    full = _snapshot(MONTH, list(range(100)), with_scores=True)
    no_buyers = _snapshot(NO_BUYERS_MONTH, list(range(80, 100)), with_scores=False)
    tables = {
        "marts.dim_customers": _customers(),
        "marts.fct_orders": orders,
        "staging.stg_shop__order_lines": lines,
        "marts.fct_web_activity": _web_activity(),
        "marts.customer_segments": pl.concat([full[0], no_buyers[0]]),
        "marts.customer_scores": pl.concat([full[1], no_buyers[1]]),
    }
    con = duckdb.connect(str(path))
    try:
        for table, frame in tables.items():
            con.execute(f"create schema if not exists {table.split('.')[0]}")
            con.register("_frame", frame)
            con.execute(f"create table {table} as select * from _frame")
            con.unregister("_frame")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("profiles") / "warehouse.build.duckdb")


def _profiles(path: Path, month: date = MONTH) -> SegmentProfiles:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return segment_profiles(con, month)
    finally:
        con.close()


def _zscores(path: Path, month: date = MONTH) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return cluster_zscores(load_cluster_features(con, month))
    finally:
        con.close()


def _row(profiles: SegmentProfiles, dimension: str, segment: str) -> dict:
    rows = profiles.profiles.filter(
        (pl.col("dimension") == dimension) & (pl.col("segment") == segment)
    )
    assert rows.height == 1
    return rows.row(0, named=True)


def test_a_segment_of_young_app_buyers_is_described_by_age_and_channel_first(warehouse: Path):
    young = _row(_profiles(warehouse), "segment", "young app")

    assert young["top_attributes"] == (
        "age 25-34 (×4.0), app buyers (×4.0), orders on mobile (×3.0), fashion (×3.0), "
        "newsletter clicker (×2.5)"
    )
    structured = json.loads(young["top_attributes_json"])
    assert [(a["attribute"], a["value"]) for a in structured[:2]] == [
        ("age_band", "25-34"),
        ("main_channel", "app"),
    ]
    assert structured[0] == {
        "attribute": "age_band",
        "value": "25-34",
        "label": "age 25-34",
        "lift": 4.0,
        "share_in_segment": 1.0,
        "customers": 20,
    }


def test_rare_attributes_need_minimum_support(warehouse: Path):
    ranked = _profiles(warehouse).attributes
    young = ranked.filter((pl.col("dimension") == "segment") & (pl.col("segment") == "young app"))

    # three customers with gender 'd' are 15 % of the segment, but fewer than 10 customers
    assert young.filter(pl.col("attribute") == "gender")["value"].to_list() == ["f"]


def test_only_purchases_and_events_up_to_the_as_of_day_count(warehouse: Path):
    ranked = _profiles(warehouse).attributes.filter(pl.col("dimension") == "segment")

    # five store purchases in November and a cancelled one in October leave them app buyers
    assert ranked.filter(
        (pl.col("segment") == "young app") & (pl.col("value") == "store")
    ).is_empty()
    # a cart abandoned two years before the as-of day is outside the 12-month window
    assert ranked.filter(pl.col("value") == "cart_abandoned").is_empty()


def test_store_shoppers_persona_names_loyalty_card_and_postal_region(warehouse: Path):
    store = _row(_profiles(warehouse), "segment", "store shoppers")

    # equal lifts and support: the attribute names decide, so the order is stable
    assert store["top_attributes"].split(", ")[:4] == [
        "postal region DE-80 (×5.0)",
        "loyalty card holder (×5.0)",
        "age 55-64 (×4.0)",
        "store buyers (×4.0)",
    ]


def test_shares_and_revenue_shares_sum_to_one_per_dimension(warehouse: Path):
    profiles = _profiles(warehouse).profiles
    sums = profiles.group_by("dimension").agg(pl.col("share").sum(), pl.col("revenue_share").sum())

    assert sorted(sums["dimension"]) == ["cluster_name", "lifecycle_stage", "segment", "value_tier"]
    assert sums["share"].to_list() == pytest.approx([1.0] * 4)
    assert sums["revenue_share"].to_list() == pytest.approx([1.0] * 4)
    young = _row(_profiles(warehouse), "segment", "young app")
    assert young["customers"] == 20
    assert young["share"] == pytest.approx(0.2)
    assert young["revenue_share"] == pytest.approx(2000 / 5200)
    assert young["avg_predicted_clv"] == pytest.approx(120.0)
    active = _row(_profiles(warehouse), "lifecycle_stage", "active")
    assert active["customers"] == 40
    assert active["avg_orders_12m"] == pytest.approx(1.5)


def test_a_segment_without_distinctive_attributes_says_so(warehouse: Path):
    profiles = _profiles(warehouse)
    # the prospects' only distinctive attribute is their country
    prospect = _row(profiles, "segment", "prospect")
    assert prospect["top_attributes"].startswith("country FR (×5.0)")
    assert prospect["avg_predicted_clv"] is None

    strict = segment_profiles_strict(warehouse)
    assert set(strict["top_attributes"]) == {NO_PERSONA}
    assert set(strict["top_attributes_json"]) == {"[]"}


def segment_profiles_strict(path: Path) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return segment_profiles(con, MONTH, ProfileParameters(min_lift=100.0)).profiles
    finally:
        con.close()


def test_a_snapshot_without_buyers_has_profiles_but_no_revenue_shares(warehouse: Path):
    profiles = _profiles(warehouse, NO_BUYERS_MONTH)
    by_segment = profiles.profiles.filter(pl.col("dimension") == "segment")

    assert by_segment.select("segment", "customers", "share").rows() == [("prospect", 20, 1.0)]
    assert by_segment["revenue_share"].to_list() == [None]
    # everyone is in the one segment, so nothing is over-represented
    assert by_segment["top_attributes"].to_list() == [NO_PERSONA]
    assert _zscores(warehouse, NO_BUYERS_MONTH).is_empty()


def test_an_empty_snapshot_gives_no_rows_and_no_pictures(warehouse: Path, tmp_path: Path):
    profiles = _profiles(warehouse, EMPTY_MONTH)

    assert profiles.profiles.is_empty()
    assert "top_attributes_json" in profiles.profiles.columns
    (tmp_path / "gone.png").write_bytes(b"old")
    assert write_persona_clouds(profiles, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []  # last run's picture of a vanished segment is removed
    chart = cluster_profile_chart(_zscores(warehouse, EMPTY_MONTH), "empty")
    assert chart.startswith(b"\x89PNG")


def test_cluster_zscores_show_what_sets_each_cluster_apart(warehouse: Path):
    z = _zscores(warehouse)
    top = (
        z.sort("z", descending=True)
        .group_by("cluster_name", maintain_order=True)
        .first()
        .select("cluster_name", "feature")
    )

    assert dict(top.iter_rows()) == {
        "app buyers": "share_app",
        "web-shop buyers": "share_web",
        "store shoppers": "share_store",
    }


def test_pictures_are_deterministic(warehouse: Path, tmp_path: Path):
    profiles = _profiles(warehouse)
    paths = write_persona_clouds(profiles, tmp_path)

    assert sorted(p.name for p in paths.values()) == [
        "prospect.png",
        "store-shoppers.png",
        "web-regulars.png",
        "young-app.png",
    ]
    young = profiles.attributes.filter(
        (pl.col("dimension") == "segment") & (pl.col("segment") == "young app")
    )
    assert persona_word_cloud(young) == paths["young app"].read_bytes()
    z = _zscores(warehouse)
    assert cluster_profile_chart(z, "t") == cluster_profile_chart(z, "t")
    assert persona_word_cloud(young.head(0)).startswith(b"\x89PNG")


def test_words_and_slugs():
    assert attribute_label("main_channel", "app") == "app buyers"
    assert attribute_label("web_engagement", "cart_abandoned") == "cart abandoner"
    assert attribute_label("postal_region", "DE-10") == "postal region DE-10"
    assert segment_slug("lapsed — win back") == "lapsed-win-back"
    assert segment_slug("VIP") == "vip"


def test_the_asset_writes_the_month_and_its_reports(tmp_path: Path):
    build_warehouse(tmp_path / "warehouse.build.duckdb")
    resource = WarehouseResource(
        duckdb_path=str(tmp_path / "warehouse.duckdb"), landing_dir=str(tmp_path / "landing")
    )

    result = dg.materialize(
        [segment_profiles_asset], partition_key=MONTH.isoformat(), resources={"warehouse": resource}
    )
    assert result.success

    con = duckdb.connect(str(tmp_path / "warehouse.build.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select dimension, count(*) from marts.segment_profiles group by all order by 1"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("cluster_name", 4), ("lifecycle_stage", 3), ("segment", 4), ("value_tier", 4)]
    metadata = result.asset_materializations_for_node("marts__segment_profiles")[0].metadata
    assert result.asset_materializations_for_node("marts__segment_profiles")[0].asset_key == (
        SEGMENT_PROFILES
    )
    assert "young app" in metadata["segments"].value
    assert "age 25-34 (×4.0)" in metadata["personas"].value
    assert metadata["cluster_profiles"].value.startswith("![cluster profiles 2026-10](data:image")
    report = tmp_path / "warehouse.reports" / "2026-10"
    assert Path(metadata["cluster_profiles_png"].value) == report / "cluster_profiles.png"
    assert Path(metadata["persona_png young app"].value) == report / "personas" / "young-app.png"
    assert len(list((report / "personas").glob("*.png"))) == 4


def test_favourites_are_counted_in_the_facts_with_ties_to_the_first_name(
    warehouse: Path, tmp_path: Path
):
    path = tmp_path / "warehouse.build.duckdb"
    path.write_bytes(warehouse.read_bytes())
    shopper = _id(60)  # one store purchase in July
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "insert into marts.fct_orders by name select * from (values "
            "('x1', 'shop', ?, timestamp '2026-08-01', 'web', 'tablet', 12.0, 'completed'),"
            "('x2', 'shop', ?, timestamp '2026-11-02', 'web', 'tablet', 9.0, 'completed')"
            ") as o (order_id, source_system, customer_id, ordered_at, channel, device, amount,"
            " status)",
            [shopper, shopper],
        )
        # more units of toys, more spend on books; November is after the as-of day
        con.execute(
            "insert into staging.stg_shop__order_lines by name select * from (values "
            "('x1', 'toys', 2, 1.0), ('x1', 'books', 1, 10.0), ('x2', 'games', 5, 1.0)"
            ") as l (order_id, category, quantity, unit_price)"
        )
        facts = customer_purchase_facts(con, date(2026, 10, 31)).filter(
            pl.col("customer_id") == shopper
        )
    finally:
        con.close()
    row = facts.row(0, named=True)
    # one store and one web purchase by October: a tie goes to the first name
    assert (row["main_channel"], row["main_device"]) == ("store", "tablet")
    assert row["top_category"] == "toys"
    assert row["top_category_share"] == pytest.approx(10 / 12)


def test_facts_kept_by_an_earlier_version_are_replaced_not_read(warehouse: Path, tmp_path: Path):
    path = tmp_path / "warehouse.build.duckdb"
    path.write_bytes(warehouse.read_bytes())
    expected = _profiles(warehouse).profiles
    con = duckdb.connect(str(path))
    try:
        facts = customer_purchase_facts(con, date(2026, 10, 31))
        # a table of the facts before the favourites were added, with rows that would be wrong
        older = facts.drop(sorted(FACT_PERSONA_COLUMNS)).with_columns(
            snapshot_month=pl.lit(MONTH), order_count=pl.lit(0, dtype=facts["order_count"].dtype)
        )
        con.execute("create schema model")
        con.register("_older", older)
        con.execute(f"create table {FACTS_TABLE} as select * from _older")
        con.unregister("_older")
        assert_frame_equal(stored_purchase_facts(con, MONTH), facts)
        keep_purchase_facts(con, facts, MONTH)
        assert table_columns(con, *FACTS_TABLE.split(".")) == [*facts.columns, "snapshot_month"]
        assert_frame_equal(stored_purchase_facts(con, MONTH), facts)
    finally:
        con.close()
    assert_frame_equal(_profiles(path).profiles, expected)

"""The demo data generator: contract shape, month files, realism and a ground truth that holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from dagster_project.lib.demo_data import generate_demo_data

ARGS = {"customers": 1500, "months": 14, "end_month": "2025-06", "seed": 7}

# Copied from CONTRACT.md section 2 on purpose: a renamed column must fail here.
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm_customers": (
        "customer_no",
        "first_name",
        "last_name",
        "email",
        "phone",
        "birth_date",
        "gender",
        "street",
        "postal_code",
        "city",
        "country",
        "signup_date",
        "marketing_opt_in",
        "contract_end_date",
        "updated_at",
    ),
    "shop_orders": (
        "order_id",
        "ordered_at",
        "customer_no",
        "shop_account_id",
        "email",
        "channel",
        "device",
        "amount",
        "currency",
        "status",
    ),
    "order_lines": ("order_id", "product_id", "category", "quantity", "unit_price"),
    "store_transactions": (
        "transaction_id",
        "transacted_at",
        "store_id",
        "loyalty_card_no",
        "amount",
        "currency",
        "is_return",
    ),
    "loyalty_cards": ("loyalty_card_no", "customer_no", "issued_at"),
    "web_events": (
        "event_id",
        "occurred_at",
        "shop_account_id",
        "email",
        "event_type",
        "device",
        "os",
    ),
    "prospects": (
        "prospect_id",
        "email",
        "postal_code",
        "country",
        "birth_year",
        "source",
        "created_at",
    ),
    "fx_rates": ("currency", "rate_date", "rate_to_reporting"),
    "erasure_requests": ("customer_no", "email", "requested_at"),
}
DATE_COLUMNS = {
    "crm_customers": "updated_at",
    "shop_orders": "ordered_at",
    "store_transactions": "transacted_at",
    "loyalty_cards": "issued_at",
    "web_events": "occurred_at",
    "prospects": "created_at",
    "fx_rates": "rate_date",
    "erasure_requests": "requested_at",
}
FILE_NAME = re.compile(r"^(?P<table>[a-z_]+)_(?P<month>\d{4}-\d{2})\.(csv|parquet)$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    generate_demo_data(root / "landing", root / "truth", **ARGS)
    return root


def read(root: Path, table: str) -> pl.DataFrame:
    """All files of a table as text, with the file name and 1-based row number per file."""
    frames = [
        pl.read_csv(path, infer_schema=False).with_columns(
            pl.lit(path.name).alias("file"), pl.int_range(1, pl.len() + 1).alias("row_number")
        )
        for path in sorted((root / "landing" / table).glob("*.csv"))
    ]
    return pl.concat(frames)


def truth(root: Path, system: str | None = None) -> pl.DataFrame:
    frame = pl.read_parquet(root / "truth" / "identity_truth.parquet")
    return frame if system is None else frame.filter(pl.col("source_system") == system)


def bad_rows(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "truth" / "bad_rows.parquet")


def without_bad_rows(root: Path, table: str) -> pl.DataFrame:
    return read(root, table).join(
        bad_rows(root).filter(pl.col("table") == table).select("file", "row_number"),
        on=["file", "row_number"],
        how="anti",
    )


def purchases_eur(root: Path) -> pl.DataFrame:
    """Completed shop orders and store sales in EUR with their true person (null: anonymous)."""
    fx = read(root, "fx_rates").select(
        "currency", pl.col("rate_date").alias("day"), pl.col("rate_to_reporting").cast(pl.Float64)
    )
    shop = (
        without_bad_rows(root, "shop_orders")
        .filter(pl.col("status") == "completed")
        .join(
            truth(root, "shop_order").select(pl.col("source_key").alias("order_id"), "person_id"),
            on="order_id",
        )
        .select(pl.col("ordered_at").alias("at"), "amount", "currency", "person_id")
    )
    store = (
        without_bad_rows(root, "store_transactions")
        .filter(pl.col("is_return") == "false")
        .join(
            truth(root, "store_transaction").select(
                pl.col("source_key").alias("transaction_id"), "person_id"
            ),
            on="transaction_id",
        )
        .select(pl.col("transacted_at").alias("at"), "amount", "currency", "person_id")
    )
    both = pl.concat([shop, store]).with_columns(pl.col("at").str.slice(0, 10).alias("day"))
    return both.join(fx, on=["currency", "day"], how="left").select(
        "person_id",
        "day",
        (pl.col("amount").cast(pl.Float64) * pl.col("rate_to_reporting").fill_null(1.0)).alias(
            "eur"
        ),
    )


def typed_like(text: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """CSV text parsed the way a loader would: an unparsable amount becomes null."""
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if dtype == pl.Datetime:
            exprs.append(col.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us"))
        elif dtype == pl.Date:
            exprs.append(col.str.to_date("%Y-%m-%d"))
        elif dtype == pl.Boolean:
            exprs.append(pl.when(col.is_not_null()).then(col == "true"))
        else:
            exprs.append(col.cast(dtype, strict=False))
    return text.select(exprs)


def test_same_arguments_give_byte_identical_files(demo: Path, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "landing", tmp_path / "truth", **ARGS)
    for folder in ("landing", "truth"):
        ours = sorted(p.relative_to(demo / folder) for p in (demo / folder).rglob("*.*"))
        again = sorted(p.relative_to(tmp_path / folder) for p in (tmp_path / folder).rglob("*.*"))
        assert ours == again
        for rel in ours:
            assert (demo / folder / rel).read_bytes() == (tmp_path / folder / rel).read_bytes(), rel


def test_every_contract_column_is_in_every_file(demo: Path) -> None:
    for table, columns in CONTRACT_COLUMNS.items():
        files = sorted((demo / "landing" / table).glob("*.csv"))
        assert files, table
        for path in files:
            header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            assert set(columns) <= set(header), (path.name, set(columns) - set(header))


def test_one_file_per_table_and_month_with_dates_inside_that_month(demo: Path) -> None:
    months = {f"2024-{m:02d}" for m in range(5, 13)} | {f"2025-{m:02d}" for m in range(1, 7)}
    for table, date_column in DATE_COLUMNS.items():
        for path in (demo / "landing" / table).glob("*"):
            match = FILE_NAME.match(path.name)
            assert match and match["table"] == table, path.name
            assert match["month"] in months
        rows = without_bad_rows(demo, table)
        outside = rows.filter(
            pl.col(date_column).str.slice(0, 7) != pl.col("file").str.extract(r"_(\d{4}-\d{2})\.")
        )
        assert outside.height == 0, (table, outside.head(3))
    for table in ("shop_orders", "store_transactions", "web_events", "fx_rates"):
        assert {
            FILE_NAME.match(p.name)["month"]  # type: ignore[index]
            for p in (demo / "landing" / table).glob("*")
        } == months, table
    # Order lines live in the month file of their order.
    orders = read(demo, "shop_orders").select("order_id", pl.col("file").alias("order_file"))
    lines = without_bad_rows(demo, "order_lines").join(orders, on="order_id")
    month = r"_(\d{4}-\d{2})\."
    assert (lines["file"].str.extract(month) == lines["order_file"].str.extract(month)).all()


def test_timestamps_and_amounts_use_the_agreed_text_formats(demo: Path) -> None:
    orders = without_bad_rows(demo, "shop_orders")
    assert orders["ordered_at"].str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all()
    assert orders["amount"].str.contains(r"^\d+\.\d{2}$").all()
    crm = without_bad_rows(demo, "crm_customers")
    assert crm["signup_date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert set(crm["marketing_opt_in"].unique()) == {"true", "false"}


def test_december_sells_more_than_an_average_month(demo: Path) -> None:
    per_month = purchases_eur(demo).group_by(pl.col("day").str.slice(0, 7).alias("m")).len()
    december = per_month.filter(pl.col("m") == "2024-12")["len"][0]
    assert december > 1.2 * per_month["len"].mean()


def test_customers_differ_in_frequency_and_value(demo: Path) -> None:
    per_person = (
        purchases_eur(demo)
        .filter(pl.col("person_id").is_not_null())
        .group_by("person_id")
        .agg(pl.col("day").n_unique().alias("days"), pl.col("eur").sum())
        .sort("eur", descending=True)
    )
    one_time = (per_person["days"] == 1).mean()
    assert 0.30 <= one_time <= 0.75, one_time
    top = per_person.head(len(per_person) // 5)["eur"].sum() / per_person["eur"].sum()
    assert top > 0.5, top


def test_fx_rates_cover_every_foreign_currency_on_every_day(demo: Path) -> None:
    fx = read(demo, "fx_rates")
    used = set(without_bad_rows(demo, "shop_orders")["currency"]) - {"EUR"}
    assert used and used == set(fx["currency"])
    days = fx.group_by("currency").agg(pl.col("rate_date").n_unique())["rate_date"]
    assert (days == 426).all()  # 2024-05-01 .. 2025-06-30
    chf = fx.filter(pl.col("currency") == "CHF")["rate_to_reporting"].cast(pl.Float64)
    assert chf.min() > 0.9 and chf.max() < 1.2


def test_households_share_one_email_between_customer_numbers(demo: Path) -> None:
    crm = read(demo, "crm_customers").filter(pl.col("customer_no").is_not_null())
    shared = (
        crm.with_columns(pl.col("email").str.strip_chars().str.to_lowercase())
        .group_by("email")
        .agg(pl.col("customer_no").unique())
        .filter(pl.col("customer_no").list.len() > 1)
    )
    customers = crm["customer_no"].n_unique()
    assert 0.005 * customers <= 2 * shared.height <= 0.05 * customers
    persons = truth(demo, "crm").select(pl.col("source_key").alias("customer_no"), "person_id")
    pair = shared["customer_no"][0].alias("customer_no").to_frame().join(persons, on="customer_no")
    assert pair["person_id"].n_unique() == 2  # same address, two different people


def test_emails_arrive_with_varying_case_and_spaces(demo: Path) -> None:
    emails = read(demo, "shop_orders")["email"].drop_nulls()
    assert (emails != emails.str.strip_chars()).mean() > 0.03
    assert (emails.str.strip_chars() != emails.str.strip_chars().str.to_lowercase()).mean() > 0.05


def test_orders_carry_the_identifiers_of_guests_accounts_and_crm_customers(demo: Path) -> None:
    orders = without_bad_rows(demo, "shop_orders")
    guest = orders.filter(pl.col("shop_account_id").is_null())
    assert guest.height > 0.1 * orders.height and guest["email"].is_not_null().all()
    logged_in = orders.filter(pl.col("shop_account_id").is_not_null())
    assert 0.05 < logged_in["email"].is_null().mean() < 0.8  # e-mail only on some orders
    assert logged_in["customer_no"].is_not_null().mean() > 0.2
    # a linked customer number always belongs to the same person as the account
    t = truth(demo).select("source_key", "person_id")
    linked = (
        logged_in.filter(pl.col("customer_no").is_not_null())
        .join(t.rename({"source_key": "customer_no", "person_id": "p1"}), on="customer_no")
        .join(t.rename({"source_key": "shop_account_id", "person_id": "p2"}), on="shop_account_id")
    )
    assert (linked["p1"] == linked["p2"]).all()


def test_some_store_sales_are_anonymous_and_cards_are_used_only_sometimes(demo: Path) -> None:
    store = without_bad_rows(demo, "store_transactions")
    anonymous = store["loyalty_card_no"].is_null().mean()
    assert 0.2 < anonymous < 0.9
    st_truth = truth(demo, "store_transaction")
    assert st_truth["person_id"].null_count() > 0
    every_sale = read(demo, "store_transactions").filter(pl.col("transaction_id").is_not_null())
    assert (
        st_truth.filter(pl.col("person_id").is_null()).height
        == every_sale.filter(pl.col("loyalty_card_no").is_null())["transaction_id"].n_unique()
    )


def test_crm_versions_are_ordered_and_some_customers_change(demo: Path) -> None:
    crm = without_bad_rows(demo, "crm_customers").sort("customer_no", "updated_at")
    versions = crm.group_by("customer_no").agg(
        pl.col("updated_at"),
        pl.col("email").str.to_lowercase().n_unique().alias("emails"),
        pl.col("postal_code").n_unique().alias("postcodes"),
    )
    assert (versions["updated_at"].list.len() > 1).mean() > 0.2
    strictly = versions["updated_at"].map_elements(
        lambda s: all(a < b for a, b in zip(s, s[1:], strict=False)), return_dtype=pl.Boolean
    )
    assert strictly.all()
    changed = (versions["emails"] > 1).mean()
    assert 0.03 < changed < 0.2, changed
    assert (versions["postcodes"] > 1).sum() > 0
    share = truth(demo, "crm").height / ARGS["customers"]
    assert 0.45 < share < 0.75, share


def test_some_prospects_convert_into_buyers(demo: Path) -> None:
    prospects = truth(demo, "prospect")
    buyers = truth(demo, "shop_order")["person_id"].unique()
    converted = prospects.filter(pl.col("person_id").is_in(buyers.implode()))
    assert 0 < converted.height < prospects.height
    assert 0.08 < prospects["person_id"].n_unique() / ARGS["customers"] < 0.6


def test_erasure_requests_exist(demo: Path) -> None:
    requests = read(demo, "erasure_requests")
    assert requests.height >= 1
    assert (requests["customer_no"].is_not_null() | requests["email"].is_not_null()).all()


def test_ids_carry_their_system_prefix(demo: Path) -> None:
    prefixes = {
        "crm": "K",
        "shop_account": "A",
        "shop_order": "W",
        "loyalty_card": "L",
        "store_transaction": "T",
        "prospect": "P",
    }
    for system, prefix in prefixes.items():
        keys = truth(demo, system)["source_key"]
        assert keys.len() > 0 and keys.str.starts_with(prefix).all(), system
    assert read(demo, "web_events")["event_id"].drop_nulls().str.starts_with("E").all()


def test_truth_covers_exactly_the_record_keys_of_the_landing_files(demo: Path) -> None:
    carriers = {
        "crm": [
            ("crm_customers", "customer_no"),
            ("shop_orders", "customer_no"),
            ("loyalty_cards", "customer_no"),
            ("erasure_requests", "customer_no"),
        ],
        "shop_account": [("shop_orders", "shop_account_id"), ("web_events", "shop_account_id")],
        "shop_order": [("shop_orders", "order_id"), ("order_lines", "order_id")],
        "loyalty_card": [
            ("loyalty_cards", "loyalty_card_no"),
            ("store_transactions", "loyalty_card_no"),
        ],
        "store_transaction": [("store_transactions", "transaction_id")],
        "prospect": [("prospects", "prospect_id")],
    }
    everything = truth(demo)
    assert everything.select("source_system", "source_key").is_duplicated().sum() == 0
    for system, places in carriers.items():
        landing = set().union(*(set(read(demo, t)[c].drop_nulls()) for t, c in places))
        assert landing == set(truth(demo, system)["source_key"]), system
    known = everything.filter(pl.col("source_system") != "store_transaction")
    assert known["person_id"].null_count() == 0


def test_bad_rows_are_few_marked_and_really_bad(demo: Path) -> None:
    bad = bad_rows(demo)
    assert set(bad["kind"]) >= {"missing_key", "future_timestamp"}
    orders = read(demo, "shop_orders")
    assert bad.filter(pl.col("table") == "shop_orders").height < 0.02 * orders.height
    located = bad.filter(pl.col("table") == "shop_orders").join(
        orders, on=["file", "row_number"], how="left"
    )
    assert (
        located["order_id"].null_count() == located.filter(pl.col("kind") == "missing_key").height
    )
    for kind, broken in {
        "unparsable_amount": pl.col("amount").cast(pl.Float64, strict=False).is_null(),
        "negative_amount": pl.col("amount").cast(pl.Float64) < 0,
        "unknown_currency": pl.col("currency") == "XYZ",
        "future_timestamp": pl.col("ordered_at") > "2030",
        "missing_required": pl.col("currency").is_null(),
    }.items():
        rows = located.filter(pl.col("kind") == kind)
        assert rows.select(broken.all()).item() in (True, None), kind
    dup = located.filter(pl.col("kind") == "duplicate_conflict")
    if dup.height:
        assert dup.group_by("order_id").agg(pl.col("amount").n_unique())["amount"].min() == 2
    # the corruption is visible wherever it was injected
    keys = {
        "crm_customers": "customer_no",
        "order_lines": "order_id",
        "web_events": "event_id",
        "prospects": "prospect_id",
        "store_transactions": "transaction_id",
    }
    for table, key in keys.items():
        rows = bad.filter(pl.col("table") == table).join(
            read(demo, table), on=["file", "row_number"]
        )
        assert (
            rows.filter(pl.col("kind") == "missing_key")[key].null_count()
            == rows.filter(pl.col("kind") == "missing_key").height
        ), table
        if table in DATE_COLUMNS:
            future = rows.filter(pl.col("kind") == "future_timestamp")[DATE_COLUMNS[table]]
            assert (future > "2070").all(), table
    # every bad row with a key marks that key in the identity truth
    keyed = bad.filter((pl.col("table") == "shop_orders") & pl.col("source_key").is_not_null())
    marked = truth(demo, "shop_order").filter(pl.col("is_bad_row"))["source_key"]
    assert set(keyed["source_key"]) <= set(marked)


def test_parquet_holds_the_same_rows_as_csv(demo: Path, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "landing", tmp_path / "truth", file_format="parquet", **ARGS)
    for table in CONTRACT_COLUMNS:
        csv_files = sorted(p.stem for p in (demo / "landing" / table).glob("*.csv"))
        pq_files = sorted(p.stem for p in (tmp_path / "landing" / table).glob("*.parquet"))
        assert csv_files == pq_files, table
        parquet = pl.read_parquet(tmp_path / "landing" / table / "*.parquet")
        csv = pl.read_csv(demo / "landing" / table / "*.csv", infer_schema=False)
        assert csv.columns == parquet.columns
        assert typed_like(csv, parquet.schema).equals(parquet), table
    assert pl.read_parquet(demo / "truth" / "identity_truth.parquet").equals(
        pl.read_parquet(tmp_path / "truth" / "identity_truth.parquet")
    )


def test_only_the_table_folders_are_replaced(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "shop_orders").mkdir(parents=True)
    (landing / "shop_orders" / "stale.csv").write_text("order_id\nX\n")
    (landing / "my_table").mkdir()
    (landing / "my_table" / "keep.csv").write_text("a\n1\n")
    summary = generate_demo_data(
        landing, tmp_path / "truth", customers=200, months=3, end_month="2025-06"
    )
    assert not (landing / "shop_orders" / "stale.csv").exists()
    assert (landing / "my_table" / "keep.csv").exists()
    assert summary.rows["shop_orders"] > 0 and "shop_orders" in str(summary)


def test_purchase_rate_scales_purchases_per_buyer_and_is_recorded(
    demo: Path, tmp_path: Path
) -> None:
    busy = generate_demo_data(tmp_path / "landing", tmp_path / "truth", **ARGS, purchase_rate=5.0)
    base_rows = pl.read_csv(demo / "landing" / "shop_orders" / "*.csv", infer_schema=False).height
    assert 3.0 < busy.rows["shop_orders"] / base_rows < 7.0
    params = json.loads((tmp_path / "truth" / "generation.json").read_text())
    assert params["purchase_rate"] == 5.0
    assert params["true_params"]["alpha"] == pytest.approx(28.0 / 5)
    # The mean dropout probability per purchase shrinks by the same factor.
    a, b = params["true_params"]["a"], params["true_params"]["b"]
    assert a / (a + b) == pytest.approx(0.8 / (0.8 + 2.6) / 5)

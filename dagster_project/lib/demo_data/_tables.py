"""Landing tables of the contract: column types, date columns, keys, and the bad-row kinds.

Frames travel through the generator with hidden columns (prefixed `_`) that never reach the
files: `_m` month index (which month file), `_ord` order within the chunk, `_pid` true person,
`_bad` bad-row kind, `_amount_text` the raw text of an unparsable amount (CSV only).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

# Column kinds: str, ts (timestamp without zone), date, money (2 decimals), rate (6 decimals),
# int, bool.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "crm_customers": (
        ("customer_no", "str"),
        ("first_name", "str"),
        ("last_name", "str"),
        ("email", "str"),
        ("phone", "str"),
        ("birth_date", "date"),
        ("gender", "str"),
        ("street", "str"),
        ("postal_code", "str"),
        ("city", "str"),
        ("region", "str"),
        ("country", "str"),
        ("signup_date", "date"),
        ("marketing_opt_in", "bool"),
        ("contract_end_date", "date"),
        ("updated_at", "ts"),
    ),
    "shop_orders": (
        ("order_id", "str"),
        ("ordered_at", "ts"),
        ("customer_no", "str"),
        ("shop_account_id", "str"),
        ("email", "str"),
        ("channel", "str"),
        ("device", "str"),
        ("amount", "money"),
        ("currency", "str"),
        ("status", "str"),
    ),
    "order_lines": (
        ("order_id", "str"),
        ("line_no", "int"),
        ("product_id", "str"),
        ("category", "str"),
        ("quantity", "int"),
        ("unit_price", "money"),
    ),
    "store_transactions": (
        ("transaction_id", "str"),
        ("transacted_at", "ts"),
        ("store_id", "str"),
        ("loyalty_card_no", "str"),
        ("amount", "money"),
        ("currency", "str"),
        ("is_return", "bool"),
    ),
    "loyalty_cards": (
        ("loyalty_card_no", "str"),
        ("customer_no", "str"),
        ("issued_at", "ts"),
    ),
    "web_events": (
        ("event_id", "str"),
        ("occurred_at", "ts"),
        ("shop_account_id", "str"),
        ("email", "str"),
        ("event_type", "str"),
        ("device", "str"),
        ("os", "str"),
    ),
    "prospects": (
        ("prospect_id", "str"),
        ("email", "str"),
        ("postal_code", "str"),
        ("country", "str"),
        ("birth_year", "int"),
        ("source", "str"),
        ("created_at", "ts"),
    ),
    "fx_rates": (
        ("currency", "str"),
        ("rate_date", "date"),
        ("rate_to_reporting", "rate"),
    ),
    "erasure_requests": (
        ("request_id", "str"),
        ("customer_no", "str"),
        ("email", "str"),
        ("requested_at", "ts"),
    ),
}
TABLES: tuple[str, ...] = tuple(COLUMNS)

# The column whose month decides the file; order_lines have none and follow their order.
DATE_COLUMN: dict[str, str | None] = {
    "crm_customers": "updated_at",
    "shop_orders": "ordered_at",
    "order_lines": None,
    "store_transactions": "transacted_at",
    "loyalty_cards": "issued_at",
    "web_events": "occurred_at",
    "prospects": "created_at",
    "fx_rates": "rate_date",
    "erasure_requests": "requested_at",
}

# Record key of each table, as the bad-row log reports it.
KEY_COLUMN: dict[str, str] = {
    "crm_customers": "customer_no",
    "shop_orders": "order_id",
    "order_lines": "order_id",
    "store_transactions": "transaction_id",
    "loyalty_cards": "loyalty_card_no",
    "web_events": "event_id",
    "prospects": "prospect_id",
    "fx_rates": "currency",
    "erasure_requests": "request_id",
}

# Which deliberate defects each table gets (fx rates and erasure requests stay clean: a
# broken rate or a lost erasure request would hide real errors in the tests).
BAD_KINDS: dict[str, tuple[str, ...]] = {
    "shop_orders": (
        "missing_key",
        "missing_required",
        "unparsable_amount",
        "negative_amount",
        "unknown_currency",
        "future_timestamp",
        "duplicate_conflict",
    ),
    "store_transactions": (
        "missing_key",
        "missing_required",
        "unparsable_amount",
        "negative_amount",
        "unknown_currency",
        "future_timestamp",
        "duplicate_conflict",
    ),
    "order_lines": ("missing_key",),
    "crm_customers": ("missing_key", "future_timestamp"),
    "loyalty_cards": ("missing_required",),
    "web_events": ("missing_key", "future_timestamp"),
    "prospects": ("missing_key", "future_timestamp"),
}

_POLARS: dict[str, pl.DataType] = {
    "str": pl.String(),
    "ts": pl.Datetime("us"),
    "date": pl.Date(),
    "money": pl.Float64(),
    "rate": pl.Float64(),
    "int": pl.Int32(),
    "bool": pl.Boolean(),
}
_ARROW: dict[str, pa.DataType] = {
    "str": pa.string(),
    "ts": pa.timestamp("us"),
    "date": pa.date32(),
    "money": pa.float64(),
    "rate": pa.float64(),
    "int": pa.int32(),
    "bool": pa.bool_(),
}
DECIMALS: dict[str, int] = {"money": 2, "rate": 6}


def polars_schema(table: str) -> dict[str, pl.DataType]:
    return {name: _POLARS[kind] for name, kind in COLUMNS[table]}


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, _ARROW[kind]) for name, kind in COLUMNS[table]])


def conform(table: str, data: dict[str, object], month: object, pid: object) -> pl.DataFrame:
    """A frame with exactly the table's columns and types, plus the hidden columns.

    `data` must hold every column of the table (None for an all-empty column); `month` is the
    month index per row, `pid` the true person per row (null for nobody).
    """
    n = len(month)  # type: ignore[arg-type]
    columns = []
    for name, kind in COLUMNS[table]:
        value = data[name]
        if value is None:
            series = pl.Series(name, [None] * n, _POLARS[kind])
        elif isinstance(value, np.ndarray) and value.dtype == object:
            # object arrays (strings with None) go through Python objects
            series = pl.Series(name, value.tolist(), _POLARS[kind], strict=False)
        else:
            series = pl.Series(name, value)
        columns.append(series.cast(_POLARS[kind]).alias(name))
    return pl.DataFrame(columns).with_columns(
        pl.Series("_m", month).cast(pl.Int32),
        pl.Series("_ord", range(n), pl.Float64),
        pl.Series("_pid", pid).cast(pl.String),
        pl.lit(None, pl.String).alias("_bad"),
        pl.lit(None, pl.String).alias("_amount_text"),
    )

"""Audience exports per snapshot month: the files marketing uploads to ad platforms and the CRM.

`<stem>.exports/<YYYY-MM>/` beside the warehouse (internal: hashed personal data) holds

| file | who |
| --- | --- |
| `high_value.csv` | the top value tier (by the segmentation rules) |
| `lapsed_high_value.csv` | lapsed customers worth winning back: value tier high/medium, or ABC A |
| `at_risk.csv` | lifecycle stage `at_risk` |
| `new_customers.csv` | lifecycle stage `new` |
| `vip_lookalikes.csv` | the best prospects of `marts.prospect_scores` (top `lookalike_top_share`) |
| `crm.csv` | every customer: customer_id, segment, lifecycle_stage, value_tier, predicted_clv_12m |

The first five follow Google Ads Customer Match (`customer_match.CUSTOMER_MATCH_COLUMNS`).
Only customers whose latest CRM version says `marketing_opt_in` are exported — consent is
read as loaded now, not as of the snapshot, so a withdrawal also holds for re-exports of old
months; customers without a CRM record (guests, leads) have given no consent we know of.
Contact data come from the latest CRM version in the internal build database, never from the
published file. Erased persons never appear: the erasure step removed them from the build
database, and every row is checked once more against the salted suppression list.
"""

from __future__ import annotations

import csv
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.lib.privacy.customer_match import CUSTOMER_MATCH_COLUMNS, customer_match_rows

CRM_COLUMNS = ("customer_id", "segment", "lifecycle_stage", "value_tier", "predicted_clv_12m")
AD_AUDIENCES = ("high_value", "lapsed_high_value", "at_risk", "new_customers", "vip_lookalikes")
AUDIENCES = (*AD_AUDIENCES, "crm")


@dataclass(frozen=True)
class ExportParameters:
    top_value_tier: str = "high"
    win_back_value_tiers: tuple[str, ...] = ("high", "medium")
    win_back_abc_classes: tuple[str, ...] = ("A",)
    lookalike_top_share: float = 0.25


def load_export_candidates(
    con: duckdb.DuckDBPyConnection,
    snapshot_month: date,
    *,
    salt: str,
    suppressed: pl.DataFrame,
) -> pl.DataFrame:
    """One row per customer of the snapshot (and per scored prospect) with consent and contact.

    Columns: customer_id, segment, lifecycle_stage, value_tier, abc_class, predicted_clv_12m,
    is_lookalike_prospect, lookalike_rank, prospects_scored, marketing_opt_in, email, phone,
    first_name, last_name, country, postal_code. Customers whose CRM number or e-mail is on
    the suppression list are left out.
    """
    con.register("_export_suppressed", suppressed.select("key_hash"))
    try:
        return con.sql(
            """
            with snapshot as (
                select segments.customer_id, segments.segment, segments.lifecycle_stage,
                    segments.value_tier, scores.abc_class, scores.predicted_clv_12m
                from marts.customer_segments as segments
                left join marts.customer_scores as scores
                    on scores.customer_id = segments.customer_id
                    and scores.snapshot_month = segments.snapshot_month
                where segments.snapshot_month = $month
            ),
            lookalikes as (
                select customer_id, min(rank) as lookalike_rank,
                    count(*) over () as prospects_scored
                from marts.prospect_scores
                where snapshot_month = $month and candidate_type = 'prospect'
                group by customer_id
            ),
            crm_latest as (
                select customer_no, email_normalized, phone, first_name, last_name, country,
                    postal_code, marketing_opt_in
                from staging.stg_crm__customers
                qualify row_number() over (
                    partition by customer_no
                    order by updated_at desc, source_file desc, source_line desc
                ) = 1
            ),
            contacts as (
                select map.customer_id, crm_latest.*
                from marts.customer_identity_map as map
                inner join crm_latest
                    on map.source_system = 'crm' and map.source_key = crm_latest.customer_no
            ),
            -- two equi-joins, not one OR condition: DuckDB hashes each contact once instead of
            -- comparing every contact with every suppressed key (minutes at a million).
            suppressed_customers as (
                select contacts.customer_id
                from contacts
                inner join _export_suppressed as s
                    on s.key_hash = sha256($salt || '|crm:' || contacts.customer_no)
                union
                select contacts.customer_id
                from contacts
                inner join _export_suppressed as s
                    on s.key_hash = sha256($salt || '|email:' || contacts.email_normalized)
            )
            select snapshot.customer_id, snapshot.segment, snapshot.lifecycle_stage,
                snapshot.value_tier, snapshot.abc_class, snapshot.predicted_clv_12m,
                lookalikes.customer_id is not null as is_lookalike_prospect,
                lookalikes.lookalike_rank, lookalikes.prospects_scored,
                coalesce(contacts.marketing_opt_in, false) as marketing_opt_in,
                contacts.email_normalized as email, contacts.phone, contacts.first_name,
                contacts.last_name, contacts.country, contacts.postal_code
            from snapshot
            left join lookalikes on lookalikes.customer_id = snapshot.customer_id
            left join contacts on contacts.customer_id = snapshot.customer_id
            where snapshot.customer_id not in (select customer_id from suppressed_customers)
            order by snapshot.customer_id
            """,
            params={"month": snapshot_month, "salt": salt},
        ).pl()
    finally:
        con.unregister("_export_suppressed")


def select_audiences(
    candidates: pl.DataFrame, params: ExportParameters | None = None
) -> dict[str, pl.DataFrame]:
    """The customers of each audience (opted-in only), with their candidate columns."""
    params = params or ExportParameters()
    consenting = candidates.filter(pl.col("marketing_opt_in"))
    top_rank = (pl.col("prospects_scored") * params.lookalike_top_share).ceil().clip(lower_bound=1)
    return {
        "high_value": consenting.filter(pl.col("value_tier") == params.top_value_tier),
        "lapsed_high_value": consenting.filter(
            (pl.col("lifecycle_stage") == "lapsed")
            & (
                pl.col("value_tier").is_in(list(params.win_back_value_tiers))
                | pl.col("abc_class").is_in(list(params.win_back_abc_classes))
            )
        ),
        "at_risk": consenting.filter(pl.col("lifecycle_stage") == "at_risk"),
        "new_customers": consenting.filter(pl.col("lifecycle_stage") == "new"),
        "vip_lookalikes": consenting.filter(
            pl.col("is_lookalike_prospect") & (pl.col("lookalike_rank") <= top_rank)
        ).sort("lookalike_rank"),
        "crm": consenting,
    }


def export_files(audiences: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The file content per audience: Customer Match rows, or the CRM columns."""
    files = {
        name: customer_match_rows(audiences[name]).unique(maintain_order=True)
        for name in AD_AUDIENCES
    }
    files["crm"] = audiences["crm"].select(CRM_COLUMNS)
    return files


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # hashed personal data
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)  # a reader never sees half a file


def write_exports(exports_dir: Path, snapshot_month: date, files: dict[str, pl.DataFrame]) -> Path:
    """Write (replace) the month's files; returns the month's folder."""
    month_dir = exports_dir / f"{snapshot_month:%Y-%m}"
    month_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in files.items():
        header = CUSTOMER_MATCH_COLUMNS if name in AD_AUDIENCES else CRM_COLUMNS
        rows = [
            tuple("" if v is None else v for v in row) for row in frame.select(header).iter_rows()
        ]
        _write_csv(month_dir / f"{name}.csv", header, rows)
    return month_dir

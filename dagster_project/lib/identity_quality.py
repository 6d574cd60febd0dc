"""Pairwise precision and recall of an identity map against a ground truth.

Two source records form a pair when they belong to the same customer (prediction) or to the
same person (truth). Precision = true pairs found / pairs predicted; recall = true pairs found /
true pairs. Counting pairs per cluster (n·(n−1)/2) keeps it linear in the number of records.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class PairwiseQuality:
    precision: float
    recall: float
    records: int
    records_unmatched: int  # in the truth but missing from the identity map

    def __str__(self) -> str:
        return (
            f"pairwise precision {self.precision:.5f}, recall {self.recall:.5f} "
            f"over {self.records:,} records ({self.records_unmatched:,} not in the map)"
        )


def pairwise_quality(
    con: duckdb.DuckDBPyConnection, identity_map: str, truth: str
) -> PairwiseQuality:
    """`identity_map` and `truth` are relations (table names or `read_parquet(...)` calls).

    identity_map: source_system, source_key, customer_id
    truth: source_system, source_key, person_id (null = anonymous), is_bad_row
    """
    rows = con.execute(
        f"""
        with truth as (
            select source_system, source_key, person_id
            from {truth}
            where person_id is not null and not coalesce(is_bad_row, false)
        ),
        joined as (
            select
                t.person_id,
                coalesce(m.customer_id, 'unmatched:' || t.source_system || ':' || t.source_key)
                    as customer_id,
                m.customer_id is null as unmatched
            from truth as t
            left join {identity_map} as m
                on m.source_system = t.source_system and m.source_key = t.source_key
        ),
        cells as (select customer_id, person_id, count(*) as n from joined group by all),
        predicted as (select customer_id, sum(n) as n from cells group by all),
        actual as (select person_id, sum(n) as n from cells group by all)
        select
            (select sum(n * (n - 1) / 2) from cells) as true_positive_pairs,
            (select sum(n * (n - 1) / 2) from predicted) as predicted_pairs,
            (select sum(n * (n - 1) / 2) from actual) as actual_pairs,
            (select count(*) from joined) as records,
            (select count(*) from joined where unmatched) as unmatched
        """
    ).fetchall()
    tp, predicted, actual, records, unmatched = rows[0]
    return PairwiseQuality(
        precision=float(tp / predicted) if predicted else 1.0,
        recall=float(tp / actual) if actual else 1.0,
        records=int(records),
        records_unmatched=int(unmatched),
    )

import duckdb

from dagster_project.lib.identity_quality import pairwise_quality


def test_pairwise_quality_counts_pairs_per_cluster() -> None:
    con = duckdb.connect()
    con.execute(
        """
        create table truth as select * from (values
            ('crm', 'K1', 'p1', false), ('shop_order', 'W1', 'p1', false),
            ('shop_order', 'W2', 'p1', false), ('crm', 'K2', 'p2', false),
            ('shop_order', 'W3', 'p2', false), ('store_transaction', 'T1', null, false),
            ('shop_order', 'W9', 'p2', true)
        ) t(source_system, source_key, person_id, is_bad_row)
        """
    )
    # p1 split in two customers, W3 wrongly joined to p1's first customer, W2 missing.
    con.execute(
        """
        create table map as select * from (values
            ('crm', 'K1', 'c1'), ('shop_order', 'W1', 'c1'), ('shop_order', 'W3', 'c1'),
            ('crm', 'K2', 'c2')
        ) t(source_system, source_key, customer_id)
        """
    )
    quality = pairwise_quality(con, "map", "truth")
    # predicted pairs: c1 has 3 records -> 3 pairs, of which K1-W1 is true.
    assert quality.precision == 1 / 3
    # true pairs: p1 (K1, W1, W2) -> 3, p2 (K2, W3) -> 1; found: K1-W1 only.
    assert quality.recall == 1 / 4
    assert quality.records == 5 and quality.records_unmatched == 1

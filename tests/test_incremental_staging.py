"""Incremental staging by landing file (dbt/macros/landing/incremental_landing.sql).

A build on an existing warehouse reads only the new or changed landing files of an incremental
`base_*` model; the result must equal a full rebuild from the same files. Real preflight, real
dbt runs of the staging models on small demo data. Between the two loads a new month lands and
the files change in every way that matters: a file rewritten shorter, a file removed, copies of
old events in new files (an identical copy that sorts first, a conflicting one that sorts
last), an order that arrives after its line, and a corrected fx rate for a past day.

Downstream, fct_web_activity rebuilds only the days and customers whose inputs changed
(dbt/macros/marts/incremental_by_changed_customers.sql), and int_identity__order_records decides
again only the orders whose own row or keys changed; each must equal a full refresh on the same
warehouse (a separate full build mints other customer ids). The second load also makes an
anonymous web visitor a CRM customer and asks to erase a customer with web activity.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.landing_files import run_preflight
from dagster_project.lib.privacy.erasure import SuppressionStore, apply_erasure
from dagster_project.lib.settings import DBT_PROJECT_DIR

DBT = Path(sys.executable).parent / "dbt"
MODEL = "base_web__events"
INCREMENTAL_MODELS = (
    "base_web__events",
    "base_shop__orders",
    "base_shop__order_lines",
    "base_store__transactions",
)
# aggregated from base_web__events by source file (incremental_by_source_file.sql)
AGGREGATE = "int_web__daily_key_activity"
# the web accounts the identity models read, aggregated the same way
ACCOUNTS = "int_web__account_first_seen"
# incremental by changed customers and days
WEB_ACTIVITY = "fct_web_activity"
# incremental by changed orders and identity keys (macros/identity/incremental_order_records.sql)
ORDER_RECORDS = "int_identity__order_records"
# incremental by changed orders and cards (macros/marts/incremental_by_changed_sales.sql)
SALES = "fct_orders"
HEADER = "event_id,occurred_at,shop_account_id,email,event_type,device,os"


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dagster_project.lib.demo_data import generate_demo_data

    root = tmp_path_factory.mktemp("incremental_demo")
    generate_demo_data(
        root / "landing", root / "truth", customers=300, months=4, end_month="2026-10", seed=3
    )
    return root / "landing"


def _lines(demo: Path, month: str) -> list[str]:
    return (demo / "web_events" / f"web_events_{month}.csv").read_text().splitlines()[1:]


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n")


def _first_load(demo: Path, landing: Path) -> None:
    shutil.copytree(demo, landing, ignore=shutil.ignore_patterns("*2026-10*"))
    # an October line lands before its order: quarantined until the order comes
    october_line = (demo / "order_lines" / "order_lines_2026-10.csv").read_text().splitlines()[1]
    (landing / "order_lines" / "order_lines_0-early.csv").write_text(
        "order_id,line_no,product_id,category,quantity,unit_price\n" + october_line + "\n"
    )
    # an order dated in the future: quarantined, and its as-of rate moves with every new rate
    # file, which must not make its file be read again
    order = (demo / "shop_orders" / "shop_orders_2026-08.csv").read_text().splitlines()
    future = order[1].split(",")
    future[0], future[1], future[8] = "W-FUTURE", "2099-01-01 10:00:00", "CHF"
    (landing / "shop_orders" / "shop_orders_0-future.csv").write_text(
        order[0] + "\n" + ",".join(future) + "\n"
    )
    # an order and a store sale whose files the second load withdraws: they leave the marts
    withdrawn = order[1].split(",")
    withdrawn[0] = "W-WITHDRAWN"
    (landing / "shop_orders" / "shop_orders_0-withdrawn.csv").write_text(
        order[0] + "\n" + ",".join(withdrawn) + "\n"
    )
    store = (demo / "store_transactions" / "store_transactions_2026-08.csv").read_text()
    store_sale = store.splitlines()[1].split(",")
    store_sale[0] = "T-WITHDRAWN"
    (landing / "store_transactions" / "store_transactions_0-withdrawn.csv").write_text(
        store.splitlines()[0] + "\n" + ",".join(store_sale) + "\n"
    )
    # a store sale with a card nobody registered: the card is a customer of its own until the
    # second load registers it to a CRM customer (the sale then moves to them)
    sale = (demo / "store_transactions" / "store_transactions_2026-09.csv").read_text().splitlines()
    fields = sale[1].split(",")
    fields[0], fields[3] = "T-UNREGISTERED", "L-UNREGISTERED"
    (landing / "store_transactions" / "store_transactions_0-unregistered.csv").write_text(
        sale[0] + "\n" + ",".join(fields) + "\n"
    )
    # "0-old" sorts before every month: its copy wins and the September line is the duplicate
    _write(landing / "web_events" / "web_events_0-old.csv", [_lines(demo, "2026-09")[5]])
    _write(landing / "web_events" / "web_events_2026-08-fix.csv", _lines(demo, "2026-08")[:3])


def _second_load(demo: Path, landing: Path) -> None:
    for october in demo.glob("*/*2026-10*"):
        shutil.copy2(october, landing / october.parent.name)
    # a second rate for the day of an August order in another currency: if the day had a rate,
    # both are conflicting and the day falls back to the rate before; else this one applies
    order = next(
        line.split(",")
        for line in (demo / "shop_orders" / "shop_orders_2026-08.csv").read_text().splitlines()[1:]
        if line.split(",")[8] not in ("EUR", "")
    )
    (landing / "fx_rates" / "fx_rates_2026-08-fix.csv").write_text(
        f"currency,rate_date,rate_to_reporting\n{order[8]},{order[1][:10]},9.99\n"
    )
    cards = demo / "loyalty_cards" / "loyalty_cards_2026-07.csv"
    header, card = cards.read_text().splitlines()[:2]
    (landing / "loyalty_cards" / "loyalty_cards_2026-10-late.csv").write_text(
        header + "\n" + ",".join(["L-UNREGISTERED", *card.split(",")[1:]]) + "\n"
    )
    (landing / "shop_orders" / "shop_orders_0-withdrawn.csv").unlink()
    (landing / "store_transactions" / "store_transactions_0-withdrawn.csv").unlink()
    web = landing / "web_events"
    (web / "web_events_0-old.csv").unlink()  # its September twin becomes the accepted row
    # rewritten shorter (size and mtime change)
    _write(web / "web_events_2026-09.csv", _lines(demo, "2026-09")[:-10])
    # an identical copy of a July event that sorts first: the July row becomes the duplicate
    _write(web / "web_events_0-early.csv", [_lines(demo, "2026-07")[6]])
    # the same August event with another type: both copies are conflicting duplicates
    fields = _lines(demo, "2026-08")[8].split(",")
    fields[4] = "session" if fields[4] != "session" else "add_to_cart"
    _write(web / "web_events_zz-conflict.csv", [",".join(fields)])

    # an e-mail seen only in anonymous web events becomes a CRM customer: those events move to
    # them; and a customer with web activity asks to be erased
    crm_rows = [
        line.split(",")
        for crm in sorted((demo / "crm_customers").glob("*.csv"))
        for line in crm.read_text().splitlines()[1:]
    ]
    crm_emails = {row[3].strip().lower() for row in crm_rows}
    prospect_emails = {
        line.split(",")[1].strip().lower()
        for prospects in (demo / "prospects").glob("*.csv")
        for line in prospects.read_text().splitlines()[1:]
    }
    web_lines = _lines(demo, "2026-07") + _lines(demo, "2026-08")
    web_emails = [
        (fields[2], fields[3].strip().lower()) for fields in (line.split(",") for line in web_lines)
    ]
    visitor = next(
        email
        for account, email in web_emails
        if email and not account and email not in crm_emails | prospect_emails
    )
    customer = next(
        row
        for row in crm_rows
        if row[3].strip().lower() in {e for _, e in web_emails} and row[12] < "2026-10"
    )
    header = (demo / "crm_customers" / "crm_customers_2026-10.csv").read_text().splitlines()[0]
    new_customer = [*crm_rows[-1]]
    new_customer[0], new_customer[3] = "K-VISITOR", visitor
    (landing / "crm_customers" / "crm_customers_2026-10-visitor.csv").write_text(
        header + "\n" + ",".join(new_customer) + "\n"
    )
    (landing / "erasure_requests").mkdir(exist_ok=True)
    (landing / "erasure_requests" / "erasure_requests_2026-10.csv").write_text(
        f"customer_no,email,requested_at\n{customer[0]},,2026-10-15 09:00:00\n"
    )


BUILT = [f"+{m}" for m in (*INCREMENTAL_MODELS, AGGREGATE, WEB_ACTIVITY, SALES)]
BUILT.append("+stg_privacy__erasure_requests")


def _build(landing: Path, warehouse_dir: Path, *selection: str) -> str:
    """dbt run of `selection` (by default every model above and what they need)."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    run_preflight(landing, warehouse_dir / "warehouse.build.duckdb")
    done = _dbt(landing, warehouse_dir, "run", "--select", *(selection or BUILT))
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def _dbt(landing: Path, warehouse_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LANDING_DIR": str(landing),
        "DUCKDB_PATH": str(warehouse_dir / "warehouse.duckdb"),
        "SEGMENTWERK_BUILD_DB": str(warehouse_dir / "warehouse.build.duckdb"),
        "SEGMENTWERK_ID_SALT": "test",
    }
    return subprocess.run(
        [str(DBT), *args, "--target-path", str(warehouse_dir / "target")],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_incremental_build_equals_a_full_rebuild(demo_landing: Path, tmp_path: Path):
    landing = tmp_path / "landing"
    _first_load(demo_landing, landing)
    first = _build(landing, tmp_path / "incremental")
    assert _loads(first) == {} and _aggregations(first) == {}  # the first reads all
    _second_load(demo_landing, landing)
    second_log = _build(landing, tmp_path / "incremental")
    second = _loads(second_log)
    assert second == {
        # new: 2026-10, 0-early, zz-conflict; changed: 2026-09; replaced: 2026-09 and 0-old
        MODEL: "4 file(s) to read, 2 to replace (0 rechecked)",
        # the early line's file is read again now that its order is there
        "base_shop__order_lines": "2 file(s) to read, 1 to replace (1 rechecked)",
        # the August orders in the corrected currency are converted again; 0-withdrawn is gone
        "base_shop__orders": "2 file(s) to read, 2 to replace (1 rechecked)",
        "base_store__transactions": "1 file(s) to read, 1 to replace (0 rechecked)",
    }
    # every web file with rows written by this build: the four read, and July and August for
    # their re-judged rows; 0-old is gone
    aggregations = _aggregations(second_log)
    assert aggregations[AGGREGATE] == "6 file(s) to aggregate, 7 to replace"
    assert set(aggregations) == {AGGREGATE, ACCOUNTS}
    # the days of those files, and the visitor's events moved from anonymous to them
    changes = _web_activity_changes(second_log)
    assert set(changes) == {"day", "customer", "anonymous_day"}, changes
    _assert_web_activity_equals_a_full_refresh(landing, tmp_path / "incremental", tmp_path)
    _assert_web_activity_key_test_checks_the_unverified_rows(
        landing, tmp_path / "incremental", tmp_path / "key_test"
    )
    assert _order_records_mode(second_log).startswith("orders loaded after")
    assert _sales_mode(second_log).startswith("orders decided and store sales loaded after")
    con = duckdb.connect(str(tmp_path / "incremental" / "warehouse.build.duckdb"), read_only=True)
    try:
        moved = con.sql(
            "select s.customer_id = c.customer_id from marts.fct_orders as s"
            " inner join intermediate.int_identity__node_customers as c"
            " on c.node_key = 'crm:' || ? where s.order_id = 'T-UNREGISTERED'",
            params=[_card_owner(demo_landing)],
        ).fetchall()
    finally:
        con.close()
    assert moved == [(True,)]  # the sale of the card registered in the second load moved
    _assert_order_records_equal_a_full_refresh(landing, tmp_path / "incremental", tmp_path)
    _assert_loaded_files_in_step(tmp_path / "incremental")
    _build(landing, tmp_path / "full")
    _assert_loaded_files_in_step(tmp_path / "full")

    con = duckdb.connect()
    con.execute(f"attach '{tmp_path / 'incremental' / 'warehouse.build.duckdb'}' as inc")
    con.execute(f"attach '{tmp_path / 'full' / 'warehouse.build.duckdb'}' as full_")
    compared = {
        f"intermediate.{AGGREGATE}": "* exclude (base_loaded_at)",
        f"intermediate.{ACCOUNTS}": "* exclude (base_loaded_at)",
    }
    for model in INCREMENTAL_MODELS:
        rows = "* exclude (quarantine_record, loaded_at)"
        if model in ("base_shop__orders", "base_store__transactions"):
            # a row quarantined by an earlier check keeps the rate of its load
            rows += (
                " replace (case when quarantine_reason like 'timestamp in the future%' then null"
                " else fx_rate end as fx_rate, case when quarantine_reason like"
                " 'timestamp in the future%' then null else amount end as amount)"
            )
        compared[f"staging.{model}"] = rows
    for relation, rows in compared.items():
        _assert_same_rows(con, relation, rows)
    table = f"staging.{MODEL}"
    # A file keeps the load time of the build that read it; only the two old files with a
    # re-judged row hold rows of both builds.
    loads = con.sql(
        f"select source_file from inc.{table} group by 1 having count(distinct loaded_at) > 1"
    ).fetchall()
    future = con.sql(
        "select i.fx_rate <> f.fx_rate from inc.staging.base_shop__orders as i"
        " inner join full_.staging.base_shop__orders as f using (order_id)"
        " where order_id = 'W-FUTURE'"
    ).fetchall()
    assert future == [(True,)]  # the full build took October's rate, the loaded row kept its own
    assert sorted(f for (f,) in loads) == [
        "web_events/web_events_2026-07.csv",
        "web_events/web_events_2026-08.csv",
    ]
    reasons = dict(
        con.sql(f"select quarantine_reason, count(*) from inc.{table} group by 1").fetchall()
    )
    assert reasons["duplicate row"] >= 4  # 08-fix's three twins in August + the July twin
    assert reasons["conflicting duplicate: event_id"] == 2
    # The quarantine records agree, except for the July row that became a duplicate only in
    # the second load: its line is not read again, so its record is built from parsed values.
    differing = con.sql(
        f"""
        select inc.source_file, inc.quarantine_record
        from inc.{table} as inc
        inner join full_.{table} as full_ using (source_file, source_line)
        where inc.quarantine_record is distinct from full_.quarantine_record
        """
    ).fetchall()
    assert sorted(f for f, _ in differing) == [
        "web_events/web_events_2026-07.csv",
        "web_events/web_events_2026-08.csv",
    ]
    for _, record in differing:
        assert '"event_id"' in record and "@" not in record
    con.close()

    # Nothing landed since: nothing is read, nothing changes.
    before = _table_digest(tmp_path / "incremental")
    third_log = _build(landing, tmp_path / "incremental")
    assert _loads(third_log) == dict.fromkeys(
        INCREMENTAL_MODELS, "0 file(s) to read, 0 to replace (0 rechecked)"
    )
    assert _aggregations(third_log) == dict.fromkeys(
        (AGGREGATE, ACCOUNTS), "0 file(s) to aggregate, 0 to replace"
    )
    assert _web_activity_changes(third_log) == {}
    assert _table_digest(tmp_path / "incremental") == before

    # The erasure nulls the customer's counts in place and lists for the next build what that
    # moved: their days' anonymous rows (not the days whole: it renews their fingerprints).
    con = duckdb.connect(str(tmp_path / "incremental" / "warehouse.build.duckdb"))
    try:
        erased = apply_erasure(con, SuppressionStore(tmp_path / "privacy"), tmp_path / "exports")
    finally:
        con.close()
    assert erased.customers == 1 and erased.rows["mart_rows"] > 0
    # every table it scanned is timed (the asset's `slowest_tables_s`)
    assert {"staging.base_web__events", "marts.fct_web_activity"} <= set(erased.table_seconds)
    assert all(seconds >= 0 for seconds in erased.table_seconds.values())
    # A late identical copy of a loaded (anonymous) event, in a load that replaces no file: the
    # new row is the duplicate (the rows that stay are every existing row).
    late = next(
        line for line in _lines(demo_landing, "2026-08")[20:] if line.split(",")[2:4] == ["", ""]
    )
    _write(landing / "web_events" / "web_events_zz-late.csv", [late])
    fourth_log = _build(landing, tmp_path / "incremental")
    assert _loads(fourth_log)[MODEL] == "1 file(s) to read, 0 to replace (0 rechecked)"
    con = duckdb.connect(str(tmp_path / "incremental" / "warehouse.build.duckdb"), read_only=True)
    try:
        verdicts = con.sql(
            f"select source_file, quarantine_reason from staging.{MODEL} "
            "where event_id = ? order by source_file",
            params=[late.split(",")[0]],
        ).fetchall()
    finally:
        con.close()
    assert verdicts == [
        ("web_events/web_events_2026-08.csv", None),
        ("web_events/web_events_zz-late.csv", "duplicate row"),
    ]
    # The late duplicate adds no counts: what the build rebuilds is what the erasure moved.
    assert set(_web_activity_changes(fourth_log)) == {"anonymous_day"}
    _assert_web_activity_equals_a_full_refresh(landing, tmp_path / "incremental", tmp_path)
    # the erased customer's orders were cleared in place, and are decided again from their
    # redacted (keyless) rows: each becomes an order of its own, as in a full rebuild
    _assert_order_records_equal_a_full_refresh(landing, tmp_path / "incremental", tmp_path)
    _assert_loaded_files_in_step(tmp_path / "incremental")
    con = duckdb.connect(str(tmp_path / "incremental" / "warehouse.build.duckdb"), read_only=True)
    try:
        handed_over = con.sql(
            "select count(*) from intermediate.int_web__activity_changes__erased"
        ).fetchall()
    finally:
        con.close()
    assert handed_over == [(0,)]  # the build took the erasure's changes over


def _card_owner(demo: Path) -> str:
    """The CRM customer the second load registers the unregistered card to."""
    card = (demo / "loyalty_cards" / "loyalty_cards_2026-07.csv").read_text().splitlines()[1]
    return card.split(",")[1]


def _loads(dbt_log: str) -> dict[str, str]:
    """What each incremental model decided to read, from its `landing_load` log line."""
    return dict(re.findall(r"landing_load (\w+): ([^\n\x1b]+)", dbt_log))


def _aggregations(dbt_log: str) -> dict[str, str]:
    """What each aggregate decided to rebuild, from its `source_files_to_rebuild` log line."""
    return dict(re.findall(r"source_files_to_rebuild (\w+): ([^\n\x1b]+)", dbt_log))


def _assert_loaded_files_in_step(warehouse_dir: Path) -> None:
    """What each incremental landing model remembers of its files (`<model>__loaded_files`,
    incremental_landing.sql) is exactly the file versions it holds."""
    versions = "select source_table, source_file, landing_file_version from"
    con = duckdb.connect(str(warehouse_dir / "warehouse.build.duckdb"), read_only=True)
    try:
        for model in INCREMENTAL_MODELS:
            held, remembered = f"staging.{model}", f"staging.{model}__loaded_files"
            assert con.sql(f"select count(*) from {remembered}").fetchall() != [(0,)]
            for a, b in ((held, remembered), (remembered, held)):
                extra = con.sql(f"{versions} {a} except {versions} {b}").fetchall()
                assert extra == [], f"{model}: file versions only in {a}: {extra[:3]}"
    finally:
        con.close()


def _assert_same_rows(con: duckdb.DuckDBPyConnection, relation: str, rows: str) -> None:
    """`rows` of `relation` are the same multiset in the attached `inc` and `full_`."""
    for a, b in (("inc", "full_"), ("full_", "inc")):
        extra = con.sql(
            f"select {rows} from {a}.{relation} except all select {rows} from {b}.{relation}"
        ).fetchall()
        assert extra == [], f"{relation}: rows only in {a}: {extra[:5]}"


def _web_activity_changes(dbt_log: str) -> dict[str, int]:
    """What fct_web_activity rebuilt, from its `customer_days` log line: rows of the plan per
    kind of change; {} for nothing; {"every row": 0} for a full rebuild."""
    found = re.findall(rf"customer_days {WEB_ACTIVITY}: ([^\n\x1b]+)", dbt_log)
    assert len(found) == 2 and found[0] == found[1], found  # the mart and the strategy agree
    if found[0] in ("nothing", "every row"):
        return {} if found[0] == "nothing" else {"every row": 0}
    return {kind: int(n) for kind, n in (part.split(" ") for part in found[0].split(", "))}


@contextmanager
def _full_refresh_beside(
    landing: Path, warehouse_dir: Path, tmp_path: Path, *models: str
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """`models` rebuilt with `--full-refresh` on a copy of the build database (same identity
    graph and customer ids): a connection with the incremental build attached as `inc` and the
    copy as `full_`, and the copy's dbt log."""
    copy = tmp_path / "full_refresh"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    shutil.copy2(warehouse_dir / "warehouse.build.duckdb", copy / "warehouse.build.duckdb")
    log = _build(landing, copy, *models, "--full-refresh")
    con = duckdb.connect()
    try:
        con.execute(f"attach '{warehouse_dir / 'warehouse.build.duckdb'}' as inc (read_only)")
        con.execute(f"attach '{copy / 'warehouse.build.duckdb'}' as full_ (read_only)")
        yield con, log
    finally:
        con.close()


def _assert_web_activity_equals_a_full_refresh(
    landing: Path, warehouse_dir: Path, tmp_path: Path
) -> None:
    """The incrementally built mart equals the mart rebuilt from every count."""
    with _full_refresh_beside(landing, warehouse_dir, tmp_path, WEB_ACTIVITY) as (con, _):
        relation = f"marts.{WEB_ACTIVITY}"
        _assert_same_rows(con, relation, "*")
        assert con.sql(f"select count(*) from inc.{relation}").fetchall()[0][0] > 0


def _assert_web_activity_key_test_checks_the_unverified_rows(
    landing: Path, warehouse_dir: Path, copy: Path
) -> None:
    """fct_web_activity's key test checks the rows that builds replaced since it last passed
    (tests/generic/unique_in_rebuilt_customer_days.sql), on a copy of the build database."""
    copy.mkdir()
    shutil.copy2(warehouse_dir / "warehouse.build.duckdb", copy / "warehouse.build.duckdb")
    unverified = "intermediate.int_web__activity_changes__unverified"

    def key_test() -> tuple[bool, list[tuple]]:
        done = _dbt(landing, copy, "test", "--select", "test_name:unique_in_rebuilt_customer_days")
        assert "1 of 1 START test unique_in_rebuilt_customer_days" in done.stdout, done.stdout
        con = duckdb.connect(str(copy / "warehouse.build.duckdb"), read_only=True)
        try:
            left = con.sql(f"select distinct change from {unverified} order by 1").fetchall()
        finally:
            con.close()
        return done.returncode == 0, left

    # the first build (every row) and the second (its days and customers) are unverified
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"), read_only=True)
    try:
        pending = con.sql(f"select distinct change from {unverified} order by 1").fetchall()
    finally:
        con.close()
    assert pending == [("customer",), ("day",), ("every row",)]
    assert key_test() == (True, [])
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"))
    try:
        # a repeated key of a customer whose rows no build replaced since: not looked at
        customer, day = con.sql(
            "select customer_id, activity_date from marts.fct_web_activity"
            " where customer_id is not null order by all limit 1"
        ).fetchall()[0]
        repeat = (
            "insert into marts.fct_web_activity select * from marts.fct_web_activity"
            " where customer_id = ? and activity_date = ? limit 1"
        )
        con.execute(repeat, [customer, day])
    finally:
        con.close()
    assert key_test() == (True, [])
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"))
    try:
        # ... until a build replaces that customer's rows: then the test fails, and fails
        # again until the key is repaired (a failed test leaves the rows unverified)
        con.execute(f"insert into {unverified} values ('customer', null, ?)", [customer])
    finally:
        con.close()
    assert key_test() == (False, [("customer",)])
    assert key_test() == (False, [("customer",)])
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"))
    try:
        con.execute(
            "delete from marts.fct_web_activity where rowid = (select max(rowid)"
            " from marts.fct_web_activity where customer_id = ? and activity_date = ?)",
            [customer, day],
        )
        # a warehouse from before the list: the build that creates it also clears it
        con.execute(f"drop table {unverified}")
    finally:
        con.close()
    assert key_test() == (True, [])
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"))
    try:
        con.execute(f"drop table {unverified}")
    finally:
        con.close()
    built = _dbt(landing, copy, "build", "--select", WEB_ACTIVITY)
    assert built.returncode == 0, built.stdout[-3000:]
    assert "PASS unique_in_rebuilt_customer_days" in built.stdout
    con = duckdb.connect(str(copy / "warehouse.build.duckdb"), read_only=True)
    try:
        assert con.sql(f"select count(*) from {unverified}").fetchall() == [(0,)]
    finally:
        con.close()


def _order_records_mode(dbt_log: str) -> str:
    """How int_identity__order_records decided its orders, from its `order_records` log line."""
    found = re.findall(rf"order_records {ORDER_RECORDS}: ([^\n\x1b]+)", dbt_log)
    assert len(found) == 1, found
    return found[0]


def _sales_mode(dbt_log: str) -> str:
    """What fct_orders rebuilt, from its `changed_sales` log line."""
    found = re.findall(rf"changed_sales {SALES}: ([^\n\x1b]+)", dbt_log)
    assert len(found) == 1, found
    return found[0]


def _assert_order_records_equal_a_full_refresh(
    landing: Path, warehouse_dir: Path, tmp_path: Path
) -> None:
    """The incrementally decided orders equal every order decided again, and so does
    fct_orders rebuilt from them; every accepted order has a record."""
    models = (ORDER_RECORDS, SALES)
    with _full_refresh_beside(landing, warehouse_dir, tmp_path, *models) as (con, log):
        assert _order_records_mode(log) == "every order"
        assert _sales_mode(log) == "every sale"
        relation = f"intermediate.{ORDER_RECORDS}"
        _assert_same_rows(con, relation, "* exclude (decided_at)")
        _assert_same_rows(con, f"marts.{SALES}", "*")
        assert (
            con.sql(f"select count(*), count(customer_id) from inc.{relation}").fetchall()[0]
            == con.sql("select count(*), count(*) from inc.staging.stg_shop__orders").fetchall()[0]
        )


def _table_digest(warehouse_dir: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse_dir / "warehouse.build.duckdb"), read_only=True)
    try:
        return [
            *con.sql(f"select count(*), sum(hash(columns(*))) from staging.{MODEL}").fetchall(),
            *con.sql(
                f"select count(*), sum(hash(columns(*))) from intermediate.{AGGREGATE}"
            ).fetchall(),
        ]
    finally:
        con.close()

"""The erasure scenario behind `erasure_scenario` (tests/conftest.py).

1. A small demo retailer (300 customers, 14 months) without erasure requests; the job runs
   in-process for 2025-11 (published, exported).
2. Two opted-in CRM customers are picked from the build database: one with loyalty card, shop
   account and more than one e-mail (requested by customer number only), one requested by an
   old e-mail only (written in capitals, with spaces). Every identifier of both is recorded.
3. An `erasure_requests` file lands, and `segmentwerk run --month 2025-12` runs in a
   subprocess while a thread of this process queries `$DUCKDB_PATH` on one long-lived
   read-only connection (tests/test_reader_during_run.py judges what it saw). The first
   attempt of that run is killed with SIGKILL (its whole process tree, dbt included) a few
   seconds into its work, as a crash or an OOM kill would; the second attempt must recover
   on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
from conftest import DemoSet, ErasureScenario, query, run_pipeline, warehouse_env

from dagster_project.lib.publication import published_versions

END_MONTH = "2025-12"
FIRST_MONTH = date(2025, 11, 1)

# One statement: the newest month of scores and of segments, and how many of that month's
# scored customers the customer dimension knows. From one publication they always agree.
READER_SQL = """
with latest as (select max(snapshot_month) as month from marts.customer_scores)
select
    (select month from latest) as scores_month,
    (select max(snapshot_month) from marts.customer_segments) as segments_month,
    (select count(*) from marts.customer_scores as s, latest where s.snapshot_month = latest.month)
        as scored,
    (select count(*) from marts.customer_scores as s
        inner join marts.dim_customers as d on d.customer_id = s.customer_id, latest
        where s.snapshot_month = latest.month) as scored_and_known,
    (select max(version) from audit.publication) as version
"""


def _pick_persons(build_db: Path) -> dict[str, dict[str, set[str]]]:
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        rows = con.execute(
            """
            with crm as (
                select customer_no, count(distinct email_normalized) as emails,
                    bool_or(marketing_opt_in) as opt_in
                from staging.stg_crm__customers group by customer_no
            )
            select crm.customer_no, min(crm.emails),
                max(d.loyalty_cards), max(d.shop_accounts), max(d.shop_orders)
            from crm
            inner join marts.customer_identity_map as map
                on map.source_system = 'crm' and map.source_key = crm.customer_no
            inner join marts.dim_customers as d on d.customer_id = map.customer_id
            inner join marts.customer_scores as s
                on s.customer_id = d.customer_id and s.snapshot_month = ?
            where d.marketing_opt_in and s.order_count > 0
            group by crm.customer_no
            order by (min(crm.emails) > 1 and max(d.loyalty_cards) > 0
                      and max(d.shop_accounts) > 0) desc,
                min(crm.emails) desc, max(d.shop_orders) desc, crm.customer_no
            """,
            [FIRST_MONTH],
        ).fetchall()
        by_number, by_email = rows[0][0], rows[1][0]
        persons = {}
        for name, customer_no in (("by_number", by_number), ("by_email", by_email)):
            nodes = [
                r[0]
                for r in con.execute(
                    """
                    select node_key from intermediate.int_identity__customer_groups
                    where group_key = (
                        select group_key from intermediate.int_identity__customer_groups
                        where node_key = ?
                    )
                    """,
                    [f"crm:{customer_no}"],
                ).fetchall()
            ]
            ids = {
                r[0]
                for r in con.execute(
                    "select customer_id from intermediate.int_identity__customer_id_registry "
                    "where node_key in (select unnest(?))",
                    [nodes],
                ).fetchall()
            }
            kinds: dict[str, set[str]] = {"customer_id": ids, "node_key": set(nodes)}
            for node in nodes:
                kind, value = node.split(":", 1)
                kinds.setdefault(kind, set()).add(value)
            crm_rows = con.execute(
                "select email_normalized, phone, first_name, last_name, street "
                "from staging.stg_crm__customers where customer_no = ? order by updated_at",
                [customer_no],
            ).fetchall()
            kinds["crm_email_history"] = [r[0] for r in crm_rows if r[0]]  # oldest first
            kinds["phone"] = {r[1] for r in crm_rows if r[1]}
            kinds["street"] = {r[4] for r in crm_rows if r[4]}
            kinds["order_id"] = {
                r[0]
                for r in con.execute(
                    "select order_id from marts.fct_orders where customer_id in (select unnest(?))",
                    [sorted(ids)],
                ).fetchall()
            }
            persons[name] = kinds
        return persons
    finally:
        con.close()


def _aggregates(build_db: Path) -> dict[str, object]:
    return {
        "revenue": query(build_db, "select sum(amount), count(*) from marts.fct_orders")[0],
        "web_events": query(build_db, "select sum(events) from marts.fct_web_activity")[0][0],
        "november_scores": query(
            build_db,
            f"select count(*) from marts.customer_scores where snapshot_month = '{FIRST_MONTH}'",
        )[0][0],
        "november_sizes": query(
            build_db,
            "select dimension, segment, customers from marts.segment_sizes "
            f"where snapshot_month = '{FIRST_MONTH}' order by all",
        ),
        "segment_counts": query(
            build_db,
            "select segment, count(*) from marts.customer_segments "
            f"where snapshot_month = '{FIRST_MONTH}' group by all order by all",
        ),
    }


class Reader(threading.Thread):
    """Queries the BI file in a loop on one read-only connection opened before the run."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.con = duckdb.connect(str(path), read_only=True)
        self.stop = threading.Event()
        self.results: list[tuple] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.results.append(self.con.execute(READER_SQL).fetchall()[0])
            except Exception as error:  # every error is a failure of the publication
                self.errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.05)


def _kill_mid_run(command: list[str], env: dict[str, str], run_log: Path) -> int:
    """Start the run, wait until its dbt build writes to the run log, then SIGKILL the tree."""
    logged = run_log.stat().st_size if run_log.exists() else 0
    run = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: dbt dies with it
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        if run_log.exists() and run_log.stat().st_size > logged + 2000:
            break  # dbt is building the build database
        time.sleep(0.1)
    time.sleep(2.0)
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
    return run.wait(timeout=60)


def build_erasure_scenario(root: Path) -> ErasureScenario:
    from dagster_project.lib.demo_data import generate_demo_data

    demo = DemoSet(root / "landing", root / "truth")
    generate_demo_data(
        demo.landing_dir,
        demo.truth_dir,
        customers=300,
        months=14,
        end_month=END_MONTH,
        seed=11,
        bad_row_rate=0.0,  # the quality gates judge landing quality elsewhere
    )
    for stale in (demo.landing_dir / "erasure_requests").glob("*"):
        stale.unlink()  # the scenario's own requests only
    duckdb_path = root / "wh" / "warehouse.duckdb"
    outcome = run_pipeline(demo.landing_dir, duckdb_path, [FIRST_MONTH])
    assert outcome.success, outcome.reason
    with warehouse_env(demo.landing_dir, duckdb_path) as settings:
        pass

    persons = _pick_persons(settings.build_db_path)
    before = _aggregates(settings.build_db_path)
    con = duckdb.connect(str(settings.build_db_path), read_only=True)
    try:
        before["their_web_events"] = con.execute(
            "select coalesce(sum(events), 0) from marts.fct_web_activity "
            "where customer_id in (select unnest(?))",
            [sorted(set().union(*(kinds["customer_id"] for kinds in persons.values())))],
        ).fetchall()[0][0]
    finally:
        con.close()
    before["published_versions"] = [v.version for v in published_versions(settings.published_dir)]
    crm_export = (settings.exports_dir / "2025-11" / "crm.csv").read_text(encoding="utf-8")
    before["exported"] = {
        name: any(customer_id in crm_export for customer_id in kinds["customer_id"])
        for name, kinds in persons.items()
    }
    old_email = persons["by_email"]["crm_email_history"][0]
    (demo.landing_dir / "erasure_requests").mkdir(exist_ok=True)
    (demo.landing_dir / "erasure_requests" / "requests_2025-12.csv").write_text(
        "customer_no,email,requested_at\n"
        f"{next(iter(persons['by_number']['crm']))},,2025-12-03T10:00:00\n"
        f",  {old_email.upper()} ,2025-12-04T11:30:00\n",
        encoding="utf-8",
    )

    reader = Reader(settings.duckdb_path)
    before_run = reader.con.execute(READER_SQL).fetchall()[0]
    reader.start()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= {"LANDING_DIR": str(demo.landing_dir), "DUCKDB_PATH": str(duckdb_path)}
    command = [str(Path(sys.executable).with_name("segmentwerk")), "run", "--month", END_MONTH]
    killed = _kill_mid_run(command, env, settings.run_log_path)
    seen = len(reader.results)
    while len(reader.results) < seen + 3 and reader.is_alive():
        time.sleep(0.05)  # the reader's own queries after the kill (its connection is busy)
    after_kill = reader.results[-1]
    started = time.monotonic()
    second = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    duration = time.monotonic() - started
    time.sleep(0.5)  # a few more queries after the switch
    reader.stop.set()
    reader.join(timeout=30)
    after_run = reader.con.execute(READER_SQL).fetchall()[0]
    reader.con.close()
    return ErasureScenario(
        settings=settings,
        demo=demo,
        persons=persons,
        before=before,
        reader={
            "before": before_run,
            "after": after_run,
            "results": reader.results,
            "errors": reader.errors,
            "run_seconds": duration,
            "after_kill": after_kill,
            "killed_returncode": killed,
        },
        second_run=second,
    )

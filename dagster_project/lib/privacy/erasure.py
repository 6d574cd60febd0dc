"""Right to be forgotten: erase a person from the build database, the exports and the log.

Landing files are never rewritten, so every load brings an erased person's rows back into
staging; this step runs after each dbt build, before anything else reads it, and removes them
again. What it erases is one identity group per person (a unified customer): the request names
a customer number and/or an e-mail, the identity graph adds every other key of that person
(second e-mail, shop account, loyalty card, prospect record) and every customer_id the registry
ever gave those keys.

Per layer (see the README, "Right to be forgotten"):
- staging: the person's own records (CRM versions, cards, prospects, the request itself) are
  deleted; their orders, store sales and web events stay as anonymous rows (keys set null), so
  revenue totals stay right; `base_*` rows keep their file and line (the load reconciliation
  still adds up) with every other field nulled, and their quarantine record is redacted;
- intermediate (identity graph, registry): every row of the person's keys and ids is deleted
  (`customer_identity_map` is a view over the graph's source records), and so are the copies of
  keys the incremental models remember they were built from
  (`int_web__activity_changes__built_keys`, `int_identity__order_records__built_nodes`,
  `fct_orders__built_cards`); the internal daily web counts (`int_web__daily_key_activity`)
  keep their rows with account and e-mail null, and the order records
  (`int_identity__order_records`) with key and customer null: the next build decides those
  orders again from their redacted rows;
- marts: `dim_customers`, merges, splits, triggers and prospect scores lose the person's rows;
  `fct_orders` and `fct_web_activity` keep the rows with customer_id null
  (the daily web counts then sit beside the anonymous ones of the same day, type and device
  until the next dbt build rebuilds those days' anonymous rows, and the rows of every other
  customer the nulled keys named: the erasure lists them for it, and renews the day
  fingerprints the mart remembers, so that the days are not rebuilt whole);
- past snapshots (`customer_scores`, `customer_segments`, and the internal per-month purchase
  facts `model.customer_purchase_facts`, every month): the customer_id is
  replaced by a random tombstone (`erased_<16 hex>`), so every published aggregate (segment
  sizes, migrations, profiles) still adds up while nothing links the rows to the person;
- exports beside the warehouse: the person's rows are removed from every month's files.

A persistent suppression list (salted SHA-256 of every erased identity key, in
`<stem>.privacy/`) makes the erasure hold when the request file is gone: keys whose hash is on
it are erased like requested ones. `audit.erasure_log` records each application without
personal data: a salted hash of the request, when it was requested and applied, and how many
keys, customers and rows per layer were removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.lib.privacy.customer_match import hashed_email, hashed_phone
from dagster_project.lib.relations import table_exists

ERASURE_LOG_TABLE = "audit.erasure_log"
SUPPRESSION_FILE = "suppression_list.parquet"
SALT_FILE = "salt"
LIST_REQUEST = "suppression-list"  # the log's request hash for keys erased via the list only
REDACTED_RECORD = '{"redacted": "erasure"}'

# Identity-key prefixes and the source columns that carry such keys.
KEY_COLUMNS: dict[str, str] = {
    "customer_no": "crm",
    "email_normalized": "email",
    "shop_account_id": "account",
    "loyalty_card_no": "card",
    "prospect_id": "prospect",
}
NODE_COLUMNS = (
    "node_key",
    "node_a",
    "node_b",
    "group_key",
    "component_key",
    "direct_crm_key",
    "min_crm_key",
    "max_crm_key",
)
ID_COLUMNS = (
    "customer_id",
    "merged_customer_id",
    "surviving_customer_id",
    "split_customer_id",
    "split_from_customer_id",
)
EVENT_COLUMNS = ("order_id", "transaction_id", "event_id")
KEEP_ON_REDACT = (
    "source_table",
    "source_file",
    "source_line",
    "landing_file_version",  # the row stays redacted: its file is not read again
    "loaded_at",
    "quarantine_reason",
)
TOMBSTONED_TABLES = {
    ("marts", "customer_scores"),
    ("marts", "customer_segments"),
    ("model", "customer_purchase_facts"),  # the scoring step's facts per month (internal)
}
# Aggregates without an event key whose counts must keep adding up: like events, their rows stay
# with the identifying columns nulled.
ANONYMISED_TABLES = {
    ("marts", "fct_web_activity"),
    ("intermediate", "int_web__daily_key_activity"),
}
# fct_web_activity is incremental (dbt/macros/marts/incremental_by_changed_customers.sql): it
# remembers the day fingerprints of the web counts and the keys it was built from, and rebuilds
# the days whose counts changed. Anonymising counts changes their days' fingerprints, and a
# month's erasures touch every day of the history: the next build rebuilt the whole mart
# (37 s at a million customers). So the erasure renews those days' remembered fingerprints and
# hands the next build what its nulling moved (the plan model reads it, the post-hook clears it).
WEB_COUNTS = ("intermediate", "int_web__daily_key_activity")
WEB_FINGERPRINTS = ("intermediate", "int_web__daily_activity_fingerprints")  # a view
WEB_BUILT_DAYS = ("intermediate", "int_web__activity_changes__built_days")
WEB_BUILT_KEYS = ("intermediate", "int_web__activity_changes__built_keys")
WEB_ERASED_CHANGES = ("intermediate", "int_web__activity_changes__erased")
SCANNED_SCHEMAS = ("staging", "intermediate", "marts", "model")
LAYERS = (
    "staging_rows",
    "identity_rows",
    "registry_rows",
    "mart_rows",
    "snapshot_rows",
    "quarantine_rows",
    "export_rows",
)
LOG_SCHEMA: dict[str, pl.DataType] = {
    "erasure_request_hash": pl.Utf8(),
    "requested_at": pl.Datetime("us"),
    "erased_at": pl.Datetime("us"),
    "application": pl.Utf8(),
    "identity_keys": pl.Int64(),
    "customers": pl.Int64(),
    **{layer: pl.Int64() for layer in LAYERS},
}


# --- the persistent suppression list ------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionStore:
    """`<stem>.privacy/`: a random salt and the salted hashes of every erased identity key.

    Kept outside the build database on purpose: deleting the build database (to rebuild it)
    must not bring erased persons back.
    """

    directory: Path

    @property
    def salt(self) -> str:
        path = self.directory / SALT_FILE
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{SALT_FILE}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # never replaces a salt another process wrote first
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()

    @property
    def customer_id_salt(self) -> str:
        """The salt of new customer ids (dbt macro `mint_customer_id`): derived from the
        installation's secret, so the secret itself never reaches dbt's compiled SQL."""
        return hashlib.sha256(f"{self.salt}|customer_id".encode()).hexdigest()[:32]

    def hashes(self) -> pl.DataFrame:
        path = self.directory / SUPPRESSION_FILE
        if not path.exists():
            return pl.DataFrame(schema={"key_hash": pl.Utf8, "first_erased_at": pl.Datetime("us")})
        return pl.read_parquet(path)

    def add(self, key_hashes: pl.DataFrame) -> int:
        """Add hashes (column `key_hash`), atomically; returns how many were new."""
        current = self.hashes()
        new = key_hashes.select("key_hash").unique().join(current, on="key_hash", how="anti")
        if new.height == 0:
            return 0
        now = datetime.now(UTC).replace(tzinfo=None)
        merged = pl.concat(
            [
                current,
                new.with_columns(pl.lit(now).cast(pl.Datetime("us")).alias("first_erased_at")),
            ]
        ).sort("key_hash")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / SUPPRESSION_FILE
        tmp = path.with_name(f".{SUPPRESSION_FILE}.{secrets.token_hex(4)}.tmp")
        merged.write_parquet(tmp)
        os.replace(tmp, path)
        return new.height

    def generation(self) -> int:
        """Grows with every newly erased key: publications of an older generation are stale."""
        return self.hashes().height


# --- the plan: who is erased ---------------------------------------------------------------------


@dataclass
class ErasureOutcome:
    requests: int = 0
    identity_keys: int = 0
    customers: int = 0
    new_suppressed_keys: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    log: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LOG_SCHEMA))
    # seconds per scanned table: the erasure scans every table on every run, so this is where
    # its time goes (no personal data: table names only)
    table_seconds: dict[str, float] = field(default_factory=dict)


def _plan(con: duckdb.DuckDBPyConnection, salt: str, suppressed: pl.DataFrame) -> None:
    """Temp tables `_erasure_nodes(request_id, node_key)`, `_erasure_ids(request_id,
    customer_id)`, `_erasure_keys(request_id, key_column, key_value)`, `_erasure_requests`."""
    con.register("_suppressed_view", suppressed.select("key_hash"))
    con.execute("create or replace temp table _suppressed as select * from _suppressed_view")
    con.unregister("_suppressed_view")
    has_requests = table_exists(con, "staging", "stg_privacy__erasure_requests")
    requests_sql = (
        """
        select erasure_request_id as request_id, requested_at, customer_no, email_normalized
        from staging.stg_privacy__erasure_requests
        """
        if has_requests
        else "select null::varchar as request_id, null::timestamp as requested_at, "
        "null::varchar as customer_no, null::varchar as email_normalized where false"
    )
    con.execute(f"create or replace temp table _erasure_requests as {requests_sql}")
    con.execute(
        """
        create or replace temp table _known_nodes as
        select node_key, group_key from intermediate.int_identity__customer_groups
        union
        select node_key, null as group_key from intermediate.int_identity__customer_id_registry
        where node_key not in (select node_key from intermediate.int_identity__customer_groups)
        """
    )
    con.execute(
        """
        create or replace temp table _erasure_seeds as
        select request_id, 'crm:' || customer_no as node_key
        from _erasure_requests where customer_no is not null
        union
        select request_id, 'email:' || email_normalized as node_key
        from _erasure_requests where email_normalized is not null
        union
        select $list_request as request_id, node_key
        from _known_nodes
        where sha256($salt || '|' || node_key) in (select key_hash from _suppressed)
        """,
        {"salt": salt, "list_request": LIST_REQUEST},
    )
    # The person = the identity group(s) of the seeds; keys no longer in the current graph
    # (only in the registry) stand for themselves.
    con.execute(
        """
        create or replace temp table _erasure_nodes as
        with seed_groups as (
            select distinct seeds.request_id, known.group_key
            from _erasure_seeds as seeds
            inner join _known_nodes as known on known.node_key = seeds.node_key
            where known.group_key is not null
        )
        select distinct seed_groups.request_id, groups.node_key
        from seed_groups
        inner join intermediate.int_identity__customer_groups as groups
            on groups.group_key = seed_groups.group_key
        union
        select seeds.request_id, seeds.node_key
        from _erasure_seeds as seeds
        inner join _known_nodes as known
            on known.node_key = seeds.node_key and known.group_key is null
        """
    )
    # Every id the registry ever gave the person's keys, unless a key of someone else holds it
    # now (a split-off customer keeps its own history).
    con.execute(
        """
        create or replace temp table _erasure_ids as
        select distinct nodes.request_id, registry.customer_id
        from _erasure_nodes as nodes
        inner join intermediate.int_identity__customer_id_registry as registry
            on registry.node_key = nodes.node_key
        where registry.customer_id not in (
            select current.customer_id
            from intermediate.int_identity__node_customers as current
            where current.node_key not in (select node_key from _erasure_nodes)
        )
        """
    )
    # Keys that left the graph but are still registered under an erased id go too.
    con.execute(
        """
        insert into _erasure_nodes
        select distinct ids.request_id, registry.node_key
        from _erasure_ids as ids
        inner join intermediate.int_identity__customer_id_registry as registry
            on registry.customer_id = ids.customer_id
        where registry.node_key not in (
            select node_key from intermediate.int_identity__customer_groups
        )
        and not exists (
            select 1 from _erasure_nodes as known
            where known.request_id = ids.request_id and known.node_key = registry.node_key
        )
        """
    )
    cases = " ".join(
        f"when node_key like '{prefix}:%' then '{column}'" for column, prefix in KEY_COLUMNS.items()
    )
    con.execute(
        f"""
        create or replace temp table _erasure_keys as
        select distinct request_id,
            case {cases} end as key_column,
            substring(node_key, position(':' in node_key) + 1) as key_value
        from _erasure_nodes
        where case {cases} end is not null
        """
    )


# --- applying it -------------------------------------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> dict:
    placeholders = ", ".join("?" for _ in schemas)
    rows = con.execute(
        f"""
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        inner join information_schema.tables as t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema in ({placeholders}) and t.table_type = 'BASE TABLE'
        order by c.table_schema, c.table_name, c.ordinal_position
        """,
        list(schemas),
    ).fetchall()
    tables: dict[tuple[str, str], list[str]] = defaultdict(list)
    for schema, table, column in rows:
        tables[(schema, table)].append(column)
    return tables


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _name(relation: tuple[str, str]) -> str:
    return ".".join(_quote(part) for part in relation)


def _lookups(columns: list[str]) -> list[tuple[str, str]]:
    """(column, select of (request_id, value)) for every identifying column of a table."""
    lookups = [
        (
            column,
            f"select request_id, key_value as value from _erasure_keys "
            f"where key_column = '{column}'",
        )
        for column in columns
        if column in KEY_COLUMNS
    ]
    lookups += [
        (column, "select request_id, node_key as value from _erasure_nodes")
        for column in columns
        if column in NODE_COLUMNS
    ]
    lookups += [
        (column, "select request_id, customer_id as value from _erasure_ids")
        for column in columns
        if column in ID_COLUMNS
    ]
    return lookups


def _found_filter(lookups: list[tuple[str, str]]) -> str:
    return " or ".join(
        f"t.{_quote(column)} in (select value from ({lookup}))" for column, lookup in lookups
    )


def _hit_rows_sql(relation: str, columns: list[str]) -> str | None:
    """Every row of `relation` holding an erased value, whole, with its rowid (`_hit_rowid`);
    None when only the conflict list (`crm_keys`) could name a person: those rows are selected
    by rowid (`_fetch_hit_rows`)."""
    lookups = _lookups(columns)
    if not lookups or "crm_keys" in columns:
        return None
    return f"select t.rowid as _hit_rowid, t.* from {relation} as t where {_found_filter(lookups)}"


def _hits_sql(relation: str, columns: list[str], *, whole_rows: bool = False) -> str | None:
    """(request_id, rid) of the rows of `relation` that belong to an erased person.

    The table is scanned once, whatever number of identifying columns it has: the rows whose
    columns hold any erased value are found first (one filter, each column probed against its
    lookup), and only those few rows are then matched to their requests. A union of one join
    per column scanned a hundred million web events once per column.

    `whole_rows`: the found rows are kept whole, with every column, in the temp table
    `_hit_rows` (`_hit_rowid` = rid), which the caller creates first from
    `_hit_rows_sql(relation, columns)`: the same scan, instead of a second one that selects
    them by rowid."""
    lookups = _lookups(columns)
    parts = []
    if lookups:
        probed = ", ".join(dict.fromkeys(_quote(column) for column, _ in lookups))
        found = _found_filter(lookups)
        parts += [
            f"select l.request_id, c.rid from _candidates as c "
            f"inner join ({lookup}) as l on c.{_quote(column)} = l.value"
            for column, lookup in lookups
        ]
        candidates = (
            f"_candidates as (select _hit_rowid as rid, {probed} from _hit_rows)"
            if whole_rows
            else f"_candidates as materialized (select t.rowid as rid, {probed} "
            f"from {relation} as t where {found})"
        )
    if "crm_keys" in columns:  # the conflict list names CRM keys, ', '-separated
        parts.append(
            f"select n.request_id, t.rowid as rid from {relation} as t "
            "inner join _erasure_nodes as n "
            "on list_contains(string_split(t.crm_keys, ', '), n.node_key)"
        )
    if not parts:
        return None
    union = " union ".join(parts)
    return f"with {candidates} {union}" if lookups else union


def _layer(schema: str, table: str, columns: list[str]) -> str:
    if schema == "staging":
        return "staging_rows"
    if table == "int_identity__customer_id_registry":
        return "registry_rows"
    if schema == "intermediate":
        return "identity_rows"
    return "snapshot_rows" if "snapshot_month" in columns else "mart_rows"


def _apply_to_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Erase the person's rows of one table; returns rows touched and quarantine records
    redacted, per request."""
    relation = _name((schema, table))
    has_events = any(c in columns for c in EVENT_COLUMNS)
    if table.startswith("base_") and not has_events:
        # a person's own source record: everything but its place in the landing file goes
        cleared = [c for c in columns if c not in KEEP_ON_REDACT]
    elif has_events or (schema, table) in ANONYMISED_TABLES:
        # an event or a count of events: it stays, without what identifies the person
        cleared = [
            c
            for c in columns
            if c in KEY_COLUMNS or c in NODE_COLUMNS or c in ID_COLUMNS or c == "quarantine_record"
        ]
    else:
        cleared = []
    rewritten = bool(cleared) or (schema, table) in TOMBSTONED_TABLES
    # Rows that are rewritten are needed whole: they are kept from the scan that finds them
    # (at a million customers the web events' hits and a fetch by rowid took 3.7-5.0 s, one
    # scan keeping every column 3.0 s). Rows that are only deleted need their keys alone.
    hit_rows = _hit_rows_sql(relation, columns) if rewritten else None
    if hit_rows is not None:
        con.execute(f"create or replace temp table _hit_rows as {hit_rows}")
    hits = _hits_sql(relation, columns, whole_rows=hit_rows is not None)
    if hits is None:
        return {}, {}
    con.execute(f"create or replace temp table _hits as {hits}")
    per_request = dict(
        con.execute("select request_id, count(distinct rid) from _hits group by 1").fetchall()
    )
    if not per_request:
        return {}, {}
    quarantined: dict[str, int] = {}
    if not rewritten:
        con.execute(f"delete from {relation} where rowid in (select rid from _hits)")
        return per_request, quarantined
    if hit_rows is None:
        _fetch_hit_rows(con, relation)
    if (schema, table) in TOMBSTONED_TABLES:
        _rewrite_hit_rows(
            con,
            relation,
            columns,
            {"customer_id": "coalesce(tomb.tombstone, t.customer_id)"},
            join="left join _tombstones as tomb on tomb.customer_id = t.customer_id",
        )
        return per_request, quarantined
    if "quarantine_record" in columns:
        quarantined = _redact_quarantine(con)
    redacted_record = (
        f"case when t.quarantine_record is null then null else '{REDACTED_RECORD}' end"
    )
    web_memory = (schema, table) == WEB_COUNTS and _hand_web_changes_to_next_build(con)
    _rewrite_hit_rows(
        con,
        relation,
        columns,
        {c: redacted_record if c == "quarantine_record" else "null" for c in cleared},
    )
    if web_memory:
        _renew_web_fingerprints(con)
    return per_request, quarantined


def _fetch_hit_rows(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """`_hit_rows`: the `_hits` rows of `relation`, whole, with their rowid (`_hit_rowid`),
    for a rewritten table whose rows `_hit_rows_sql` cannot keep from the scan that finds them
    (a conflict list names the person).

    Fetched once for everything that reads them - the quarantine redaction, the web hand-over
    and the rewrite: a selection by rowid reads every column of every row (DuckDB pushes no
    rowid filter into the scan; 2.6-6.4 s for the 103M web events at a million customers), and
    each of those used to select the rows again."""
    con.execute(
        f"create or replace temp table _hit_rows as select t.rowid as _hit_rowid, t.* "
        f"from {relation} as t where t.rowid in (select rid from _hits)"
    )


def _fingerprints_sql(con: duckdb.DuckDBPyConnection, rows: str) -> str:
    """The day fingerprint view's own definition (int_web__daily_activity_fingerprints, a dbt
    model), applied to the count rows in `rows` instead of the whole counts table. Its
    fingerprint is a plain sum of row hashes, so a day's fingerprint after the erasure is the
    one before minus the hit rows' before plus their after: only the few hit rows are hashed,
    not the ~36M counts (twice) at a million customers."""
    found = con.execute(
        "select sql from duckdb_views() where schema_name = ? and view_name = ?",
        list(WEB_FINGERPRINTS),
    ).fetchall()
    body = re.sub(r"^\s*create\s+view\s+.+?\s+as\s+", "", found[0][0], count=1, flags=re.I | re.S)
    schema, table = WEB_COUNTS
    counts = rf'(?:"?\w+"?\.)?"?{schema}"?\."?{table}"?(?!\w)'
    body, replaced = re.subn(counts, rows, body.rstrip().rstrip(";"), flags=re.I)
    if replaced != 1:
        raise RuntimeError(
            f"{_name(WEB_FINGERPRINTS)} reads {_name(WEB_COUNTS)} {replaced} times, not once: "
            "the erasure cannot renew fct_web_activity's day fingerprints from it"
        )
    return body


def _hand_web_changes_to_next_build(con: duckdb.DuckDBPyConnection) -> bool:
    """Before the web counts in `_hit_rows` are anonymised: keep what they add to their days'
    fingerprints now, and list for fct_web_activity's next build what the nulling moves - the
    counts' days (their anonymous rows) and every customer either key of a count had when the
    mart was built (a superset of the customer it was counted for; the erased ones' rows are
    nulled in the mart already and go with the anonymous days). False when the mart has no
    memory yet: its next build is a full one."""
    if not all(
        table_exists(con, *relation)
        for relation in (WEB_FINGERPRINTS, WEB_BUILT_DAYS, WEB_BUILT_KEYS)
    ):
        return False
    con.execute(
        "create or replace temp table _web_hit_days_before as "
        + _fingerprints_sql(con, "_hit_rows")
    )
    con.execute(
        f"create table if not exists {_name(WEB_ERASED_CHANGES)} "
        "(change varchar, activity_date date, customer_id varchar)"
    )
    keys = _name(WEB_BUILT_KEYS)
    con.execute(
        f"""
        insert into {_name(WEB_ERASED_CHANGES)}
        with customers as (
            select keys.customer_id from _hit_rows as hit_counts
            inner join {keys} as keys on keys.node_key = 'account:' || hit_counts.shop_account_id
            union
            select keys.customer_id from _hit_rows as hit_counts
            inner join {keys} as keys on keys.node_key = 'email:' || hit_counts.email_normalized
        )
        select distinct 'anonymous_day', activity_date, null from _hit_rows
        union
        select 'customer', null, customer_id from customers
        where customer_id not in (select customer_id from _erasure_ids)
        except
        select change, activity_date, customer_id from {_name(WEB_ERASED_CHANGES)}
        """
    )
    return True


def _renew_web_fingerprints(con: duckdb.DuckDBPyConnection) -> None:
    """After the web counts are anonymised (`_rewritten_rows`): the mart's remembered day
    fingerprints move by what the anonymisation changed. A day remembered in step with its
    counts stays in step, and the next build does not rebuild it whole; a day out of step stays
    out of step (the sums are exact HUGEINTs: remembered + change equals the new fingerprint
    exactly when remembered equalled the old one), and is rebuilt, as it would have been."""
    con.execute(
        "create or replace temp table _web_hit_days_after as "
        + _fingerprints_sql(con, "_rewritten_rows")
    )
    con.execute(
        f"""
        update {_name(WEB_BUILT_DAYS)} as built
        set key_rows = built.key_rows + after.key_rows - before.key_rows,
            events = built.events + after.events - before.events,
            fingerprint = built.fingerprint + after.fingerprint - before.fingerprint
        from _web_hit_days_before as before, _web_hit_days_after as after
        where built.activity_date = before.activity_date
            and after.activity_date = before.activity_date
        """
    )


def _rewrite_hit_rows(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[str],
    replaced: dict[str, str],
    join: str = "",
) -> None:
    """Replace the rows of `relation` in `_hit_rows` by copies with the `replaced` column
    expressions (over `t`, the old row), kept as `_rewritten_rows` and appended, then delete
    the old rows. The same as an UPDATE, but an UPDATE of a few thousand rows scattered over a
    hundred million makes DuckDB's checkpoint rewrite the updated columns of every row group
    (31 s at a million customers), while an append and a delete leave the existing row groups
    as they are."""
    quoted = ", ".join(_quote(c) for c in columns)
    values = ", ".join(f"{replaced.get(c, f't.{_quote(c)}')} as {_quote(c)}" for c in columns)
    con.execute(
        f"create or replace temp table _rewritten_rows as "
        f"select {values} from _hit_rows as t {join}"
    )
    con.execute(f"insert into {relation} ({quoted}) select {quoted} from _rewritten_rows")
    con.execute(f"delete from {relation} where rowid in (select _hit_rowid from _hit_rows)")


def _redact_quarantine(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The published quarantine keeps the row (counts reconcile) but not its record."""
    if not table_exists(con, "audit", "quarantine"):
        return {}
    counts = dict(
        con.execute(
            """
            select h.request_id, count(distinct h.rid) from _hits as h
            inner join _hit_rows as t on t._hit_rowid = h.rid
            where t.quarantine_reason is not null
            group by 1
            """
        ).fetchall()
    )
    con.execute(
        f"""
        update audit.quarantine as q set record = '{REDACTED_RECORD}'
        from (
            select source_table, source_file, source_line from _hit_rows
            where quarantine_reason is not null
        ) as hit
        where q.source_table = hit.source_table and q.source_file = hit.source_file
            and q.source_line = hit.source_line
        """
    )
    return counts


def _export_hashes(con: duckdb.DuckDBPyConnection) -> tuple[set[str], set[str]]:
    """Customer Match hashes of the erased persons' e-mails and phones (before they go)."""
    emails = {
        hashed_email(value)
        for (value,) in con.execute(
            "select key_value from _erasure_keys where key_column = 'email_normalized'"
        ).fetchall()
    }
    phones: set[str] = set()
    if table_exists(con, "staging", "stg_crm__customers"):
        for email, phone, country in con.execute(
            """
            select crm.email_normalized, crm.phone, crm.country
            from staging.stg_crm__customers as crm
            inner join _erasure_keys as k
                on k.key_column = 'customer_no' and k.key_value = crm.customer_no
            """
        ).fetchall():
            emails.add(hashed_email(email))
            phones.add(hashed_phone(phone, country))
    emails.discard("")
    phones.discard("")
    return emails, phones


def scrub_exports(
    exports_dir: Path, customer_ids: set[str], email_hashes: set[str], phone_hashes: set[str]
) -> int:
    """Remove the erased persons' rows from every export file; returns rows removed.

    Every export of every month is read on every run (a person erased today is in last
    year's files too), so the files are read by polars, all columns as text; only a file that
    loses rows is written again."""
    if not exports_dir.exists():
        return 0
    erased = {
        "customer_id": list(customer_ids),
        "Email": list(email_hashes),
        "Phone": list(phone_hashes),
    }
    removed = 0
    for path in sorted(exports_dir.glob("*/*.csv")):
        try:
            # empty fields stay empty strings, as they were written (a null would not match)
            rows = pl.read_csv(path, infer_schema=False).fill_null("")
        except pl.exceptions.NoDataError:  # an empty file holds nobody
            continue
        hits = [
            pl.col(column).is_in(values)
            for column, values in erased.items()
            if values and column in rows.columns
        ]
        if not hits:
            continue
        kept = rows.filter(~pl.any_horizontal(hits))
        if kept.height == rows.height:
            continue
        removed += rows.height - kept.height
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # as the exports were
        with os.fdopen(fd, "wb") as handle:
            kept.write_csv(handle, line_terminator="\r\n")  # as csv.writer wrote it
        os.replace(tmp, path)
    return removed


def _previous_log_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, "audit", "erasure_log"):
        return set()
    rows = con.execute(f"select distinct erasure_request_hash from {ERASURE_LOG_TABLE}").fetchall()
    return {r[0] for r in rows}


def apply_erasure(
    con: duckdb.DuckDBPyConnection, store: SuppressionStore, exports_dir: Path
) -> ErasureOutcome:
    """Erase every requested (or previously erased) person from the build database behind
    `con`, from the exports under `exports_dir`, and log it in `audit.erasure_log`."""
    if not table_exists(con, "intermediate", "int_identity__customer_groups"):
        return ErasureOutcome()  # no unification yet: nothing to erase from
    salt = store.salt
    _plan(con, salt, store.hashes())
    outcome = ErasureOutcome(
        requests=con.execute("select count(*) from _erasure_requests").fetchall()[0][0],
        identity_keys=con.execute("select count(distinct node_key) from _erasure_nodes").fetchall()[
            0
        ][0],
        customers=con.execute("select count(distinct customer_id) from _erasure_ids").fetchall()[0][
            0
        ],
    )
    email_hashes, phone_hashes = _export_hashes(con)
    # The list first: should the run die below, the next one still knows whom to erase.
    new_hashes = con.sql(
        "select distinct sha256($salt || '|' || node_key) as key_hash from _erasure_nodes",
        params={"salt": salt},
    ).pl()
    outcome.new_suppressed_keys = store.add(new_hashes)

    per_request: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LAYERS, 0))
    con.execute(
        """
        create or replace temp table _tombstones as
        select customer_id,
            'erased_' || substring(replace(cast(gen_random_uuid() as varchar), '-', ''), 1, 16)
                as tombstone
        from (select distinct customer_id from _erasure_ids)
        """
    )
    con.execute("begin transaction")
    try:
        for (schema, table), columns in _columns(con, SCANNED_SCHEMAS).items():
            layer = _layer(schema, table, columns)
            started = time.perf_counter()
            touched, quarantined = _apply_to_table(con, schema, table, columns)
            outcome.table_seconds[f"{schema}.{table}"] = time.perf_counter() - started
            for request_id, rows in touched.items():
                per_request[request_id][layer] += rows
            for request_id, rows in quarantined.items():
                per_request[request_id]["quarantine_rows"] += rows
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise

    erased_ids = {
        r[0] for r in con.execute("select distinct customer_id from _erasure_ids").fetchall()
    }
    export_rows = scrub_exports(exports_dir, erased_ids, email_hashes, phone_hashes)

    outcome.log = _log_rows(con, salt, per_request, export_rows)
    _append_log(con, outcome.log)
    for layer in LAYERS:
        outcome.rows[layer] = sum(counts[layer] for counts in per_request.values())
    outcome.rows["export_rows"] = export_rows
    return outcome


def _log_rows(
    con: duckdb.DuckDBPyConnection,
    salt: str,
    per_request: dict[str, dict[str, int]],
    export_rows: int,
) -> pl.DataFrame:
    erased_at = datetime.now(UTC).replace(tzinfo=None)
    previous = _previous_log_hashes(con)
    requests = con.execute(
        """
        select r.request_id, min(r.requested_at),
            (select count(distinct node_key) from _erasure_nodes as n
             where n.request_id = r.request_id),
            (select count(distinct customer_id) from _erasure_ids as i
             where i.request_id = r.request_id)
        from (
            select request_id, requested_at from _erasure_requests
            union all
            select distinct request_id, null from _erasure_nodes where request_id = $list_request
        ) as r
        group by r.request_id
        order by r.request_id
        """,
        {"list_request": LIST_REQUEST},
    ).fetchall()
    rows = []
    for index, (request_id, requested_at, keys, customers) in enumerate(requests):
        counts = per_request.get(request_id, dict.fromkeys(LAYERS, 0))
        request_hash = (
            LIST_REQUEST
            if request_id == LIST_REQUEST
            else con.execute("select sha256($v)", {"v": f"{salt}|request|{request_id}"}).fetchall()[
                0
            ][0]
        )
        first = request_hash not in previous
        removed = sum(counts.values())
        if not first and removed == 0:
            continue  # nothing came back since the last application
        rows.append(
            {
                "erasure_request_hash": request_hash,
                "requested_at": requested_at,
                "erased_at": erased_at,
                "application": "first" if first else "repeat",
                "identity_keys": keys,
                "customers": customers,
                **counts,
                # exports are scrubbed for all requests at once; attributed to the first row
                "export_rows": export_rows if index == 0 else 0,
            }
        )
    return pl.DataFrame(rows, schema=LOG_SCHEMA)


def _append_log(con: duckdb.DuckDBPyConnection, log: pl.DataFrame) -> None:
    con.execute("create schema if not exists audit")
    con.register("_log_frame", log)
    try:
        con.execute(
            f"create table if not exists {ERASURE_LOG_TABLE} as select * from _log_frame limit 0"
        )
        if log.height:
            con.execute(f"insert into {ERASURE_LOG_TABLE} by name select * from _log_frame")
    finally:
        con.unregister("_log_frame")

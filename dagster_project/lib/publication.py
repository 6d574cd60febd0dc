"""Atomic publication of the build database to the file BI tools open.

BI tools hold long-lived read-only connections to `$DUCKDB_PATH`; DuckDB would refuse a writer
while they do. So the published file holds only *views* over Parquet files, and a publication
never writes to it in the normal case:

1. every table of the published schemas is copied to `<published>/versions/<id>.tmp/`, which
   is renamed to `<published>/versions/<id>/` once complete;
2. the symlink `<published>/current` is replaced atomically to point at the new version, so a
   reader sees the complete old state or the complete new one, without reconnecting;
3. only when the set of tables or their columns change is `$DUCKDB_PATH` rebuilt: as a new file
   that `os.replace` puts over the old one (readers pick it up when they reconnect).

A run killed at any point leaves `current` pointing at a complete version; leftovers of the
interrupted publication (`*.tmp`) are removed by the next one.

Erasure: every version records the erasure generation it was built under (the size of the
suppression list). Once a person has been erased, every older version still holds them, so a
publication under a newer generation deletes all versions but the new one right after the
switch; readers in the middle of a query keep their open files (POSIX), their next query reads
the new version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "audit")
# A published column with one of these names would carry direct personal data.
PERSONAL_COLUMN_NAMES = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "full_name",
        "email",
        "email_normalized",
        "phone",
        "street",
        "address",
        "birth_date",
        "date_of_birth",
    }
)
VERSIONS_KEPT = 3
# A version that predates an erasure is deleted right after the switch, but not before the
# queries that began on it had time to finish: a reader saw "TProtocolException: Invalid data"
# once (loaded machine) when the files of its running query went away.
STALE_VERSION_GRACE_S = 3.0
ERASURE_GENERATION_FILE = "_erasure_generation"


class PublicationRefused(RuntimeError):
    pass


def _ident(name: str) -> str:
    """A quoted SQL identifier (table names come from the build database, not from us)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    """A path as an SQL string literal: `$DUCKDB_PATH` may contain any character."""
    return "'" + path.as_posix().replace("'", "''") + "'"


@dataclass(frozen=True)
class PublicationResult:
    version: str
    version_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    rebuilt_views: bool = False
    removed_versions: tuple[str, ...] = ()


def _list_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[tuple[str, str]]]]:
    placeholders = ", ".join("?" for _ in PUBLISHED_SCHEMAS)
    rows = con.execute(
        f"""
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_schema in ({placeholders})
        order by table_schema, table_name, ordinal_position
        """,
        list(PUBLISHED_SCHEMAS),
    ).fetchall()
    tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, dtype in rows:
        tables.setdefault((schema, table), []).append((column, dtype))
    return [(schema, table, cols) for (schema, table), cols in tables.items()]


def _check_no_personal_columns(tables: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
    offending = [
        f"{schema}.{table}.{column}"
        for schema, table, cols in tables
        for column, _ in cols
        if column.lower() in PERSONAL_COLUMN_NAMES
    ]
    if offending:
        raise PublicationRefused(
            "refusing to publish personal data columns: " + ", ".join(sorted(offending))
        )


def _layout_signature(tables: list[tuple[str, str, list[tuple[str, str]]]], root: Path) -> str:
    payload = json.dumps({"root": str(root), "tables": tables}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def erasure_generation_of(version_dir: Path) -> int:
    """The erasure generation a version was published under (0: before any erasure)."""
    marker = version_dir / ERASURE_GENERATION_FILE
    try:
        return int(marker.read_text().strip())
    except (FileNotFoundError, ValueError):
        return 0


def _remove_leftovers(
    versions_dir: Path, published_dir: Path, keep: str, erasure_generation: int
) -> tuple[str, ...]:
    """Remove interrupted publications, versions beyond the last few, and every version that
    predates an erasure (it still holds the erased persons); returns the stale ones removed."""
    for tmp in published_dir.glob("current.tmp-*"):
        tmp.unlink(missing_ok=True)
    versions = sorted(p for p in versions_dir.iterdir() if p.is_dir())
    for tmp in (p for p in versions if p.name.endswith(".tmp")):
        shutil.rmtree(tmp, ignore_errors=True)
    complete = [p for p in versions if not p.name.endswith(".tmp") and p.name != keep]
    stale = [p for p in complete if erasure_generation_of(p) != erasure_generation]
    if stale:
        time.sleep(STALE_VERSION_GRACE_S)
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
    for old in [p for p in complete if p not in stale][: -(VERSIONS_KEPT - 1) or None]:
        shutil.rmtree(old, ignore_errors=True)
    return tuple(p.name for p in stale)


def _write_view_file(duckdb_path: Path, current: Path, tables, signature: str) -> None:
    tmp_path = duckdb_path.with_name(f".{duckdb_path.name}.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect(str(tmp_path))
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {_ident(schema)}")
        for schema, table, _ in tables:
            parquet = _literal(current / schema / f"{table}.parquet")
            con.execute(
                f"create view {_ident(schema)}.{_ident(table)} as "
                f"select * from read_parquet({parquet})"
            )
        con.execute(
            "create view audit.publication as select * from read_parquet("
            f"{_literal(current / '_publication.parquet')})"
        )
        # The layout signature tells the next publication whether this file still fits.
        con.execute(f"comment on view audit.publication is 'segmentwerk layout {signature}'")
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp_path, duckdb_path)


def _current_signature(duckdb_path: Path) -> str | None:
    if not duckdb_path.exists():
        return None
    try:
        con = duckdb.connect(str(duckdb_path), read_only=True)
    except duckdb.Error:
        return None  # unreadable or held by an incompatible process: rebuild
    try:
        rows = con.execute(
            "select comment from duckdb_views() "
            "where schema_name = 'audit' and view_name = 'publication'"
        ).fetchall()
    finally:
        con.close()
    comment = rows[0][0] if rows else None
    prefix = "segmentwerk layout "
    return comment[len(prefix) :] if comment and comment.startswith(prefix) else None


def publish_warehouse(
    build_db: Path, duckdb_path: Path, published_dir: Path, *, erasure_generation: int = 0
) -> PublicationResult:
    """Copy the published schemas of `build_db` to a new Parquet version and switch to it.

    `erasure_generation` (see `erasure_generation_of`) makes older versions stale when it grew.
    """
    versions_dir = published_dir / "versions"
    versions_dir.mkdir(parents=True, exist_ok=True)
    published_at = datetime.now(UTC)
    version = f"{published_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    staging_dir = versions_dir / f"{version}.tmp"

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        tables = _list_tables(con)
        _check_no_personal_columns(tables)
        row_counts: dict[str, int] = {}
        for schema, table, _ in tables:
            (staging_dir / schema).mkdir(parents=True, exist_ok=True)
            target = _literal(staging_dir / schema / f"{table}.parquet")
            relation = f"{_ident(schema)}.{_ident(table)}"
            con.execute(f"copy {relation} to {target} (format parquet)")
            row_counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from {relation}"
            ).fetchall()[0][0]
        log = [
            (version, published_at.replace(tzinfo=None), name, n) for name, n in row_counts.items()
        ]
        con.execute(
            "create temp table _publication(version varchar, published_at timestamp, "
            "table_name varchar, row_count bigint)"
        )
        if log:
            con.executemany("insert into _publication values (?, ?, ?, ?)", log)
        con.execute(
            f"copy _publication to {_literal(staging_dir / '_publication.parquet')} "
            "(format parquet)"
        )
    finally:
        con.close()
    (staging_dir / ERASURE_GENERATION_FILE).write_text(str(erasure_generation))

    version_dir = versions_dir / version
    os.replace(staging_dir, version_dir)

    current = published_dir / "current"
    link_tmp = published_dir / f"current.tmp-{uuid.uuid4().hex}"
    link_tmp.symlink_to(Path("versions") / version, target_is_directory=True)
    os.replace(link_tmp, current)

    signature = _layout_signature(tables, current)
    rebuilt = _current_signature(duckdb_path) != signature
    if rebuilt:
        _write_view_file(duckdb_path, current, tables, signature)

    removed = _remove_leftovers(versions_dir, published_dir, version, erasure_generation)
    return PublicationResult(version, version_dir, row_counts, rebuilt, removed)

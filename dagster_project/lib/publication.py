"""Atomic publication of the build database to the file BI tools open.

BI tools hold long-lived read-only connections to `$DUCKDB_PATH`; DuckDB would refuse a writer
while they do. So the published file holds only *views* over Parquet files, and a publication
never writes to it in the normal case. Layout of `<published>/`:

    versions/version=<key>/<schema>/<table>.parquet   one complete, immutable copy per version
    versions/version=<key>/_publication.parquet       what was published, when
    markers/<key>@<visible_from_ms>                    an empty file: the version is committed

1. every table of the published schemas is copied to `staging/<key>/`, which is renamed to
   `versions/version=<key>/` once complete;
2. the marker is created: the version becomes current at `visible_from_ms`, a moment later;
3. only when the set of tables or their columns change is `$DUCKDB_PATH` rebuilt: as a new file
   that `os.replace` puts over the old one (readers pick it up when they reconnect).

Every view reads `versions/version=*/<schema>/<table>.parquet` and keeps the rows of the
current version: the committed marker with the smallest key whose `visible_from_ms` has passed
at the start of the reader's transaction (`now()`). Why so, and not a `current` symlink:

- A file a query reads never changes under its path. DuckDB opens a Parquet file by path more
  than once per query (metadata at bind, then again per scanning thread); behind a symlink that
  was switched in between, it read the new bytes with the old metadata ("TProtocolException:
  Invalid data") or mixed two versions.
- All views of one query pick the same version: `now()` is the same for the whole transaction,
  and a version's files and marker exist before its `visible_from_ms` (which is why it lies in
  the future when the marker is written). The join on the file name prunes the other
  versions' files before they are opened, so old versions cost a directory listing, not a read.
- Keys count *down* (`999999999998`, `...97`, ...), so the newest version sorts first and is
  the file DuckDB opens at bind time to learn the schema; an old version can be deleted while a
  query is in flight without that query ever opening it.

A run killed at any point leaves the last committed version current; leftovers of the
interrupted publication (staging, a version without marker) are removed by the next one.

Erasure: every version records the erasure generation it was built under (the size of the
suppression list). Once a person has been erased, every older version still holds them, so a
publication under a newer generation deletes all versions but the new one, a few seconds after
the switch (queries that started on the old version finish first).
"""

from __future__ import annotations

import contextlib
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
# Bumped when the layout of `<published>/` changes: the view file is then rebuilt.
LAYOUT_FORMAT = 2
VERSIONS_KEPT = 3
# A new version becomes current this long after its marker is written; it only has to cover
# the moment between computing the time and creating the marker (see the module docstring).
VISIBILITY_DELAY_S = 0.5
# Versions that predate an erasure are deleted this long after the switch, so that queries
# which began on them can finish.
STALE_VERSION_GRACE_S = 3.0
ERASURE_GENERATION_FILE = "_erasure_generation"
PUBLICATION_LOG_FILE = "_publication.parquet"
_KEY_BASE = 10**12 - 1  # keys count down from here; 12 digits sort as text
_VERSION_PREFIX = "version="
FILE_COLUMN = "_segmentwerk_file"


class PublicationRefused(RuntimeError):
    pass


def _ident(name: str) -> str:
    """A quoted SQL identifier (table names come from the build database, not from us)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path | str) -> str:
    """A path as an SQL string literal: `$DUCKDB_PATH` may contain any character."""
    text = path.as_posix() if isinstance(path, Path) else path
    return "'" + text.replace("'", "''") + "'"


def _glob_escaped(path: Path) -> str:
    """`path` for use inside a DuckDB glob pattern: `*?[]` in a folder name are literal."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in path.as_posix())


@dataclass(frozen=True)
class PublicationResult:
    version: str
    version_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    rebuilt_views: bool = False
    removed_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedVersion:
    key: str
    directory: Path
    visible_from_ms: int | None  # None: never committed (a publication was interrupted)

    @property
    def sequence(self) -> int:
        return _KEY_BASE - int(self.key)

    @property
    def version(self) -> str:
        """The human-readable id of `audit.publication.version`."""
        try:
            return (self.directory / "_version").read_text().strip()
        except FileNotFoundError:
            return self.key


def published_versions(published_dir: Path) -> list[PublishedVersion]:
    """The versions on disk, oldest first (committed or not)."""
    markers: dict[str, int] = {}
    for marker in (published_dir / "markers").glob("*@*"):
        key, _, visible = marker.name.partition("@")
        if visible.isdigit():
            markers[key] = int(visible)
    versions = []
    for directory in (published_dir / "versions").glob(f"{_VERSION_PREFIX}*"):
        key = directory.name.removeprefix(_VERSION_PREFIX)
        if key.isdigit() and directory.is_dir():
            versions.append(PublishedVersion(key, directory, markers.get(key)))
    return sorted(versions, key=lambda v: v.sequence)


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
    payload = json.dumps(
        {"format": LAYOUT_FORMAT, "root": str(root), "tables": tables}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def erasure_generation_of(version_dir: Path) -> int:
    """The erasure generation a version was published under (0: before any erasure)."""
    marker = version_dir / ERASURE_GENERATION_FILE
    try:
        return int(marker.read_text().strip())
    except (FileNotFoundError, ValueError):
        return 0


def _delete_version(published_dir: Path, version: PublishedVersion) -> None:
    """Uncommit first (no new query picks it), then move it out of the views' glob at once."""
    if version.visible_from_ms is not None:
        marker = published_dir / "markers" / f"{version.key}@{version.visible_from_ms}"
        marker.unlink(missing_ok=True)
    trash = published_dir / "trash" / f"{version.key}-{uuid.uuid4().hex[:6]}"
    trash.parent.mkdir(exist_ok=True)
    try:
        os.replace(version.directory, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _remove_interrupted(published_dir: Path) -> None:
    """What a killed publication leaves: staging copies, a version never committed, trash, and
    the symlink layout of LAYOUT_FORMAT 1 (its view file is rebuilt by this publication)."""
    for leftover in ("staging", "trash"):
        shutil.rmtree(published_dir / leftover, ignore_errors=True)
    for version in published_versions(published_dir):
        if version.visible_from_ms is None:
            shutil.rmtree(version.directory, ignore_errors=True)
    for marker in (published_dir / "markers").glob("*"):
        key = marker.name.partition("@")[0]
        if not (published_dir / "versions" / f"{_VERSION_PREFIX}{key}").is_dir():
            marker.unlink(missing_ok=True)


def _remove_format_1(published_dir: Path) -> None:
    for link in [published_dir / "current", *published_dir.glob("current.tmp-*")]:
        if link.is_symlink():
            link.unlink()
    versions_dir = published_dir / "versions"
    for old in versions_dir.iterdir() if versions_dir.is_dir() else ():
        if not old.name.startswith(_VERSION_PREFIX):
            shutil.rmtree(old, ignore_errors=True)


def _remove_old_versions(
    published_dir: Path, keep: PublishedVersion, erasure_generation: int
) -> tuple[str, ...]:
    """Delete every version that predates an erasure (it still holds the erased persons) and
    versions beyond the last few; returns the stale ones removed."""
    older = [v for v in published_versions(published_dir) if v.sequence < keep.sequence]
    stale = [v for v in older if erasure_generation_of(v.directory) != erasure_generation]
    stale_names = tuple(v.version for v in stale)  # read before the folders go
    if stale:
        time.sleep(STALE_VERSION_GRACE_S)
    for version in stale:
        _delete_version(published_dir, version)
    rolling = [v for v in older if v not in stale]
    for version in rolling[: max(len(rolling) - (VERSIONS_KEPT - 1), 0)]:
        _delete_version(published_dir, version)
    return stale_names


def _current_version_sql(published_dir: Path) -> str:
    markers = _literal(_glob_escaped(published_dir / "markers") + "/*@*")
    return f"""
        select min(split_part(marker, '@', 1)) as version_key
        from (select parse_filename(file) as marker from glob({markers}))
        where try_cast(split_part(marker, '@', 2) as bigint) <= epoch_ms(now())
    """


def _version_view_sql(published_dir: Path, relative_file: str) -> str:
    """Rows of the current version of `versions/version=*/<relative_file>`."""
    versions = published_dir / "versions"
    files = _literal(
        f"{_glob_escaped(versions)}/{_VERSION_PREFIX}*/{_glob_escaped(Path(relative_file))}"
    )
    prefix = _literal(f"{versions.as_posix()}/{_VERSION_PREFIX}")
    suffix = _literal(f"/{relative_file}")
    # The pointer comes first in FROM so that it is bound before the data files are listed:
    # every version it can choose is then in the list. The join on the file name prunes the
    # other versions before they are opened (hive partitioning would do the same, but would
    # also turn any `key=value` folder above the warehouse into a column).
    return f"""
        select data.* exclude ({FILE_COLUMN})
        from audit.current_version as pointer,
            read_parquet({files}, filename = '{FILE_COLUMN}', hive_partitioning = false) as data
        where data.{FILE_COLUMN} = {prefix} || pointer.version_key || {suffix}
    """


def _write_view_file(duckdb_path: Path, published_dir: Path, tables, signature: str) -> None:
    tmp_path = duckdb_path.with_name(f".{duckdb_path.name}.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect(str(tmp_path))
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {_ident(schema)}")
        con.execute(f"create view audit.current_version as {_current_version_sql(published_dir)}")
        for schema, table, _ in tables:
            file = f"{schema}/{table}.parquet"
            con.execute(
                f"create view {_ident(schema)}.{_ident(table)} as "
                f"{_version_view_sql(published_dir, file)}"
            )
        con.execute(
            "create view audit.publication as "
            f"{_version_view_sql(published_dir, PUBLICATION_LOG_FILE)}"
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
    Returns once the new version is what every new query sees.
    """
    published_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("versions", "markers"):
        (published_dir / sub).mkdir(exist_ok=True)
    _remove_interrupted(published_dir)
    existing = published_versions(published_dir)
    sequence = max((v.sequence for v in existing), default=0) + 1
    key = f"{_KEY_BASE - sequence:012d}"
    published_at = datetime.now(UTC)
    version = f"{published_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    staging_dir = published_dir / "staging" / key

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        # A published table is a set: no reader may rely on its row order (the views filter by
        # version, BI tools sort what they show). Not keeping the build's order lets DuckDB
        # encode the Parquet row groups in parallel: at a million customers fct_web_activity's
        # copy went 9.8-16.4 s -> 7.9-8.5 s and customer_scores' 7.3-8.3 s -> 5.1-5.5 s.
        con.execute("set preserve_insertion_order = false")
        tables = _list_tables(con)
        _check_no_personal_columns(tables)
        row_counts: dict[str, int] = {}
        for schema, table, _ in tables:
            (staging_dir / schema).mkdir(parents=True, exist_ok=True)
            target = _literal(staging_dir / schema / f"{table}.parquet")
            relation = f"{_ident(schema)}.{_ident(table)}"
            # COPY returns the rows it wrote: counting again would run a view a second time
            # (the identity map, 15M rows at a million customers).
            (written,) = con.execute(f"copy {relation} to {target} (format parquet)").fetchall()
            row_counts[f"{schema}.{table}"] = written[0]
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
            f"copy _publication to {_literal(staging_dir / PUBLICATION_LOG_FILE)} (format parquet)"
        )
    finally:
        con.close()
    (staging_dir / ERASURE_GENERATION_FILE).write_text(str(erasure_generation))
    (staging_dir / "_version").write_text(version)

    version_dir = published_dir / "versions" / f"{_VERSION_PREFIX}{key}"
    os.replace(staging_dir, version_dir)

    signature = _layout_signature(tables, published_dir)
    rebuilt = _current_signature(duckdb_path) != signature
    if rebuilt:
        _write_view_file(duckdb_path, published_dir, tables, signature)
        _remove_format_1(published_dir)

    visible_from_ms = int((time.time() + VISIBILITY_DELAY_S) * 1000)
    (published_dir / "markers" / f"{key}@{visible_from_ms}").touch()
    time.sleep(max(visible_from_ms / 1000 - time.time(), 0) + 0.01)

    new = PublishedVersion(key, version_dir, visible_from_ms)
    removed = _remove_old_versions(published_dir, new, erasure_generation)
    for scratch in ("staging", "trash"):
        # absent, or not empty: a leftover the next publication removes
        with contextlib.suppress(OSError):
            (published_dir / scratch).rmdir()
    return PublicationResult(version, version_dir, row_counts, rebuilt, removed)

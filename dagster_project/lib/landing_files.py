"""The landing preflight: inspect every landing file before dbt reads it.

dbt reads the landing zone with DuckDB's `read_csv` / `read_parquet`; one unreadable file in a
glob would fail the whole build, and a malformed CSV line would either fail it or silently
disappear. So before `dbt build` every file `$LANDING_DIR/<table>/*.csv|*.parquet` is inspected
here (an in-memory DuckDB connection does the parsing) and classified:

- `ok`: dbt reads the file in place with exactly the options recorded here;
- `repaired`: some lines cannot be records (bad quoting, too many or too few fields, invalid
  UTF-8, longer than `MAX_LINE_BYTES`). They are listed with their physical line and a reason,
  and the good records go to a clean UTF-8 copy beside the build database (column
  `_source_line` keeps their original line), which dbt reads instead;
- `unreadable`: empty, no header, required columns missing, duplicate header names, corrupt
  Parquet. Not read at all; dbt quarantines the file as one record with the reason.

The result goes to two tables in the build database, schema `landing_preflight`
(`landing_files`, `landing_rejects`), which `read_landing` reads. They double as a cache: a file
whose (size, mtime) did not change since the last preflight is not inspected again, also when
the landing folder was moved (the cache is keyed by the file's place inside it).

Decisions (see dbt/README.md, "Landing zone"):
- The delimiter is the first of `, ; TAB |` that splits the header into names that contain
  every required column; anything but a comma is noted. A header without the required columns
  in any of these splits is unreadable.
- A file that is not valid UTF-8 and contains no UTF-8 multi-byte sequence at all is a Latin-1
  export: read as Latin-1, with a note. A UTF-8 file with some invalid bytes keeps UTF-8 and
  only the lines with invalid bytes are quarantined.
- Rejected lines never carry personal data into the quarantine: a line that still splits into
  the header's number of fields becomes a JSON object with the personal columns masked; one
  that does not becomes its shape (letters `x`, digits `9`, other characters kept) for tables
  with personal columns, or the line itself for tables without. E-mail-like tokens are masked
  everywhere, long values cut.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from dagster_project.lib.landing_contract import (
    LANDING_TABLES,
    PERSONAL_COLUMNS,
    landing_files,
)

PREFLIGHT_SCHEMA = "landing_preflight"
# Bump when the inspection rules change: cached results of an older version are redone.
PREFLIGHT_VERSION = 1
# The longest record (in bytes) DuckDB and the repair accept; dbt reads with the same limit.
MAX_LINE_BYTES = 2_097_152
# A quoted field may span lines; an opening quote not closed within this many lines is broken.
MAX_RECORD_LINES = 100
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Names the readers add themselves; a file column of that name is renamed (it is an extra).
_RESERVED_NAMES = frozenset(
    {"filename", "ordinality", "file_row_number", "source_line", "_source_line"}
)
_EMAIL_LIKE = re.compile(r"[^\s@,;|\"']+@[^\s@,;|\"']+")
# A valid UTF-8 multi-byte sequence: its presence means the file is UTF-8 (with some damage).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
MAX_VALUE_CHARS = 200
MAX_LINE_CHARS = 1000
REPAIRED_LINE_COLUMN = "_source_line"


@dataclass(frozen=True)
class RejectedLine:
    source_line: int
    reason: str
    record: str  # JSON text, personal data masked


@dataclass(frozen=True)
class FileInspection:
    source_table: str
    source_file: str  # relative to the landing dir, posix: shop_orders/shop_orders_2025-01.csv
    path: str  # the landing file
    size_bytes: int
    mtime_ns: int
    file_format: str  # csv | parquet
    status: str  # ok | repaired | unreadable
    read_path: str | None = None  # what dbt reads: the file itself or its repaired copy
    reason: str | None = None  # why a file is unreadable
    note: str | None = None  # loaded, but differently than the contract says (delimiter, Latin-1)
    delimiter: str | None = None
    encoding: str | None = None
    read_columns: tuple[str, ...] = ()  # CSV: the column names dbt gives read_csv, in order
    records: int = 0  # records found (accepted by the parser + rejected lines)
    rejects: tuple[RejectedLine, ...] = field(default=())
    preflight_version: int = PREFLIGHT_VERSION


@dataclass(frozen=True)
class PreflightSummary:
    files: int
    inspected: int  # not taken from the cache
    unreadable: int
    repaired: int
    rejected_lines: int
    seconds: float

    def describe(self) -> str:
        return (
            f"landing preflight: {self.files} files ({self.inspected} inspected, "
            f"{self.files - self.inspected} unchanged), {self.unreadable} unreadable, "
            f"{self.rejected_lines} malformed lines in {self.repaired} files, {self.seconds:.2f} s"
        )


# --------------------------------------------------------------------------- masking


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else f"{value[:limit]}...(+{len(value) - limit} chars)"


def _mask_value(value: str) -> str:
    return _cut(_EMAIL_LIKE.sub("***", value), MAX_VALUE_CHARS)


def _shape(line: str) -> str:
    """The line's structure without its content: letters x, digits 9, the rest kept."""
    return "".join("x" if c.isalpha() or c == "@" else "9" if c.isdigit() else c for c in line)


def masked_record(table: str, columns: tuple[str, ...], line: str, delimiter: str) -> str:
    """JSON of a rejected line for the quarantine, without personal data."""
    try:
        fields = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:
        fields = []
    if fields and len(fields) == len(columns):
        return json.dumps(
            {
                name: None
                if value.strip() == ""
                else "***"
                if name in PERSONAL_COLUMNS
                else _mask_value(value)
                for name, value in zip(columns, fields, strict=True)
            },
            ensure_ascii=False,
        )
    has_personal = bool(PERSONAL_COLUMNS & set(LANDING_TABLES[table].columns))
    text = _shape(line) if has_personal else _EMAIL_LIKE.sub("***", line)
    key = "line_shape" if has_personal else "line"
    return json.dumps(
        {
            "fields_found": len(fields),
            "fields_expected": len(columns),
            key: _cut(text, MAX_LINE_CHARS),
        },
        ensure_ascii=False,
    )


# --------------------------------------------------------------------------- CSV


def _quoted(name: str) -> str:
    escaped = name.replace('"', '""')
    return f'"{escaped}"'


def _normalize_header(names: list[str]) -> tuple[str, ...]:
    """Trimmed lower-case names; names that are no plain identifier become `column_<n>`
    (they are extra columns then, which are ignored, and never reach generated SQL); so do
    the names the readers add themselves (`filename`, ...)."""
    out = []
    for index, name in enumerate(names):
        clean = name.strip().lower()
        plain = _PLAIN_NAME.match(clean) and clean not in _RESERVED_NAMES
        out.append(clean if plain else f"column_{index + 1}")
    return tuple(out)


def _read_header(path: Path) -> tuple[str | None, str | None]:
    """(header text, error): the first line, BOM and line end removed."""
    with path.open("rb") as handle:
        head = handle.readline(MAX_LINE_BYTES + 1)
    if len(head) > MAX_LINE_BYTES:
        return None, f"no header: the first line is longer than {MAX_LINE_BYTES} bytes"
    head = head.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    if not text.strip():
        return None, "no header: the first line is empty"
    return text, None


def choose_delimiter(table: str, header: str) -> tuple[str | None, tuple[str, ...], str | None]:
    """(delimiter, column names, error) for a header line of `table`."""
    contract = LANDING_TABLES[table]
    required = set(contract.required)
    best: tuple[int, str, tuple[str, ...]] | None = None
    for delimiter in DELIMITERS:
        try:
            names = _normalize_header(next(csv.reader([header], delimiter=delimiter)))
        except csv.Error:
            continue
        if required <= set(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            if duplicated:
                return None, names, f"duplicate columns in header: {', '.join(duplicated)}"
            return delimiter, names, None
        known = len(set(names) & set(contract.columns))
        if best is None or known > best[0]:
            best = (known, delimiter, names)
    if best is None or best[0] == 0:
        return (
            None,
            (),
            (
                f"no header: the first line names none of the columns of {table} "
                f"(required: {', '.join(contract.required)})"
            ),
        )
    missing = [c for c in contract.required if c not in best[2]]
    return None, best[2], f"missing required columns: {', '.join(missing)}"


def _csv_options(delimiter: str, encoding: str) -> str:
    return (
        "auto_detect = false, header = true, "
        f"delim = '{delimiter}', quote = '\"', escape = '\"', encoding = '{encoding}', "
        f"strict_mode = true, max_line_size = {MAX_LINE_BYTES}"
    )


def _columns_struct(columns: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"'{c}': 'varchar'" for c in columns) + "}"


def _duckdb_pass(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    columns: tuple[str, ...],
    delimiter: str,
    encoding: str,
) -> tuple[int, list[tuple[int, str]]]:
    """(records accepted, [(line, error type)]) as DuckDB's strict reader sees the file."""
    con.execute("drop table if exists preflight_rejects")
    con.execute("drop table if exists preflight_scans")
    # Every column is decoded (a bare count(*) would skip the values and their encoding).
    decoded = ", ".join(f"max(length({_quoted(c)}))" for c in columns)
    accepted = con.execute(
        f"select count(*), {decoded} from read_csv(?, {_csv_options(delimiter, encoding)}, "
        f"columns = {_columns_struct(columns)}, store_rejects = true, "
        "rejects_table = 'preflight_rejects', rejects_scan = 'preflight_scans')",
        [str(path)],
    ).fetchall()[0][0]
    rejected = con.execute(
        "select distinct line, error_type from preflight_rejects order by line"
    ).fetchall()
    return accepted, rejected


def _looks_latin1(path: Path) -> bool:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return _UTF8_MULTIBYTE.search(data) is None


def _too_many_or_few(found: int, expected: int) -> str:
    kind = "too many" if found > expected else "too few"
    return f"malformed line: {kind} fields ({found}, the header has {expected})"


def repair_csv(
    path: Path,
    table: str,
    columns: tuple[str, ...],
    delimiter: str,
    encoding: str,
    copy_path: Path,
) -> tuple[int, list[RejectedLine]]:
    """Split `path` into good records (written to `copy_path` as clean UTF-8 CSV with their
    physical line in `_source_line`) and rejected physical lines. Returns (records, rejects).

    A record is one physical line, or several when a quoted field holds line breaks; a quote
    still open after `MAX_RECORD_LINES` lines or at the end of the file makes only its first
    line bad, and reading goes on with the next line, so one stray quote loses one line.
    Blank lines are not records (as in DuckDB).
    """
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n")
    lines = [line.removesuffix(b"\r") for line in lines]
    width = len(columns)
    rejects: list[RejectedLine] = []
    good = 0

    def decode(raw: bytes) -> str | None:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            return None

    def reject(index: int, reason: str, text: str) -> None:
        rejects.append(
            RejectedLine(index + 1, reason, masked_record(table, columns, text, delimiter))
        )

    copy_path.parent.mkdir(parents=True, exist_ok=True)
    with copy_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*columns, REPAIRED_LINE_COLUMN])
        index = 1
        while index < len(lines):
            first = decode(lines[index])
            if first is None:
                reject(
                    index,
                    "malformed line: invalid UTF-8 bytes",
                    lines[index].decode("utf-8", errors="replace"),
                )
                index += 1
                continue
            if not first.strip():
                index += 1
                continue
            parts, size, reason, fields = [first], len(lines[index]), None, None
            while True:
                if size > MAX_LINE_BYTES:
                    reason = f"malformed line: longer than {MAX_LINE_BYTES} bytes"
                    break
                try:
                    rows = list(
                        csv.reader(io.StringIO("\n".join(parts)), delimiter=delimiter, strict=True)
                    )
                except csv.Error as error:
                    following = index + len(parts)
                    if (
                        "unexpected end of data" in str(error)
                        and following < len(lines)
                        and len(parts) < MAX_RECORD_LINES
                    ):
                        more = decode(lines[following])
                        if more is not None:
                            parts.append(more)
                            size += len(lines[following]) + 1
                            continue
                    # A quote that is still open, or that only "closes" on a later line in
                    # the middle of a value, was opened by mistake on this line.
                    reason = (
                        "malformed line: unterminated quote"
                        if "unexpected end of data" in str(error) or len(parts) > 1
                        else "malformed line: bad quoting"
                    )
                    break
                fields = rows[0] if len(rows) == 1 else None
                if fields is None or len(fields) != width:
                    found = len(fields) if fields is not None else sum(len(r) for r in rows)
                    reason = _too_many_or_few(found, width)
                break
            if reason is not None:
                reject(index, reason, first)
                index += 1
                continue
            writer.writerow([*fields, index + 1])
            good += 1
            index += len(parts)
    return good + len(rejects), rejects


def inspect_csv(
    con: duckdb.DuckDBPyConnection, base: FileInspection, path: Path, repair_dir: Path
) -> FileInspection:
    table = base.source_table
    if base.size_bytes == 0:
        return replace(base, status="unreadable", reason="empty file (0 bytes)")
    header, error = _read_header(path)
    if error:
        return replace(base, status="unreadable", reason=error)
    delimiter, columns, error = choose_delimiter(table, header)
    if error:
        return replace(base, status="unreadable", reason=error)
    notes = []
    if delimiter != ",":
        notes.append(f"{_DELIMITER_NAMES[delimiter]}-delimited")
    encoding = "utf-8"
    try:
        accepted, rejected = _duckdb_pass(con, path, columns, delimiter, encoding)
        if any(kind == "INVALID ENCODING" for _, kind in rejected) and _looks_latin1(path):
            encoding = "latin-1"
            notes.append("not UTF-8: read as Latin-1")
            accepted, rejected = _duckdb_pass(con, path, columns, delimiter, encoding)
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return replace(base, status="unreadable", reason=f"cannot be parsed as CSV: {first_line}")
    found = replace(
        base,
        delimiter=delimiter,
        encoding=encoding,
        note="; ".join(notes) or None,
        read_columns=columns,
    )
    if not rejected:
        return replace(found, status="ok", read_path=str(path), records=accepted)
    copy_path = repair_dir / base.source_file
    records, rejects = repair_csv(path, table, columns, delimiter, encoding, copy_path)
    return replace(
        found,
        status="repaired",
        read_path=str(copy_path),
        delimiter=",",
        encoding="utf-8",
        read_columns=(*columns, REPAIRED_LINE_COLUMN),
        records=records,
        rejects=tuple(rejects),
    )


# --------------------------------------------------------------------------- Parquet


def inspect_parquet(
    con: duckdb.DuckDBPyConnection, base: FileInspection, path: Path
) -> FileInspection:
    if base.size_bytes == 0:
        return replace(base, status="unreadable", reason="empty file (0 bytes)")
    contract = LANDING_TABLES[base.source_table]
    try:
        names = [
            r[0]
            for r in con.execute(
                "select name from parquet_schema(?) where num_children is null", [str(path)]
            ).fetchall()
        ]
        normalized = [n.strip().lower() for n in names]
        missing = [c for c in contract.required if c not in normalized]
        if missing:
            return replace(
                base,
                status="unreadable",
                reason=f"missing required columns: {', '.join(missing)}",
            )
        present = [n for n in names if n.strip().lower() in contract.columns]
        # Decode every column dbt will read, so a corrupt page shows up here, not in dbt.
        probes = ", ".join(f"max(length(cast({_quoted(n)} as varchar)))" for n in present)
        rows = con.execute(
            f"select count(*), {probes} from read_parquet(?)", [str(path)]
        ).fetchall()[0][0]
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return replace(
            base, status="unreadable", reason=f"not a readable Parquet file: {first_line}"
        )
    return replace(base, status="ok", read_path=str(path), records=rows)


# --------------------------------------------------------------------------- the preflight


def _source_file(landing_dir: Path, path: Path) -> str:
    """A landing file's name in the rows and the preflight's cache: its place in the landing
    folder, posix (`shop_orders/shop_orders_2025-01.csv`)."""
    return path.relative_to(landing_dir).as_posix()


def inspect_file(
    con: duckdb.DuckDBPyConnection, landing_dir: Path, table: str, path: Path, repair_dir: Path
) -> FileInspection:
    stat = path.stat()
    base = FileInspection(
        source_table=table,
        source_file=_source_file(landing_dir, path),
        path=str(path),
        size_bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        file_format=path.suffix.lower().lstrip("."),
        status="unreadable",
    )
    if base.file_format == "parquet":
        return inspect_parquet(con, base, path)
    return inspect_csv(con, base, path, repair_dir)


def repair_dir_for(build_db_path: Path) -> Path:
    """Repaired copies live beside the build database: `<name>.landing_repaired/`."""
    stem = build_db_path.name.removesuffix(".duckdb").removesuffix(".build")
    return build_db_path.with_name(f"{stem}.landing_repaired")


_FILE_COLUMNS = (
    "source_table",
    "source_file",
    "path",
    "size_bytes",
    "mtime_ns",
    "file_format",
    "status",
    "read_path",
    "reason",
    "note",
    "delimiter",
    "encoding",
    "read_columns",
    "records",
    "rows_rejected",
    "preflight_version",
    "inspected_at",
)


def _load_cache(build_db_path: Path) -> dict[str, FileInspection]:
    if not build_db_path.exists():
        return {}
    con = duckdb.connect(str(build_db_path), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [PREFLIGHT_SCHEMA],
            ).fetchall()
        }
        if {"landing_files", "landing_rejects"} - tables:
            return {}
        rejects: dict[str, list[RejectedLine]] = {}
        for source_file, line, reason, record in con.execute(
            "select source_file, source_line, reason, record "
            f"from {PREFLIGHT_SCHEMA}.landing_rejects order by source_file, source_line"
        ).fetchall():
            rejects.setdefault(source_file, []).append(RejectedLine(line, reason, record))
        cached = {}
        for row in con.execute(
            f"select {', '.join(_FILE_COLUMNS)} from {PREFLIGHT_SCHEMA}.landing_files"
        ).fetchall():
            values = dict(zip(_FILE_COLUMNS, row, strict=True))
            values.pop("rows_rejected")
            values.pop("inspected_at")
            values["read_columns"] = tuple(json.loads(values["read_columns"] or "[]"))
            inspection = FileInspection(
                **values, rejects=tuple(rejects.get(values["source_file"], []))
            )
            cached[inspection.source_file] = inspection
        return cached
    except duckdb.Error:
        return {}  # an unusable cache only costs a re-inspection
    finally:
        con.close()


def _reusable(cached: FileInspection | None, path: Path) -> bool:
    if cached is None or cached.preflight_version != PREFLIGHT_VERSION:
        return False
    stat = path.stat()
    if (cached.size_bytes, cached.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        return False
    return cached.status != "repaired" or Path(cached.read_path or "").exists()


def _relocated(cached: FileInspection, path: Path) -> FileInspection:
    """A cached inspection of the same file version found at `path`: the landing folder was
    moved or mounted elsewhere. The cache is keyed by the file's place in the landing folder
    (`source_file`), as the loaded rows' `landing_file_version` is, so a move costs no
    re-inspection (at a million customers 11 s of reading every file again); dbt reads the
    file where it is now, or the repaired copy, which lives beside the build database."""
    if cached.path == str(path):
        return cached
    read_path = str(path) if cached.read_path == cached.path else cached.read_path
    return replace(cached, path=str(path), read_path=read_path)


def _write_results(build_db_path: Path, inspections: list[FileInspection]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    file_rows = [
        (
            i.source_table,
            i.source_file,
            i.path,
            i.size_bytes,
            i.mtime_ns,
            i.file_format,
            i.status,
            i.read_path,
            i.reason,
            i.note,
            i.delimiter,
            i.encoding,
            json.dumps(list(i.read_columns)),
            i.records,
            len(i.rejects),
            i.preflight_version,
            now,
        )
        for i in inspections
    ]
    reject_rows = [
        (i.source_table, i.source_file, r.source_line, r.reason, r.record)
        for i in inspections
        for r in i.rejects
    ]
    build_db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build_db_path))
    try:
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {PREFLIGHT_SCHEMA}")
        con.execute(
            f"""create or replace table {PREFLIGHT_SCHEMA}.landing_files (
                source_table varchar, source_file varchar, path varchar, size_bytes bigint,
                mtime_ns bigint, file_format varchar, status varchar, read_path varchar,
                reason varchar, note varchar, delimiter varchar, encoding varchar,
                read_columns varchar, records bigint, rows_rejected bigint,
                preflight_version integer, inspected_at timestamp)"""
        )
        con.execute(
            f"""create or replace table {PREFLIGHT_SCHEMA}.landing_rejects (
                source_table varchar, source_file varchar, source_line bigint,
                reason varchar, record varchar)"""
        )
        if file_rows:
            con.executemany(
                f"insert into {PREFLIGHT_SCHEMA}.landing_files values "
                f"({', '.join('?' * len(_FILE_COLUMNS))})",
                file_rows,
            )
        if reject_rows:
            con.executemany(
                f"insert into {PREFLIGHT_SCHEMA}.landing_rejects values (?, ?, ?, ?, ?)",
                reject_rows,
            )
        con.execute("commit")
    finally:
        con.close()


def _remove_stale_copies(repair_dir: Path, keep: Iterable[str]) -> None:
    if not repair_dir.is_dir():
        return
    wanted = {Path(p) for p in keep}
    for copy in repair_dir.glob("*/*"):
        if copy.is_file() and copy not in wanted:
            copy.unlink()


def run_preflight(
    landing_dir: Path,
    build_db_path: Path,
    *,
    log: Callable[[str], None] | None = None,
) -> PreflightSummary:
    """Inspect every landing file (reusing unchanged results) and store the outcome in the
    build database for `read_landing`. The caller holds the build database's writer lock."""
    started = time.perf_counter()
    landing_dir = landing_dir.resolve()
    repair_dir = repair_dir_for(build_db_path)
    cache = _load_cache(build_db_path)
    inspections: list[FileInspection] = []
    inspected = 0
    con = duckdb.connect()  # in memory: parsing only
    try:
        for table in LANDING_TABLES:
            for path in landing_files(landing_dir, table):
                cached = cache.get(_source_file(landing_dir, path))
                if _reusable(cached, path):
                    inspections.append(_relocated(cached, path))
                    continue
                inspection = inspect_file(con, landing_dir, table, path, repair_dir)
                inspected += 1
                if log is not None and inspection.status != "ok":
                    detail = inspection.reason or f"{len(inspection.rejects)} malformed lines"
                    log(f"{inspection.source_file}: {inspection.status} ({detail})")
                inspections.append(inspection)
    finally:
        con.close()
    _write_results(build_db_path, inspections)
    _remove_stale_copies(repair_dir, (i.read_path for i in inspections if i.status == "repaired"))
    return PreflightSummary(
        files=len(inspections),
        inspected=inspected,
        unreadable=sum(i.status == "unreadable" for i in inspections),
        repaired=sum(i.status == "repaired" for i in inspections),
        rejected_lines=sum(len(i.rejects) for i in inspections),
        seconds=time.perf_counter() - started,
    )


def main() -> None:
    """`python -m dagster_project.lib.landing_files`: the preflight for a bare `dbt build`."""
    from dagster_project.lib.settings import load_settings

    settings = load_settings()
    print(run_preflight(settings.landing_dir, settings.build_db_path, log=print).describe())


if __name__ == "__main__":
    main()

"""The landing preflight on its own: no dbt, no Dagster, small files in tmp_path (fast)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb

from dagster_project.lib.landing_files import (
    choose_delimiter,
    masked_record,
    repair_dir_for,
    run_preflight,
)

FX_HEADER = "currency,rate_date,rate_to_reporting"


def _fx_lines(n: int) -> list[str]:
    return [f"USD,2025-01-{d + 1:02d},0.9{d}" for d in range(n)]


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _files(build_db: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        return {
            r[0]: r[1:]
            for r in con.execute(
                "select source_file, status, reason, note, records, rows_rejected, read_path "
                "from landing_preflight.landing_files"
            ).fetchall()
        }
    finally:
        con.close()


def _rejects(build_db: Path, source_file: str) -> dict[int, str]:
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        return dict(
            con.execute(
                "select source_line, reason from landing_preflight.landing_rejects "
                "where source_file = ?",
                [source_file],
            ).fetchall()
        )
    finally:
        con.close()


def test_the_delimiter_is_the_one_that_yields_the_required_columns():
    assert choose_delimiter("fx_rates", FX_HEADER)[0] == ","
    assert choose_delimiter("fx_rates", "currency;rate_date;rate_to_reporting")[0] == ";"
    assert choose_delimiter("fx_rates", " Currency ,RATE_DATE,rate_to_reporting")[0] == ","
    delimiter, _, error = choose_delimiter("fx_rates", "currency,rate_date")
    assert delimiter is None and error == "missing required columns: rate_to_reporting"
    assert choose_delimiter("fx_rates", "USD,2025-01-01,0.9")[2].startswith("no header")
    assert choose_delimiter("fx_rates", "currency,currency,rate_date,rate_to_reporting")[2] == (
        "duplicate columns in header: currency"
    )
    # Names that are no identifiers become harmless extras, never SQL text.
    _, names, _ = choose_delimiter("fx_rates", FX_HEADER + ",x'); drop table t; --,filename")
    assert names[-2:] == ("column_4", "column_5")


def test_malformed_lines_are_rejected_by_physical_line_and_good_records_keep_theirs(
    tmp_path: Path,
):
    landing, build_db = tmp_path / "landing", tmp_path / "w.build.duckdb"
    lines = [
        FX_HEADER,
        "USD,2025-01-01,0.91",  # 2
        'USD,"2025-01-02\nnext line",0.92',  # 3-4: one record over two lines
        "USD,2025-01-03",  # 5: too few
        "USD,2025-01-04,0.94,x",  # 6: too many
        'USD,"2025-01-05,0.95',  # 7: quote never closed: only this line is lost
        "",  # 8: blank, not a record
        "USD,2025-01-06,0.96",  # 9
    ]
    _write(landing / "fx_rates" / "fx.csv", "\n".join(lines) + "\n")
    summary = run_preflight(landing, build_db)
    assert (summary.files, summary.repaired, summary.rejected_lines) == (1, 1, 3)
    status, _, _, records, rejected, read_path = _files(build_db)["fx_rates/fx.csv"]
    assert (status, records, rejected) == ("repaired", 6, 3)
    assert _rejects(build_db, "fx_rates/fx.csv") == {
        5: "malformed line: too few fields (2, the header has 3)",
        6: "malformed line: too many fields (4, the header has 3)",
        7: "malformed line: unterminated quote",
    }
    con = duckdb.connect()
    copy = con.execute(
        "select currency, rate_date, _source_line from read_csv(?, all_varchar = true)",
        [read_path],
    ).fetchall()
    assert copy == [
        ("USD", "2025-01-01", "2"),
        ("USD", "2025-01-02\nnext line", "3"),
        ("USD", "2025-01-06", "9"),
    ]
    assert Path(read_path).parent.parent == repair_dir_for(build_db)


def test_unreadable_files_have_a_reason_and_clean_files_are_read_in_place(tmp_path: Path):
    landing, build_db = tmp_path / "landing", tmp_path / "w.build.duckdb"
    _write(landing / "fx_rates" / "good.csv", "\n".join([FX_HEADER, *_fx_lines(3)]) + "\n")
    _write(landing / "fx_rates" / "empty.csv", b"")
    _write(landing / "fx_rates" / "no_header.csv", "\n".join(_fx_lines(3)) + "\n")
    _write(landing / "fx_rates" / "broken.parquet", b"PAR1 not really")
    _write(landing / "fx_rates" / "notes.txt", "ignored: not a landing file")
    latin = "\n".join([FX_HEADER, "CHF,2025-01-01,1.05 Zürich"]).encode("latin-1")
    _write(landing / "fx_rates" / "latin.csv", latin)
    assert run_preflight(landing, build_db).files == 5  # notes.txt is no landing file
    files = _files(build_db)
    assert files["fx_rates/good.csv"][:4] == ("ok", None, None, 3)
    assert files["fx_rates/good.csv"][5] == str((landing / "fx_rates" / "good.csv").resolve())
    assert files["fx_rates/empty.csv"][:2] == ("unreadable", "empty file (0 bytes)")
    assert files["fx_rates/no_header.csv"][1].startswith("no header")
    assert files["fx_rates/broken.parquet"][1].startswith("not a readable Parquet file")
    assert files["fx_rates/latin.csv"][:4] == ("ok", None, "not UTF-8: read as Latin-1", 1)


def test_unchanged_files_are_not_inspected_again(tmp_path: Path):
    landing, build_db = tmp_path / "landing", tmp_path / "w.build.duckdb"
    good = _write(landing / "fx_rates" / "a.csv", "\n".join([FX_HEADER, *_fx_lines(3)]) + "\n")
    _write(landing / "fx_rates" / "b.csv", "\n".join([FX_HEADER, "USD,2025-02-01"]) + "\n")
    assert run_preflight(landing, build_db).inspected == 2
    again = run_preflight(landing, build_db)
    assert (again.files, again.inspected, again.rejected_lines) == (2, 0, 1)
    _write(good, "\n".join([FX_HEADER, *_fx_lines(4)]) + "\n")
    os.utime(good, ns=(1, 1))
    changed = run_preflight(landing, build_db)
    assert changed.inspected == 1 and _files(build_db)["fx_rates/a.csv"][3] == 4
    # A moved landing folder is not inspected again: dbt reads the files where they are now,
    # and a repaired file still from its copy beside the build database.
    copy = Path(_files(build_db)["fx_rates/b.csv"][5])
    moved = tmp_path / "mounted-elsewhere"
    shutil.copytree(landing, moved)  # copy2 keeps size and mtime: the same file versions
    relocated = run_preflight(moved, build_db)
    assert (relocated.files, relocated.inspected, relocated.rejected_lines) == (2, 0, 1)
    assert _files(build_db)["fx_rates/a.csv"][5] == str((moved / "fx_rates" / "a.csv").resolve())
    assert Path(_files(build_db)["fx_rates/b.csv"][5]) == copy and copy.exists()
    shutil.rmtree(moved)
    # A vanished file leaves the list, and its repaired copy is removed.
    (landing / "fx_rates" / "b.csv").unlink()
    assert run_preflight(landing, build_db).files == 1 and not copy.exists()


def test_rejected_lines_carry_no_personal_data():
    columns = ("customer_no", "first_name", "email", "city", "updated_at")
    split = json.loads(
        masked_record("crm_customers", columns, "K1,Anna,anna@x.de,Köln,2025-01-01", ",")
    )
    assert split == {
        "customer_no": "K1",
        "first_name": "***",
        "email": "***",
        "city": "Köln",
        "updated_at": "2025-01-01",
    }
    unsplit = json.loads(
        masked_record("crm_customers", columns, 'K1,"Anna,anna@x.de,Köln,2025-01-01,+49 170', ",")
    )
    assert unsplit["line_shape"] == 'x9,"xxxx,xxxxxx.xx,xxxx,9999-99-99,+99 999'
    # Tables without personal columns keep the line, with e-mail-like text masked anyway.
    fx = json.loads(masked_record("fx_rates", ("currency",), "a@b.de,USD", ","))
    assert fx["line"] == "***,USD"

"""Hostile landing files through the real pipeline: nothing crashes, nothing good is lost,
nothing bad is published, every file reconciles.

One landing zone (a small generated demo plus one file per hostile case) and ONE real run of
the `monthly_resegmentation` job for the whole module. Row-level cases sit in files with 100
good rows and at most a few bad ones (below a 5 % quarantine share per file); file-level cases
(unreadable files) are files of their own in a table with plenty of good files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import query, run_pipeline

MONTH = date(2025, 12, 1)
SQL_TEXT = "x'; drop table marts.dim_customers; --"
GOOD_ROWS = 100
MEGABYTE_CITY = "Z" * 1_000_000

ORDER_HEADER = [
    "order_id", "ordered_at", "customer_no", "shop_account_id", "email",
    "channel", "device", "amount", "currency", "status",
]  # fmt: skip
CRM_HEADER = [
    "customer_no", "first_name", "last_name", "email", "phone", "birth_date", "gender",
    "street", "postal_code", "city", "country", "signup_date", "marketing_opt_in",
    "contract_end_date", "updated_at",
]  # fmt: skip


@dataclass
class Expected:
    """What one hostile file must give: counts and the quarantined lines with their reason."""

    table: str
    read: int
    quarantined: dict[int | None, str] = field(default_factory=dict)  # line -> reason
    status: str = "ok"
    note: str | None = None
    good_ids: list[str] = field(default_factory=list)  # must be accepted
    bad_ids: list[str] = field(default_factory=list)  # must not be accepted

    @property
    def accepted(self) -> int:
        return self.read - len(self.quarantined)


def _order(tag: str, n: int, **over: str) -> dict[str, str]:
    row = {
        "order_id": f"H{tag}{n:03d}",
        "ordered_at": f"2025-11-{n % 28 + 1:02d} 10:{n % 60:02d}:00",
        "customer_no": "",
        "shop_account_id": f"HA{tag}{n % 10}",
        "email": "",
        "channel": "web",
        "device": "desktop",
        "amount": f"{10 + n}.50",
        "currency": "EUR",
        "status": "completed",
    }
    row.update(over)
    return row


def _crm(tag: str, n: int, **over: str) -> dict[str, str]:
    row = {
        "customer_no": f"HK{tag}{n:03d}",
        "first_name": "Hanna",
        "last_name": "Hostile",
        "email": f"hanna.{tag.lower()}{n}@example.org",
        "phone": "+49 30 1234567",
        "birth_date": "1980-05-17",
        "gender": "f",
        "street": "Teststrasse 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "signup_date": "2025-10-01",
        "marketing_opt_in": "true",
        "contract_end_date": "",
        "updated_at": f"2025-10-{n % 28 + 1:02d} 09:00:00",
    }
    row.update(over)
    return row


def _quote(value: str) -> str:
    if any(c in value for c in ',"\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _line(row: dict[str, str], header: list[str], sep: str = ",") -> str:
    return sep.join(_quote(row.get(c, "")) for c in header)


def _write(path: Path, lines: list[str], *, encoding: str = "utf-8", end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((end.join(lines) + end).encode(encoding))


def write_hostile_files(landing: Path) -> dict[str, Expected]:
    """The hostile files of the suite and what each must give, by source_file."""
    orders, crm, lines_dir = (
        landing / "shop_orders",
        landing / "crm_customers",
        landing / "order_lines",
    )
    header = ",".join(ORDER_HEADER)
    expected: dict[str, Expected] = {}

    def order_file(name: str, bad: list[dict[str, str]], tag: str) -> list[str]:
        good = [_order(tag, n) for n in range(GOOD_ROWS)]
        rows = good + bad
        _write(orders / name, [header] + [_line(r, ORDER_HEADER) for r in rows])
        return [r["order_id"] for r in good]

    # Values that parse badly or break a rule: each bad row at line 102, 103, ...
    bad_values = [
        _order("V", 900, order_id=""),
        _order("V", 901, amount="abc"),
        _order("V", 902, amount="-5.00"),
        _order("V", 903, amount="1e308"),
        _order("V", 904, amount="  "),
    ]
    good = order_file("shop_orders_hostile_values.csv", bad_values, "V")
    expected["shop_orders/shop_orders_hostile_values.csv"] = Expected(
        "shop_orders", 105,
        {102: "missing required field: order_id", 103: "unparsable amount: amount",
         104: "negative amount", 105: "unparsable amount: amount",
         106: "missing required field: amount"},
        good_ids=good, bad_ids=["HV901", "HV902", "HV903", "HV904"],
    )  # fmt: skip

    bad_times = [
        _order("T", 900, ordered_at="2999-01-01 00:00:00"),
        _order("T", 901, ordered_at="1899-12-30"),
        _order("T", 902, ordered_at="yesterday"),
        _order("T", 903, ordered_at=""),
    ]
    good = order_file("shop_orders_hostile_times.csv", bad_times, "T")
    expected["shop_orders/shop_orders_hostile_times.csv"] = Expected(
        "shop_orders", 104,
        {102: "timestamp in the future: ordered_at", 103: "timestamp before 1900: ordered_at",
         104: "unparsable timestamp: ordered_at", 105: "missing required field: ordered_at"},
        good_ids=good, bad_ids=["HT900", "HT901", "HT902", "HT903"],
    )  # fmt: skip

    bad_codes = [
        _order("C", 900, currency="XYZ"),
        _order("C", 901, currency="EURO"),
        _order("C", 902, status="shipped"),
        _order("C", 903, currency=""),
    ]
    good = order_file("shop_orders_hostile_codes.csv", bad_codes, "C")
    expected["shop_orders/shop_orders_hostile_codes.csv"] = Expected(
        "shop_orders", 104,
        {102: "no fx rate for currency", 103: "invalid value: currency",
         104: "invalid value: status", 105: "missing required field: currency"},
        good_ids=good, bad_ids=["HC900", "HC901", "HC902", "HC903"],
    )  # fmt: skip

    # Conflicting duplicates: both copies out; identical duplicates: the later copy out.
    bad_dups = [
        _order("D", 900, amount="10.00"),
        _order("D", 900, amount="99.00"),
        _order("D", 901),
        _order("D", 901),
    ]
    good = order_file("shop_orders_hostile_duplicates.csv", bad_dups, "D")
    expected["shop_orders/shop_orders_hostile_duplicates.csv"] = Expected(
        "shop_orders", 104,
        {102: "conflicting duplicate: order_id", 103: "conflicting duplicate: order_id",
         105: "duplicate row"},
        good_ids=[*good, "HD901"], bad_ids=["HD900"],
    )  # fmt: skip

    # Text that looks like SQL or odd e-mails is data: accepted and unchanged.
    odd = [
        _order("S", 900, shop_account_id=SQL_TEXT, device="tab'let"),
        _order("S", 901, email="  Anna.Müller@Example.DE "),
        _order("S", 902, email="anna müller@example.de"),
        _order("S", 903, email="ünïcödé@exämple.de"),
    ]
    good = order_file("shop_orders_hostile_strings.csv", odd, "S")
    expected["shop_orders/shop_orders_hostile_strings.csv"] = Expected(
        "shop_orders", 104, {}, good_ids=[*good, "HS900", "HS901", "HS902", "HS903"]
    )

    # Malformed CSV lines in a UTF-8 file with UTF-8 text elsewhere (so it stays UTF-8).
    good_rows = [_order("M", n, device="tablet-ü") for n in range(150)]
    text = [header] + [_line(r, ORDER_HEADER) for r in good_rows[:50]]
    text += [
        'HM900,2025-11-02 10:00:00,,HAM1,,web,"desk,2.00,EUR,completed',  # line 52: open quote
        "HM901,2025-11-02 10:00:00,,HAM1,,web,desktop,2.00,EUR,completed,surplus",  # 53
        "HM902,2025-11-02 10:00:00,,HAM1,,web,desktop,2.00",  # 54: too few fields
        'HM903,2025-11-02 10:00:00,,HAM1,,web,"desk"top,2.00,EUR,completed',  # 55
    ]
    text += [_line(r, ORDER_HEADER) for r in good_rows[50:]]
    raw = ("\n".join(text) + "\n").encode()
    latin = "HM904,2025-11-02 10:00:00,,HAM1,,web,Gerät,2.00,EUR,completed\n".encode("latin-1")
    truncated = b"HM905,2025-11-02 10:0"  # a cut-off last line without newline
    orders.mkdir(parents=True, exist_ok=True)
    (orders / "shop_orders_malformed.csv").write_bytes(raw + latin + truncated)
    expected["shop_orders/shop_orders_malformed.csv"] = Expected(
        "shop_orders", 156,
        {52: "malformed line: unterminated quote", 53: "malformed line: too many fields",
         54: "malformed line: too few fields", 55: "malformed line: bad quoting",
         156: "malformed line: invalid UTF-8 bytes", 157: "malformed line: too few fields"},
        status="repaired",
        good_ids=[r["order_id"] for r in good_rows],
        bad_ids=["HM900", "HM901", "HM902", "HM903", "HM904", "HM905"],
    )  # fmt: skip

    # Encodings and dialects a product loads with a note.
    bom_rows = [_order("B", n) for n in range(20)]
    (orders / "shop_orders_bom.csv").write_bytes(
        b"\xef\xbb\xbf"
        + ("\n".join([header] + [_line(r, ORDER_HEADER) for r in bom_rows]) + "\n").encode()
    )
    expected["shop_orders/shop_orders_bom.csv"] = Expected(
        "shop_orders", 20, good_ids=[r["order_id"] for r in bom_rows]
    )
    latin_rows = [_order("L", n, email=f"jürgen{n}@beispiel.de", device="gerät") for n in range(20)]
    _write(
        orders / "shop_orders_latin1.csv",
        [header] + [_line(r, ORDER_HEADER) for r in latin_rows],
        encoding="latin-1",
        end="\r\n",
    )
    expected["shop_orders/shop_orders_latin1.csv"] = Expected(
        "shop_orders", 20, note="not UTF-8: read as Latin-1",
        good_ids=[r["order_id"] for r in latin_rows],
    )  # fmt: skip
    semi_rows = [_order("P", n) for n in range(20)]
    _write(
        orders / "shop_orders_semicolon.csv",
        [";".join(ORDER_HEADER)] + [_line(r, ORDER_HEADER, ";") for r in semi_rows],
    )
    expected["shop_orders/shop_orders_semicolon.csv"] = Expected(
        "shop_orders", 20, note="semicolon-delimited", good_ids=[r["order_id"] for r in semi_rows]
    )

    # Missing optional and extra columns; a file name with a quote in it.
    minimal = ["order_id", "ordered_at", "amount", "currency"]
    min_rows = [_order("N", n) for n in range(20)]
    _write(
        orders / "shop_orders_minimal.csv",
        [",".join(minimal)] + [_line(r, minimal) for r in min_rows],
    )
    expected["shop_orders/shop_orders_minimal.csv"] = Expected(
        "shop_orders", 20, good_ids=[r["order_id"] for r in min_rows]
    )
    extra = ["coupon", *ORDER_HEADER, "filename", "Status Code"]
    extra_rows = [_order("E", n, coupon="X'MAS", filename="a.csv") for n in range(20)]
    _write(
        orders / "shop_orders_extra columns.csv",
        [",".join(extra)] + [_line(r, extra) for r in extra_rows],
    )
    expected["shop_orders/shop_orders_extra columns.csv"] = Expected(
        "shop_orders", 20, good_ids=[r["order_id"] for r in extra_rows]
    )
    quote_rows = [_order("Q", n) for n in range(20)]
    _write(
        orders / "shop_orders_o'brien.csv", [header] + [_line(r, ORDER_HEADER) for r in quote_rows]
    )
    expected["shop_orders/shop_orders_o'brien.csv"] = Expected(
        "shop_orders", 20, good_ids=[r["order_id"] for r in quote_rows]
    )

    # Parquet: a good one (row numbers as lines) and a truncated one.
    pq_rows = [_order("R", n) for n in range(20)]
    con = duckdb.connect()
    try:
        values = ", ".join(
            "(" + ", ".join("'" + r[c].replace("'", "''") + "'" for c in ORDER_HEADER) + ")"
            for r in pq_rows
        )
        con.execute(
            f"copy (select * from (values {values}) as t({', '.join(ORDER_HEADER)})) "
            f"to '{orders / 'shop_orders_good.parquet'}' (format parquet)"
        )
    finally:
        con.close()
    expected["shop_orders/shop_orders_good.parquet"] = Expected(
        "shop_orders", 20, good_ids=[r["order_id"] for r in pq_rows]
    )
    whole = (orders / "shop_orders_good.parquet").read_bytes()
    (orders / "shop_orders_truncated.parquet").write_bytes(whole[: len(whole) // 2])

    # Files that cannot be read at all: one quarantine row each, without a line.
    (orders / "shop_orders_empty.csv").write_bytes(b"")
    _write(
        orders / "shop_orders_no_header.csv",
        [_line(_order("X", n), ORDER_HEADER) for n in range(5)],
    )
    no_amount = [c for c in ORDER_HEADER if c != "amount"]
    _write(
        orders / "shop_orders_missing_required.csv",
        [",".join(no_amount)] + [_line(_order("Y", n), no_amount) for n in range(5)],
    )
    _write(
        orders / "shop_orders_utf16.csv",
        [header] + [_line(_order("U", n), ORDER_HEADER) for n in range(5)],
        encoding="utf-16",
    )
    unreadable = {
        "shop_orders_empty.csv": "unreadable file: empty file",
        "shop_orders_no_header.csv": "unreadable file: no header",
        "shop_orders_missing_required.csv": "unreadable file: missing required columns: amount",
        "shop_orders_utf16.csv": "unreadable file: no header",
        "shop_orders_truncated.parquet": "unreadable file: not a readable Parquet file",
    }
    for name, reason in unreadable.items():
        expected[f"shop_orders/{name}"] = Expected(
            "shop_orders",
            1,
            {None: reason},
            status="unreadable",
            bad_ids=["HX000", "HY000", "HU000"],
        )
    # A header and no records: read, nothing to accept, still reconciled.
    _write(orders / "shop_orders_header_only.csv", [header])
    expected["shop_orders/shop_orders_header_only.csv"] = Expected("shop_orders", 0)

    # CRM: personal data in quarantined rows and lines is masked; SQL text and a 1 MB city are data.
    crm_header = ",".join(CRM_HEADER)
    crm_good = [_crm("G", n) for n in range(GOOD_ROWS)]
    crm_bad_lines = [
        _line(_crm("G", 900, customer_no=""), CRM_HEADER),  # 102: missing key, personal data
        _line(_crm("G", 901, updated_at="0001-01-01"), CRM_HEADER),  # 103
        _line(_crm("G", 902), CRM_HEADER) + ",surplus@example.com",  # 104: too many fields
        _line(_crm("G", 903, first_name=SQL_TEXT, city=SQL_TEXT), CRM_HEADER),  # 105: data
        _line(_crm("G", 904, city=MEGABYTE_CITY), CRM_HEADER),  # 106: data
    ]
    _write(
        crm / "crm_customers_hostile.csv",
        [crm_header] + [_line(r, CRM_HEADER) for r in crm_good] + crm_bad_lines,
    )
    expected["crm_customers/crm_customers_hostile.csv"] = Expected(
        "crm_customers", 105,
        {102: "missing required field: customer_no", 103: "timestamp before 1900: updated_at",
         104: "malformed line: too many fields"},
        status="repaired",
        good_ids=[*(r["customer_no"] for r in crm_good), "HKG903", "HKG904"],
        bad_ids=["HKG901", "HKG902"],
    )  # fmt: skip

    # Order lines: SQL text in a product id is data; a bad quantity is quarantined.
    line_header = ["order_id", "product_id", "category", "quantity", "unit_price"]
    line_rows = [
        {"order_id": f"HV{n:03d}", "product_id": f"P{n}", "category": "books", "quantity": "1",
         "unit_price": "10.50"}
        for n in range(GOOD_ROWS)
    ]  # fmt: skip
    line_rows += [
        {"order_id": "HV000", "product_id": SQL_TEXT, "category": "books", "quantity": "2",
         "unit_price": "1.00"},
        {"order_id": "HV001", "product_id": "P1", "category": "books", "quantity": "many",
         "unit_price": "1.00"},
    ]  # fmt: skip
    _write(
        lines_dir / "order_lines_hostile.csv",
        [",".join(line_header)] + [_line(r, line_header) for r in line_rows],
    )
    expected["order_lines/order_lines_hostile.csv"] = Expected(
        "order_lines", 102, {103: "unparsable number: quantity"}
    )
    return expected


@dataclass(frozen=True)
class HostileRun:
    landing: Path
    build_db: Path
    published: Path
    expected: dict[str, Expected]
    outcome_reason: str


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    from dagster_project.lib.demo_data import generate_demo_data
    from dagster_project.lib.settings import load_settings
    from tests.conftest import warehouse_env

    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    generate_demo_data(
        landing, root / "truth", customers=200, months=4, end_month="2025-12", seed=11
    )
    expected = write_hostile_files(landing)
    published = root / "warehouse.duckdb"
    outcome = run_pipeline(landing, published, [MONTH])
    assert outcome.success, outcome.reason
    with warehouse_env(landing, published):
        build_db = load_settings().build_db_path
    return HostileRun(landing, build_db, published, expected, outcome.reason)


def _by_file(path: Path, sql: str) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for row in query(path, sql):
        out.setdefault(row[0], []).append(row[1:])
    return out


def test_every_file_of_the_landing_zone_reconciles(hostile: HostileRun):
    rows = query(
        hostile.published,
        "select source_file, rows_read, rows_accepted, rows_quarantined, file_status "
        "from audit.load_reconciliation",
    )
    on_disk = {
        p.relative_to(hostile.landing).as_posix()
        for p in hostile.landing.glob("*/*")
        if p.suffix in (".csv", ".parquet")
    }
    assert {r[0] for r in rows} == on_disk
    assert [r for r in rows if r[1] != r[2] + r[3]] == []
    # The quarantine holds exactly the rows the reconciliation counts as quarantined.
    quarantined = dict(
        query(hostile.published, "select source_file, count(*) from audit.quarantine group by 1")
    )
    assert {r[0]: r[3] for r in rows if r[3]} == quarantined


def test_each_hostile_file_gives_its_counts_reasons_and_lines(hostile: HostileRun):
    reconciliation = {
        r[0]: r[1:]
        for r in query(
            hostile.published,
            "select source_file, rows_read, rows_accepted, rows_quarantined, file_status, "
            "file_note from audit.load_reconciliation",
        )
    }
    quarantine = _by_file(
        hostile.published, "select source_file, source_line, reason from audit.quarantine"
    )
    for name, want in hostile.expected.items():
        read, accepted, quarantined, status, note = reconciliation[name]
        assert (read, accepted, quarantined) == (want.read, want.accepted, len(want.quarantined)), (
            name
        )
        assert status == want.status, name
        assert note == want.note, name
        got = dict(quarantine.get(name, []))
        assert set(got) == set(want.quarantined), (name, got)
        for line, reason in want.quarantined.items():
            assert got[line].startswith(reason), (name, line, got[line])
        if want.status == "unreadable":
            assert got[None].endswith(f"({name})"), got[None]  # the reason names the file


def test_good_rows_of_hostile_files_are_staged_and_bad_ones_are_not(hostile: HostileRun):
    con = duckdb.connect(str(hostile.build_db), read_only=True)
    try:
        for name, want in hostile.expected.items():
            if want.table == "shop_orders":
                column, table = "order_id", "staging.stg_shop__orders"
            elif want.table == "crm_customers":
                column, table = "customer_no", "staging.stg_crm__customers"
            else:
                continue
            staged = {
                r[0]
                for r in con.execute(
                    f"select {column} from {table} where source_file = ?", [name]
                ).fetchall()
            }
            assert set(want.good_ids) <= staged, (name, set(want.good_ids) - staged)
            assert not set(want.bad_ids) & staged, name
        # Accepted rows keep their exact physical line, also after malformed lines.
        lines = dict(
            con.execute(
                "select order_id, source_line from staging.stg_shop__orders "
                "where source_file = 'shop_orders/shop_orders_malformed.csv'"
            ).fetchall()
        )
        assert lines["HM000"] == 2 and lines["HM049"] == 51 and lines["HM050"] == 56
        assert lines["HM149"] == 155
        pq = dict(
            con.execute(
                "select order_id, source_line from staging.stg_shop__orders "
                "where source_file = 'shop_orders/shop_orders_good.parquet'"
            ).fetchall()
        )
        assert pq["HR000"] == 1 and pq["HR019"] == 20
        # Decoded and normalised as a person would read them.
        latin = con.execute(
            "select email_normalized, device from staging.stg_shop__orders where order_id = 'HL003'"
        ).fetchall()
        assert latin == [("jürgen3@beispiel.de", "gerät")]
        emails = dict(
            con.execute(
                "select order_id, email_normalized from staging.stg_shop__orders "
                "where order_id in ('HS901', 'HS902', 'HS903')"
            ).fetchall()
        )
        assert emails == {
            "HS901": "anna.müller@example.de",
            "HS902": None,  # a space inside: not an address, the order still counts
            "HS903": "ünïcödé@exämple.de",
        }
        # Text that looks like SQL is data, unchanged; so is a megabyte-sized field.
        assert con.execute(
            "select first_name, city from staging.stg_crm__customers where customer_no = 'HKG903'"
        ).fetchall() == [(SQL_TEXT, SQL_TEXT)]
        assert con.execute(
            "select length(city) from staging.stg_crm__customers where customer_no = 'HKG904'"
        ).fetchall() == [(len(MEGABYTE_CITY),)]
        assert con.execute(
            "select count(*) from staging.stg_shop__order_lines where product_id = ?", [SQL_TEXT]
        ).fetchall() == [(1,)]
    finally:
        con.close()


def test_the_published_warehouse_has_good_rows_sql_text_unchanged_and_no_bad_rows(
    hostile: HostileRun,
):
    published = hostile.published
    orders = {r[0] for r in query(published, "select order_id from marts.fct_orders")}
    for name, want in hostile.expected.items():
        if want.table != "shop_orders":
            continue
        assert set(want.good_ids) <= orders, name
        assert not set(want.bad_ids) & orders, name
    # The SQL-looking account id is a key like any other, and dim_customers is still there.
    con = duckdb.connect(str(published), read_only=True)
    try:
        keys = con.execute(
            "select source_system from marts.customer_identity_map where source_key = ?",
            [SQL_TEXT],
        ).fetchall()
    finally:
        con.close()
    assert keys == [("shop_account",)]
    assert query(published, "select count(*) from marts.dim_customers")[0][0] > 200
    devices = {r[0] for r in query(published, "select distinct device from marts.fct_orders")}
    assert "tab'let" in devices
    # No amount above the plausible maximum, no order outside 1900..now.
    assert query(
        published,
        "select count(*) from marts.fct_orders where amount > 1000000 or amount < 0 "
        "or ordered_at < '1900-01-01' or ordered_at > now() + interval 1 day",
    ) == [(0,)]


def test_the_quarantine_carries_no_personal_data(hostile: HostileRun):
    records = dict(
        query(
            hostile.published,
            "select source_line, record from audit.quarantine "
            "where source_file = 'crm_customers/crm_customers_hostile.csv'",
        )
    )
    missing_key = json.loads(records[102])
    assert missing_key["first_name"] == missing_key["email"] == missing_key["street"] == "***"
    assert missing_key["city"] == "Berlin"  # not personal: kept for the data engineer
    malformed = json.loads(records[104])
    assert malformed["fields_found"] == 16 and malformed["fields_expected"] == 15
    assert "Hanna" not in records[104] and "example" not in records[104]
    all_records = " ".join(
        r[0] for r in query(hostile.published, "select record from audit.quarantine")
    )
    assert not re.search(r"[^@\s\"]+@[^@\s\"]+\.[a-z]+", all_records)
    for personal in ("Hanna", "Hostile", "Teststrasse", "1234567", "1980-05-17"):
        assert personal not in all_records, personal
    # A quarantined megabyte field would be cut; nothing in the quarantine is that long.
    assert (
        query(hostile.published, "select max(length(record)) from audit.quarantine")[0][0] < 20_000
    )

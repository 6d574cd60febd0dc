"""Google Ads Customer Match normalisation and the audience selection, as pure functions."""

from __future__ import annotations

import polars as pl
import pytest

from dagster_project.lib.audience_exports import export_files, select_audiences
from dagster_project.lib.privacy.customer_match import (
    CUSTOMER_MATCH_COLUMNS,
    customer_match_rows,
    hashed_email,
    hashed_name,
    hashed_phone,
    normalize_email,
    normalize_phone,
    sha256_hex,
)

# SHA-256 of the normalised values, computed independently (`printf '%s' … | sha256sum`).
TEST_EMAIL_SHA256 = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
BERLIN_PHONE_SHA256 = (
    "74bd805bcc47f8603082430ca056311389e38b74fcdfbc32bcb5c6a9269ff3bf"  # +49301234567
)
ROME_PHONE_SHA256 = (
    "37b702607839d6dc5fc81d95b52e550e336413bf7ae2e04cafeca79f066ea44b"  # +390612345678
)
JUERGEN_SHA256 = "19b720a911fced55aecd96bf4ddcada1c69be5a96dc523d5be336b8efbde3109"
MARY_SHA256 = "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"


@pytest.mark.parametrize("raw", ["test@example.com", "  Test@Example.COM ", "TEST@EXAMPLE.COM\t"])
def test_an_email_is_trimmed_lower_cased_and_hashed(raw: str) -> None:
    assert hashed_email(raw) == TEST_EMAIL_SHA256


@pytest.mark.parametrize("raw", [None, "", "   ", "no-at-sign.example.com", "a b@example.com"])
def test_a_missing_or_implausible_email_is_empty_not_the_hash_of_nothing(raw: str | None) -> None:
    assert normalize_email(raw) == ""
    assert hashed_email(raw) == ""


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+49 30 1234567", "DE", "+49301234567"),
        ("+49 (30) 123-4567", None, "+49301234567"),
        ("0049 30 1234567", "FR", "+49301234567"),  # international prefix beats the country
        ("030 1234567", "DE", "+49301234567"),  # national: trunk 0 dropped
        ("030/123 45 67", "de", "+49301234567"),
        ("06 1234 5678", "IT", "+390612345678"),  # Italy keeps the leading zero
        ("030 1234567", None, ""),  # national without a country: cannot be placed
        ("030 1234567", "XX", ""),
        ("+49 30 1234567 ext. 12", "DE", ""),  # letters: unparsable
        ("12 34", "DE", ""),  # too short for E.164
        ("+49 30 1234567 1234567 89", "DE", ""),  # too long
        ("+49 30 12+34567", "DE", ""),
        (None, "DE", ""),
        ("", "DE", ""),
    ],
)
def test_phones_become_e164_or_empty(raw: str | None, country: str | None, e164: str) -> None:
    assert normalize_phone(raw, country) == e164


def test_phone_and_name_hashes_are_known_values() -> None:
    assert hashed_phone("030 1234567", "DE") == BERLIN_PHONE_SHA256
    assert hashed_phone("+39 06 1234 5678", "IT") == ROME_PHONE_SHA256
    assert hashed_phone("not a phone", "DE") == ""
    assert hashed_name("  Jürgen ") == JUERGEN_SHA256  # accents kept, as Google asks
    assert hashed_name("MARY") == MARY_SHA256
    assert hashed_name(None) == "" == sha256_hex("")


def test_customer_match_rows_hash_contacts_and_keep_country_and_zip_in_clear() -> None:
    contacts = pl.DataFrame(
        {
            "email": [" Test@Example.com", None, None],
            "phone": ["030 1234567", "+39 06 1234 5678", "n/a"],
            "first_name": ["Mary ", "Jürgen", "Nobody"],
            "last_name": [None, "x", "y"],
            "country": ["de", "IT", "DE"],
            "postal_code": ["10115", " 00184 ", "80331"],
        }
    )
    rows = customer_match_rows(contacts)
    assert tuple(rows.columns) == CUSTOMER_MATCH_COLUMNS
    # the third has neither a usable e-mail nor a phone: nothing to match on, left out
    assert rows.rows() == [
        (TEST_EMAIL_SHA256, BERLIN_PHONE_SHA256, MARY_SHA256, "", "DE", "10115"),
        ("", ROME_PHONE_SHA256, JUERGEN_SHA256, hashed_name("x"), "IT", "00184"),
    ]


def _candidates() -> pl.DataFrame:
    rows = [
        # customer_id, stage, tier, abc, opt_in, lookalike rank, email
        ("c_vip", "vip", "high", "A", True, None, "vip@x.org"),
        ("c_vip_no", "vip", "high", "A", False, None, "vipno@x.org"),
        ("c_lapsed_a", "lapsed", "low", "A", True, None, "la@x.org"),
        ("c_lapsed_c", "lapsed", "low", "C", True, None, "lc@x.org"),
        ("c_risk", "at_risk", "medium", "B", True, None, "risk@x.org"),
        ("c_new", "new", "medium", "B", True, None, "new@x.org"),
        ("c_guest", "new", "high", "A", False, None, None),  # no CRM record: no consent
        ("c_p1", "prospect", "none", None, True, 1, "p1@x.org"),
        ("c_p2", "prospect", "none", None, True, 2, "p2@x.org"),
        ("c_p3", "prospect", "none", None, False, 3, "p3@x.org"),
        ("c_p4", "prospect", "none", None, True, 4, "p4@x.org"),
    ]
    frame = pl.DataFrame(
        rows,
        schema=[
            "customer_id",
            "lifecycle_stage",
            "value_tier",
            "abc_class",
            "marketing_opt_in",
            "lookalike_rank",
            "email",
        ],
        orient="row",
    )
    return frame.with_columns(
        pl.col("lifecycle_stage").alias("segment"),
        pl.lit(100.0).alias("predicted_clv_12m"),
        pl.col("lookalike_rank").is_not_null().alias("is_lookalike_prospect"),
        pl.lit(4).alias("prospects_scored"),
        *(pl.lit(None, pl.Utf8).alias(c) for c in ("phone", "first_name", "last_name")),
        pl.lit("DE").alias("country"),
        pl.lit("10115").alias("postal_code"),
    )


def test_audiences_hold_opted_in_customers_only() -> None:
    audiences = select_audiences(_candidates())
    members = {name: set(frame["customer_id"]) for name, frame in audiences.items()}
    assert members["high_value"] == {"c_vip"}
    assert members["lapsed_high_value"] == {"c_lapsed_a"}
    assert members["at_risk"] == {"c_risk"}
    assert members["new_customers"] == {"c_new"}
    # top quarter of 4 scored prospects = rank 1 only
    assert members["vip_lookalikes"] == {"c_p1"}
    assert "c_vip_no" not in set().union(*members.values())
    assert "c_guest" not in set().union(*members.values())


def test_export_files_have_the_customer_match_and_crm_columns() -> None:
    files = export_files(select_audiences(_candidates()))
    for name in ("high_value", "lapsed_high_value", "at_risk", "new_customers", "vip_lookalikes"):
        assert tuple(files[name].columns) == CUSTOMER_MATCH_COLUMNS
    assert files["high_value"]["Email"].to_list() == [hashed_email("vip@x.org")]
    assert files["crm"].columns == [
        "customer_id",
        "segment",
        "lifecycle_stage",
        "value_tier",
        "predicted_clv_12m",
    ]
    assert "c_vip_no" not in files["crm"]["customer_id"].to_list()

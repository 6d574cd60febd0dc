"""Google Ads Customer Match: normalise and hash contact data, as pure functions.

Google's rules (https://support.google.com/google-ads/answer/7659867): e-mail trimmed and
lower-cased; phone in E.164 (`+` country code and number, digits only); first and last name
trimmed and lower-cased; each of those SHA-256 hex-encoded. Country (ISO-3166 alpha-2) and zip
are sent in clear. A value that is missing or cannot be normalised is sent empty — never the
hash of an empty string, which would match nobody and leak that the value is missing.
"""

from __future__ import annotations

import hashlib
import re

import polars as pl

CUSTOMER_MATCH_COLUMNS = ("Email", "Phone", "First Name", "Last Name", "Country", "Zip")

# ITU-T E.164 country calling codes of the countries a European retailer meets; a phone
# written without an international prefix is read as a national number of the customer's
# country. A national number of a country not listed here cannot be placed: empty.
CALLING_CODES: dict[str, str] = {
    "AT": "43", "BE": "32", "BG": "359", "CH": "41", "CY": "357", "CZ": "420", "DE": "49",
    "DK": "45", "EE": "372", "ES": "34", "FI": "358", "FR": "33", "GB": "44", "GR": "30",
    "HR": "385", "HU": "36", "IE": "353", "IS": "354", "IT": "39", "LI": "423", "LT": "370",
    "LU": "352", "LV": "371", "MT": "356", "NL": "31", "NO": "47", "PL": "48", "PT": "351",
    "RO": "40", "SE": "46", "SI": "386", "SK": "421", "TR": "90", "UA": "380", "US": "1",
    "CA": "1", "AU": "61", "NZ": "64",
}  # fmt: skip
# Trunk prefix dialled before a national number (dropped in the international form); Italy
# keeps its leading zero, the North American plan has none.
_KEEPS_LEADING_ZERO = {"IT", "SM", "VA"}
_ALLOWED_PHONE_CHARS = re.compile(r"^[+\d\s().\-/]+$")


def normalize_email(email: str | None) -> str:
    """Trimmed and lower-cased; empty when there is no plausible address (no `@`)."""
    if email is None:
        return ""
    value = email.strip().lower()
    return value if "@" in value and not any(c.isspace() for c in value) else ""


def normalize_name(name: str | None) -> str:
    """Trimmed and lower-cased (inner spaces and accents are kept, as Google asks)."""
    return "" if name is None else name.strip().lower()


def normalize_phone(phone: str | None, country: str | None) -> str:
    """E.164 (`+4930123456`), or empty when the number cannot be read unambiguously.

    `+` or `00` starts an international number; otherwise the number is national in the
    customer's `country` (its trunk `0` dropped, except in Italy). Separators (spaces, dots,
    dashes, slashes, brackets) are removed; letters, extensions or a result outside E.164's
    8–15 digits make it unparsable.
    """
    if phone is None:
        return ""
    raw = phone.strip()
    if not raw or not _ALLOWED_PHONE_CHARS.match(raw) or "+" in raw[1:]:
        return ""
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    else:
        code = CALLING_CODES.get((country or "").strip().upper())
        if code is None:
            return ""
        national = digits
        if (country or "").strip().upper() not in _KEEPS_LEADING_ZERO:
            national = national.removeprefix("0")
        international = code + national
    if not international or international[0] == "0" or not 8 <= len(international) <= 15:
        return ""
    return "+" + international


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes as lower-case hex; empty stays empty."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if value else ""


def hashed_email(email: str | None) -> str:
    return sha256_hex(normalize_email(email))


def hashed_phone(phone: str | None, country: str | None) -> str:
    return sha256_hex(normalize_phone(phone, country))


def hashed_name(name: str | None) -> str:
    return sha256_hex(normalize_name(name))


def customer_match_rows(contacts: pl.DataFrame) -> pl.DataFrame:
    """Customer Match upload rows from contact data.

    `contacts` has `email`, `phone`, `first_name`, `last_name`, `country`, `postal_code`;
    the result has exactly the `CUSTOMER_MATCH_COLUMNS`, hashed where Google asks. Rows with
    neither an e-mail nor a phone cannot be matched and are left out.
    """
    rows = [
        {
            "Email": hashed_email(email),
            "Phone": hashed_phone(phone, country),
            "First Name": hashed_name(first),
            "Last Name": hashed_name(last),
            "Country": (country or "").strip().upper(),
            "Zip": (postal or "").strip(),
        }
        for email, phone, first, last, country, postal in contacts.select(
            "email", "phone", "first_name", "last_name", "country", "postal_code"
        ).iter_rows()
    ]
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in CUSTOMER_MATCH_COLUMNS})
    return frame.filter((pl.col("Email") != "") | (pl.col("Phone") != ""))

"""The landing-zone tables of the public contract (`../shared/CONTRACT.md`, section 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LandingTable:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    description: str

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


LANDING_TABLES: dict[str, LandingTable] = {
    t.name: t
    for t in (
        LandingTable(
            "crm_customers",
            ("customer_no", "updated_at"),
            (
                "first_name",
                "last_name",
                "email",
                "phone",
                "birth_date",
                "gender",
                "street",
                "postal_code",
                "city",
                "country",
                "signup_date",
                "marketing_opt_in",
                "contract_end_date",
            ),
            "CRM master records; a later row of the same customer_no is an update.",
        ),
        LandingTable(
            "shop_orders",
            ("order_id", "ordered_at", "amount", "currency"),
            ("customer_no", "shop_account_id", "email", "channel", "device", "status"),
            "Web-shop and app orders, logged in or as guest. The only required table.",
        ),
        LandingTable(
            "order_lines",
            ("order_id",),
            ("product_id", "category", "quantity", "unit_price"),
            "Lines of shop orders with product categories.",
        ),
        LandingTable(
            "store_transactions",
            ("transaction_id", "transacted_at", "amount", "currency"),
            ("store_id", "loyalty_card_no", "is_return"),
            "Store / POS sales, with a loyalty card or anonymous.",
        ),
        LandingTable(
            "loyalty_cards",
            ("loyalty_card_no", "customer_no"),
            ("issued_at",),
            "Which CRM customer a loyalty card belongs to.",
        ),
        LandingTable(
            "web_events",
            ("event_id", "occurred_at", "event_type"),
            ("shop_account_id", "email", "device", "os"),
            "Sessions, product views, carts and newsletter interactions.",
        ),
        LandingTable(
            "prospects",
            ("prospect_id", "created_at"),
            ("email", "postal_code", "country", "birth_year", "source"),
            "Leads without purchases.",
        ),
        LandingTable(
            "fx_rates",
            ("currency", "rate_date", "rate_to_reporting"),
            (),
            "Exchange rates into the reporting currency.",
        ),
        LandingTable(
            "erasure_requests",
            ("requested_at",),
            ("customer_no", "email"),
            "Right-to-be-forgotten requests.",
        ),
    )
}

# An orders-only deployment must run; every other table is optional.
REQUIRED_TABLES = ("shop_orders",)

LANDING_SUFFIXES = (".csv", ".parquet")

# Direct personal data (contract, section 3): never published, masked in the quarantine.
PERSONAL_COLUMNS = frozenset({"first_name", "last_name", "email", "phone", "street", "birth_date"})


def landing_files(landing_dir: Path, table: str) -> list[Path]:
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in LANDING_SUFFIXES
    )


def missing_required_tables(landing_dir: Path) -> list[str]:
    """Required tables without a single file: nothing downstream can be built without them."""
    return [name for name in REQUIRED_TABLES if not landing_files(landing_dir, name)]


def missing_required_tables_reason(landing_dir: Path) -> str | None:
    """The one-line reason a run cannot start (None when it can): the same for the CLI, which
    says it before loading anything, and for the dbt asset, which a UI run reaches."""
    missing = missing_required_tables(landing_dir)
    if not missing:
        return None
    return (
        f"required landing table {', '.join(missing)} has no .csv or .parquet files in "
        f"{landing_dir}"
    )

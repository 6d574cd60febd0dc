"""Rule-based lifecycle stages, value tiers and business segments, with reasons in words.

The rules live in one YAML file (`dagster_project/config/segmentation.yaml`, or the file named by
`SEGMENTWERK_RULES`). Everything here is a vectorised polars expression over per-customer
features, so the same function scores one customer (a real-time lookup) or a million.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, Field, model_validator

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "config" / "segmentation.yaml"

Operator = Literal["<", "<=", ">", ">=", "==", "!=", "in"]
NUMERIC_FEATURES = (
    "order_count",
    "frequency",
    "recency_days",
    "tenure_days",
    "known_days",
    "orders_12m",
    "revenue_12m",
    "monetary_total",
    "p_alive",
    "expected_orders_12m",
    "predicted_clv_12m",
    "clv_percentile",
    "revenue_percentile",
)
FEATURES = (*NUMERIC_FEATURES, "abc_class")


class Condition(BaseModel):
    feature: str
    op: Operator
    value: Any

    @model_validator(mode="after")
    def _known_feature(self) -> Condition:
        if self.feature not in FEATURES:
            raise ValueError(f"unknown feature {self.feature!r}; known: {', '.join(FEATURES)}")
        return self


class When(BaseModel):
    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)


class LifecycleRule(BaseModel):
    stage: str
    when: When = Field(default_factory=When)


class Tier(BaseModel):
    tier: str
    min: float


class ValueTierConfig(BaseModel):
    feature: Literal["clv_percentile", "revenue_percentile", "abc_class"] = "clv_percentile"
    tiers: list[Tier] = Field(default_factory=list)  # for the percentile features
    abc_tiers: dict[str, str] = Field(  # for feature abc_class
        default_factory=lambda: {"A": "high", "B": "medium", "C": "low"}
    )
    no_value_tier: str = "none"


class SegmentRule(BaseModel):
    segment: str
    when: dict[Literal["lifecycle_stage", "value_tier"], list[str]]


class SegmentationRules(BaseModel):
    lifecycle: list[LifecycleRule]
    value_tier: ValueTierConfig
    segments: list[SegmentRule]

    @model_validator(mode="after")
    def _covers_everyone(self) -> SegmentationRules:
        if self.lifecycle[-1].when.all or self.lifecycle[-1].when.any:
            raise ValueError("the last lifecycle rule must match everyone (empty `when`)")
        stages = {rule.stage for rule in self.lifecycle}
        unreachable = stages - {
            s for rule in self.segments for s in rule.when.get("lifecycle_stage", [])
        }
        if unreachable:
            raise ValueError(f"no segment rule covers lifecycle stages {sorted(unreachable)}")
        return self


def load_rules(path: Path | None = None) -> SegmentationRules:
    path = path or Path(os.environ.get("SEGMENTWERK_RULES") or DEFAULT_RULES_PATH)
    with path.open(encoding="utf-8") as handle:
        return SegmentationRules.model_validate(yaml.safe_load(handle))


# --- formatting numbers inside polars (no per-row Python) ------------------------------------


def _grouped_int(expr: pl.Expr) -> pl.Expr:
    """12345.6 → '12,346' (thousands separators, vectorised)."""
    value = expr.round(0).cast(pl.Int64)
    magnitude = value.abs()
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))

    def part(divisor: int) -> pl.Expr:
        return ((magnitude // divisor) % 1000).cast(pl.Utf8).str.zfill(3)

    text = (
        pl.when(magnitude >= 1_000_000_000)
        .then(
            pl.concat_str(
                [
                    (magnitude // 1_000_000_000).cast(pl.Utf8),
                    pl.lit(","),
                    part(1_000_000),
                    pl.lit(","),
                    part(1000),
                    pl.lit(","),
                    part(1),
                ]
            )
        )
        .when(magnitude >= 1_000_000)
        .then(
            pl.concat_str(
                [
                    (magnitude // 1_000_000).cast(pl.Utf8),
                    pl.lit(","),
                    part(1000),
                    pl.lit(","),
                    part(1),
                ]
            )
        )
        .when(magnitude >= 1000)
        .then(pl.concat_str([(magnitude // 1000).cast(pl.Utf8), pl.lit(","), part(1)]))
        .otherwise(magnitude.cast(pl.Utf8))
    )
    return pl.concat_str([sign, text])


def _pct(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([(expr * 100).round(0).cast(pl.Int64).cast(pl.Utf8), pl.lit(" %")])


def _top_pct(percentile: pl.Expr) -> pl.Expr:
    """Percentile 0.97 → 'top 3 %' (at least 'top 1 %')."""
    top = ((1 - percentile) * 100).round(6).ceil().clip(1, 100).cast(pl.Int64).cast(pl.Utf8)
    return pl.concat_str([pl.lit("top "), top, pl.lit(" %")])


_OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠", "in": "in"}


def _threshold_text(condition: Condition, currency: str) -> str:
    value, op = condition.value, _OP_TEXT[condition.op]
    if condition.feature in ("clv_percentile", "revenue_percentile") and condition.op in (
        ">=",
        ">",
    ):
        return f"needs top {max(1, round((1 - float(value)) * 100))} %"
    if condition.feature == "p_alive":
        return f"{op} {float(value) * 100:.0f} %"
    if condition.feature in ("revenue_12m", "monetary_total", "predicted_clv_12m"):
        return f"{op} {currency} {float(value):,.0f}"
    if condition.op == "in":
        return "one of " + ", ".join(map(str, value))
    return f"{op} {value:,}" if isinstance(value, int | float) else f"{op} {value}"


def _observed_text(feature: str, currency: str) -> pl.Expr:
    col = pl.col(feature)
    money = pl.lit(f"{currency} ")
    texts: dict[str, pl.Expr] = {
        "order_count": pl.concat_str([_grouped_int(col), pl.lit(" purchases in total")]),
        "frequency": pl.concat_str([_grouped_int(col), pl.lit(" repeat purchase days")]),
        "recency_days": pl.concat_str(
            [pl.lit("last purchase "), _grouped_int(col), pl.lit(" days ago")]
        ),
        "tenure_days": pl.concat_str(
            [pl.lit("first purchase "), _grouped_int(col), pl.lit(" days ago")]
        ),
        "known_days": pl.concat_str([pl.lit("known for "), _grouped_int(col), pl.lit(" days")]),
        "orders_12m": pl.concat_str(
            [_grouped_int(col), pl.lit(" purchases in the last 12 months")]
        ),
        "revenue_12m": pl.concat_str(
            [money, _grouped_int(col), pl.lit(" revenue in the last 12 months")]
        ),
        "monetary_total": pl.concat_str([money, _grouped_int(col), pl.lit(" revenue to date")]),
        "p_alive": pl.concat_str([_pct(col), pl.lit(" probability of still being active")]),
        "expected_orders_12m": pl.concat_str(
            [col.round(1).cast(pl.Utf8), pl.lit(" purchases expected in the next 12 months")]
        ),
        "predicted_clv_12m": pl.concat_str(
            [pl.lit("predicted 12-month value "), money, _grouped_int(col)]
        ),
        "clv_percentile": pl.concat_str(
            [
                pl.lit("predicted 12-month value "),
                money,
                _grouped_int(pl.col("predicted_clv_12m")),
                pl.lit(", "),
                _top_pct(col),
            ]
        ),
        "revenue_percentile": pl.concat_str(
            [
                money,
                _grouped_int(pl.col("revenue_12m")),
                pl.lit(" revenue in the last 12 months, "),
                _top_pct(col),
            ]
        ),
        "abc_class": pl.concat_str([pl.lit("ABC class "), col]),
    }
    return texts[feature]


def _condition_expr(condition: Condition) -> pl.Expr:
    col, value = pl.col(condition.feature), condition.value
    ops = {
        "<": lambda: col < value,
        "<=": lambda: col <= value,
        ">": lambda: col > value,
        ">=": lambda: col >= value,
        "==": lambda: col == value,
        "!=": lambda: col != value,
        "in": lambda: col.is_in(list(value)),
    }
    # A missing feature (e.g. recency of a customer who never bought) never satisfies a rule.
    return ops[condition.op]().fill_null(False)


def _condition_text(condition: Condition, currency: str) -> pl.Expr:
    return pl.concat_str(
        [
            _observed_text(condition.feature, currency),
            pl.lit(f" ({_threshold_text(condition, currency)})"),
        ]
    )


def _rule_match(when: When) -> pl.Expr:
    match = pl.lit(True)
    for condition in when.all:
        match = match & _condition_expr(condition)
    if when.any:
        match = match & pl.any_horizontal([_condition_expr(c) for c in when.any])
    return match


def _rule_reason(when: When, currency: str, fallback: pl.Expr) -> pl.Expr:
    """The conditions that put the customer into this rule, with the customer's own numbers."""
    parts = [_condition_text(c, currency) for c in when.all]
    parts += [pl.when(_condition_expr(c)).then(_condition_text(c, currency)) for c in when.any]
    if not parts:
        return fallback
    # the `any` conditions that do not hold are null and left out (a list join: 10x slower)
    return pl.concat_str(parts, separator=" and ", ignore_nulls=True)


def assign_segments(
    features: pl.DataFrame, rules: SegmentationRules, currency: str
) -> pl.DataFrame:
    """Adds lifecycle_stage, value_tier, segment and segment_reason to every customer row."""
    missing = [f for f in FEATURES if f not in features.columns]
    if missing:
        raise ValueError(f"features missing for segmentation: {missing}")

    # Everyone else (the catch-all stage) is described by their recent activity.
    activity = pl.concat_str(
        [
            _observed_text("recency_days", currency),
            pl.lit(", "),
            _observed_text("orders_12m", currency),
        ]
    )
    # The first matching rule decides. Its reason is written only for the rows it decides: a
    # when/then chain computes every branch for every row, and the texts of all rules for a
    # million customers took 9-15 s, against 3 s for one text per customer.
    first_rule = pl.lit(None, dtype=pl.Int32)
    for index in reversed(range(len(rules.lifecycle))):
        first_rule = (
            pl.when(_rule_match(rules.lifecycle[index].when))
            .then(pl.lit(index, dtype=pl.Int32))
            .otherwise(first_rule)
        )
    ruled = features.with_row_index("_row").with_columns(first_rule.alias("_rule"))
    decided = [
        ruled.filter(pl.col("_rule") == index).with_columns(
            pl.lit(rule.stage, dtype=pl.Utf8).alias("lifecycle_stage"),
            _rule_reason(rule.when, currency, activity).cast(pl.Utf8).alias("_stage_reason"),
        )
        for index, rule in enumerate(rules.lifecycle)
    ]
    undecided = ruled.filter(pl.col("_rule").is_null()).with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("lifecycle_stage"),
        pl.lit(None, dtype=pl.Utf8).alias("_stage_reason"),
    )
    stages = pl.concat([*decided, undecided]).sort("_row").drop("_row", "_rule")

    tier_config = rules.value_tier
    tier_feature = pl.col(tier_config.feature)
    tier = pl.lit(tier_config.no_value_tier)
    if tier_config.feature == "abc_class":
        mapped = tier_feature.replace_strict(
            tier_config.abc_tiers, default=tier_config.no_value_tier, return_dtype=pl.Utf8
        )
        tier = pl.when(pl.col("order_count") > 0).then(mapped).otherwise(tier)
    else:
        for t in sorted(tier_config.tiers, key=lambda t: t.min):
            tier = (
                pl.when((pl.col("order_count") > 0) & (tier_feature >= t.min))
                .then(pl.lit(t.tier))
                .otherwise(tier)
            )
    tier_reason = pl.when(pl.col("order_count") > 0).then(
        pl.concat_str(
            [
                pl.lit("value tier "),
                pl.col("value_tier"),
                pl.lit(": "),
                _observed_text(tier_config.feature, currency),
            ]
        )
    )

    staged = stages.with_columns(tier.alias("value_tier"))
    segment = pl.lit(None, dtype=pl.Utf8)
    uses_tier = pl.lit(False)
    for rule in reversed(rules.segments):
        matches = pl.lit(True)
        for dimension, allowed in rule.when.items():
            matches = matches & pl.col(dimension).is_in(allowed)
        segment = pl.when(matches).then(pl.lit(rule.segment)).otherwise(segment)
        uses_tier = pl.when(matches).then(pl.lit("value_tier" in rule.when)).otherwise(uses_tier)

    return (
        staged.with_columns(segment.alias("segment"), uses_tier.alias("_uses_tier"))
        .with_columns(
            pl.concat_str(
                [
                    pl.col("segment"),
                    # "VIP: vip — ..." says the stage twice; name it only where it differs.
                    pl.when(
                        pl.col("segment").str.to_lowercase()
                        == pl.col("lifecycle_stage").str.replace_all("_", " ")
                    )
                    .then(pl.lit(": "))
                    .otherwise(
                        pl.concat_str([pl.lit(" ("), pl.col("lifecycle_stage"), pl.lit("): ")])
                    ),
                    pl.col("_stage_reason"),
                    pl.when(pl.col("_uses_tier"))
                    .then(pl.concat_str([pl.lit("; "), tier_reason]))
                    .otherwise(pl.lit("")),
                ]
            ).alias("segment_reason")
        )
        .drop("_stage_reason", "_uses_tier")
    )

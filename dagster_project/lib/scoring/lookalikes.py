"""`marts.prospect_scores`: how much each prospect looks like the customers of a target segment.

Prospects have not bought anything, so only attributes that a prospect has can explain the
target: country, postal region, age band, gender, marketing opt-in, prospect source and recent
web engagement. A logistic regression over one-hot attribute levels learns, among the existing
buyers, which levels go with the target segment (default 'VIP'); applied to a prospect it gives
the probability that the prospect, once a buyer, would be in the segment, and the levels that
raised that probability are the prospect's `top_reasons`.

Everything is read as of the snapshot's last day: CRM versions updated and prospect records
created by then, web events up to then. Personal fields (birth date, birth year, postal code)
are read internally and published only as bands and regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from dagster_project.lib.months import month_end

PROSPECT_STAGE = "prospect"
UNKNOWN = "unknown"
# Attribute levels too rare among the buyers to learn from share one level.
OTHER = "other"
THIN_DATA_REASON = "too few target customers to learn from"
NO_REASON = "no attribute above the average buyer"
WEB_WINDOW_DAYS = 90
# A level is a reason when it lifts the log-odds above the average buyer by more than float
# noise (a level every buyer shares lifts by exactly zero, up to rounding).
MIN_REASON_LIFT = 1e-6

# The model's attributes and how a level reads in `top_reasons` ("age 35-44").
REASON_TEMPLATES: dict[str, str] = {
    "country": "country {}",
    "region": "region {}",
    "age_band": "age {}",
    "gender": "gender {}",
    "marketing_opt_in": "marketing opt-in {}",
    "prospect_source": "source {}",
    "web_engagement": f"web active {{}} of the last {WEB_WINDOW_DAYS} days",
}
ATTRIBUTES = tuple(REASON_TEMPLATES)

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_month": pl.Date(),
    "customer_id": pl.Utf8(),
    "prospect_id": pl.Utf8(),
    "candidate_type": pl.Utf8(),
    "target_segment": pl.Utf8(),
    "lookalike_score": pl.Float64(),
    "rank": pl.Int64(),
    "top_reasons": pl.Utf8(),
    "method": pl.Utf8(),
}


@dataclass(frozen=True)
class LookalikeParameters:
    target_segment: str = "VIP"
    # Below this many target customers (or other buyers) the segment is not learnable: first
    # the top value tier stands in for the segment, then every candidate gets the base rate.
    min_target_customers: int = 20
    top_value_tier: str = "high"
    # Low-value buyers can be scored too, to find those who look like the target segment.
    include_low_value_customers: bool = False
    low_value_tier: str = "low"
    min_level_customers: int = 5
    regularization: float = 1.0  # inverse L2 strength (scikit-learn's C)
    holdout_share: float = 0.25
    top_reasons: int = 3
    seed: int = 42


@dataclass(frozen=True)
class LookalikeModel:
    vocabulary: dict[str, tuple[str, ...]]  # per attribute: the levels learned, OTHER last
    classifier: LogisticRegression
    # log-odds of the target among the buyers: undoes the balanced class weights, so that
    # scores are probabilities again (the prior correction of King & Zeng, 2001)
    prior_logit: float
    # per attribute: the mean weight of the buyers' levels; a reason is a level above it
    baseline: np.ndarray


@dataclass(frozen=True)
class LookalikeResult:
    scores: pl.DataFrame
    target: str  # what was learned: the segment, or the value tier standing in for it
    target_customers: int
    buyers: int
    method: str  # "logistic regression", or "base rate" when the data are too thin
    holdout_auc: float | None
    note: str | None  # why the target or the model fell back, if it did


def load_lookalike_attributes(con: duckdb.DuckDBPyConnection, snapshot_month: date) -> pl.DataFrame:
    """One row per customer of the snapshot with the raw attributes the lookalike model uses.

    Only data dated on or before the as-of day is read; `prospect_id` is the customer's latest
    prospect record by then (null for customers who never were prospects).
    """
    day_after = month_end(snapshot_month) + timedelta(days=1)
    return con.sql(
        """
        with snapshot as (
            select customer_id, lifecycle_stage, value_tier, segment
            from marts.customer_segments
            where snapshot_month = $month
        ),
        crm as (
            select
                map.customer_id, crm.birth_date, crm.gender, crm.postal_code, crm.country,
                crm.marketing_opt_in,
                row_number() over (
                    partition by map.customer_id
                    order by crm.updated_at desc, crm.source_file desc, crm.source_line desc
                ) as recency_rank
            from staging.stg_crm__customers as crm
            inner join marts.customer_identity_map as map
                on map.source_system = 'crm' and map.source_key = crm.customer_no
            where crm.updated_at < $day_after
        ),
        prospect as (
            select
                map.customer_id, prospect.prospect_id, prospect.postal_code, prospect.country,
                prospect.birth_year, prospect.prospect_source,
                row_number() over (
                    partition by map.customer_id
                    order by prospect.created_at desc, prospect.prospect_id desc
                ) as recency_rank
            from staging.stg_marketing__prospects as prospect
            inner join marts.customer_identity_map as map
                on map.source_system = 'prospect' and map.source_key = prospect.prospect_id
            where prospect.created_at < $day_after
        ),
        web as (
            select customer_id, count(distinct activity_date) as web_active_days
            from marts.fct_web_activity
            where customer_id is not null
              and activity_date < $day_after
              and activity_date >= $day_after - to_days($web_days)
            group by customer_id
        )
        select
            snapshot.customer_id,
            snapshot.lifecycle_stage,
            snapshot.value_tier,
            snapshot.segment,
            prospect.prospect_id,
            -- as in dim_customers: CRM wins, the prospect record fills what CRM lacks
            coalesce(crm.country, prospect.country) as country,
            coalesce(crm.postal_code, prospect.postal_code) as postal_code,
            crm.birth_date,
            prospect.birth_year,
            crm.gender,
            crm.marketing_opt_in,
            prospect.prospect_source,
            coalesce(web.web_active_days, 0) as web_active_days
        from snapshot
        left join crm on crm.customer_id = snapshot.customer_id and crm.recency_rank = 1
        left join prospect
            on prospect.customer_id = snapshot.customer_id and prospect.recency_rank = 1
        left join web on web.customer_id = snapshot.customer_id
        order by snapshot.customer_id
        """,
        params={"month": snapshot_month, "day_after": day_after, "web_days": WEB_WINDOW_DAYS},
    ).pl()


def _age_band(age: pl.Expr) -> pl.Expr:
    bands = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64))
    expr = pl.when(age.is_between(65, 120)).then(pl.lit("65+"))
    for low, high in bands:
        expr = expr.when(age.is_between(low, high)).then(pl.lit(f"{low}-{high}"))
    return expr.otherwise(pl.lit(UNKNOWN))


def lookalike_features(attributes: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The raw attributes replaced by the model's categorical levels (strings, never null).

    The age is the age on the as-of day (from the birth date, else from the birth year alone),
    so the band a customer had in an old snapshot stays what it was. The personal columns
    (birth date and year, postal code) do not leave this function.
    """
    birth = pl.col("birth_date")
    had_birthday = (birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day()) <= (
        as_of.month * 100 + as_of.day
    )
    age = (
        pl.when(birth.is_not_null())
        .then(as_of.year - birth.dt.year() - pl.when(had_birthday).then(0).otherwise(1))
        .otherwise(as_of.year - pl.col("birth_year"))
    )
    # "DE-80": the first two characters of the postal code name a region in most countries.
    postal_prefix = (
        pl.col("postal_code")
        .str.replace_all(r"[^0-9A-Za-z]", "")
        .str.to_uppercase()
        .str.slice(0, 2)
    )
    opt_in = pl.col("marketing_opt_in")
    web_days = pl.col("web_active_days")
    # One `with_columns`: every expression reads the raw values, also where it replaces them.
    return attributes.with_columns(
        pl.col("country").fill_null(UNKNOWN),
        pl.when(pl.col("country").is_not_null() & (postal_prefix.str.len_chars() == 2))
        .then(pl.concat_str([pl.col("country"), pl.lit("-"), postal_prefix]))
        .otherwise(pl.lit(UNKNOWN))
        .alias("region"),
        _age_band(age).alias("age_band"),
        pl.col("gender").fill_null(UNKNOWN),
        # a null opt-in is unknown consent, not a refusal
        pl.when(opt_in)
        .then(pl.lit("yes"))
        .when(~opt_in)
        .then(pl.lit("no"))
        .otherwise(pl.lit(UNKNOWN))
        .alias("marketing_opt_in"),
        pl.col("prospect_source").fill_null("none"),
        pl.when(web_days >= 3)
        .then(pl.lit("3+"))
        .when(web_days >= 1)
        .then(pl.lit("1-2"))
        .otherwise(pl.lit("0"))
        .alias("web_engagement"),
    ).drop("postal_code", "birth_date", "birth_year", "web_active_days")


def _vocabulary(levels: pl.DataFrame, min_count: int) -> dict[str, tuple[str, ...]]:
    vocabulary = {}
    for attribute in ATTRIBUTES:
        counts = levels.group_by(attribute).len()
        kept = counts.filter(pl.col("len") >= min_count)[attribute].sort().to_list()
        vocabulary[attribute] = (*[level for level in kept if level != OTHER], OTHER)
    return vocabulary


def _encode(vocabulary: dict[str, tuple[str, ...]], levels: pl.DataFrame) -> np.ndarray:
    """n × attributes matrix of one-hot column indices; unseen and rare levels → OTHER."""
    columns, offset = [], 0
    for attribute in ATTRIBUTES:
        known = vocabulary[attribute]
        mapping = {level: offset + i for i, level in enumerate(known)}
        columns.append(
            pl.col(attribute).replace_strict(
                mapping, default=offset + len(known) - 1, return_dtype=pl.Int64
            )
        )
        offset += len(known)
    return levels.select(columns).to_numpy().reshape(levels.height, len(ATTRIBUTES))


def _one_hot(codes: np.ndarray, n_columns: int) -> sparse.csr_matrix:
    n, k = codes.shape
    return sparse.csr_matrix(
        (np.ones(n * k), codes.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n_columns)
    )


def fit_lookalike_model(
    features: pl.DataFrame, is_target: np.ndarray, params: LookalikeParameters
) -> LookalikeModel:
    """Logistic regression of `is_target` on the buyers' attribute levels, classes balanced."""
    levels = features.select(ATTRIBUTES)
    vocabulary = _vocabulary(levels, params.min_level_customers)
    codes = _encode(vocabulary, levels)
    n_columns = sum(len(known) for known in vocabulary.values())
    # Balanced weights keep a small segment from drowning in the other buyers; lbfgs is
    # deterministic, so the same data give the same model.
    classifier = LogisticRegression(
        C=params.regularization,
        class_weight="balanced",
        max_iter=1000,
        random_state=params.seed,
    ).fit(_one_hot(codes, n_columns), is_target)
    share = float(is_target.mean())
    weights = classifier.coef_[0]
    return LookalikeModel(
        vocabulary=vocabulary,
        classifier=classifier,
        prior_logit=float(np.log(share / (1 - share))),
        baseline=weights[codes].mean(axis=0),
    )


def _labels(vocabulary: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Reason text per one-hot column; "" for levels that are no reason (unknown, other)."""
    labels = [
        REASON_TEMPLATES[attribute].format(level) if level not in (UNKNOWN, OTHER) else ""
        for attribute in ATTRIBUTES
        for level in vocabulary[attribute]
    ]
    return np.array(labels, dtype=object)


def apply_lookalike_model(
    model: LookalikeModel, features: pl.DataFrame, top_reasons: int = 3
) -> pl.DataFrame:
    """`lookalike_score` and `top_reasons` for every row of `features`, one row or a million."""
    codes = _encode(model.vocabulary, features.select(ATTRIBUTES))
    weights = model.classifier.coef_[0][codes]  # n × attributes: the weight of each active level
    # One active level per attribute, so the linear predictor is the sum of the active weights.
    logit = weights.sum(axis=1) + model.classifier.intercept_[0] + model.prior_logit
    labels = _labels(model.vocabulary)[codes]
    # how far each level lifts the score above the average buyer; no reason can't be chosen
    lift = np.where(labels != "", weights - model.baseline, -np.inf)
    order = np.argsort(-lift, axis=1, kind="stable")[:, :top_reasons]
    slots = []
    for slot in range(order.shape[1]):
        chosen = order[:, slot : slot + 1]
        raises = np.take_along_axis(lift, chosen, axis=1)[:, 0] > MIN_REASON_LIFT
        text = np.take_along_axis(labels, chosen, axis=1)[:, 0]
        slots.append(
            pl.Series(f"reason_{slot}", np.where(raises, text, None).tolist(), dtype=pl.Utf8)
        )
    reasons = pl.DataFrame(slots).select(
        pl.concat_str(pl.all(), separator=", ", ignore_nulls=True).alias("top_reasons")
    )["top_reasons"]
    return pl.DataFrame(
        {
            "lookalike_score": expit(logit),
            "top_reasons": reasons.replace("", NO_REASON),
        }
    )


def holdout_auc(
    features: pl.DataFrame, is_target: np.ndarray, params: LookalikeParameters
) -> float:
    """ROC AUC on a stratified holdout of the buyers the model did not see."""
    train, test = (
        np.sort(rows)
        for rows in train_test_split(
            np.arange(features.height),
            test_size=params.holdout_share,
            stratify=is_target,
            random_state=params.seed,
        )
    )
    model = fit_lookalike_model(features[train], is_target[train], params)
    scores = apply_lookalike_model(model, features[test], params.top_reasons)
    return float(roc_auc_score(is_target[test], scores["lookalike_score"].to_numpy()))


def _choose_target(
    buyers: pl.DataFrame, params: LookalikeParameters
) -> tuple[str, pl.Expr, str | None]:
    """The segment to learn, or the top value tier when the segment is too small to learn."""
    in_segment = pl.col("segment") == params.target_segment
    members = buyers.filter(in_segment).height
    if members >= params.min_target_customers:
        return params.target_segment, in_segment, None
    note = (
        f"segment {params.target_segment!r} has {members} customers "
        f"(< {params.min_target_customers}); value tier {params.top_value_tier!r} stands in"
    )
    return (
        f"value tier {params.top_value_tier}",
        pl.col("value_tier") == params.top_value_tier,
        note,
    )


def score_lookalikes(
    attributes: pl.DataFrame,
    snapshot_month: date,
    params: LookalikeParameters | None = None,
) -> LookalikeResult:
    """Scores the snapshot's prospects (and optionally its low-value buyers) against the target.

    `attributes` is `load_lookalike_attributes`' frame: one row per customer of the snapshot.
    Rank 1 is the best candidate; ties are broken by customer_id, so ranks are reproducible.
    """
    params = params or LookalikeParameters()
    features = lookalike_features(attributes.sort("customer_id"), month_end(snapshot_month))
    is_buyer = pl.col("lifecycle_stage") != PROSPECT_STAGE
    buyers = features.filter(is_buyer)
    target, target_expr, note = _choose_target(buyers, params)
    is_target = buyers.select(target_expr.fill_null(False))[:, 0].to_numpy()
    positives = int(is_target.sum())

    is_candidate = ~is_buyer
    if params.include_low_value_customers:
        is_candidate = is_candidate | (pl.col("value_tier") == params.low_value_tier)
    candidates = features.filter(is_candidate)

    auc: float | None = None
    if min(positives, buyers.height - positives) < params.min_target_customers:
        base_rate = positives / buyers.height if buyers.height else 0.0
        scored = pl.DataFrame(
            {
                "lookalike_score": [base_rate] * candidates.height,
                "top_reasons": [THIN_DATA_REASON] * candidates.height,
            },
            schema={"lookalike_score": pl.Float64, "top_reasons": pl.Utf8},
        )
        method = "base rate"
        note = "; ".join(
            part
            for part in (note, f"{positives} target customers among {buyers.height} buyers")
            if part
        )
    else:
        auc = holdout_auc(buyers, is_target, params)
        model = fit_lookalike_model(buyers, is_target, params)
        scored = apply_lookalike_model(model, candidates, params.top_reasons)
        method = "logistic regression"

    scores = (
        candidates.select("customer_id", "prospect_id", "lifecycle_stage")
        .with_columns(scored)
        .sort(["lookalike_score", "customer_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
        .select(
            pl.lit(snapshot_month).alias("snapshot_month"),
            "customer_id",
            "prospect_id",
            pl.when(pl.col("lifecycle_stage") == PROSPECT_STAGE)
            .then(pl.lit("prospect"))
            .otherwise(pl.lit("low-value customer"))
            .alias("candidate_type"),
            pl.lit(target).alias("target_segment"),
            "lookalike_score",
            "rank",
            "top_reasons",
            pl.lit(method).alias("method"),
        )
        .cast(SCORE_SCHEMA)
    )
    return LookalikeResult(scores, target, positives, buyers.height, method, auc, note)

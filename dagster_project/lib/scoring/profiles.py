"""`marts.segment_profiles`: size, value and persona of every segment in one snapshot month.

A persona is the set of customer attributes that are over-represented in a segment against the
whole base, measured by lift = P(attribute | segment) / P(attribute | all customers), both
among the customers for whom the attribute is known. Rare attributes reach high lifts by
chance, so an attribute only counts when enough of the segment holds it (minimum support).
The set work (who holds which attribute, counts per segment) is DuckDB SQL; ranking and
wording are polars; the pictures (a word cloud per segment, a heatmap of the behavioural
clusters) are rendered to PNG bytes so callers decide where they go.

Everything is read as of the snapshot's last day: orders and web events dated later are ignored.
The customer master (`dim_customers`) has no history, so country, age band and the like are the
current values.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from wordcloud import WordCloud

from dagster_project.lib.months import month_end
from dagster_project.lib.scoring.clusters import LOG_FEATURES
from dagster_project.lib.scoring.purchases import FACT_PERSONA_COLUMNS, stored_purchase_facts
from dagster_project.lib.scoring.segmentation import CLUSTER_FEATURES

# The segment columns of `marts.customer_segments` that get a profile; the same names as the
# `dimension` of `marts.segment_migrations`.
DIMENSIONS = ("segment", "lifecycle_stage", "value_tier", "cluster_name")
UNASSIGNED = "(unassigned)"
NO_PERSONA = "no distinctive attributes"
# Attributes a customer either has or not (several values each), as opposed to attributes
# with one value per customer that may be unknown (country, main channel, ...).
_PRESENCE_ATTRIBUTES = ("source_systems", "web_engagement")

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_month": pl.Date(),
    "dimension": pl.String(),
    "segment": pl.String(),
    "customers": pl.Int64(),
    "share": pl.Float64(),
    "revenue_12m": pl.Float64(),
    "revenue_share": pl.Float64(),
    "avg_predicted_clv": pl.Float64(),
    "avg_p_alive": pl.Float64(),
    "avg_orders_12m": pl.Float64(),
    "top_attributes": pl.String(),
    "top_attributes_json": pl.String(),
}


@dataclass(frozen=True)
class ProfileParameters:
    min_support_share: float = 0.05  # of the segment holding the attribute
    min_support_customers: int = 10
    min_lift: float = 1.1  # below this an attribute is not distinctive, just common
    top_n: int = 5  # attributes in the persona text
    cloud_words: int = 25  # attributes in a word cloud
    seed: int = 42


@dataclass(frozen=True)
class SegmentProfiles:
    profiles: pl.DataFrame  # the rows of marts.segment_profiles
    attributes: pl.DataFrame  # every distinctive attribute per (dimension, segment), ranked


# One row per (customer, dimension) for the snapshot; a customer sits in exactly one segment
# per dimension, so shares per dimension sum to 1. Needs the parameter $month.
_MEMBERSHIPS = " union all ".join(
    f"select customer_id, '{d}' as dimension, coalesce({d}, '{UNASSIGNED}') as segment "
    "from marts.customer_segments where snapshot_month = $month"
    for d in DIMENSIONS
)

# The same memberships as one row per customer (a column per dimension): the counts per
# (dimension, segment, attribute) then come from one pass over the attributes with GROUPING SETS
# instead of a join with four rows per customer (at 1M customers 80M joined rows).
_DIMENSIONS = (
    "select customer_id, "
    + ", ".join(f"coalesce({d}, '{UNASSIGNED}') as in_{d}" for d in DIMENSIONS)
    + " from marts.customer_segments where snapshot_month = $month"
)
# In each grouping set exactly one `in_<dimension>` column is grouped (the others are null).
_PER_DIMENSION = (
    "case "
    + " ".join(f"when grouping(in_{d}) = 0 then '{d}'" for d in DIMENSIONS)
    + " end as dimension, coalesce("
    + ", ".join(f"in_{d}" for d in DIMENSIONS)
    + ") as segment"
)
_SETS = ", ".join(f"(in_{d}, {{extra}})" for d in DIMENSIONS)

# One row per (customer, attribute, value) the customer holds, for everyone in the snapshot.
# Multi-valued attributes (source systems, web engagement) give a customer several rows.
# Needs $month and $as_of, and the frame `persona_favourites` (the facts' favourites).
_ATTRIBUTES = """
population as (
    select customer_id from marts.customer_segments where snapshot_month = $month
),
customers as (
    select
        p.customer_id,
        d.country,
        d.age_band,
        d.gender,
        d.marketing_opt_in,
        string_split(d.source_systems, ',') as source_systems,
        upper(replace(d.postal_code, ' ', '')) as postal_code
    from population as p
    inner join marts.dim_customers as d using (customer_id)
),
-- each buyer's most used channel and device and most bought category (kept with the facts)
favourites as (
    select f.customer_id, f.main_channel, f.main_device, f.top_category
    from persona_favourites as f
    inner join population using (customer_id)
),
web as (
    select distinct a.customer_id, a.event_type
    from marts.fct_web_activity as a
    inner join population using (customer_id)
    where a.event_type in ('newsletter_open', 'newsletter_click', 'cart_abandoned')
      and a.activity_date <= $as_of
      and a.activity_date > $as_of - interval 365 day
),
attribute_rows as (
    select customer_id, 'country' as attribute, country as value from customers
    union all
    select customer_id, 'age_band', age_band from customers
    union all
    select customer_id, 'gender', gender from customers
    union all
    select customer_id, 'marketing_opt_in',
        case when marketing_opt_in then 'yes' when not marketing_opt_in then 'no' end
    from customers
    union all
    -- the first two characters narrow a postal code to a region in most European systems
    select customer_id, 'postal_region', country || '-' || left(postal_code, 2)
    from customers where length(postal_code) >= 2
    union all
    select customer_id, 'source_systems', system
    from (select customer_id, unnest(source_systems) as system from customers)
    where system in ('loyalty', 'shop')
    union all
    select customer_id, 'main_channel', main_channel from favourites
    union all
    select customer_id, 'main_device', main_device from favourites
    union all
    select customer_id, 'top_category', top_category from favourites
    union all
    select customer_id, 'web_engagement', event_type from web
),
attributes as (
    select distinct customer_id, attribute, value from attribute_rows where value is not null
)
"""


def _snapshot_params(month: date) -> dict[str, date]:
    as_of = month_end(month)
    return {"month": month, "as_of": as_of}


def segment_metrics(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """Size and value per (dimension, segment): customers, shares and averages of the scores.

    `revenue_share` is null when the snapshot has no revenue in the last 12 months (a share of
    nothing is undefined); `avg_predicted_clv` and `avg_p_alive` average over the customers that
    have a prediction, which prospects without a purchase do not.
    """
    return con.sql(
        f"""
        with memberships as ({_MEMBERSHIPS}),
        scores as (
            select customer_id, cast(revenue_12m as double) as revenue_12m,
                predicted_clv_12m, p_alive, cast(orders_12m as double) as orders_12m
            from marts.customer_scores
            where snapshot_month = $month
        )
        select
            m.dimension,
            m.segment,
            count(*) as customers,
            count(*) / sum(count(*)) over (partition by m.dimension) as share,
            sum(coalesce(s.revenue_12m, 0)) as revenue_12m,
            sum(coalesce(s.revenue_12m, 0))
                / nullif(sum(sum(coalesce(s.revenue_12m, 0))) over (partition by m.dimension), 0)
                as revenue_share,
            avg(s.predicted_clv_12m) as avg_predicted_clv,
            avg(s.p_alive) as avg_p_alive,
            coalesce(avg(s.orders_12m), 0) as avg_orders_12m
        from memberships as m
        left join scores as s using (customer_id)
        group by m.dimension, m.segment
        """,
        params={"month": month},
    ).pl()


def attribute_lifts(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """Per (dimension, segment, attribute, value): holders, support and lift.

    `share_in_segment` (the support) is the share of the whole segment holding the value. The
    lift compares shares among the customers whose attribute is known: prospects have no main
    channel and shop-only customers no country, so against the whole base every buyer segment
    would look over-represented in every channel and every segment with a CRM record in every
    country. Presence attributes (source systems, web engagement) are known for everyone.
    """
    presence = ", ".join(f"('{a}')" for a in _PRESENCE_ATTRIBUTES)
    favourites = stored_purchase_facts(con, month).select(
        "customer_id", *sorted(FACT_PERSONA_COLUMNS)
    )
    con.register("persona_favourites", favourites)
    try:
        return _attribute_lifts(con, month, presence)
    finally:
        con.unregister("persona_favourites")


def _attribute_lifts(con: duckdb.DuckDBPyConnection, month: date, presence: str) -> pl.DataFrame:
    return con.sql(
        f"""
        with memberships as ({_MEMBERSHIPS}),
        dimensions as ({_DIMENSIONS}),
        {_ATTRIBUTES},
        presence (attribute) as (values {presence}),
        segment_sizes as (
            select dimension, segment, count(*) as segment_customers
            from memberships group by all
        ),
        held as (
            select {_PER_DIMENSION}, a.attribute, a.value, count(*) as customers
            from attributes as a
            inner join dimensions using (customer_id)
            group by grouping sets ({_SETS.format(extra="a.attribute, a.value")})
        ),
        -- Who has the attribute known. Every other attribute has one value per customer (one
        -- row of dim_customers or of the facts), so its known customers are the holders of
        -- any value; presence attributes are known for the whole population. Counted so, not
        -- as distinct (customer, attribute) pairs: at 1M customers those DISTINCTs over ~10M
        -- attribute rows were most of this query.
        known_in_segment as (
            select dimension, segment, attribute, sum(customers) as known_customers
            from held where attribute not in (select attribute from presence)
            group by all
            union all
            select z.dimension, z.segment, p.attribute, z.segment_customers
            from segment_sizes as z cross join presence as p
        ),
        known_in_base as (
            select attribute, count(*) as known_customers
            from attributes where attribute not in (select attribute from presence)
            group by all
            union all
            select attribute, (select count(*) from population) from presence
        ),
        base as (
            select a.attribute, a.value, count(*) / any_value(k.known_customers) as share_in_base
            from attributes as a
            inner join known_in_base as k using (attribute)
            group by all
        )
        select
            h.dimension,
            h.segment,
            h.attribute,
            h.value,
            h.customers,
            h.customers / z.segment_customers as share_in_segment,
            h.customers / k.known_customers / b.share_in_base as lift
        from held as h
        inner join segment_sizes as z using (dimension, segment)
        inner join known_in_segment as k using (dimension, segment, attribute)
        inner join base as b using (attribute, value)
        """,
        params=_snapshot_params(month),
    ).pl()


_VALUE_WORDS: dict[str, dict[str, str]] = {
    "gender": {"f": "women", "m": "men", "d": "gender diverse"},
    "marketing_opt_in": {"yes": "marketing opt-in", "no": "no marketing opt-in"},
    "source_systems": {"loyalty": "loyalty card holder", "shop": "shop account holder"},
    "web_engagement": {
        "newsletter_open": "newsletter opener",
        "newsletter_click": "newsletter clicker",
        "cart_abandoned": "cart abandoner",
    },
}
_TEMPLATES = {
    "country": "country {}",
    "age_band": "age {}",
    "postal_region": "postal region {}",
    "main_channel": "{} buyers",
    "main_device": "orders on {}",
}


def attribute_label(attribute: str, value: str) -> str:
    """Persona words for an attribute value: ('main_channel', 'app') → 'app buyers'."""
    words = _VALUE_WORDS.get(attribute, {})
    if value in words:
        return words[value]
    return _TEMPLATES.get(attribute, "{}").format(value)


def rank_attributes(lifts: pl.DataFrame, params: ProfileParameters) -> pl.DataFrame:
    """The distinctive attributes per (dimension, segment), best first, with their label.

    Distinctive: held by at least the minimum support and over-represented by at least
    `min_lift`. Ties in lift go to the attribute more of the segment holds, then by name, so
    the order is the same on every run.
    """
    distinctive = lifts.filter(
        (pl.col("share_in_segment") >= params.min_support_share)
        & (pl.col("customers") >= params.min_support_customers)
        & (pl.col("lift") >= params.min_lift)
    )
    labels = pl.DataFrame(
        [
            (attribute, value, attribute_label(attribute, value))
            for attribute, value in distinctive.select("attribute", "value").unique().iter_rows()
        ],
        schema={"attribute": pl.String, "value": pl.String, "label": pl.String},
        orient="row",
    )
    return (
        distinctive.join(labels, on=["attribute", "value"], how="left")
        .sort(
            ["dimension", "segment", "lift", "share_in_segment", "attribute", "value"],
            descending=[False, False, True, True, False, False],
        )
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("dimension", "segment"))
    )


def personas(ranked: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """Per (dimension, segment): the top attributes as text and as JSON for BI tools."""
    return (
        ranked.filter(pl.col("rank") <= top_n)
        .group_by("dimension", "segment")
        .agg(
            pl.format("{} (×{})", "label", pl.col("lift").round(1)).str.join(", ").alias("text"),
            pl.struct(
                "attribute",
                "value",
                "label",
                pl.col("lift").round(2),
                pl.col("share_in_segment").round(4),
                "customers",
            ).alias("items"),
        )
        .select(
            "dimension",
            "segment",
            pl.col("text").alias("top_attributes"),
            pl.concat_str(
                pl.lit("["),
                pl.col("items").list.eval(pl.element().struct.json_encode()).list.join(","),
                pl.lit("]"),
            ).alias("top_attributes_json"),
        )
    )


def segment_profiles(
    con: duckdb.DuckDBPyConnection, month: date, params: ProfileParameters = ProfileParameters()
) -> SegmentProfiles:
    """The `marts.segment_profiles` rows of `month`, one per (dimension, segment)."""
    ranked = rank_attributes(attribute_lifts(con, month), params)
    dimension_order = pl.Enum(DIMENSIONS)
    profiles = (
        segment_metrics(con, month)
        .join(personas(ranked, params.top_n), on=["dimension", "segment"], how="left")
        .with_columns(
            pl.lit(month).alias("snapshot_month"),
            pl.col("top_attributes").fill_null(NO_PERSONA),
            pl.col("top_attributes_json").fill_null("[]"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in PROFILE_SCHEMA.items()])
        .sort(
            pl.col("dimension").cast(dimension_order),
            pl.col("customers"),
            pl.col("segment"),
            descending=[False, True, False],
        )
    )
    return SegmentProfiles(profiles=profiles, attributes=ranked)


def load_cluster_features(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """The clustering features of every clustered customer (buyers), with their cluster."""
    facts = stored_purchase_facts(con, month)
    scores = con.sql(
        "select customer_id, order_count, recency_days, avg_order_value, tenure_days "
        "from marts.customer_scores where snapshot_month = $month",
        params={"month": month},
    ).pl()
    clusters = con.sql(
        "select customer_id, cluster_id, cluster_name from marts.customer_segments "
        "where snapshot_month = $month and cluster_id is not null",
        params={"month": month},
    ).pl()
    # As in the segmentation: score columns where the scores have them, the mix from the facts.
    mix = facts.select("customer_id", *[c for c in CLUSTER_FEATURES if c not in scores.columns])
    return clusters.join(scores, on="customer_id", how="left").join(
        mix, on="customer_id", how="left"
    )


def cluster_zscores(features: pl.DataFrame) -> pl.DataFrame:
    """Per cluster and feature: the cluster mean as z-score against all clustered customers.

    The features go through the clustering's own transform (log1p for counts and amounts,
    nulls as 0), so the heatmap shows the space in which k-means drew the clusters.
    """
    transformed = features.with_columns(
        (
            pl.col(name).cast(pl.Float64).fill_null(0.0).fill_nan(0.0).clip(0.0).log1p()
            if name in LOG_FEATURES
            else pl.col(name).cast(pl.Float64).fill_null(0.0).fill_nan(0.0)
        )
        for name in CLUSTER_FEATURES
    )
    # Population standard deviation, and 1 for a constant feature, as the clustering scales.
    centre = {name: transformed[name].mean() or 0.0 for name in CLUSTER_FEATURES}
    scale = {name: transformed[name].std(ddof=0) or 1.0 for name in CLUSTER_FEATURES}
    return (
        transformed.group_by("cluster_id", "cluster_name")
        .agg(
            pl.len().alias("customers"),
            *[((pl.col(n).mean() - centre[n]) / scale[n]).alias(n) for n in CLUSTER_FEATURES],
        )
        .unpivot(
            index=["cluster_id", "cluster_name", "customers"],
            on=list(CLUSTER_FEATURES),
            variable_name="feature",
            value_name="z",
        )
        .sort("cluster_id", pl.col("feature").cast(pl.Enum(CLUSTER_FEATURES)))
    )


_FEATURE_LABELS = {
    "order_count": "orders",
    "recency_days": "days since\nlast purchase",
    "avg_order_value": "avg order\nvalue",
    "tenure_days": "tenure",
    "share_web": "web shop\nshare",
    "share_app": "app share",
    "share_store": "store share",
    "share_mobile": "mobile share",
    "web_sessions_12m": "web sessions\n(12 months)",
}
# Colours saturate here; the cells carry the exact value as text.
_Z_LIMIT = 2.0


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" entry: the PNG bytes then depend on the pixels only.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def cluster_profile_chart(zscores: pl.DataFrame, title: str) -> bytes:
    """A heatmap PNG: clusters × features, coloured by z-score against all clustered customers."""
    clusters = zscores.select("cluster_id", "cluster_name", "customers").unique().sort("cluster_id")
    features = list(dict.fromkeys(zscores["feature"].to_list()))
    figure = Figure(figsize=(2.0 + 1.1 * max(len(features), 4), 1.8 + 0.6 * clusters.height))
    axes = figure.add_subplot()
    axes.set_title(title)
    if clusters.is_empty():
        axes.axis("off")
        axes.text(0.5, 0.5, "no behavioural clusters in this snapshot", ha="center", va="center")
        return _png(figure)

    grid = (
        zscores.pivot(on="feature", index="cluster_id", values="z")
        .sort("cluster_id")
        .select(features)
        .to_numpy()
    )
    image = axes.imshow(grid, cmap="RdBu_r", vmin=-_Z_LIMIT, vmax=_Z_LIMIT, aspect="auto")
    for (row, column), value in np.ndenumerate(grid):
        colour = "white" if abs(value) > 0.6 * _Z_LIMIT else "black"
        axes.text(column, row, f"{value:+.1f}", ha="center", va="center", color=colour, fontsize=8)
    axes.set_xticks(range(len(features)), [_FEATURE_LABELS.get(f, f) for f in features], fontsize=8)
    axes.set_yticks(
        range(clusters.height),
        [f"{cid}: {name} ({n:,})" for cid, name, n in clusters.iter_rows()],
        fontsize=8,
    )
    figure.colorbar(image, ax=axes, label="z-score against all buyers")
    figure.tight_layout()
    return _png(figure)


def persona_word_cloud(attributes: pl.DataFrame, seed: int = 42, max_words: int = 25) -> bytes:
    """A word-cloud PNG of one segment's attributes, each weighted by lift × support.

    Lift alone would blow up rare attributes and support alone would show what everyone has;
    their product favours attributes that are both distinctive and common in the segment.
    The font is the one bundled with `wordcloud` and the layout is seeded, so the same
    attributes give the same bytes.
    """
    weights = dict(
        attributes.select("label", weight=pl.col("lift") * pl.col("share_in_segment"))
        .sort("weight", "label", descending=[True, False])
        .head(max_words)
        .iter_rows()
    )
    cloud = WordCloud(
        width=800,
        height=400,
        background_color="white",
        colormap="viridis",
        prefer_horizontal=1.0,
        random_state=seed,
    ).generate_from_frequencies(weights or {NO_PERSONA: 1.0})
    buffer = io.BytesIO()
    cloud.to_image().save(buffer, format="PNG")
    return buffer.getvalue()


def segment_slug(name: str) -> str:
    """A file name for a segment: 'lapsed — win back' → 'lapsed-win-back'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "segment"


def write_persona_clouds(
    profiles: SegmentProfiles,
    folder: Path,
    dimension: str = "segment",
    params: ProfileParameters = ProfileParameters(),
) -> dict[str, Path]:
    """One `<slug>.png` per segment of `dimension` in `folder`; returns segment → path.

    The folder belongs to this snapshot's personas: PNGs of segments that no longer exist are
    removed, so re-running a month leaves exactly its segments.
    """
    folder.mkdir(parents=True, exist_ok=True)
    segments = profiles.profiles.filter(pl.col("dimension") == dimension)["segment"].to_list()
    paths: dict[str, Path] = {}
    for segment in segments:
        # Two names may slug alike ('VIP' and 'vip'); a counter keeps both pictures.
        slug = base = segment_slug(segment)
        while folder / f"{slug}.png" in paths.values():
            slug = f"{base}-{len(paths)}"
        attributes = profiles.attributes.filter(
            (pl.col("dimension") == dimension) & (pl.col("segment") == segment)
        )
        paths[segment] = folder / f"{slug}.png"
        paths[segment].write_bytes(persona_word_cloud(attributes, params.seed, params.cloud_words))
    for stale in set(folder.glob("*.png")) - set(paths.values()):
        stale.unlink()
    return paths

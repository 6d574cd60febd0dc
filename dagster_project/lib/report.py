"""The monthly HTML report: one self-contained file people open in a browser.

A Sankey diagram of the migration between the last two snapshots, segment sizes over time, the
cluster profiles, the persona word clouds and the top movements in words. Charts are plotly
figures with plotly.js inlined, pictures are embedded as data URIs, so the file works offline
and can be mailed around.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from dagster_project.lib.months import add_months
from dagster_project.lib.scoring.migrations import top_movements
from dagster_project.lib.scoring.profiles import segment_slug


@dataclass(frozen=True)
class ReportData:
    month: date
    currency: str
    migrations: pl.DataFrame  # segment dimension, previous month → month
    sizes: pl.DataFrame  # segment dimension, every month up to this one
    profiles: pl.DataFrame  # segment dimension of this month: customers, share, persona
    movements: list[str]


def load_report_data(con: duckdb.DuckDBPyConnection, month: date, currency: str) -> ReportData:
    params = {"month": month}
    migrations = con.sql(
        "select * from marts.segment_migrations where to_month = $month "
        "and dimension = 'segment' order by customers desc",
        params=params,
    ).pl()
    sizes = con.sql(
        "select snapshot_month, segment, customers, share, revenue_12m from marts.segment_sizes "
        "where dimension = 'segment' and snapshot_month <= $month order by snapshot_month, segment",
        params=params,
    ).pl()
    profiles = con.sql(
        "select segment, customers, share, revenue_share, avg_predicted_clv, top_attributes "
        "from marts.segment_profiles where snapshot_month = $month and dimension = 'segment' "
        "order by customers desc",
        params=params,
    ).pl()
    return ReportData(
        month,
        currency,
        migrations,
        sizes,
        profiles,
        top_movements(migrations, currency) if migrations.height else [],
    )


def sankey_figure(migrations: pl.DataFrame, month: date) -> go.Figure:
    previous = add_months(month, -1)
    sources = sorted(set(migrations["from_segment"]))
    targets = sorted(set(migrations["to_segment"]))
    labels = [f"{s} ({previous:%b %Y})" for s in sources] + [
        f"{t} ({month:%b %Y})" for t in targets
    ]
    index_from = {s: i for i, s in enumerate(sources)}
    index_to = {t: len(sources) + i for i, t in enumerate(targets)}
    figure = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12, "thickness": 14},
            link={
                "source": [index_from[s] for s in migrations["from_segment"]],
                "target": [index_to[t] for t in migrations["to_segment"]],
                "value": migrations["customers"].to_list(),
            },
        )
    )
    figure.update_layout(title=f"Segment migration {previous:%Y-%m} → {month:%Y-%m}", height=560)
    return figure


def sizes_figure(sizes: pl.DataFrame) -> go.Figure:
    figure = go.Figure()
    for segment in sorted(set(sizes["segment"])):
        rows = sizes.filter(pl.col("segment") == segment)
        figure.add_bar(
            x=rows["snapshot_month"].to_list(), y=rows["customers"].to_list(), name=segment
        )
    figure.update_layout(
        barmode="stack", title="Segment sizes over time", height=460, yaxis_title="customers"
    )
    return figure


def _image(path: Path, alt: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_report(data: ReportData, pictures_dir: Path) -> str:
    """The HTML text; `pictures_dir` holds the month's cluster chart and persona clouds."""
    charts = []
    if data.migrations.height:
        charts.append(
            sankey_figure(data.migrations, data.month).to_html(
                full_html=False, include_plotlyjs=False, div_id="sankey"
            )
        )
    else:
        charts.append("<p>No previous snapshot: the migration starts next month.</p>")
    charts.append(
        sizes_figure(data.sizes).to_html(full_html=False, include_plotlyjs=False, div_id="sizes")
    )
    movements = "".join(f"<li>{html.escape(m)}</li>" for m in data.movements) or (
        "<li>no movements yet</li>"
    )
    persona_figures = []
    for row in data.profiles.iter_rows(named=True):
        cloud = pictures_dir / "personas" / f"{segment_slug(row['segment'])}.png"
        persona_figures.append(
            f"<figure><figcaption><b>{html.escape(row['segment'])}</b> — "
            f"{row['customers']:,} customers ({row['share']:.1%}): "
            f"{html.escape(row['top_attributes'] or '')}</figcaption>"
            f"{_image(cloud, row['segment'])}</figure>"
        )
    personas = "".join(persona_figures)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>segmentwerk — snapshot {data.month:%Y-%m}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
 figure {{ display: inline-block; width: 420px; margin: 0 1rem 1rem 0; vertical-align: top; }}
 img {{ max-width: 100%; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>Customer segments — snapshot {data.month:%Y-%m}</h1>
<h2>What moved</h2><ul id="movements">{movements}</ul>
{"".join(charts)}
<h2>Cluster profiles</h2>{_image(pictures_dir / "cluster_profiles.png", "cluster profiles")}
<h2>Personas</h2><div id="personas">{personas}</div>
</body></html>
"""

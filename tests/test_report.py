"""The monthly HTML report, rendered once headless in a real browser (Debian's Chromium)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from tests.conftest import BuiltWarehouse


def test_the_report_draws_its_charts_in_a_real_browser(demo_warehouse: BuiltWarehouse):
    report = demo_warehouse.settings.reports_dir / "2025-12" / "report.html"
    assert report.exists()
    text = report.read_text(encoding="utf-8")
    assert "customers moved from" in text  # the top movements in words
    assert text.count("data:image/png;base64") >= 3  # cluster chart and persona clouds

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is installed by `make test` (Debian package chromium)"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                report.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    # plotly turns the figure divs into SVG once its JavaScript ran in the page.
    assert 'class="sankey"' in dom
    assert dom.count('class="sankey-node"') >= 4
    assert 'class="barlayer' in dom

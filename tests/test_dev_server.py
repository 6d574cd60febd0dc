"""`make dev`: the Dagster UI serves the project: lineage, job, schedule and sensor."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
QUERY = """
{
  assetNodes { assetKey { path } groupName dependencyKeys { path } }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { name jobs { name } schedules { name } sensors { name } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def test_dagster_dev_serves_the_lineage_from_landing_to_publication(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    dagster = Path(sys.executable).parent / "dagster"
    server = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT,
        env={
            **os.environ,
            "DAGSTER_HOME": str(home),
            "PATH": f"{dagster.parent}:{os.environ['PATH']}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # `dagster dev` ignores signals inherited as ignored; its own session lets us stop the
        # whole process tree (webserver, daemon, code server) at once.
        start_new_session=True,
        preexec_fn=lambda: [
            signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)
        ],
    )
    try:
        deadline, data = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            try:
                data = _graphql(port)
                if data["assetNodes"]:
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(2)
        assert data and data["assetNodes"], "the UI did not answer within 180 s"
        nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
        deps = {k: {"/".join(d["path"]) for d in n["dependencyKeys"]} for k, n in nodes.items()}
        assert "landing/shop_orders" in deps["staging/base_shop__orders"]
        assert "marts/fct_orders" in deps["marts/customer_scores"]
        assert "marts/dim_customers" in deps["published_warehouse"]
        repositories = data["repositoriesOrError"]["nodes"]
        jobs = {j["name"] for r in repositories for j in r["jobs"]}
        assert "monthly_resegmentation" in jobs
        assert {s["name"] for r in repositories for s in r["schedules"]} == {
            "monthly_resegmentation_schedule"
        }
        assert {s["name"] for r in repositories for s in r["sensors"]} == {"landing_zone_sensor"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

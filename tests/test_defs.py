"""The Dagster definitions load, and the asset graph is what the review saw.

`tests/snapshots/asset_graph.json` lists every asset key with its group and dependencies; a
change to the graph shows up in this file's diff. Regenerate with
`UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_defs.py`.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import dagster as dg

from dagster_project.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _graph(definitions: dg.Definitions) -> dict[str, dict]:
    return {
        spec.key.to_user_string(): {
            "group": spec.group_name,
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "partitioned": spec.partitions_def is not None,
        }
        for spec in sorted(definitions.resolve_all_asset_specs(), key=lambda s: s.key)
    }


def test_asset_graph_matches_the_snapshot() -> None:
    graph = _graph(defs())
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(graph, indent=2, sort_keys=True) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text())


def test_lineage_runs_from_landing_files_to_the_published_warehouse() -> None:
    graph = _graph(defs())

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for dep in graph[todo.pop()]["deps"]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    published = upstream("published_warehouse")
    for key in (
        "landing/shop_orders",
        "landing/crm_customers",
        "staging/stg_shop__orders",
        "marts/dim_customers",
        "marts/fct_orders",
        "marts/customer_identity_map",
        "marts/customer_scores",
        "marts/customer_segments",
        "audit/quarantine",
    ):
        assert key in published, key
    groups = {node["group"] for node in graph.values()}
    assert {
        "landing",
        "staging",
        "intermediate",
        "marts",
        "audit",
        "scoring",
        "segmentation",
        "publication",
    } <= groups


def test_the_monthly_job_covers_every_month_since_1990() -> None:
    job = defs().resolve_job_def("monthly_resegmentation")
    keys = job.partitions_def.get_partition_keys()
    assert keys[0] == "1990-01-01"
    assert date.fromisoformat(keys[-1]) < date.today().replace(day=1)
    # dbt tests are asset checks of their models
    checks = defs().resolve_asset_graph().asset_check_keys
    assert any(c.asset_key == dg.AssetKey(["marts", "dim_customers"]) for c in checks)


def test_the_dbt_resource_knows_its_version_without_asking_dbt(tmp_path: Path, monkeypatch) -> None:
    """Our dbt's version comes without running `dbt --version` (2-3 s before every dbt
    command) and is what that command prints; an executable other than ours is still asked."""
    import subprocess

    import dagster_dbt.core.resource as dagster_dbt_resource

    from dagster_project.defs.unification.dbt_models import dbt_project
    from dagster_project.lib.dbt_manifest import SegmentwerkDbtCli, dbt_cli_resource

    ours = dbt_cli_resource(dbt_project)
    printed = subprocess.run(
        [ours.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout

    def no_version_call(args, **kwargs):
        raise AssertionError(f"ran {args}")

    with monkeypatch.context() as patched:
        patched.setattr(dagster_dbt_resource, "check_output", no_version_call)
        assert f"installed: {ours._cli_version}\n" in printed

    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:\n  - installed: 9.8.7'\n")
    fake.chmod(0o755)
    other = SegmentwerkDbtCli(project_dir=dbt_project, dbt_executable=str(fake))
    assert str(other._cli_version) == "9.8.7"


def test_old_dbt_target_folders_are_removed_after_a_build(tmp_path: Path) -> None:
    """dagster-dbt leaves a ~12 MB target folder per invocation; after a build only the
    newest few, and any a concurrent run may still be writing, stay."""
    import time

    from dagster_project.lib.dbt_manifest import prune_invocation_targets

    hour_ago = time.time() - 3600

    def folder(name: str, age_s: float) -> Path:
        path = tmp_path / name
        path.mkdir()
        os.utime(path, (hour_ago - age_s, hour_ago - age_s) if age_s >= 0 else None)
        return path

    old = [folder(f"unification_dbt_models-run{i}-aaaaaaa", 60 * i) for i in range(1, 8)]
    recent = folder("unification_dbt_models-busy-bbbbbbb", -1)  # touched just now
    other_op = folder("another_op-run9-ccccccc", 10_000)
    current = folder("unification_dbt_models-now-ddddddd", -1)

    removed = prune_invocation_targets(current, keep=3)
    # kept: the current one and the 2 newest before it (the busy one and run1); the busy one
    # is also too young to remove; run2..run7 are older than an hour and beyond the 3 kept
    assert sorted(removed) == sorted(old[1:])
    assert current.exists() and recent.exists() and old[0].exists() and other_op.exists()
    assert all(not p.exists() for p in old[1:])

"""Keep dbt's manifest.json in step with the project without parsing on every start-up."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

_PROJECT_INPUTS = ("models", "macros", "tests", "seeds", "snapshots")
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")


def newest_source_mtime(project_dir: Path) -> float:
    paths = [project_dir / name for name in _PROJECT_FILES]
    for folder in _PROJECT_INPUTS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < newest_source_mtime(
        project.project_dir
    )


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, also when the venv is not activated (cron,
    `.venv/bin/segmentwerk`, pytest); otherwise whatever `dbt` is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_cli_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=dbt_executable())


def ensure_manifest(project: DbtProject) -> None:
    """Parse (10-20 s) only when the manifest is missing or older than a project file.

    `prepare_if_dev()` acts only under `dagster dev`; the CLI and the tests load the same
    definitions outside it and would otherwise fail on a fresh clone or use a stale graph.
    """
    if manifest_is_stale(project):
        # Same as `project.preparer.prepare`, but with our dbt executable (the preparer
        # looks for `dbt` on PATH, which an unactivated venv does not have).
        dbt_cli_resource(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()

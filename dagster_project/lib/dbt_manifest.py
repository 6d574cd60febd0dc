"""Keep dbt's manifest.json in step with the project without parsing on every start-up."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.compat import DBT_PYTHON_VERSION
from packaging.version import Version

_PROJECT_INPUTS = ("models", "macros", "tests", "seeds", "snapshots")
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")


def newest_source_mtime(project_dir: Path) -> float:
    paths = [project_dir / name for name in _PROJECT_FILES]
    for folder in _PROJECT_INPUTS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def _parsed_for(project: DbtProject) -> Path:
    return project.project_dir / project.target_path / "segmentwerk_parsed_for.json"


def manifest_is_stale(project: DbtProject, env: dict[str, str]) -> bool:
    """Missing, older than a project file, or parsed for another warehouse.

    dbt's partial parsing (which dagster-dbt reuses from the prepared target) is dropped when
    the profile changes, and the profile holds the build database's path: a manifest parsed
    for the warehouse at hand lets every run skip a full parse (10-15 s).
    """
    manifest, parsed_for = project.manifest_path, _parsed_for(project)
    return (
        not manifest.exists()
        or manifest.stat().st_mtime < newest_source_mtime(project.project_dir)
        or not parsed_for.exists()
        or json.loads(parsed_for.read_text()) != env
    )


def _dbt_beside_interpreter() -> Path:
    return Path(sys.executable).parent / "dbt"


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, also when the venv is not activated (cron,
    `.venv/bin/segmentwerk`, pytest); otherwise whatever `dbt` is on PATH."""
    beside = _dbt_beside_interpreter()
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class SegmentwerkDbtCli(DbtCliResource):
    """dagster-dbt's resource, minus a `dbt --version` before every dbt command.

    dagster-dbt asks the executable for its version on every invocation (a Python start-up
    that imports dbt: 2-3 s on this machine, before the command itself starts). The dbt we run
    is the dbt-core installed beside this interpreter, whose version its package metadata
    holds; any other executable is still asked.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if (
            DBT_PYTHON_VERSION is not None
            and Path(self.dbt_executable) == _dbt_beside_interpreter()
        ):
            return DBT_PYTHON_VERSION
        return DbtCliResource._cli_version.func(self)


def dbt_cli_resource(project: DbtProject) -> DbtCliResource:
    return SegmentwerkDbtCli(project_dir=project, dbt_executable=dbt_executable())


def ensure_manifest(project: DbtProject, env: dict[str, str]) -> None:
    """Parse (10-20 s) only when `manifest_is_stale`; `env` is what dbt runs will see.

    `prepare_if_dev()` acts only under `dagster dev`; the CLI and the tests load the same
    definitions outside it and would otherwise fail on a fresh clone or use a stale graph.

    Several processes may load the definitions at once (`segmentwerk run` beside `dagster dev`,
    two test workers): one parses at a time, into a folder of its own, and the files readers
    open are replaced whole, so nobody reads a half-written manifest.
    """
    if not manifest_is_stale(project, env):
        return
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest_is_stale(project, env):  # another process parsed while we waited
            return
        scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
        try:
            _parse_into(project, env, scratch)
            for name in ("manifest.json", "partial_parse.msgpack"):
                if (scratch / name).exists():
                    os.replace(scratch / name, target / name)
            parsed_for = scratch / _parsed_for(project).name
            parsed_for.write_text(json.dumps(env, sort_keys=True))
            os.replace(parsed_for, _parsed_for(project))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _parse_into(project: DbtProject, env: dict[str, str], target_path: Path) -> None:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        # Same as `project.preparer.prepare`, but with our dbt executable (the preparer
        # looks for `dbt` on PATH, which an unactivated venv does not have). dagster-dbt
        # copies the current partial parse into `target_path` first.
        dbt_cli_resource(project).cli(["parse", "--quiet"], target_path=target_path).wait()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# dagster-dbt gives every invocation its own target folder (`<op>-<run id>-<uuid>`, ~12 MB of
# manifest, compiled SQL and logs at our project size) so that concurrent runs never share
# one, and never removes them: a monthly schedule would pile them up for ever.
TARGET_DIRS_KEPT = 5
TARGET_DIR_MIN_AGE_S = 3600.0


def prune_invocation_targets(
    current: Path, *, keep: int = TARGET_DIRS_KEPT, min_age_s: float = TARGET_DIR_MIN_AGE_S
) -> list[Path]:
    """Remove the target folders of earlier invocations of the same op beside `current` (the
    folder of the invocation that just ended), keeping the `keep` newest for debugging and any
    changed in the last `min_age_s` seconds (a concurrent run may still be writing it).
    Returns the removed folders."""
    op_name = current.name.split("-", 1)[0]
    now = time.time()
    candidates = sorted(
        (p for p in current.parent.glob(f"{op_name}-*") if p.is_dir() and p != current),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = []
    for folder in candidates[max(keep - 1, 0) :]:
        if now - folder.stat().st_mtime >= min_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
